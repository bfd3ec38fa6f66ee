//! PowerDNS authoritative server through its HTTP API (`/api/v1/servers/<id>/zones…`).
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    canonical_content, owner_string, Conn, DriverError, ErrorKind, Prepared, RRSet, TIMEOUT,
};

/// Time allowed for reading a whole zone.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes read of an answer carrying a whole zone.
pub(crate) const ZONE_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Most bytes read of any other answer.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;
/// Most characters of PowerDNS's `error` field shown to callers.
const SAID_LIMIT: usize = 200;

/// The one HTTP client: redirects are never followed (a 3xx is an error), so the API key goes
/// nowhere but to the configured endpoint.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("opsdeck")
            .build()
            .expect("HTTP client")
    })
}

/// `(base URL of the server resource, api key)`.
fn parts(conn: &Conn) -> (String, &str) {
    let Conn::PowerDns {
        endpoint,
        api_key,
        server_id,
    } = conn
    else {
        unreachable!("powerdns driver called with another connection")
    };
    let e = endpoint.trim().trim_end_matches('/');
    let e = e.strip_suffix("/api/v1").unwrap_or(e);
    let id = if server_id.trim().is_empty() {
        "localhost"
    } else {
        server_id.trim()
    };
    (format!("{e}/api/v1/servers/{id}"), api_key.as_str())
}

/// PowerDNS zone id of a canonical zone name: the absolute name, `/` escaped as `=2F`.
fn zone_url(base: &str, zone: &str) -> String {
    format!("{base}/zones/{}.", zone.replace('/', "=2F"))
}

async fn call(
    conn: &Conn,
    method: Method,
    url: String,
    body: Option<Value>,
) -> Result<(StatusCode, String), DriverError> {
    call_within(conn, method, url, body, TIMEOUT, BODY_LIMIT).await
}

/// [`call`] with another timeout and body limit, for whole-zone reads and large batches.
async fn call_within(
    conn: &Conn,
    method: Method,
    url: String,
    body: Option<Value>,
    timeout: Duration,
    limit: usize,
) -> Result<(StatusCode, String), DriverError> {
    let resp = send(conn, method, url, body, timeout).await?;
    let status = resp.status();
    let text = read_limited(resp, limit).await?;
    Ok((status, text))
}

/// Sends one request; a redirect answer is an error (never followed).
async fn send(
    conn: &Conn,
    method: Method,
    url: String,
    body: Option<Value>,
    timeout: Duration,
) -> Result<reqwest::Response, DriverError> {
    let (_, key) = parts(conn);
    let mut req = client()
        .request(method, &url)
        .timeout(timeout)
        .header("X-API-Key", key)
        .header("Accept", "application/json");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.map_err(transport)?;
    if resp.status().is_redirection() {
        return Err(DriverError::invalid(format!(
            "the DNS API answered with a redirect (HTTP {}): give its final URL as api_endpoint",
            resp.status().as_u16()
        )));
    }
    Ok(resp)
}

/// Reads at most `limit` bytes of the answer (an error beyond), as text.
async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<String, DriverError> {
    let too_large = || {
        let size = if limit >= 1 << 20 {
            format!("{} MB", limit >> 20)
        } else {
            format!("{} KB", limit >> 10)
        };
        DriverError::invalid(format!("the DNS API's answer is larger than {size}"))
    };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// A transport failure in a few words: nothing of the peer's answer, address or OS error (the
/// endpoint is the caller's input; details would help scanning through it).
fn transport(e: reqwest::Error) -> DriverError {
    DriverError::unreachable(if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "no answer in time"
    } else {
        "the request failed"
    })
}

/// At most `max` characters of `s`, control characters dropped, trimmed.
pub(crate) fn sanitize(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Maps a non-success answer to an error: the status, plus PowerDNS's JSON `error` field
/// (at most 200 characters, control characters removed); never the raw body.
fn status_error(status: StatusCode, body: &str) -> DriverError {
    let said = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error")
                .and_then(Value::as_str)
                .map(|e| sanitize(e, SAID_LIMIT))
        })
        .unwrap_or_default();
    let message = if said.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {said}", status.as_u16())
    };
    let kind = match status.as_u16() {
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        502..=504 => ErrorKind::Unreachable,
        _ => ErrorKind::Invalid,
    };
    DriverError::new(kind, message)
}

pub(super) async fn test(conn: &Conn, zone_hint: Option<&str>) -> Result<String, DriverError> {
    let (base, _) = parts(conn);
    let (status, body) = call(conn, Method::GET, base.clone(), None).await?;
    if !status.is_success() {
        return Err(status_error(status, &body));
    }
    let not_pdns = || DriverError::invalid("the endpoint does not answer like the PowerDNS API");
    let v: Value = serde_json::from_str(&body).map_err(|_| not_pdns())?;
    let daemon = v
        .get("daemon_type")
        .and_then(Value::as_str)
        .map(|d| sanitize(d, 40))
        .filter(|d| !d.is_empty())
        .ok_or_else(not_pdns)?;
    let version = v
        .get("version")
        .and_then(Value::as_str)
        .map(|d| sanitize(d, 40))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "(unknown version)".into());
    let mut text = format!("PowerDNS {daemon} {version}");
    if let Some(z) = zone_hint {
        let z = super::canonical_name(z)?;
        let present = zone_exists(conn, &z).await?;
        text.push_str(&format!(
            "; zone {z} {}",
            if present { "present" } else { "not present" }
        ));
    }
    Ok(text)
}

