//! Wire types of resource requests (seed 003 "资源申请"): hosts, domains, SSL certificates.
//! The seed's misspellings are accepted on input (`shiped_packackages`, `users_with_log_perm`,
//! `associate_app`) and answered with the correct names.
use crate::approvals::types::{Decision, TimelineEvent};
use crate::common::{IdRef, PageQuery};
use serde::{Deserialize, Serialize};

/// The three kinds, by their path segment under `/resource-request/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Host,
    Domain,
    Ssl,
}

impl RequestKind {
    pub const ALL: [RequestKind; 3] = [RequestKind::Host, RequestKind::Domain, RequestKind::Ssl];
    /// The value stored in `resource_requests.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Host => "host",
            RequestKind::Domain => "domain",
            RequestKind::Ssl => "ssl",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "host" | "hosts" => Some(Self::Host),
            "domain" | "domains" => Some(Self::Domain),
            "ssl" | "ssl-certificates" | "ssl_certificates" => Some(Self::Ssl),
            _ => None,
        }
    }
    /// The path segment of the seed (`hosts`, `domains`, `ssl-certificates`).
    pub fn segment(self) -> &'static str {
        match self {
            RequestKind::Host => "hosts",
            RequestKind::Domain => "domains",
            RequestKind::Ssl => "ssl-certificates",
        }
    }
    /// The module flag of its approvers.
    pub fn approve_perm(self) -> &'static str {
        match self {
            RequestKind::Host => "approve_host_req",
            RequestKind::Domain => "approve_domain_req",
            RequestKind::Ssl => "approve_ssl_cert_req",
        }
    }
}

/// Filters of the three list endpoints (`domain` and `certificate_type` for certificates).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RequestFilter {
    /// The requester's user name.
    #[serde(default)]
    pub creator: Option<String>,
    #[serde(default, rename = "time__gt")]
    pub time_gt: Option<String>,
    #[serde(default, rename = "time__lt")]
    pub time_lt: Option<String>,
    /// One of `wait_review`, `approved`, `finished`, `rejected`, `closed`.
    #[serde(default)]
    pub status: Option<String>,
    /// Certificates: the certificate domain contains this.
    #[serde(default)]
    pub domain: Option<String>,
    /// Certificates: `wizard` or `normal`.
    #[serde(default)]
    pub certificate_type: Option<String>,
    /// `mine`: only my requests; `inbox`: those waiting for my decision.
    #[serde(default)]
    pub view: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// Specs of one requested host.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostSpecs {
    #[serde(default)]
    pub cpu_core: i64,
    /// MB.
    #[serde(default)]
    pub mem: i64,
    /// MB.
    #[serde(default)]
    pub storage: i64,
}

/// One host of a host request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RequestedHost {
    pub name: String,
    #[serde(default)]
    pub specs: HostSpecs,
    #[serde(default)]
    pub os: String,
    /// The host type (`TECENT_CVM`, `PHY_HOST`, …).
    #[serde(default, rename = "type")]
    pub host_type: String,
}

/// A user named in a request: `{"id": 1}` on input, with the name on output.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserRef {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// One DNS record of a domain request (`record` is the name).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RequestedRecord {
    #[serde(alias = "name")]
    pub record: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

/// The body of create (all fields of the kind) and PATCH (the fields given replace).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RequestInput {
    // Host requests.
    #[serde(default)]
    pub purpose: Option<String>,
    #[serde(default, deserialize_with = "crate::common::de::opt_num_or_text")]
    pub expect_delivery_days: Option<String>,
    #[serde(default)]
    pub expiration: Option<String>,
    #[serde(default, alias = "users_with_log_perm")]
    pub login_users: Option<Vec<IdRef>>,
    #[serde(default, alias = "shiped_packackages")]
    pub shipped_packages: Option<Vec<IdRef>>,
    #[serde(default)]
    pub required_hosts: Option<Vec<RequestedHost>>,
    // Domain requests.
    #[serde(default)]
    pub records: Option<Vec<RequestedRecord>>,
    /// Applications the domain or certificate is for (`associate_app` is the seed's other spelling).
    #[serde(default, alias = "associate_app")]
    pub associated_app: Option<Vec<i64>>,
    // SSL certificate requests.
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub certificate_type: Option<String>,
}

/// A request as answered: the seed's fields of its kind, plus status, approvals and timeline.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ResourceRequest {
    pub id: i64,
    pub kind: String,
    pub creator: String,
    pub creator_id: i64,
    pub created_time: String,
    pub updated_time: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect_delivery_days: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_users: Option<Vec<UserRef>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipped_packages: Option<Vec<IdRef>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_hosts: Option<Vec<RequestedHost>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<RequestedRecord>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub associated_app: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_type: Option<String>,
    pub approvals_needed: i32,
    pub approvals_count: i32,
    /// A fingerprint of the content; send it with an approval (see `ApproveInput`).
    pub content_version: String,
    /// While `approved`: why fulfilment has not finished ("fulfilment pending: …").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfilment_note: Option<String>,
    /// Hosts registered for a host request; the certificate issued for an SSL request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ids: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<i64>,
    /// What the caller may do now: `edit`, `close`, `approve`, `reject`, `deliver`, `upload`,
    /// `cancel`.
    pub available_actions: Vec<String>,
    /// Detail only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decisions: Option<Vec<Decision>>,
    /// Detail only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineEvent>>,
}

/// Body of `actions/approve/` (optional; the seed sends none): the `content_version` the
/// approver saw. When given and the request was edited since, the approval is refused (409).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApproveInput {
    #[serde(default)]
    pub content_version: Option<String>,
}

/// Body of `actions/cancel/`: why an approved request is given up.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CancelInput {
    #[serde(default)]
    pub reason: Option<String>,
}

