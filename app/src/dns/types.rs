//! Wire types of DNS (services, zones, records, drift, operations) and the record validation
//! shared by the service and the UI (`validate_record`: std only, compiles to wasm).
use crate::common::PageQuery;
use crate::perms::types::PermFlags;
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Record types Opsdeck manages (others on a server are left alone and ignored by drift).
pub const RECORD_TYPES: &[&str] = &["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "NS", "PTR", "CAA"];
/// Kinds of DNS server.
pub const SERVICE_TYPES: &[&str] = &["bind", "powerdns"];
/// TSIG algorithms accepted for BIND services.
pub const TSIG_ALGORITHMS: &[&str] = &["hmac-sha256", "hmac-sha384", "hmac-sha512"];
/// TTL of a record when none is given (and its set has none yet).
pub const DEFAULT_TTL: i64 = 600;
/// Largest TTL (RFC 2181: 2^31 - 1).
pub const MAX_TTL: i64 = 2_147_483_647;
/// Most bytes of text one TXT record carries (all its strings together).
pub const MAX_TXT_BYTES: usize = 4000;
/// Most records of one name and type (one RRset).
pub const MAX_SET_RECORDS: usize = 100;
/// Most bytes of record data of one name and type (contents in presentation form, summed).
pub const MAX_SET_BYTES: usize = 16 * 1024;
/// Record types whose owner names may hold `_` labels (`_sip._tcp`, `_dmarc`, DKIM selectors
/// `s1._domainkey` and ACME `_acme-challenge`, which are often CNAMEs to a provider).
pub const UNDERSCORE_OWNER_TYPES: &[&str] = &["SRV", "TXT", "CNAME"];

/// A DNS server Opsdeck manages zones on (seed 003 "DNS Server"). Secrets are never answered:
/// `api_key_set` / `tsig_secret_set` say whether one is stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DnsService {
    pub id: i64,
    pub name: String,
    /// `bind` or `powerdns`.
    #[serde(rename = "type")]
    pub service_type: String,
    /// PowerDNS: the HTTP API base URL; BIND: `host:port` of the server.
    pub api_endpoint: String,
    pub description: String,
    /// User name of the creator.
    pub creator: String,
    pub created_time: String,
    pub updated_time: String,
    /// PowerDNS server id (`localhost`).
    pub server_id: String,
    pub tsig_key_name: Option<String>,
    pub tsig_algorithm: Option<String>,
    pub api_key_set: bool,
    pub tsig_secret_set: bool,
}

/// `POST /dns-services/` and `PATCH /dns-services/{id}/`. Secrets are write-only.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DnsServiceInput {
    #[serde(default)]
    pub name: Option<String>,
    /// `bind` or `powerdns` (also accepted as `service_type`).
    #[serde(default, rename = "type", alias = "service_type")]
    pub service_type: Option<String>,
    #[serde(default)]
    pub api_endpoint: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// PowerDNS API key (required for PowerDNS).
    #[serde(default)]
    pub api_key: Option<String>,
    /// PowerDNS server id, default `localhost`.
    #[serde(default)]
    pub server_id: Option<String>,
    /// BIND: TSIG key name, algorithm (`hmac-sha256`…) and base64 secret (as tsig-keygen prints).
    #[serde(default)]
    pub tsig_key_name: Option<String>,
    #[serde(default)]
    pub tsig_algorithm: Option<String>,
    #[serde(default)]
    pub tsig_secret: Option<String>,
}

/// `GET /dns-services/` filters (each "contains").
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DnsServiceFilter {
    /// Creator's user name.
    #[serde(default)]
    pub creator: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// Answer of "test connection": `ok` and what the server said (never a secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnTest {
    pub ok: bool,
    pub message: String,
}

/// A zone managed on a DNS service (seed 003 "DNS domain").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DnsDomain {
    pub id: i64,
    /// The zone, lowercase, without the trailing dot.
    pub name: String,
    pub service_id: i64,
    pub service_name: String,
    pub creator: String,
    pub created_time: String,
    /// Why the last push failed, while changes wait for the server.
    pub push_error: Option<String>,
    /// Records whose last change has not reached the server yet.
    pub pending: u64,
    /// Records whose RRset the server refused (state `failed`; a change of the set retries it).
    pub failed: u64,
    /// `view_domain`, `edit_domain`: what the caller may do on it.
    pub available_actions: PermFlags,
}

