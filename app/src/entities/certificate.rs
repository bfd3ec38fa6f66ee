use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "certificates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub request_id: Option<i64>,
    pub domain: String,
    /// JSON array of the names the certificate covers.
    pub names: String,
    pub certificate_type: String,
    pub serial: String,
    pub issuer: String,
    pub not_before: DateTimeUtc,
    pub not_after: DateTimeUtc,
    pub cert_pem: String,
    pub chain_pem: String,
    /// The private key, encrypted (`crypto`, context `certificates.key_enc`); none for an
    /// uploaded certificate whose key stayed with the operator.
    pub key_enc: Option<String>,
    /// `ca` (issued by Opsdeck) or `upload`.
    pub source: String,
    /// JSON array of associated application ids.
    pub app_ids: String,
    /// The requester (or the uploader).
    pub owner_id: i64,
    /// The last expiry notice sent: 0 none, 30, 7 (days before expiry).
    pub expiry_notice: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
