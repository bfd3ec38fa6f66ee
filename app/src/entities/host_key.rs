use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "host_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub host_id: i64,
    pub endpoint: String,
    pub algorithm: String,
    pub public_key: String,
    pub fingerprint: String,
    pub pinned_at: DateTimeUtc,
    pub pinned_by: Option<i64>,
    pub offered_key: Option<String>,
    pub offered_fingerprint: Option<String>,
    pub offered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