/// `POST /dns-services/{id}/domains/` and `PATCH …/domains/{did}/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DomainInput {
    #[serde(default)]
    pub name: Option<String>,
    /// Take over a zone the server already serves, importing its records.
    #[serde(default)]
    pub adopt: Option<bool>,
}

/// `GET /dns-services/{id}/domains/` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DomainFilter {
    /// Zone name contains.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// `DELETE /dns-services/{id}/domains/?id=N` (the seed's path without the domain id).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OptionalId {
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub id: Option<i64>,
}

/// A record of a zone (seed 003 "domain record").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DnsRecord {
    pub id: i64,
    pub domain_id: i64,
    /// Absolute name, lowercase, without the trailing dot.
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// The value without the MX/SRV priority; TXT and CAA in their quoted form.
    pub value: String,
    pub ttl: i64,
    pub priority: Option<i64>,
    pub disabled: bool,
    /// `pending` until the server has its last change, then `synced`; `failed` when the
    /// server refused its RRset (the server keeps what it had; changing the set retries it).
    pub state: String,
    /// Why the zone's last push failed (pending records), or why the server refused the
    /// record's RRset (failed records).
    pub push_error: Option<String>,
    /// The resource request that created it.
    pub request_id: Option<i64>,
    pub created_time: String,
    pub updated_time: String,
}

/// A record to create (`POST …/records/`, one object or an array). `record` is accepted for
/// `name`; a relative name is joined with the zone, `@` is the zone itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RecordInput {
    #[serde(default, alias = "record")]
    pub name: String,
    #[serde(default, rename = "type", alias = "rtype")]
    pub rtype: String,
    #[serde(default)]
    pub value: String,
    /// Seconds, 1..=2147483647; default: the set's TTL, else 600.
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub ttl: Option<i64>,
    /// MX and SRV (0..=65535); `"10 mail.example.com"` as the value works too.
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub priority: Option<i64>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// `PATCH …/records/{rid}/` (or `PATCH …/records/` with `id`): the fields to change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RecordPatch {
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub id: Option<i64>,
    #[serde(default, alias = "record")]
    pub name: Option<String>,
    #[serde(default, rename = "type", alias = "rtype")]
    pub rtype: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    /// A new TTL applies to every record of the same name and type.
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub ttl: Option<i64>,
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub priority: Option<i64>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// `GET …/records/` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RecordFilter {
    /// Name contains.
    #[serde(default)]
    pub name: Option<String>,
    /// Value contains.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default, rename = "type")]
    pub rtype: Option<String>,
    /// `true` or `false`.
    #[serde(default)]
    pub disabled: Option<String>,
    /// `pending`, `synced` or `failed`.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// One difference between Opsdeck's records and what the server serves, per name and type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DriftEntry {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// Contents of Opsdeck's enabled records, canonical (sorted).
    pub ours: Vec<String>,
    /// Contents the server serves, canonical (sorted).
    pub theirs: Vec<String>,
    pub ours_ttl: Option<i64>,
    pub theirs_ttl: Option<i64>,
    /// A change of this set waits in the outbox: the difference may be that change.
    pub pending: bool,
}

/// `POST …/drift/actions/resolve/`: `push` (send ours) or `adopt` (take theirs).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DriftResolve {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type", alias = "rtype")]
    pub rtype: String,
    #[serde(default)]
    pub action: String,
}

/// A DNS operation (seed 003 "dns operation").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DnsOp {
    pub id: i64,
    /// `server`, `domain` or `record`.
    pub op_target: String,
    /// `add`, `update`, `delete`, `disable`, `enable`.
    pub op_type: String,
    pub op_detail: String,
    pub op_time: String,
    pub operator: String,
}

