//! Wire types of roles.
use crate::common::PageQuery;
use serde::{Deserialize, Serialize};

/// A role (seed 003 "role object").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Role {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub creator: String,
    pub builtin: bool,
    pub member_count: u64,
    pub created_at: String,
    pub available_actions: RoleActions,
}

/// What the caller may do to this role.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoleActions {
    pub edit: bool,
    pub delete: bool,
    pub manage_members: bool,
    pub grant: bool,
}

/// `GET /roles/` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoleFilter {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// `POST /roles/` and `PATCH /roles/{id}/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoleInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}
