//! Wire types of the approval engine (shared by every kind of request).
use serde::{Deserialize, Serialize};

/// Every status a request can be in, as the seed names them.
pub const STATUSES: &[&str] = &["wait_review", "approved", "finished", "rejected", "closed"];

/// The longest rejection reason kept.
pub const MAX_REASON: usize = 2000;

/// One entry of a request's timeline: filed, edited, approved, rejected, fulfilment attempts, …
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TimelineEvent {
    pub id: i64,
    /// `filed`, `edited`, `approved`, `rejected`, `closed`, `fulfilment_started`,
    /// `fulfilment_failed`, `fulfilled`, `finished`.
    pub event: String,
    /// Who did it (`system` for the fulfilment job).
    pub actor: String,
    /// A reason, an error or what was created.
    pub detail: String,
    pub time: String,
}

/// One approver's decision on a request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Decision {
    pub approver: String,
    /// `approve` or `reject`.
    pub decision: String,
    pub reason: String,
    pub time: String,
}

/// Body of `actions/reject/`: the reason (optional in the API, required in the UI).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RejectInput {
    #[serde(default)]
    pub reason: Option<String>,
}

/// Checks a rejection reason; `required` in the UI.
pub fn validate_reason(reason: &str, required: bool) -> Result<(), String> {
    if required && reason.trim().is_empty() {
        return Err("a rejection needs a reason".into());
    }
    if reason.chars().count() > MAX_REASON {
        return Err(format!("at most {MAX_REASON} characters"));
    }
    Ok(())
}
