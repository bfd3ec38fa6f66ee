//! BIND (any RFC 2136 primary) through TSIG-signed DNS messages over TCP: SOA queries to find
//! zones, AXFR to read a zone, UPDATE (delete RRset + add records) to write. Every request is
//! signed and every answer's TSIG is verified (multi-message AXFR answers as a chain); hickory
//! builds, signs and parses the messages.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use futures_util::StreamExt;
use hickory_proto::dnssec::rdata::tsig::TsigAlgorithm;
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::{
    update_message, Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage,
};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::runtime::iocompat::AsyncIoTokioAsStd;
use hickory_proto::runtime::TokioRuntimeProvider;
use hickory_proto::tcp::TcpClientStream;
use hickory_proto::xfer::SerialMessage;
use hickory_proto::{BufDnsStreamHandle, DnsStreamHandle};

use super::{format_rdata, owner_string, Conn, DriverError, ErrorKind, Prepared, RRSet, TIMEOUT};

/// At most this many update records (deletes + adds) in one UPDATE message.
const MAX_RECORDS_PER_UPDATE: usize = 1000;
/// Rough byte budget of one UPDATE message (a DNS message over TCP is at most 65535 bytes).
const MAX_BYTES_PER_UPDATE: usize = 48 * 1024;

/// One signed TCP session with the server.
struct Session {
    stream: TcpClientStream<AsyncIoTokioAsStd<tokio::net::TcpStream>>,
    handle: BufDnsStreamHandle,
    signer: TSigner,
    addr: SocketAddr,
}

fn signer(conn: &Conn) -> Result<(SocketAddr, TSigner), DriverError> {
    let Conn::Bind {
        addr,
        tsig_key_name,
        tsig_algorithm,
        tsig_secret,
    } = conn
    else {
        unreachable!("bind driver called with another connection")
    };
    let auth = |m: String| DriverError::new(ErrorKind::Auth, m);
    let alg_name = tsig_algorithm
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let alg = Name::from_ascii(&alg_name)
        .map(TsigAlgorithm::from_name)
        .map_err(|_| auth(format!("bad TSIG algorithm {tsig_algorithm:?}")))?;
    if !alg.supported() {
        return Err(auth(format!(
            "TSIG algorithm {alg_name} is not supported: use hmac-sha256, hmac-sha384 or hmac-sha512"
        )));
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(tsig_secret.trim())
        .map_err(|_| auth("the TSIG secret is not valid base64".into()))?;
    let name = Name::from_ascii(tsig_key_name.trim())
        .map_err(|_| auth(format!("bad TSIG key name {tsig_key_name:?}")))?;
    let signer = TSigner::new(key, alg, name, 300)
        .map_err(|e| auth(format!("cannot use the TSIG key: {e}")))?;
    Ok((*addr, signer))
}

impl Session {
    async fn open(conn: &Conn) -> Result<Self, DriverError> {
        let (addr, signer) = signer(conn)?;
        let (connect, handle) =
            TcpClientStream::new(addr, None, Some(TIMEOUT), TokioRuntimeProvider::new());
        // refused, filtered or timed out: the same few words (no OS error, no address), so the
        // endpoint cannot serve to map ports
        let stream = match tokio::time::timeout(TIMEOUT, connect).await {
            Ok(Ok(s)) => s,
            Err(_) | Ok(Err(_)) => return Err(DriverError::unreachable("cannot connect")),
        };
        Ok(Session {
            stream,
            handle,
            signer,
            addr,
        })
    }

    /// Signs and sends `msg`, then reads answers (each within [`TIMEOUT`]) while `more` says the
    /// answer is not complete. Every answer must carry a valid TSIG (chained over the answers).
    async fn exchange(
        &mut self,
        mut msg: Message,
        mut more: impl FnMut(&Message) -> bool,
    ) -> Result<Vec<Message>, DriverError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut verifier = msg
            .finalize(&self.signer, now as u32)
            .map_err(|e| DriverError::invalid(format!("cannot sign the request: {e}")))?
            .ok_or_else(|| DriverError::invalid("TSIG signer gave no verifier"))?;
        let bytes = msg
            .to_vec()
            .map_err(|e| DriverError::invalid(format!("cannot encode the request: {e}")))?;
        if bytes.len() > u16::MAX as usize {
            return Err(DriverError::invalid("request larger than 65535 bytes"));
        }
        self.handle
            .send(SerialMessage::new(bytes, self.addr))
            .map_err(|_| DriverError::unreachable("the request could not be sent"))?;
        let mut answers = Vec::new();
        loop {
            let next = tokio::time::timeout(TIMEOUT, self.stream.next())
                .await
                .map_err(|_| DriverError::unreachable("no answer in time"))?;
            let raw = match next {
                None => return Err(DriverError::unreachable("the server closed the connection")),
                Some(Err(_)) => return Err(DriverError::unreachable("reading the answer failed")),
                Some(Ok(m)) => m.into_parts().0,
            };
            let answer = match verifier(&raw) {
                Ok(r) => r.into_message(),
                Err(_) => return Err(unverified(&raw, &self.signer)),
            };
            if answer.id() != msg.id() {
                return Err(DriverError::invalid("answer does not match the request id"));
            }
            let go_on = answer.response_code() == ResponseCode::NoError && more(&answer);
            answers.push(answer);
            if !go_on {
                return Ok(answers);
            }
        }
    }
}

