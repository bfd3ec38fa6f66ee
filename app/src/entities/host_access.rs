use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "host_access")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub host_id: i64,
    pub address: Option<String>,
    pub port: i32,
    pub credential_id: Option<i64>,
    pub stop_cmd: Option<String>,
    pub restart_cmd: Option<String>,
    pub cloud_account_id: Option<i64>,
    pub cloud_instance_id: Option<String>,
    /// The Zabbix host id this host was enrolled as.
    pub zabbix_host_id: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
