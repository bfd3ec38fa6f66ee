use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub category: String,
    pub op_type: String,
    pub operator_id: Option<i64>,
    pub operator: String,
    pub target_type: String,
    pub target_id: Option<i64>,
    pub target_name: String,
    pub module_name: String,
    pub perm_name: String,
    pub action: String,
    pub authorized_target_type: String,
    pub authorized_target_name: String,
    pub detail: String,
    pub request_id: String,
    pub ip: String,
    pub op_time: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
