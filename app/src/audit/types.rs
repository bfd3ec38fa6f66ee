//! Wire types of the audit log.
use crate::common::PageQuery;
use serde::{Deserialize, Serialize};

/// A module grant or revoke (seed 003 "module authorized operation").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModuleAuthOp {
    pub id: i64,
    pub operator: String,
    pub module_name: String,
    pub perm_name: String,
    pub action: String,
    pub authorized_target_type: String,
    pub authorized_target_name: String,
    pub op_time: String,
}

/// A resource grant or revoke (seed 003 "resource authorized operation").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ResourceAuthOp {
    pub id: i64,
    pub operator: String,
    pub resource_type: String,
    pub resource_id: Option<i64>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub resource: serde_json::Value,
    pub perm_name: String,
    pub action: String,
    pub authorized_target_type: String,
    pub authorized_target_name: String,
    pub op_time: String,
}

/// Filters of `/audit/authorize-operations/modules/` and `/resources/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuthOpFilter {
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub module_name: Option<String>,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub resource_id: Option<i64>,
    #[serde(default)]
    pub perm_name: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub authorized_target_type: Option<String>,
    #[serde(default)]
    pub authorized_target_name: Option<String>,
    #[serde(default, rename = "op_time__lt")]
    pub op_time_lt: Option<String>,
    #[serde(default, rename = "op_time__gt")]
    pub op_time_gt: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// Any audit record (the general log shown in the UI).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub category: String,
    pub op_type: String,
    pub operator: String,
    pub target_type: String,
    pub target_id: Option<i64>,
    pub target_name: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub detail: serde_json::Value,
    pub request_id: String,
    pub ip: String,
    pub op_time: String,
}

/// Filters of the general audit log (`/audit/logs/`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditFilter {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub op_type: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub target_type: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default, rename = "op_time__lt")]
    pub op_time_lt: Option<String>,
    #[serde(default, rename = "op_time__gt")]
    pub op_time_gt: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// Filters of `/audit/app-operations/` and `/audit/host-operations/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ObjectOpFilter {
    #[serde(default)]
    pub operator: Option<String>,
    /// Application full name contains (app operations).
    #[serde(default)]
    pub app_name: Option<String>,
    /// Host name contains (host operations).
    #[serde(default)]
    pub hostname: Option<String>,
    /// The seed's `deatach_*` spellings are accepted for `detach_*`.
    #[serde(default)]
    pub op_type: Option<String>,
    /// Detail contains.
    #[serde(default)]
    pub op_detail: Option<String>,
    #[serde(default, rename = "op_time__lt")]
    pub op_time_lt: Option<String>,
    #[serde(default, rename = "op_time__gt")]
    pub op_time_gt: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// An application or host operation (seed 003 "app operation" / "host operation").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ObjectOp {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub op_type: String,
    /// The change as JSON text (before/after, or what was attached).
    pub op_detail: String,
    pub op_time: String,
    pub operator: String,
}
