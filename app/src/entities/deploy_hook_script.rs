use sea_orm::entity::prelude::*;

/// Which script a template's or an application's hook runs (an index of their configurations).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "deploy_hook_scripts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `template` or `settings`.
    pub owner_type: String,
    /// A template id or an application id.
    pub owner_id: i64,
    pub hook: String,
    pub script_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
