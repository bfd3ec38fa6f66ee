//! DNS server drivers: the protocol layer under the DNS service. One [`Conn`] reaches one server,
//! either PowerDNS through its HTTP API (`powerdns.rs`) or BIND through TSIG-signed DNS messages
//! over TCP: RFC 2136 UPDATE to write, AXFR to read (`bind.rs`). Messages, TSIG and rdata
//! parsing are hickory-proto's; this module only defines the canonical presentation form of
//! record data that both drivers return, so a list after an apply gives back exactly what was
//! applied (the drift check depends on it).
//!
//! Canonical form: owner names lowercase, absolute, without the trailing dot; rdata in zone-file
//! presentation form with absolute lowercase names WITH the trailing dot; TXT and CAA strings
//! quoted, `"` and `\` escaped with a backslash, bytes outside printable ASCII as `\DDD`, TXT
//! strings longer than 255 bytes split into 255-byte chunks.

mod bind;
mod powerdns;

use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::txt::RDataParser;

/// Time allowed for one request (HTTP request, or one DNS message on the wire).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach one DNS server (secrets already decrypted by the caller).
#[derive(Clone)]
pub enum Conn {
    /// PowerDNS authoritative server through its HTTP API.
    PowerDns {
        /// Base URL of the API, e.g. `http://127.0.0.1:8081/` (a trailing `/api/v1` is accepted).
        endpoint: String,
        /// The `api-key` of pdns.conf, sent as `X-API-Key`.
        api_key: String,
        /// Server id in the API path, normally `localhost`.
        server_id: String,
    },
    /// BIND (or any RFC 2136 server) through TSIG-signed UPDATE and AXFR over TCP.
    Bind {
        /// Address of the server's DNS port.
        addr: std::net::SocketAddr,
        /// Name of the TSIG key as configured on the server, e.g. `opsdeck-key`.
        tsig_key_name: String,
        /// TSIG algorithm: `hmac-sha256`, `hmac-sha384` or `hmac-sha512`.
        tsig_algorithm: String,
        /// The key's secret, base64 as `tsig-keygen` prints it.
        tsig_secret: String,
    },
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conn::PowerDns {
                endpoint,
                server_id,
                ..
            } => f
                .debug_struct("PowerDns")
                .field("endpoint", endpoint)
                .field("server_id", server_id)
                .field("api_key", &"<redacted>")
                .finish(),
            Conn::Bind {
                addr,
                tsig_key_name,
                tsig_algorithm,
                ..
            } => f
                .debug_struct("Bind")
                .field("addr", addr)
                .field("tsig_key_name", tsig_key_name)
                .field("tsig_algorithm", tsig_algorithm)
                .field("tsig_secret", &"<redacted>")
                .finish(),
        }
    }
}

/// One RRset: every record of one name and type. Names are absolute, lowercase, WITHOUT the
/// trailing dot ("www.example.test"); `contents` are rdata in zone-file presentation form with
/// absolute names WITH a trailing dot where the rdata holds a name (see the module docs and
/// [`canonical_content`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RRSet {
    /// Owner name, lowercase, without the trailing dot.
    pub name: String,
    /// Record type in upper case ("A", "MX", …).
    pub rtype: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// Rdata of each record in canonical presentation form; empty means "delete" in `apply`.
    pub contents: Vec<String>,
}

/// What went wrong talking to a DNS server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Connect failure or timeout: retry later.
    Unreachable,
    /// Bad API key, bad TSIG key (BADSIG/BADKEY/NOTAUTH).
    Auth,
    /// The server refused the operation (policy).
    Refused,
    /// The zone is missing on the server.
    NotFound,
    /// The zone already exists.
    Conflict,
    /// The server rejected the data (or the data cannot be expressed).
    Invalid,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Auth => "authentication failed",
            ErrorKind::Refused => "refused",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Invalid => "invalid",
        })
    }
}

/// A failed driver operation: its kind and what the server said (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverError {
    /// Classification, decides retry and the message shown to operators.
    pub kind: ErrorKind,
    /// What the server said, or what failed locally.
    pub message: String,
}

impl DriverError {
    /// Builds an error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        DriverError {
            kind,
            message: message.into(),
        }
    }
    /// Whether trying again later may succeed (only for an unreachable server).
    pub fn retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Unreachable)
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }
    pub(crate) fn unreachable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unreachable, message)
    }
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for DriverError {}