pub(super) async fn create_zone(
    conn: &Conn,
    zone: &str,
    nameservers: &[String],
) -> Result<(), DriverError> {
    let (base, _) = parts(conn);
    let mut ns: Vec<String> = Vec::new();
    for n in nameservers.iter().filter(|n| !n.trim().is_empty()) {
        ns.push(format!("{}.", super::canonical_name(n)?));
    }
    if ns.is_empty() {
        ns.push(format!("ns1.{zone}."));
    }
    let body = json!({ "name": format!("{zone}."), "kind": "Native", "nameservers": ns });
    let (status, text) = call(conn, Method::POST, format!("{base}/zones"), Some(body)).await?;
    if status.is_success() {
        Ok(())
    } else {
        Err(status_error(status, &text))
    }
}

pub(super) async fn zone_exists(conn: &Conn, zone: &str) -> Result<bool, DriverError> {
    let (base, _) = parts(conn);
    // the answer is the whole zone: its status is enough (the body is not read)
    let resp = send(conn, Method::GET, zone_url(&base, zone), None, TIMEOUT).await?;
    let status = resp.status();
    if status.is_success() {
        return Ok(true);
    }
    let text = read_limited(resp, BODY_LIMIT).await?;
    match status {
        StatusCode::NOT_FOUND => Ok(false),
        // PowerDNS answers 422 for some malformed or unknown zone ids
        StatusCode::UNPROCESSABLE_ENTITY if text.contains("Could not find") => Ok(false),
        s => Err(status_error(s, &text)),
    }
}

pub(super) async fn delete_zone(conn: &Conn, zone: &str) -> Result<(), DriverError> {
    let (base, _) = parts(conn);
    let (status, text) = call(conn, Method::DELETE, zone_url(&base, zone), None).await?;
    match status {
        s if s.is_success() => Ok(()),
        StatusCode::NOT_FOUND => Ok(()),
        s => Err(status_error(s, &text)),
    }
}

#[derive(Deserialize)]
struct ApiZone {
    #[serde(default)]
    rrsets: Vec<ApiRRSet>,
}

#[derive(Deserialize)]
struct ApiRRSet {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    #[serde(default)]
    ttl: u32,
    #[serde(default)]
    records: Vec<ApiRecord>,
}

#[derive(Deserialize)]
struct ApiRecord {
    content: String,
    #[serde(default)]
    disabled: bool,
}

pub(super) async fn list(conn: &Conn, zone: &str) -> Result<Vec<RRSet>, DriverError> {
    let (base, _) = parts(conn);
    // a whole zone can be large: allow more than one request's time
    let (status, text) = call_within(
        conn,
        Method::GET,
        zone_url(&base, zone),
        None,
        LIST_TIMEOUT,
        ZONE_BODY_LIMIT,
    )
    .await?;
    if !status.is_success() {
        return Err(status_error(status, &text));
    }
    let z: ApiZone = serde_json::from_str(&text)
        .map_err(|_| DriverError::invalid("the DNS API answered an unexpected zone document"))?;
    let mut out = Vec::new();
    for s in z.rrsets {
        let rtype = s.rtype.to_ascii_uppercase();
        if rtype == "SOA" {
            continue;
        }
        let contents: Vec<String> = s
            .records
            .into_iter()
            .filter(|r| !r.disabled)
            // types this driver does not know stay as PowerDNS printed them
            .map(|r| canonical_content(&rtype, &r.content).unwrap_or(r.content))
            .collect();
        if contents.is_empty() {
            continue;
        }
        let name = match hickory_proto::rr::Name::from_ascii(&s.name) {
            Ok(n) => owner_string(&n),
            Err(_) => s.name.trim_end_matches('.').to_ascii_lowercase(),
        };
        out.push(RRSet {
            name,
            rtype,
            ttl: s.ttl,
            contents,
        });
    }
    Ok(out)
}

pub(super) async fn apply(conn: &Conn, zone: &str, sets: &[Prepared]) -> Result<(), DriverError> {
    let (base, _) = parts(conn);
    let rrsets: Vec<Value> = sets
        .iter()
        .map(|s| {
            if s.contents.is_empty() {
                json!({
                    "name": format!("{}.", s.name),
                    "type": s.rtype.to_string(),
                    "changetype": "DELETE",
                })
            } else {
                let records: Vec<Value> = s
                    .contents
                    .iter()
                    .map(|c| json!({ "content": c, "disabled": false }))
                    .collect();
                json!({
                    "name": format!("{}.", s.name),
                    "type": s.rtype.to_string(),
                    "ttl": s.ttl,
                    "changetype": "REPLACE",
                    "records": records,
                })
            }
        })
        .collect();
    let body = json!({ "rrsets": rrsets });
    // 5 s, plus 5 s per 1000 records: PowerDNS writes a large PATCH in one transaction
    let records: usize = sets.iter().map(|s| s.contents.len().max(1)).sum();
    let timeout = TIMEOUT + TIMEOUT * (records / 1000) as u32;
    let (status, text) = call_within(
        conn,
        Method::PATCH,
        zone_url(&base, zone),
        Some(body),
        timeout,
        BODY_LIMIT,
    )
    .await?;
    if status.is_success() {
        Ok(())
    } else {
        Err(status_error(status, &text))
    }
}
