use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "run_targets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run_id: i64,
    pub seq: i32,
    pub host_id: i64,
    /// The host's name when the run was created (kept if the host is deleted).
    pub host_name: String,
    pub instance_id: Option<i64>,
    /// `pending`, `running`, `finished`, `failed` or `skipped`.
    pub status: String,
    pub step: i32,
    pub steps_total: i32,
    pub step_name: String,
    pub exit_code: Option<i32>,
    pub error_code: Option<i32>,
    pub error: Option<String>,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
