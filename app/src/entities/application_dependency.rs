use sea_orm::entity::prelude::*;

/// `app_id` requires `required_id`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "application_dependencies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub app_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub required_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
