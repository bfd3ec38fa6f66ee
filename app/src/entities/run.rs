use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    /// `running`, `finished` or `failed`.
    pub status: String,
    pub creator_id: Option<i64>,
    pub subject_type: Option<String>,
    pub subject_id: Option<i64>,
    /// JSON: what the run's kind needs (see `exec::plan`).
    pub opts: String,
    pub concurrency: i32,
    /// `stop` or `continue`.
    pub on_failure: String,
    pub timeout_secs: i32,
    pub cancel_requested: bool,
    pub cancelled_by: Option<i64>,
    pub error: Option<String>,
    /// `host/pid` of the process executing it.
    pub owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub total: i32,
    pub done: i32,
    pub failed: i32,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
