//! Wire types of host tasks.
use crate::common::PageQuery;
use serde::{Deserialize, Serialize};

/// Statuses of tasks.
pub const TASK_STATUSES: &[&str] = &["running", "finished", "failed"];

/// Filters of `GET /hosts/{start,stop,restart}-tasks/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostTaskFilter {
    /// The creator's user name.
    #[serde(default)]
    pub creator: Option<String>,
    /// Tasks touching a host whose name contains this.
    #[serde(default)]
    pub hostname: Option<String>,
    /// `running`, `finished` or `failed`.
    #[serde(default)]
    pub status: Option<String>,
    /// Created after (RFC 3339 or a date).
    #[serde(default, rename = "time__gt")]
    pub time_gt: Option<String>,
    /// Created before.
    #[serde(default, rename = "time__lt")]
    pub time_lt: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// `POST /hosts/{id}/actions/{stop,restart}/` (start takes no body).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PowerInput {
    /// Hard stop or reset instead of a clean shutdown.
    #[serde(default)]
    pub force: bool,
}

/// One host of `POST /hosts/{start,stop,restart}-tasks/` (the body is a list of these).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PowerItem {
    pub host_id: i64,
    /// Ignored by start.
    #[serde(default)]
    pub force: bool,
}

/// `POST /hosts/{id}/actions/change-status/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChangeStatus {
    /// `raw`, `inited`, `attached` or `offline`.
    pub status: String,
}

/// The status changes a host may go through: (from, to).
pub const STATUS_MOVES: &[(&str, &str)] = &[
    ("raw", "inited"),
    ("raw", "offline"),
    ("inited", "attached"),
    ("inited", "raw"),
    ("inited", "offline"),
    ("attached", "inited"),
    ("attached", "offline"),
    ("offline", "raw"),
    ("offline", "inited"),
];

/// Whether a host may go from one status to another.
pub fn may_move(from: &str, to: &str) -> bool {
    STATUS_MOVES.iter().any(|(f, t)| *f == from && *t == to)
}

/// Zabbix options of an init task and of `change-zabbix-opts` (seed 003 "Host init task
/// options"; also spelled `zabbix_temlates`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ZabbixOpts {
    #[serde(default)]
    pub zabbix_groups: Option<Vec<String>>,
    #[serde(default, alias = "zabbix_temlates")]
    pub zabbix_templates: Option<Vec<String>>,
}

/// A host named by id (`{"id": 1}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostRef {
    pub id: i64,
}

/// `POST /hosts/init-tasks/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InitInput {
    pub hosts: Vec<HostRef>,
    #[serde(default)]
    pub opts: ZabbixOpts,
    /// The account applications run as (default `work`); an addition to the seed.
    #[serde(default)]
    pub running_user: Option<String>,
}