/// An answer whose TSIG did not verify: the server rejected our key (NOTAUTH with a TSIG error),
/// answered unsigned, or the answer was forged/garbled.
fn unverified(raw: &[u8], signer: &TSigner) -> DriverError {
    let key = signer.signer_name().to_ascii();
    let key = key.trim_end_matches('.');
    let Ok(m) = Message::from_vec(raw) else {
        return DriverError::invalid("malformed answer from the server");
    };
    let rcode = m.response_code();
    let tsig_error = m.signature().first().and_then(|r| {
        // TSIG rdata prints as "algorithm time fudge mac oid error other", mac and other
        // possibly empty (hex): split on single spaces to keep the positions
        r.data()
            .to_string()
            .split(' ')
            .nth(5)
            .and_then(|e| e.parse::<u16>().ok())
    });
    let why = match tsig_error {
        Some(16) => " (BADSIG: wrong secret)",
        Some(17) => " (BADKEY: the server does not know this key name or algorithm)",
        Some(18) => " (BADTIME: clocks differ by more than 5 minutes)",
        _ => "",
    };
    match rcode {
        ResponseCode::NotAuth
        | ResponseCode::BADSIG
        | ResponseCode::BADKEY
        | ResponseCode::BADTIME => DriverError::new(
            ErrorKind::Auth,
            format!("the server rejected TSIG key {key}: {rcode}{why}"),
        ),
        _ if tsig_error.is_some_and(|e| e != 0) => DriverError::new(
            ErrorKind::Auth,
            format!("the server rejected TSIG key {key}: {rcode}{why}"),
        ),
        ResponseCode::Refused => DriverError::new(
            ErrorKind::Refused,
            format!("the server refused the request (unsigned {rcode} answer)"),
        ),
        _ => DriverError::new(
            ErrorKind::Auth,
            format!("the answer failed TSIG verification ({rcode})"),
        ),
    }
}

fn new_message(op: OpCode) -> Message {
    let mut m = Message::new();
    m.set_id(rand::random())
        .set_message_type(MessageType::Query)
        .set_op_code(op)
        .set_recursion_desired(false);
    m
}

fn abs(name: &str) -> Result<Name, DriverError> {
    Name::from_ascii(format!("{name}."))
        .map_err(|e| DriverError::invalid(format!("bad DNS name {name}: {e}")))
}

/// One signed query; answers the verified message whatever its response code.
async fn query(
    conn: &Conn,
    name: Name,
    class: DNSClass,
    rtype: RecordType,
) -> Result<Message, DriverError> {
    let mut s = Session::open(conn).await?;
    let mut m = new_message(OpCode::Query);
    let mut q = Query::query(name, rtype);
    q.set_query_class(class);
    m.add_query(q);
    let mut answers = s.exchange(m, |_| false).await?;
    Ok(answers.remove(0))
}