impl Conn {
    /// "test connection": answers a short human text of what the server said (PowerDNS: its
    /// version from GET /api/v1/servers/<id>; BIND: the SOA of `zone_hint`, or without a hint
    /// the answer to a signed `version.bind` query, which proves the TSIG key is accepted).
    pub async fn test(&self, zone_hint: Option<&str>) -> Result<String, DriverError> {
        match self {
            Conn::PowerDns { .. } => powerdns::test(self, zone_hint).await,
            Conn::Bind { .. } => bind::test(self, zone_hint).await,
        }
    }

    /// PowerDNS: creates the zone (kind Native, NS records from `nameservers`, default
    /// `ns1.<zone>.`; the SOA comes from the server's `default-soa-content`); BIND: verifies the
    /// zone exists by asking its SOA (NotFound otherwise) - BIND zones are created by the operator.
    pub async fn create_zone(&self, zone: &str, nameservers: &[String]) -> Result<(), DriverError> {
        let zone = canonical_name(zone)?;
        match self {
            Conn::PowerDns { .. } => powerdns::create_zone(self, &zone, nameservers).await,
            Conn::Bind { .. } => {
                if bind::zone_exists(self, &zone).await? {
                    Ok(())
                } else {
                    Err(DriverError::new(
                        ErrorKind::NotFound,
                        format!(
                            "the BIND server does not serve zone {zone}: add it to named.conf \
                             (type primary, update-policy and allow-transfer for the TSIG key)"
                        ),
                    ))
                }
            }
        }
    }

    /// Whether the server serves the zone (SOA present).
    pub async fn zone_exists(&self, zone: &str) -> Result<bool, DriverError> {
        let zone = canonical_name(zone)?;
        match self {
            Conn::PowerDns { .. } => powerdns::zone_exists(self, &zone).await,
            Conn::Bind { .. } => bind::zone_exists(self, &zone).await,
        }
    }

    /// PowerDNS: deletes the zone (a zone already gone is not an error); BIND: nothing (Ok).
    pub async fn delete_zone(&self, zone: &str) -> Result<(), DriverError> {
        let zone = canonical_name(zone)?;
        match self {
            Conn::PowerDns { .. } => powerdns::delete_zone(self, &zone).await,
            Conn::Bind { .. } => Ok(()),
        }
    }

    /// Every RRset the server serves in the zone except SOA (PowerDNS API GET zone; BIND: a
    /// TSIG-signed AXFR), disabled PowerDNS records left out, contents in canonical form and
    /// sorted, RRsets sorted by name and type.
    pub async fn list(&self, zone: &str) -> Result<Vec<RRSet>, DriverError> {
        let zone = canonical_name(zone)?;
        let mut sets = match self {
            Conn::PowerDns { .. } => powerdns::list(self, &zone).await?,
            Conn::Bind { .. } => bind::list(self, &zone).await?,
        };
        for s in &mut sets {
            s.contents.sort();
            s.contents.dedup();
        }
        sets.sort_by(|a, b| (&a.name, &a.rtype).cmp(&(&b.name, &b.rtype)));
        Ok(sets)
    }

    /// Applies several RRset replacements in one request/message, atomically where the server
    /// allows: each RRset given replaces whatever the server had at that name and type; an RRset
    /// with empty `contents` deletes it. PowerDNS: one PATCH with changetype REPLACE/DELETE;
    /// BIND: one signed UPDATE message (delete rrset + add records) over TCP, large batches split
    /// into several messages of at most 1000 records (or ~48 KB), in order; not atomic across
    /// messages. The same name and type given twice: the last one wins. Contents are validated
    /// and canonicalized first (Invalid before anything is sent).
    pub async fn apply(&self, zone: &str, sets: &[RRSet]) -> Result<(), DriverError> {
        let zone = canonical_name(zone)?;
        let prepared = prepare(&zone, sets)?;
        if prepared.is_empty() {
            return Ok(());
        }
        match self {
            Conn::PowerDns { .. } => powerdns::apply(self, &zone, &prepared).await,
            Conn::Bind { .. } => bind::apply(self, &zone, &prepared).await,
        }
    }
}

/// One RRset validated for `apply`: canonical name and contents, parsed rdata.
pub(crate) struct Prepared {
    pub name: String,
    pub rtype: RecordType,
    pub ttl: u32,
    pub contents: Vec<String>,
    pub rdata: Vec<RData>,
}

