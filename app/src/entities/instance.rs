use sea_orm::entity::prelude::*;

/// An application instance on a host.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "application_instances")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub app_id: i64,
    pub host_id: i64,
    /// `restarting`, `running`, `stopped`, `updating` or `reverting`.
    pub status: String,
    pub version: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
