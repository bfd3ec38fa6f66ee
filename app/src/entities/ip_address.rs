use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ip_addresses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub host_id: i64,
    /// `HOST`, `LB` or empty.
    pub owner: String,
    pub is_virtual: bool,
    /// `PRIVATE` or `PUBLIC`.
    pub addr_type: String,
    pub network: String,
    pub netmask: String,
    pub address: String,
    /// JSON arrays of names.
    pub zabbix_groups: String,
    pub zabbix_templates: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
