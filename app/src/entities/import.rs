use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "imports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `hosts` or `applications`.
    pub kind: String,
    pub filename: String,
    /// `queued`, `running`, `done`, `failed`.
    pub status: String,
    pub all_or_nothing: bool,
    /// The uploaded CSV text.
    pub content: String,
    pub total: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    /// JSON array of `RowError`.
    pub errors: String,
    pub message: Option<String>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