/// `GET /audit/dns-operations/` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DnsOpFilter {
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub op_type: Option<String>,
    #[serde(default)]
    pub op_target: Option<String>,
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

/// A record after validation: what is stored, and the server's canonical content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Normalized {
    /// Absolute, lowercase, without the trailing dot.
    pub name: String,
    pub rtype: String,
    /// Stored value (no priority; hostnames without the trailing dot; TXT/CAA quoted).
    pub value: String,
    pub priority: Option<i64>,
    pub ttl: i64,
    /// Whether the input gave the TTL (else the set's TTL applies).
    pub ttl_given: bool,
    pub disabled: bool,
    /// Zone-file presentation form as the drivers speak it (`10 mail.example.test.`).
    pub content: String,
}

type Errors = Vec<(String, String)>;

fn err(field: &str, message: impl Into<String>) -> Errors {
    vec![(field.to_string(), message.into())]
}

/// Checks a DNS name (labels of letters, digits, `-`, `_`; a leading `*` label when
/// `wildcard`), lowercase, at most 253 characters and 63 per label.
pub fn check_name(name: &str, wildcard: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > 253 {
        return Err(format!("{name} is longer than 253 characters"));
    }
    for (i, label) in name.split('.').enumerate() {
        if label.is_empty() {
            return Err(format!("{name} has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!("a label of {name} is longer than 63 characters"));
        }
        if label == "*" {
            if wildcard && i == 0 {
                continue;
            }
            return Err(format!(
                "{name}: * is allowed only as the first label of a record name"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
        {
            return Err(if c.is_ascii() {
                format!("{name}: the character {c:?} is not allowed in a name")
            } else {
                format!("{name}: write international names in punycode (xn--…)")
            });
        }
    }
    Ok(())
}

/// A zone name as stored: lowercase, without the trailing dot, checked.
pub fn zone_name(v: &str) -> Result<String, String> {
    let z = v.trim().trim_end_matches('.').to_ascii_lowercase();
    if z.is_empty() {
        return Err("a zone needs a name".into());
    }
    check_name(&z, false)?;
    Ok(z)
}

/// The absolute name of a record: `@` is the zone, a name ending in the zone (or with a
/// trailing dot) is absolute, anything else is relative to the zone.
pub fn record_name(zone: &str, v: &str) -> Result<String, String> {
    let v = v.trim().to_ascii_lowercase();
    if v.is_empty() {
        return Err("a record needs a name (@ for the zone itself)".into());
    }
    let name = if v == "@" {
        zone.to_string()
    } else {
        let absolute = v.ends_with('.');
        let n = v.trim_end_matches('.');
        if n == zone || n.ends_with(&format!(".{zone}")) {
            n.to_string()
        } else if absolute {
            return Err(format!("{n} is not inside the zone {zone}"));
        } else {
            format!("{n}.{zone}")
        }
    };
    check_name(&name, true)?;
    Ok(name)
}

/// A label of a host name (RFC 952/1123, as BIND's `check-names` and resolvers see them):
/// letters, digits and `-`, no `-` at either end; `_` only when `underscore`.
fn host_label(name: &str, label: &str, underscore: bool) -> Result<(), String> {
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!(
            "{name}: a label of a host name cannot begin or end with -"
        ));
    }
    if !underscore && label.contains('_') {
        return Err(format!("{name}: _ is not allowed in a host name"));
    }
    Ok(())
}

/// Checks a host name (the target of an MX, SRV, NS or PTR record): a DNS name whose labels
/// are letters, digits and `-`, never beginning or ending with `-`, no `_` (DNS servers refuse
/// such targets, BIND by its `check-names`).
pub fn check_hostname(name: &str) -> Result<(), String> {
    check_name(name, false)?;
    for label in name.split('.') {
        host_label(name, label, false)?;
    }
    Ok(())
}

/// A host name in a record's value, as stored (lowercase, no trailing dot). A CNAME target may
/// hold `_` labels (DKIM and ACME delegations point at `…._domainkey.…` names; servers accept
/// them), the targets of MX, SRV, NS and PTR may not.
fn hostname(v: &str, underscore: bool) -> Result<String, String> {
    let n = v.trim().to_ascii_lowercase();
    let n = n.strip_suffix('.').unwrap_or(&n);
    if n.is_empty() {
        return Err("a host name is needed".into());
    }
    check_name(n, false)?;
    for label in n.split('.') {
        host_label(n, label, underscore)?;
    }
    Ok(n.to_string())
}

/// The owner-name rules of a type, over the labels left of the zone: never `-` at either end
/// of a label; `_` only in names of SRV, TXT and CNAME records (`_sip._tcp`, `_dmarc`).
fn check_owner(zone: &str, name: &str, rtype: &str) -> Result<(), String> {
    let rel = if name == zone {
        ""
    } else {
        name.strip_suffix(zone)
            .map(|r| r.trim_end_matches('.'))
            .unwrap_or(name)
    };
    let underscore = UNDERSCORE_OWNER_TYPES.contains(&rtype);
    for label in rel.split('.').filter(|l| !l.is_empty() && *l != "*") {
        if label.contains('_') && !underscore {
            return Err(format!(
                "{name}: _ is allowed only in names of {} records (_sip._tcp, _dmarc); {rtype} names are host names",
                UNDERSCORE_OWNER_TYPES.join(", ")
            ));
        }
        host_label(name, label, true)?;
    }
    Ok(())
}

fn u16_of(field: &str, what: &str, v: i64) -> Result<i64, Errors> {
    if (0..=65535).contains(&v) {
        Ok(v)
    } else {
        Err(err(field, format!("{what} must be 0 to 65535")))
    }
}

/// An MX or SRV value that starts with its priority (`10 mail.example.com`; SRV
/// `10 5 5060 sip.example.com`): the priority and the rest. `None` otherwise.
pub fn split_priority(rtype: &str, value: &str) -> Option<(i64, String)> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let n = match rtype.to_ascii_uppercase().as_str() {
        "MX" => 2,
        "SRV" => 4,
        _ => return None,
    };
    if parts.len() != n {
        return None;
    }
    let p = parts[0].parse::<i64>().ok()?;
    Some((p, parts[1..].join(" ")))
}

fn escape_txt(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\{b:03}")),
        }
    }
    s.push('"');
    s
}

