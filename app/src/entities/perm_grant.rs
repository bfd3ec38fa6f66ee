use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "perm_grants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `user` or `role`.
    pub subject_type: String,
    pub subject_id: i64,
    /// `module`, `application`, `host` or `business`.
    pub resource_type: String,
    /// The module name, or the resource id as text.
    pub resource_key: String,
    pub perm: String,
    /// The resource id for application/host/business grants (null for modules).
    pub resource_id: Option<i64>,
    pub granted_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
