use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cloud_accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// `cloudstack`, `tencent_cvm` or `tencent_cpm`.
    pub provider: String,
    /// The API's base URL (`https://cloud.example.com/client/api`, `https://cvm.tencentcloudapi.com`).
    pub endpoint: String,
    pub region: String,
    /// The API key (CloudStack) or SecretId (Tencent Cloud); not secret.
    pub secret_id: String,
    pub secret_enc: String,
    pub creator_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