/// The character strings of a TXT value: text without quotes is one string; otherwise a
/// sequence of quoted strings with `\"`, `\\` and `\DDD` escapes.
fn txt_strings(v: &str) -> Result<Vec<Vec<u8>>, String> {
    let t = v.trim();
    if !t.starts_with('"') {
        if t.is_empty() {
            return Err("a TXT record needs text".into());
        }
        return Ok(vec![t.as_bytes().to_vec()]);
    }
    let b = t.as_bytes();
    let mut i = 0;
    let mut out = vec![];
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        if b[i] != b'"' {
            return Err(
                "TXT: quote every string (\"a\" \"b\"), or give the text without quotes".into(),
            );
        }
        i += 1;
        let mut cur = vec![];
        loop {
            let Some(&c) = b.get(i) else {
                return Err("TXT: a quoted string is not closed".into());
            };
            i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = b.get(i) else {
                        return Err("TXT: the text ends with a lone backslash".into());
                    };
                    if e.is_ascii_digit() {
                        let d = b
                            .get(i..i + 3)
                            .filter(|d| d.iter().all(u8::is_ascii_digit))
                            .ok_or("TXT: \\DDD needs three digits")?;
                        let n = (d[0] - b'0') as u32 * 100
                            + (d[1] - b'0') as u32 * 10
                            + (d[2] - b'0') as u32;
                        cur.push(u8::try_from(n).map_err(|_| "TXT: \\DDD above 255")?);
                        i += 3;
                    } else {
                        cur.push(e);
                        i += 1;
                    }
                }
                _ => cur.push(c),
            }
        }
        out.push(cur);
    }
    if out.is_empty() {
        return Err("a TXT record needs text".into());
    }
    Ok(out)
}

