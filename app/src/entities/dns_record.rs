use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dns_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub domain_id: i64,
    /// Absolute name, lowercase, without the trailing dot.
    pub name: String,
    pub rtype: String,
    /// The value without the MX/SRV priority.
    pub value: String,
    pub ttl: i32,
    pub priority: Option<i32>,
    pub disabled: bool,
    /// `pending` until the server has it, then `synced`; `failed` when the server refused it.
    pub state: String,
    /// The outbox entry that carries its last change.
    pub push_seq: i64,
    pub request_id: Option<i64>,
    pub creator_id: Option<i64>,
    /// Why the server refused the record's RRset (state `failed`).
    pub push_error: Option<String>,
    /// How many records the domain request `request_id` wrote (all of them must stay).
    pub request_total: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
