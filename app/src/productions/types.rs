//! Wire types of product lines.
use crate::common::PageQuery;
use serde::{Deserialize, Serialize};

/// A product line (seed 003 "Production Object").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Production {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// Applications that belong to it and that the caller may view.
    pub application_count: u64,
    pub created_at: String,
    pub updated_at: String,
    pub available_actions: ProductionActions,
}

/// What the caller may do to this product line.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProductionActions {
    pub view: bool,
    pub edit: bool,
    pub delete: bool,
}

/// `GET /productions/` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProductionFilter {
    /// Name contains.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// `POST /productions/` and `PATCH /productions/{id}/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProductionInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}