/// A TXT value in its canonical quoted form: strings longer than 255 bytes split, special
/// characters escaped (`\"`, `\\`, `\DDD` for bytes outside printable ASCII).
pub fn txt_canonical(v: &str) -> Result<String, String> {
    let strings = txt_strings(v)?;
    let total: usize = strings.iter().map(Vec::len).sum();
    if total > MAX_TXT_BYTES {
        return Err(format!(
            "TXT text is {total} bytes; at most {MAX_TXT_BYTES}"
        ));
    }
    let mut parts = vec![];
    for s in &strings {
        if s.is_empty() {
            parts.push(escape_txt(s));
        }
        for c in s.chunks(255) {
            parts.push(escape_txt(c));
        }
    }
    Ok(parts.join(" "))
}

/// A CAA value `flags tag "value"` in canonical form (tag lowercase, value quoted).
pub fn caa_canonical(v: &str) -> Result<String, String> {
    let t = v.trim();
    let mut it = t.splitn(2, char::is_whitespace);
    let flags = it.next().unwrap_or("");
    let rest = it.next().unwrap_or("").trim_start();
    let mut it = rest.splitn(2, char::is_whitespace);
    let tag = it.next().unwrap_or("").to_ascii_lowercase();
    let value = it.next().unwrap_or("").trim();
    let flags: u8 = flags
        .parse()
        .map_err(|_| "CAA: write flags tag \"value\", flags 0 to 255 (0 issue \"ca.example\")")?;
    if tag.is_empty()
        || tag.len() > 15
        || !tag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return Err("CAA: the tag is letters and digits (issue, issuewild, iodef)".into());
    }
    let bytes = if value.starts_with('"') {
        let mut s = txt_strings(value).map_err(|e| e.replacen("TXT", "CAA", 1))?;
        if s.len() != 1 {
            return Err("CAA: the value is one quoted string".into());
        }
        s.remove(0)
    } else {
        value.as_bytes().to_vec()
    };
    if bytes.len() > 255 {
        return Err("CAA: the value is longer than 255 bytes".into());
    }
    Ok(format!("{flags} {tag} {}", escape_txt(&bytes)))
}

/// The stored value and priority of a record of `rtype` (already uppercase and known), from
/// a value and an optional priority. Errors name the field.
fn value_of(
    rtype: &str,
    value: &str,
    priority: Option<i64>,
) -> Result<(String, Option<i64>), Errors> {
    let v = value.trim();
    let (value, priority) = match (rtype, split_priority(rtype, v)) {
        (_, Some((p, rest))) => match priority {
            Some(q) if q != p => {
                return Err(err(
                    "priority",
                    format!("the value starts with priority {p} but priority is {q}"),
                ))
            }
            _ => (rest, Some(p)),
        },
        _ => (v.to_string(), priority),
    };
    let is_mx_srv = matches!(rtype, "MX" | "SRV");
    if !is_mx_srv && priority.is_some() {
        return Err(err(
            "priority",
            "priority applies only to MX and SRV records",
        ));
    }
    let priority = match (is_mx_srv, priority) {
        (true, None) => {
            return Err(err(
                "priority",
                format!("{rtype} records need a priority (0 to 65535)"),
            ))
        }
        (true, Some(p)) => Some(u16_of("priority", "priority", p)?),
        (false, _) => None,
    };
    let bad = |m: String| err("value", m);
    let stored = match rtype {
        "A" => v_ip4(&value).map_err(bad)?,
        "AAAA" => v_ip6(&value).map_err(bad)?,
        "CNAME" => hostname(&value, true).map_err(bad)?,
        "NS" | "PTR" | "MX" => hostname(&value, false).map_err(bad)?,
        "SRV" => {
            let parts: Vec<&str> = value.split_whitespace().collect();
            if parts.len() != 3 {
                return Err(bad(
                    "SRV: write weight port target (5 5060 sip.example.com), priority apart".into(),
                ));
            }
            let num = |s: &str, what: &str| -> Result<i64, Errors> {
                let n = s
                    .parse::<i64>()
                    .map_err(|_| err("value", format!("SRV: the {what} must be a number")))?;
                u16_of("value", &format!("SRV {what}"), n)
            };
            let (w, p) = (num(parts[0], "weight")?, num(parts[1], "port")?);
            format!("{w} {p} {}", hostname(parts[2], false).map_err(bad)?)
        }
        "TXT" => txt_canonical(&value).map_err(bad)?,
        "CAA" => caa_canonical(&value).map_err(bad)?,
        _ => return Err(err("type", format!("unknown type {rtype}"))),
    };
    Ok((stored, priority))
}

