use sea_orm::entity::prelude::*;

/// A release directory of an instance (`<deploy_path>/releases/<version>`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "instance_releases")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub instance_id: i64,
    pub version: String,
    pub sha256: String,
    pub filename: String,
    pub run_id: Option<i64>,
    /// `current` (what `current` points at), `kept` (on the host, a revert target) or `removed`.
    pub state: String,
    pub deployed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