/// The approver inbox badge: requests waiting for the caller's decision, per kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InboxCount {
    pub host: u64,
    pub domain: u64,
    pub ssl: u64,
    pub total: u64,
}

/// `GET/PATCH /resource-request/settings/`: approvals each kind needs (1 or 2).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RequestSettings {
    #[serde(default)]
    pub host_quorum: Option<i32>,
    #[serde(default)]
    pub domain_quorum: Option<i32>,
    #[serde(default)]
    pub ssl_quorum: Option<i32>,
}

/// Body of an SSL request's `actions/upload/`: a certificate issued elsewhere.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CertificateUpload {
    pub cert_pem: String,
    #[serde(default)]
    pub chain_pem: Option<String>,
    #[serde(default)]
    pub key_pem: Option<String>,
}

/// Most hosts or records one request may carry.
pub const MAX_ROWS: usize = 100;

/// Field checks shared by the form and the service. Answers (field, message) pairs.
pub fn validate(kind: RequestKind, i: &RequestInput, creating: bool) -> Vec<(String, String)> {
    let mut errs = vec![];
    let mut err = |f: &str, m: &str| errs.push((f.to_string(), m.to_string()));
    if let Some(d) = &i.expect_delivery_days {
        match d.trim().parse::<u32>() {
            Ok(n) if (1..=365).contains(&n) => {}
            _ => err("expect_delivery_days", "a number of days from 1 to 365"),
        }
    }
    if let Some(p) = &i.purpose {
        if p.chars().count() > 1000 {
            err("purpose", "at most 1000 characters");
        }
    }
    match kind {
        RequestKind::Host => {
            if creating && i.purpose.as_deref().is_none_or(|p| p.trim().is_empty()) {
                err("purpose", "say what the hosts are for");
            }
            if let Some(e) = &i.expiration {
                let e = e.trim();
                if e != "never" && chrono::NaiveDate::parse_from_str(e, "%Y-%m-%d").is_err() {
                    err("expiration", "`never` or a date (YYYY-MM-DD)");
                }
            }
            match &i.required_hosts {
                None if creating => err("required_hosts", "list at least one host"),
                Some(h) if h.is_empty() => err("required_hosts", "list at least one host"),
                Some(h) if h.len() > MAX_ROWS => err("required_hosts", "at most 100 hosts"),
                Some(hosts) => {
                    let mut seen = std::collections::HashSet::new();
                    for (n, h) in hosts.iter().enumerate() {
                        let f = |x: &str| format!("required_hosts[{n}].{x}");
                        if let Err(m) = hostname(&h.name) {
                            errs.push((f("name"), m));
                        } else if !seen.insert(h.name.trim().to_lowercase()) {
                            errs.push((f("name"), "named twice in this request".into()));
                        }
                        let s = &h.specs;
                        if !(0..=1024).contains(&s.cpu_core) {
                            errs.push((f("specs.cpu_core"), "0 to 1024 cores".into()));
                        }
                        if !(0..=64 * 1024 * 1024).contains(&s.mem) {
                            errs.push((f("specs.mem"), "memory in MB, 0 to 64 TB".into()));
                        }
                        if !(0..=1024 * 1024 * 1024).contains(&s.storage) {
                            errs.push((f("specs.storage"), "storage in MB, 0 to 1 PB".into()));
                        }
                        if h.os.chars().count() > 100 {
                            errs.push((f("os"), "at most 100 characters".into()));
                        }
                        let types = crate::hosts::types::HOST_TYPES;
                        if !h.host_type.is_empty() && !types.contains(&h.host_type.as_str()) {
                            errs.push((f("type"), format!("one of {}", types.join(", "))));
                        }
                    }
                }
                None => {}
            }
            for (f, l) in [
                ("login_users", &i.login_users),
                ("shipped_packages", &i.shipped_packages),
            ] {
                if l.as_ref().is_some_and(|l| l.len() > MAX_ROWS) {
                    errs.push((f.into(), "at most 100 entries".into()));
                }
            }
        }
        RequestKind::Domain => match &i.records {
            None if creating => err("records", "list at least one record"),
            Some(r) if r.is_empty() => err("records", "list at least one record"),
            Some(r) if r.len() > MAX_ROWS => err("records", "at most 100 records"),
            _ => {}
        },
        RequestKind::Ssl => {
            match i.domain.as_deref() {
                None if creating => err("domain", "the certificate's domain is required"),
                Some(d) => {
                    if let Err(m) = hostname(d) {
                        err("domain", &m);
                    }
                }
                None => {}
            }
            match i.certificate_type.as_deref() {
                None if creating => err("certificate_type", "`wizard` (wildcard) or `normal`"),
                Some("wizard" | "normal") | None => {}
                Some(_) => err("certificate_type", "`wizard` (wildcard) or `normal`"),
            }
        }
    }
    if i.associated_app
        .as_ref()
        .is_some_and(|a| a.len() > MAX_ROWS)
    {
        errs.push(("associated_app".into(), "at most 100 applications".into()));
    }
    errs
}

/// A DNS host name: labels of letters, digits and hyphens, at most 253 characters.
pub fn hostname(v: &str) -> Result<(), String> {
    let v = v.trim().trim_end_matches('.');
    if v.is_empty() {
        return Err("a name is required".into());
    }
    if v.len() > 253 {
        return Err("at most 253 characters".into());
    }
    for l in v.split('.') {
        if l.is_empty() || l.len() > 63 {
            return Err("each part between dots has 1 to 63 characters".into());
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Err("a part may not start or end with a hyphen".into());
        }
        if !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("letters, digits, hyphens and dots only".into());
        }
    }
    Ok(())
}
