//! Wire types of applications.
use crate::common::PageQuery;
use crate::perms::types::PermFlags;
use serde::{Deserialize, Serialize};

/// How an application runs (see the seeds README).
pub const APP_TYPES: &[&str] = &["process", "paas", "container"];
/// Kinds of response person.
pub const OWNER_TYPES: &[&str] = &["dev", "ops", "qa", "pm"];

/// An application (seed 003 "Application Object").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Application {
    pub id: i64,
    pub name: String,
    /// Dotted path through the parents (A.B.C); `full_path` is the same value, as the seed names it.
    pub full_name: String,
    pub full_path: String,
    pub has_child: bool,
    pub production: Option<i64>,
    pub parent_app: Option<i64>,
    /// `process`, `paas` or `container`.
    pub application_type: String,
    pub description: String,
    pub run_user: String,
    pub directory: String,
    pub startup_cmd: String,
    pub stop_cmd: String,
    pub stdout_path: String,
    pub stderr_path: String,
    pub pid_path: String,
    pub created_at: String,
    pub updated_at: String,
    /// The caller's permissions on it (view_app, edit_app, …).
    pub available_actions: PermFlags,
}

/// `GET /applications/` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AppFilter {
    /// Name contains (case-insensitive).
    #[serde(default)]
    pub name: Option<String>,
    /// Full path starts with (`full_name` accepted too).
    #[serde(default, alias = "full_name")]
    pub full_path: Option<String>,
    /// Comma-separated user ids: applications any of them is a response person of.
    #[serde(default)]
    pub response_persons: Option<String>,
    /// `0`: top-level only, `1`: children only.
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub has_parent: Option<u8>,
    /// Applications this user may view (needs system.view_users unless it is you).
    #[serde(default)]
    pub user: Option<String>,
    /// Applications this role may view.
    #[serde(default)]
    pub role: Option<String>,
    /// A product line id; `0`: applications in no product line.
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub production: Option<i64>,
    #[serde(default)]
    pub application_type: Option<String>,
    /// Free text over name, full path and description.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// `POST /applications/` and `PATCH /applications/{id}/`. In a PATCH, `parent_app: null` or
/// `production: null` detaches; an absent field is left alone.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AppInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::common::de::double_option")]
    pub production: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::common::de::double_option")]
    pub parent_app: Option<Option<i64>>,
    #[serde(default)]
    pub application_type: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, alias = "run_users")]
    pub run_user: Option<String>,
    #[serde(default)]
    pub directory: Option<String>,
    #[serde(default)]
    pub startup_cmd: Option<String>,
    #[serde(default)]
    pub stop_cmd: Option<String>,
    #[serde(default)]
    pub stdout_path: Option<String>,
    #[serde(default)]
    pub stderr_path: Option<String>,
    #[serde(default)]
    pub pid_path: Option<String>,
}

/// `DELETE /applications/{id}/?force=true` removes dependency links too.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeleteQuery {
    #[serde(default)]
    pub force: Option<bool>,
}

/// A response person to add or remove: `{"id": 3, "type": "ops"}` (`type` optional on removal).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OwnerRef {
    pub id: i64,
    #[serde(default, rename = "type")]
    pub owner_type: Option<String>,
}

/// A response person (seed 003 "App response person").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Owner {
    pub id: i64,
    pub name: String,
    pub username: String,
    /// Empty unless the caller holds `system.view_users` or is this user.
    pub email: String,
    /// Empty unless the caller holds `system.view_users` or is this user.
    pub mobile: String,
    #[serde(rename = "type")]
    pub owner_type: String,
}

/// One element of the `POST /applications/get-by-users/` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserApplications {
    pub user_id: i64,
    /// Applications the user may view (at most 1,000, or 5,000 / the number of users asked about
    /// when fewer), with the user's own available_actions.
    pub applications: Vec<Application>,
}

/// A node of a dependency picture: an application, and how far it is from the centre
/// (negative: depends on the centre; positive: the centre depends on it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GraphNode {
    pub id: i64,
    /// Its full name, or empty when the caller may not view it.
    pub full_name: String,
    pub level: i32,
}

/// `GET /applications/{id}/dependency-graph/`: what the application depends on and what depends
/// on it, transitively (at most `GRAPH_DEPTH` steps and `GRAPH_NODES` nodes each way).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DepGraph {
    pub center: i64,
    pub nodes: Vec<GraphNode>,
    /// `[from, to]`: `from` depends on `to`.
    pub edges: Vec<[i64; 2]>,
    /// True when the limits cut the picture short.
    pub truncated: bool,
}

/// How many steps a dependency picture follows each way.
pub const GRAPH_DEPTH: i32 = 6;
/// How many applications a dependency picture shows each way.
pub const GRAPH_NODES: usize = 150;

/// The deepest an application may sit: `a.b.c…` with at most this many parts. Casbin follows
/// inheritance links (application → parent → … → product line) only 10 steps deep, so deeper
/// applications would be listed (SQL closure) but refused (Casbin); 8 leaves room.
pub const MAX_DEPTH: usize = 8;

/// Checks that an application at `full_name` with descendants `below` levels under it stays
/// within `MAX_DEPTH`.
pub fn validate_depth(full_name: &str, below: usize) -> crate::error::AppResult<()> {
    let depth = full_name.matches('.').count() + 1 + below;
    if depth > MAX_DEPTH {
        return Err(crate::error::AppError::invalid(
            "parent_app",
            format!("applications nest at most {MAX_DEPTH} levels deep; this would make {depth}"),
        ));
    }
    Ok(())
}

/// An application name: 1–64 letters, digits, `-` or `_` (dots separate the path).
pub fn validate_name(name: &str) -> crate::error::AppResult<()> {
    let ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    ok.then_some(()).ok_or_else(|| {
        crate::error::AppError::invalid(
            "name",
            "1-64 letters, digits, - or _ (dots separate the path)",
        )
    })
}