/// The SOA the server serves authoritatively at exactly `zone`, if any.
async fn soa(conn: &Conn, zone: &str) -> Result<Option<String>, DriverError> {
    let name = abs(zone)?;
    let m = query(conn, name.clone(), DNSClass::IN, RecordType::SOA).await?;
    match m.response_code() {
        ResponseCode::NoError => Ok(m
            .answers()
            .iter()
            .find(|r| r.record_type() == RecordType::SOA && r.name() == &name)
            .and_then(|r| format_rdata(r.data()).ok())),
        ResponseCode::NXDomain | ResponseCode::Refused | ResponseCode::NotAuth => Ok(None),
        rc => Err(DriverError::invalid(format!(
            "the server answered {rc} for the SOA of {zone}"
        ))),
    }
}

pub(super) async fn test(conn: &Conn, zone_hint: Option<&str>) -> Result<String, DriverError> {
    if let Some(z) = zone_hint {
        let z = super::canonical_name(z)?;
        return match soa(conn, &z).await? {
            Some(soa) => Ok(format!("TSIG key accepted; {z} SOA {soa}")),
            None => Err(DriverError::new(
                ErrorKind::NotFound,
                format!("TSIG key accepted, but the server does not serve zone {z}"),
            )),
        };
    }
    let name = Name::from_ascii("version.bind.").expect("static name");
    let m = query(conn, name, DNSClass::CH, RecordType::TXT).await?;
    let version: Vec<String> = m
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::TXT(t) => format_rdata(&RData::TXT(t.clone())).ok(),
            _ => None,
        })
        .collect();
    Ok(if version.is_empty() {
        format!("TSIG key accepted; version.bind: {}", m.response_code())
    } else {
        format!("TSIG key accepted; version.bind: {}", version.join(" "))
    })
}

pub(super) async fn zone_exists(conn: &Conn, zone: &str) -> Result<bool, DriverError> {
    Ok(soa(conn, zone).await?.is_some())
}

/// Error for a REFUSED/NOTAUTH answer about `zone`: NotFound when the server does not serve
/// the zone, Refused (policy) otherwise.
async fn refused_or_missing(conn: &Conn, zone: &str, what: &str, rc: ResponseCode) -> DriverError {
    match zone_exists(conn, zone).await {
        Ok(false) => DriverError::new(
            ErrorKind::NotFound,
            format!("the server does not serve zone {zone} ({what}: {rc})"),
        ),
        Ok(true) => DriverError::new(
            ErrorKind::Refused,
            if what == "update" {
                format!(
                    "the server refused the update for {zone}: {rc} (the update-policy does not \
                     grant it to the TSIG key, or a check on the server failed, e.g. an MX or SRV \
                     target inside the zone without an A/AAAA record; the server's log says which)"
                )
            } else {
                format!(
                    "the server refused the {what} for {zone}: {rc} (is the TSIG key in the \
                     zone's allow-transfer?)"
                )
            },
        ),
        Err(e) => e,
    }
}

pub(super) async fn list(conn: &Conn, zone: &str) -> Result<Vec<RRSet>, DriverError> {
    let origin = abs(zone)?;
    let mut s = Session::open(conn).await?;
    let m = update_message::zone_transfer(origin, None);
    let mut soas = 0usize;
    let answers = s
        .exchange(m, |a| {
            soas += a
                .answers()
                .iter()
                .filter(|r| r.record_type() == RecordType::SOA)
                .count();
            // a transfer starts and ends with the SOA; a first answer without one ends it too
            soas == 1
        })
        .await?;
    let last = answers.last().expect("at least one answer");
    let rc = last.response_code();
    if rc == ResponseCode::Refused || rc == ResponseCode::NotAuth {
        return Err(refused_or_missing(conn, zone, "zone transfer", rc).await);
    }
    if rc != ResponseCode::NoError {
        return Err(DriverError::invalid(format!(
            "zone transfer of {zone} failed: {rc}"
        )));
    }
    let first_is_soa = answers
        .first()
        .and_then(|a| a.answers().first())
        .is_some_and(|r| r.record_type() == RecordType::SOA);
    if !first_is_soa || soas < 2 {
        return Err(DriverError::invalid(format!(
            "incomplete zone transfer of {zone} (it must start and end with the SOA)"
        )));
    }
    // group by (name, type), keeping the server's order of first appearance
    let mut sets: BTreeMap<(String, String), RRSet> = BTreeMap::new();
    for r in answers.iter().flat_map(|a| a.answers()) {
        let rt = r.record_type();
        if rt == RecordType::SOA {
            continue;
        }
        let name = owner_string(r.name());
        let content = format_rdata(r.data()).unwrap_or_else(|_| r.data().to_string());
        let set = sets
            .entry((name.clone(), rt.to_string()))
            .or_insert_with(|| RRSet {
                name,
                rtype: rt.to_string(),
                ttl: r.ttl(),
                contents: Vec::new(),
            });
        set.ttl = set.ttl.min(r.ttl());
        set.contents.push(content);
    }
    Ok(sets.into_values().collect())
}

