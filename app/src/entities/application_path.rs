use sea_orm::entity::prelude::*;

/// Closure of the application tree: (application, ancestor) pairs, the application itself included.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "application_paths")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub app_id: i64,
    /// `application` or `business`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub ancestor_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub ancestor_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
