use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cert_authorities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub cert_pem: String,
    /// The private key, encrypted (`crypto`, context `cert_authorities.key_enc`).
    pub key_enc: String,
    /// `generated` or `provided`.
    pub source: String,
    pub active: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