pub(super) async fn apply(conn: &Conn, zone: &str, sets: &[Prepared]) -> Result<(), DriverError> {
    let origin = abs(zone)?;
    // cut the batch into messages: an RRset never spans two messages
    let mut batches: Vec<&[Prepared]> = Vec::new();
    let (mut start, mut records, mut bytes) = (0usize, 0usize, 0usize);
    for (i, p) in sets.iter().enumerate() {
        let r = 1 + p.rdata.len();
        let b: usize = p
            .contents
            .iter()
            .map(|c| c.len() + p.name.len() + 16)
            .sum::<usize>()
            + p.name.len()
            + 16;
        if i > start && (records + r > MAX_RECORDS_PER_UPDATE || bytes + b > MAX_BYTES_PER_UPDATE) {
            batches.push(&sets[start..i]);
            start = i;
            records = 0;
            bytes = 0;
        }
        records += r;
        bytes += b;
    }
    batches.push(&sets[start..]);

    // BIND ignores "delete the RRset" for NS at the apex (RFC 2136 3.4.2.4): replace apex NS by
    // adding the new records, then deleting the old ones one by one
    let mut apex_ns_old: Vec<RData> = Vec::new();
    if let Some(p) = sets
        .iter()
        .find(|p| p.rtype == RecordType::NS && p.name == zone)
    {
        if p.rdata.is_empty() {
            return Err(DriverError::invalid(format!(
                "the NS records of the zone apex {zone} cannot be deleted, only replaced"
            )));
        }
        let m = query(conn, origin.clone(), DNSClass::IN, RecordType::NS).await?;
        apex_ns_old = m
            .answers()
            .iter()
            .filter(|r| r.record_type() == RecordType::NS && r.name() == &origin)
            .map(|r| r.data().clone())
            .filter(|rd| !p.rdata.contains(rd))
            .collect();
    }

    let mut s = Session::open(conn).await?;
    for (n, batch) in batches.iter().enumerate() {
        let mut m = new_message(OpCode::Update);
        let mut zq = Query::new();
        zq.set_name(origin.clone())
            .set_query_class(DNSClass::IN)
            .set_query_type(RecordType::SOA);
        m.add_zone(zq);
        for p in batch.iter() {
            let name = abs(&p.name)?;
            let apex_ns = p.rtype == RecordType::NS && p.name == zone;
            if !apex_ns {
                // RFC 2136 2.5.2: delete an RRset (class ANY, ttl 0, empty rdata)
                let mut del = Record::update0(name.clone(), 0, p.rtype);
                del.set_dns_class(DNSClass::ANY);
                m.add_update(del);
            }
            for rd in &p.rdata {
                m.add_update(Record::from_rdata(name.clone(), p.ttl, rd.clone()));
            }
            if apex_ns {
                // RFC 2136 2.5.4: delete one RR (class NONE, ttl 0)
                for rd in &apex_ns_old {
                    let mut del = Record::from_rdata(name.clone(), 0, rd.clone());
                    del.set_dns_class(DNSClass::NONE);
                    m.add_update(del);
                }
            }
        }
        let answer = s.exchange(m, |_| false).await?.remove(0);
        let rc = answer.response_code();
        if rc == ResponseCode::NoError {
            continue;
        }
        let done = if n > 0 {
            format!(
                " (the first {n} of {} messages were applied)",
                batches.len()
            )
        } else {
            String::new()
        };
        let mut e = match rc {
            ResponseCode::Refused | ResponseCode::NotAuth => {
                refused_or_missing(conn, zone, "update", rc).await
            }
            ResponseCode::NotZone => {
                DriverError::invalid(format!("a name is outside zone {zone}: {rc}"))
            }
            _ => DriverError::invalid(format!("the server rejected the update: {rc}")),
        };
        e.message.push_str(&done);
        return Err(e);
    }
    Ok(())
}
