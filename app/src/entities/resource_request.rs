use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "resource_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `host`, `domain` or `ssl`.
    pub kind: String,
    pub creator_id: i64,
    /// `wait_review`, `approved`, `finished`, `rejected`, `closed`.
    pub status: String,
    /// The kind's own fields, JSON.
    pub payload: String,
    /// SSL: the certificate domain (a copy for the filter).
    pub domain: Option<String>,
    /// SSL: `wizard` or `normal`.
    pub certificate_type: Option<String>,
    pub approvals_needed: i32,
    pub approvals_count: i32,
    /// Why fulfilment has not finished ("fulfilment pending: …"), while `approved`.
    pub fulfilment_note: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
