//! Wire types of the dashboard.
use serde::{Deserialize, Serialize};

/// One bar of a chart: a label and how many.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Bucket {
    pub key: String,
    pub count: u64,
}

/// `GET /api/dashboard/`: what the actor may see, counted in SQL.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Summary {
    pub productions: u64,
    pub applications: u64,
    pub hosts: u64,
    pub instances: u64,
    pub hosts_by_type: Vec<Bucket>,
    pub hosts_by_status: Vec<Bucket>,
    /// Top-level and child applications per product line (`""`: none), largest first.
    pub apps_by_production: Vec<Bucket>,
}
