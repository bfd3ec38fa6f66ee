use sea_orm::entity::prelude::*;

/// A deploy task: approved (approvals engine subject `deploy_task`), then started and carried
/// out by sub-tasks (runs of kind `deploy_upgrade` / `deploy_revert`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "deploy_tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub app_id: i64,
    pub creator_id: i64,
    pub delegate_id: Option<i64>,
    /// `wait_review`, `approved`, `deploying`, `finished`, `rejected` or `closed`.
    pub status: String,
    pub approvals_needed: i32,
    pub approvals_count: i32,
    pub version: String,
    pub description: String,
    /// `S`, `A`, `B`, `C` or `I`.
    pub level: String,
    pub package_source: String,
    pub planned_exec_time: DateTimeUtc,
    pub upgrade_checklist: String,
    pub upgrade_steps: String,
    pub rollback_steps: String,
    pub started_at: Option<DateTimeUtc>,
    pub started_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
