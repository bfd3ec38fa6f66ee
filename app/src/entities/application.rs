use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// Dotted path through the parents (A.B.C).
    pub full_name: String,
    pub production_id: Option<i64>,
    pub parent_id: Option<i64>,
    /// `process`, `paas` or `container`.
    pub application_type: String,
    pub description: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub run_user: String,
    pub directory: String,
    pub startup_cmd: String,
    pub stop_cmd: String,
    pub stdout_path: String,
    pub stderr_path: String,
    pub pid_path: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