fn prepare(zone: &str, sets: &[RRSet]) -> Result<Vec<Prepared>, DriverError> {
    let mut out: Vec<Prepared> = Vec::with_capacity(sets.len());
    let mut index: HashMap<(String, RecordType), usize> = HashMap::new();
    for set in sets {
        let name = canonical_name(&set.name)?;
        if !in_zone(&name, zone) {
            return Err(DriverError::invalid(format!(
                "{name} is not inside zone {zone}"
            )));
        }
        let rtype = parse_rtype(&set.rtype)?;
        if matches!(rtype, RecordType::SOA) {
            return Err(DriverError::invalid(
                "the SOA record is managed by the server",
            ));
        }
        if rtype == RecordType::NS && name == zone && set.contents.is_empty() {
            return Err(DriverError::invalid(format!(
                "the NS records of the zone apex {zone} cannot be deleted, only replaced"
            )));
        }
        let mut contents = Vec::with_capacity(set.contents.len());
        let mut rdata = Vec::with_capacity(set.contents.len());
        for c in &set.contents {
            let rd = parse_rdata(rtype, c)
                .map_err(|e| DriverError::invalid(format!("{name} {rtype} \"{c}\": {e}")))?;
            let canon = format_rdata(&rd)
                .map_err(|e| DriverError::invalid(format!("{name} {rtype} \"{c}\": {e}")))?;
            if !contents.contains(&canon) {
                contents.push(canon);
                rdata.push(rd);
            }
        }
        let p = Prepared {
            name: name.clone(),
            rtype,
            ttl: set.ttl,
            contents,
            rdata,
        };
        match index.get(&(name.clone(), rtype)) {
            Some(&i) => out[i] = p,
            None => {
                index.insert((name, rtype), out.len());
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || name.strip_suffix(zone).is_some_and(|p| p.ends_with('.'))
}

/// Canonical owner or zone name: lowercase, absolute, without the trailing dot
/// ("WWW.Example.Test." → "www.example.test"). Invalid when it is no DNS name.
pub fn canonical_name(name: &str) -> Result<String, DriverError> {
    let t = name.trim();
    let t = t.strip_suffix('.').unwrap_or(t);
    if t.is_empty() {
        return Err(DriverError::invalid("empty DNS name"));
    }
    let n = Name::from_ascii(format!("{t}."))
        .map_err(|e| DriverError::invalid(format!("bad DNS name {name:?}: {e}")))?;
    Ok(owner_string(&n))
}

/// Canonical presentation form of one record's data of type `rtype` (see the module docs), the
/// form `list` returns: e.g. `("MX", "10 Mail.Example.Test.")` → `"10 mail.example.test."`.
/// Names inside the rdata must be absolute (end with a dot).
pub fn canonical_content(rtype: &str, content: &str) -> Result<String, DriverError> {
    let rt = parse_rtype(rtype)?;
    let rd = parse_rdata(rt, content)
        .map_err(|e| DriverError::invalid(format!("{rt} \"{content}\": {e}")))?;
    format_rdata(&rd).map_err(|e| DriverError::invalid(format!("{rt} \"{content}\": {e}")))
}

/// The canonical form of a whole RRset: name and contents canonical, contents sorted and
/// without duplicates (what `list` returns after `apply` of `set`).
pub fn canonical_rrset(set: &RRSet) -> Result<RRSet, DriverError> {
    let mut contents = set
        .contents
        .iter()
        .map(|c| canonical_content(&set.rtype, c))
        .collect::<Result<Vec<_>, _>>()?;
    contents.sort();
    contents.dedup();
    Ok(RRSet {
        name: canonical_name(&set.name)?,
        rtype: parse_rtype(&set.rtype)?.to_string(),
        ttl: set.ttl,
        contents,
    })
}

fn parse_rtype(rtype: &str) -> Result<RecordType, DriverError> {
    let rt = RecordType::from_str(&rtype.trim().to_ascii_uppercase())
        .map_err(|_| DriverError::invalid(format!("unknown record type {rtype:?}")))?;
    if matches!(
        rt,
        RecordType::ANY | RecordType::AXFR | RecordType::IXFR | RecordType::OPT | RecordType::TSIG
    ) || matches!(rt, RecordType::Unknown(_))
    {
        return Err(DriverError::invalid(format!(
            "record type {rtype} cannot be stored"
        )));
    }
    Ok(rt)
}

/// Parses presentation-form rdata. TXT and CAA strings go through [`char_strings`] (hickory's
/// text lexer decodes `\DDD` escapes wrongly); everything else through hickory's rdata parser.
pub(crate) fn parse_rdata(rtype: RecordType, content: &str) -> Result<RData, String> {
    match rtype {
        RecordType::TXT => {
            let strings = char_strings(content)?;
            if strings.is_empty() {
                return Err(
                    "a TXT record needs at least one (possibly empty) quoted string".into(),
                );
            }
            let mut chunks: Vec<&[u8]> = Vec::new();
            for s in &strings {
                if s.is_empty() {
                    chunks.push(s);
                } else {
                    chunks.extend(s.chunks(255));
                }
            }
            Ok(RData::TXT(TXT::from_bytes(chunks)))
        }
        RecordType::CAA => {
            let tokens = char_strings(content)?;
            if tokens.len() != 3 {
                return Err("CAA needs: flags tag \"value\"".into());
            }
            let tokens = tokens
                .into_iter()
                .map(|t| String::from_utf8(t).map_err(|_| "CAA value is not UTF-8".to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            RData::parse(RecordType::CAA, tokens.iter().map(String::as_str), None)
                .map_err(|e| e.to_string())
        }
        _ => RData::try_from_str(rtype, content.trim()).map_err(|e| e.to_string()),
    }
}

/// Canonical presentation form of parsed rdata. Errors on relative names.
pub(crate) fn format_rdata(rd: &RData) -> Result<String, String> {
    Ok(match rd {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(n) => fqdn(&n.0)?,
        RData::NS(n) => fqdn(&n.0)?,
        RData::PTR(n) => fqdn(&n.0)?,
        RData::MX(mx) => format!("{} {}", mx.preference(), fqdn(mx.exchange())?),
        RData::SRV(s) => {
            format!(
                "{} {} {} {}",
                s.priority(),
                s.weight(),
                s.port(),
                fqdn(s.target())?
            )
        }
        RData::TXT(t) => {
            let parts: Vec<String> = t.txt_data().iter().map(|s| quote(s)).collect();
            parts.join(" ")
        }
        RData::CAA(c) => format!(
            "{} {} {}",
            c.flags(),
            c.tag().as_str().to_ascii_lowercase(),
            quote(c.raw_value())
        ),
        RData::SOA(s) => format!(
            "{} {} {} {} {} {} {}",
            fqdn(s.mname())?,
            fqdn(s.rname())?,
            s.serial(),
            s.refresh(),
            s.retry(),
            s.expire(),
            s.minimum()
        ),
        other => other.to_string(),
    })
}

fn fqdn(n: &Name) -> Result<String, String> {
    if !n.is_fqdn() {
        return Err(format!("name {n} must be absolute (end with a dot)"));
    }
    let s = n.to_lowercase().to_ascii();
    Ok(if s.ends_with('.') { s } else { format!("{s}.") })
}

/// Owner name as the API shows it: lowercase, without the trailing dot.
pub(crate) fn owner_string(n: &Name) -> String {
    let s = n.to_lowercase().to_ascii();
    match s.strip_suffix('.') {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => s,
    }
}

/// A character-string in presentation form: quoted, `"` and `\` escaped, bytes outside
/// printable ASCII as `\DDD`.
fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\{b:03}");
            }
        }
    }
    s.push('"');
    s
}

/// Splits presentation-form text into character-strings: quoted ("a b") or bare (ab) tokens
/// separated by blanks, with `\X` and `\DDD` escapes decoded to bytes.
fn char_strings(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let quoted = b[i] == b'"';
        if quoted {
            i += 1;
        }
        let mut cur = Vec::new();
        let mut closed = !quoted;
        while i < b.len() {
            let c = b[i];
            if quoted && c == b'"' {
                closed = true;
                i += 1;
                break;
            }
            if !quoted && c.is_ascii_whitespace() {
                break;
            }
            if !quoted && c == b'"' {
                return Err("unexpected quote inside a bare string".into());
            }
            if c == b'\\' {
                i += 1;
                if i >= b.len() {
                    return Err("dangling backslash".into());
                }
                if b[i].is_ascii_digit() {
                    if i + 3 > b.len() || !b[i..i + 3].iter().all(u8::is_ascii_digit) {
                        return Err("\\DDD escape needs three digits".into());
                    }
                    let v: u32 = std::str::from_utf8(&b[i..i + 3]).unwrap().parse().unwrap();
                    if v > 255 {
                        return Err(format!("\\{v} is not a byte"));
                    }
                    cur.push(v as u8);
                    i += 3;
                } else {
                    cur.push(b[i]);
                    i += 1;
                }
                continue;
            }
            cur.push(c);
            i += 1;
        }
        if !closed {
            return Err("unterminated quoted string".into());
        }
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(t: &str, c: &str) -> String {
        canonical_content(t, c).unwrap_or_else(|e| panic!("{t} {c}: {e}"))
    }

    #[test]
    fn canonical_forms_are_fixed_points() {
        for (t, c) in [
            ("A", "10.0.0.1"),
            ("AAAA", "2001:db8::1"),
            ("CNAME", "target.example.test."),
            ("MX", "10 mail.example.test."),
            ("MX", "0 ."),
            ("SRV", "10 5 5060 sip.example.test."),
            ("TXT", "\"v=spf1 -all\""),
            ("TXT", "\"a \\\"quoted\\\" \\\\ word\" \"caf\\195\\169\""),
            ("TXT", "\"\""),
            ("NS", "ns1.example.test."),
            ("PTR", "host.example.test."),
            ("CAA", "0 issue \"letsencrypt.org\""),
            ("CAA", "128 iodef \"mailto:sec@example.test\""),
        ] {
            assert_eq!(canon(t, c), c, "{t}");
        }
    }

    #[test]
    fn normalizes_case_spacing_and_long_strings() {
        assert_eq!(
            canon("mx", " 10   Mail.EXAMPLE.test. "),
            "10 mail.example.test."
        );
        assert_eq!(canon("AAAA", "2001:0DB8:0::0001"), "2001:db8::1");
        let long = "x".repeat(300);
        assert_eq!(
            canon("TXT", &format!("\"{long}\"")),
            format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45))
        );
        assert_eq!(canon("TXT", "caf\u{e9}"), "\"caf\\195\\169\"");
        assert_eq!(
            canonical_name("WWW.Example.Test.").unwrap(),
            "www.example.test"
        );
        assert_eq!(
            canonical_name("_sip._tcp.example.test").unwrap(),
            "_sip._tcp.example.test"
        );
        assert_eq!(canonical_name("*.example.test").unwrap(), "*.example.test");
    }

    #[test]
    fn rejects_bad_content() {
        for (t, c) in [
            ("A", "10.0.0"),
            ("CNAME", "relative"),
            ("MX", "10 mail"),
            ("TXT", "\"unterminated"),
            ("TXT", "\"\\300\""),
            ("CAA", "0 issue"),
            ("BOGUS", "x"),
            ("ANY", "x"),
        ] {
            let e = canonical_content(t, c).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Invalid, "{t} {c}");
        }
    }

    #[test]
    fn prepare_validates_zone_and_dedups() {
        let set = |n: &str, c: &[&str]| RRSet {
            name: n.into(),
            rtype: "a".into(),
            ttl: 60,
            contents: c.iter().map(|s| s.to_string()).collect(),
        };
        let e = prepare("example.test", &[set("www.other.test", &["10.0.0.1"])])
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::Invalid);
        let e = prepare("example.test", &[set("badexample.test", &["10.0.0.1"])])
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::Invalid);
        let p = prepare(
            "example.test",
            &[
                set("WWW.example.test.", &["10.0.0.1"]),
                set("mail.example.test", &["10.0.0.3"]),
                set("www.example.test", &["10.0.0.2", "10.0.0.2"]),
            ],
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "www.example.test");
        assert_eq!(p[0].contents, vec!["10.0.0.2"]);
    }

    #[test]
    fn conn_debug_hides_secrets() {
        let c = Conn::Bind {
            addr: "127.0.0.1:53".parse().unwrap(),
            tsig_key_name: "k".into(),
            tsig_algorithm: "hmac-sha256".into(),
            tsig_secret: "c2VjcmV0".into(),
        };
        assert!(!format!("{c:?}").contains("c2VjcmV0"));
        let p = Conn::PowerDns {
            endpoint: "http://x/".into(),
            api_key: "topsecret".into(),
            server_id: "localhost".into(),
        };
        assert!(!format!("{p:?}").contains("topsecret"));
    }
}
