use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dns_services")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// `powerdns` or `bind`.
    pub service_type: String,
    /// PowerDNS: the HTTP API base URL; BIND: `host:port` of the server.
    pub api_endpoint: String,
    pub description: String,
    pub creator_id: Option<i64>,
    /// PowerDNS API key, encrypted (context `dns_services.api_key_enc`).
    pub api_key_enc: Option<String>,
    /// PowerDNS server id (`localhost`).
    pub server_id: String,
    pub tsig_key_name: Option<String>,
    pub tsig_algorithm: Option<String>,
    /// TSIG secret, encrypted (context `dns_services.tsig_secret_enc`).
    pub tsig_secret_enc: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
