use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "deploy_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub app_id: i64,
    pub enabled: bool,
    /// While set, the application deploys with this template's configuration.
    pub template_id: Option<i64>,
    /// Its own configuration (`deploy::service::Config` as JSON).
    pub config: String,
    pub repo_credential_id: Option<i64>,
    pub updated_by: Option<i64>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
