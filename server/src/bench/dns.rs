//! The DNS part of the issue 9 benchmark (docs/benchmarks.md): a PowerDNS service and the zone
//! `bench.test` with `n` records, created through the DNS service (so the zone exists on the
//! server), the records inserted in bulk as `synced` and then written to PowerDNS once through
//! the driver, so a drift check afterwards finds both sides equal.
use super::chunks;
use app::ctx::{Actor, Ctx};
use app::dns::driver::{Conn, RRSet};
use app::dns::types::{to_content, validate_record, DnsServiceInput, DomainInput, RecordInput};
use app::entities::dns_record;
use sea_orm::Set;
use std::collections::BTreeMap;

/// The benchmark zone.
pub const ZONE: &str = "bench.test";
/// RRsets sent to PowerDNS in one PATCH while filling the zone.
const PUSH_BATCH: usize = 2000;

/// The records of name number `n` (`w00042.bench.test`): mostly A, some with AAAA, pairs of A,
/// CNAMEs, TXT beside MX, pairs of MX. About 1.6 records a name.
fn records_of(n: usize) -> Vec<RecordInput> {
    let name = format!("w{n:05}.{ZONE}");
    let rec = |rtype: &str, value: String, priority: Option<i64>| RecordInput {
        name: name.clone(),
        rtype: rtype.into(),
        value,
        ttl: Some(if n % 3 == 0 { 300 } else { 600 }),
        priority,
        disabled: None,
    };
    let a = |k: usize| format!("10.{}.{}.{}", (n >> 8) & 0xff, n & 0xff, 1 + k);
    match n % 10 {
        0 | 2 | 4 => vec![
            rec("A", a(0), None),
            rec("AAAA", format!("fd00::{:x}", n + 1), None),
        ],
        5 => vec![rec("A", a(0), None), rec("A", a(1), None)],
        6 => vec![rec("CNAME", format!("w{:05}.{ZONE}", n - 1), None)],
        7 => vec![
            rec("TXT", format!("\"bench record {n}\""), None),
            rec("MX", format!("mx{}.{ZONE}", n % 7), Some(10)),
        ],
        8 => vec![
            rec("MX", format!("mx1.{ZONE}"), Some(10)),
            rec("MX", format!("mx2.{ZONE}"), Some(20)),
        ],
        _ => vec![rec("A", a(0), None)],
    }
}

/// Creates the service `bench-pdns` (PowerDNS at `url`) and the zone with `n` records on both
/// sides. Answers (service id, zone id).
pub(super) async fn seed(
    ctx: &Ctx,
    admin: &Actor,
    url: &str,
    key: &str,
    n: usize,
) -> Result<(i64, i64), String> {
    let s = app::dns::service::create_service(
        ctx,
        admin,
        DnsServiceInput {
            name: Some("bench-pdns".into()),
            service_type: Some("powerdns".into()),
            api_endpoint: Some(url.into()),
            api_key: Some(key.into()),
            description: Some("benchmark".into()),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| format!("DNS service: {}", e.message))?;
    let d = app::dns::service::create_domain(
        ctx,
        admin,
        s.id,
        DomainInput {
            name: Some(ZONE.into()),
            adopt: Some(false),
        },
    )
    .await
    .map_err(|e| format!("DNS zone: {}", e.message))?;
    let mut recs = vec![];
    let mut name = 0;
    while recs.len() < n {
        for r in records_of(name) {
            recs.push(
                validate_record(ZONE, &r).map_err(|e| format!("{} {}: {e:?}", r.name, r.rtype))?,
            );
        }
        name += 1;
    }
    recs.truncate(n);
    // A set cut in two by the truncation still shares one TTL: nothing to fix.
    let now = chrono::Utc::now();
    chunks(
        &ctx.db,
        recs.iter()
            .map(|r| dns_record::ActiveModel {
                domain_id: Set(d.id),
                name: Set(r.name.clone()),
                rtype: Set(r.rtype.clone()),
                value: Set(r.value.clone()),
                ttl: Set(r.ttl as i32),
                priority: Set(r.priority.map(|p| p as i32)),
                disabled: Set(false),
                state: Set("synced".into()),
                push_seq: Set(0),
                request_id: Set(None),
                creator_id: Set(Some(admin.id)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    let mut sets: BTreeMap<(String, String), RRSet> = BTreeMap::new();
    for r in &recs {
        sets.entry((r.name.clone(), r.rtype.clone()))
            .or_insert_with(|| RRSet {
                name: r.name.clone(),
                rtype: r.rtype.clone(),
                ttl: r.ttl as u32,
                contents: vec![],
            })
            .contents
            .push(to_content(&r.rtype, &r.value, r.priority));
    }
    let conn = Conn::PowerDns {
        endpoint: url.into(),
        api_key: key.into(),
        server_id: "localhost".into(),
    };
    let sets: Vec<RRSet> = sets.into_values().collect();
    for batch in sets.chunks(PUSH_BATCH) {
        conn.apply(ZONE, batch)
            .await
            .map_err(|e| format!("filling PowerDNS: {e}"))?;
    }
    Ok((s.id, d.id))
}