fn v_ip4(v: &str) -> Result<String, String> {
    v.parse::<Ipv4Addr>()
        .map(|a| a.to_string())
        .map_err(|_| format!("{v} is not an IPv4 address"))
}

fn v_ip6(v: &str) -> Result<String, String> {
    v.parse::<Ipv6Addr>()
        .map(|a| a.to_string())
        .map_err(|_| format!("{v} is not an IPv6 address"))
}

/// The content a driver sends and reads for a stored value (`10 mail.example.test.`).
pub fn to_content(rtype: &str, value: &str, priority: Option<i64>) -> String {
    match rtype {
        "CNAME" | "NS" | "PTR" => format!("{value}."),
        "MX" | "SRV" => format!("{} {value}.", priority.unwrap_or(0)),
        _ => value.to_string(),
    }
}

/// A server's content back to a stored value and priority (for adopting and imports).
pub fn parse_content(rtype: &str, content: &str) -> Result<(String, Option<i64>), String> {
    let rtype = rtype.to_ascii_uppercase();
    if !RECORD_TYPES.contains(&rtype.as_str()) {
        return Err(format!("type {rtype} is not managed by Opsdeck"));
    }
    value_of(&rtype, content, None)
        .map_err(|e| e.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join("; "))
}

/// Validates one record of `zone` (lowercase, without the trailing dot): name inside the zone
/// (host-name rules for its own labels, `_` only for SRV, TXT and CNAME), type, TTL, the value
/// by type (MX, SRV, NS and PTR targets are host names), priority for MX/SRV, CNAME not at
/// the apex. Rules that need
/// the other records (CNAME alone, duplicates, one TTL per set) are the service's. Errors are
/// `(field, message)`, every field at fault.
pub fn validate_record(zone: &str, r: &RecordInput) -> Result<Normalized, Vec<(String, String)>> {
    let zone = zone.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut errs: Errors = vec![];
    let rtype = r.rtype.trim().to_ascii_uppercase();
    if rtype.is_empty() {
        errs.extend(err("type", "a record needs a type"));
    } else if !RECORD_TYPES.contains(&rtype.as_str()) {
        errs.extend(err(
            "type",
            format!("type must be one of {}", RECORD_TYPES.join(", ")),
        ));
    }
    let name = match record_name(&zone, &r.name) {
        Ok(n) => match check_owner(&zone, &n, &rtype) {
            Ok(()) => Some(n),
            Err(m) => {
                errs.extend(err("name", m));
                None
            }
        },
        Err(m) => {
            errs.extend(err("name", m));
            None
        }
    };
    let ttl = match r.ttl {
        None => DEFAULT_TTL,
        Some(t) if (1..=MAX_TTL).contains(&t) => t,
        Some(_) => {
            errs.extend(err("ttl", format!("ttl must be 1 to {MAX_TTL}")));
            DEFAULT_TTL
        }
    };
    if rtype == "CNAME" && name.as_deref() == Some(zone.as_str()) {
        errs.extend(err(
            "name",
            "a CNAME cannot be at the zone apex (it would hide SOA and NS)",
        ));
    }
    let mut value = None;
    if RECORD_TYPES.contains(&rtype.as_str()) {
        match value_of(&rtype, &r.value, r.priority) {
            Ok(v) => value = Some(v),
            Err(e) => errs.extend(e),
        }
    }
    match (name, value) {
        (Some(name), Some((value, priority))) if errs.is_empty() => Ok(Normalized {
            content: to_content(&rtype, &value, priority),
            name,
            rtype,
            value,
            priority,
            ttl,
            ttl_given: r.ttl.is_some(),
            disabled: r.disabled.unwrap_or(false),
        }),
        _ => Err(errs),
    }
}
