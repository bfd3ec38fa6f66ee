//! Wire types of API tokens.
use crate::common::PageQuery;
use serde::{Deserialize, Serialize};

/// An API token. `value` is present only in the answer to its creation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Token {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// The first characters of the value, to recognise it.
    pub prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub creator: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub created_at: String,
    pub available_actions: TokenActions,
}

/// What the caller may do to this token (tokens are only ever their owner's).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenActions {
    pub edit: bool,
    pub delete: bool,
}

/// `GET /auth-tokens/` filters (seed: name, value, description).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenFilter {
    #[serde(default)]
    pub name: Option<String>,
    /// Matches tokens whose value starts with this (only the prefix is stored in clear).
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// `POST /auth-tokens/` and `PATCH /auth-tokens/{id}/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Days until the token expires; none means it does not expire.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}
