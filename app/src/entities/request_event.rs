use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "request_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subject_type: String,
    pub subject_id: i64,
    /// `filed`, `edited`, `approved`, `rejected`, `closed`, `fulfilment_failed`, `fulfilled`, `finished`, …
    pub event: String,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    /// Free text or JSON: a reason, an error, what was created.
    pub detail: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
