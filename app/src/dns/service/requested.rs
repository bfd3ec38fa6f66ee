//! What resource requests (domain requests) use: check requested records against the managed
//! zones, insert them on approval, push, and tell when the servers have them.
use super::records::{check_targets, invalid_at, plan, write, Change, Mode};
use super::*;
use crate::dns::types::{validate_record, Normalized, RecordInput};
use std::collections::BTreeMap;

pub use super::push::push_zone;

/// A requested record resolved to the managed zone that holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The zone's id.
    pub domain_id: i64,
    /// The zone's name.
    pub zone: String,
    pub record: Normalized,
    /// Its index in the request's `records`.
    pub index: usize,
}

fn field(i: usize, f: &str) -> String {
    format!("records[{i}].{f}")
}

/// Validates requested records: each name lies in a managed zone (the longest suffix wins),
/// the DNS rules of its type hold, and it clashes neither with existing records nor with the
/// other requested ones. Errors name `records[i].field`; a clash with records already in the
/// zone is told without what they hold (requesters need not see the zone: no values, TTLs or
/// CNAME targets of its records).
pub async fn check<C: ConnectionTrait>(
    db: &C,
    records: &[RecordInput],
) -> AppResult<Vec<Resolved>> {
    if records.is_empty() {
        return Err(AppError::invalid(
            "records",
            "a domain request needs at least one record",
        ));
    }
    crate::common::validate::items(records.len())?;
    let names: Vec<String> = records
        .iter()
        .map(|r| r.name.trim().trim_end_matches('.').to_ascii_lowercase())
        .collect();
    let mut candidates: Vec<String> = vec![];
    for n in &names {
        let mut s = n.as_str();
        loop {
            candidates.push(s.to_string());
            match s.split_once('.') {
                Some((_, rest)) => s = rest,
                None => break,
            }
        }
    }
    candidates.sort();
    candidates.dedup();
    let mut zones: HashMap<String, dns_domain::Model> = HashMap::new();
    for chunk in candidates.chunks(500) {
        for z in dns_domain::Entity::find()
            .filter(dns_domain::Column::Name.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            zones.insert(z.name.clone(), z);
        }
    }
    let mut out = vec![];
    let mut by_zone: BTreeMap<i64, Vec<Change>> = BTreeMap::new();
    for (i, (r, n)) in records.iter().zip(&names).enumerate() {
        if n.is_empty() {
            return Err(AppError::invalid(
                &field(i, "name"),
                "a record needs a name",
            ));
        }
        let zone = zone_of(n, &zones).ok_or_else(|| {
            AppError::invalid(
                &field(i, "name"),
                format!("no DNS zone managed by Opsdeck contains {n}"),
            )
        })?;
        let mut input = r.clone();
        input.name = format!("{n}.");
        let rec =
            validate_record(&zone.name, &input).map_err(|e| invalid_at(e, &|f| field(i, f)))?;
        by_zone.entry(zone.id).or_default().push(Change {
            replaces: None,
            after: Some(rec.clone()),
            origin: i,
            op: Some("add"),
        });
        out.push(Resolved {
            domain_id: zone.id,
            zone: zone.name.clone(),
            record: rec,
            index: i,
        });
    }
    for (did, mut changes) in by_zone {
        let zone = zones
            .values()
            .find(|z| z.id == did)
            .cloned()
            .ok_or_else(|| AppError::not_found("domain"))?;
        plan(db, &zone, &mut changes, &field, false).await?;
        check_targets(db, &zone, &changes, &field, false).await?;
        // The TTLs of records without their own are the ones of their sets.
        for c in changes {
            if let Some(a) = c.after {
                out[c.origin].record = a;
            }
        }
    }
    Ok(out)
}

/// The managed zone holding `name`: the longest zone name that is `name` or a suffix of it.
fn zone_of<'a>(
    name: &str,
    zones: &'a HashMap<String, dns_domain::Model>,
) -> Option<&'a dns_domain::Model> {
    let mut s = name;
    loop {
        if let Some(z) = zones.get(s) {
            return Some(z);
        }
        s = s.split_once('.')?.1;
    }
}

/// Creates the checked records in `txn` for request `request_id`: each zone locked, the clash
/// check repeated under the lock, rows `pending` with `request_id` (and the request's number of
/// records, `request_total`), outbox, audit and one `dns_push` job per zone. Answers the zone
/// ids (the caller commits, then wakes the runner).
pub async fn insert<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    request_id: i64,
    records: &[Resolved],
) -> AppResult<Vec<i64>> {
    let mut by_zone: BTreeMap<i64, Vec<Change>> = BTreeMap::new();
    for r in records {
        by_zone.entry(r.domain_id).or_default().push(Change {
            replaces: None,
            after: Some(r.record.clone()),
            origin: r.index,
            op: Some("add"),
        });
    }
    let total = i32::try_from(records.len()).unwrap_or(i32::MAX);
    let mut zones = vec![];
    for (did, mut changes) in by_zone {
        let zone = lock_zone(txn, did).await?;
        plan(txn, &zone, &mut changes, &field, false).await?;
        check_targets(txn, &zone, &changes, &field, false).await?;
        write(
            txn,
            actor,
            &zone,
            changes,
            Some((request_id, total)),
            Mode::Push,
        )
        .await?;
        zones.push(did);
    }
    Ok(zones)
}

/// Whether the DNS servers have every record of request `request_id`: true when all its rows
/// exist and are `synced`, false while some are `pending`. A Conflict (fulfilment needs a
/// person) when the server refused one (`failed`), or when rows are gone: deleted since, or
/// their zone removed (a request whose records are not all there is never taken as served).
pub async fn request_synced<C: ConnectionTrait>(db: &C, request_id: i64) -> AppResult<bool> {
    use sea_orm::QueryOrder;
    let rows = dns_record::Entity::find()
        .filter(dns_record::Column::RequestId.eq(request_id))
        .order_by_asc(dns_record::Column::Id)
        .all(db)
        .await?;
    if let Some(f) = rows.iter().find(|r| r.state == "failed") {
        return Err(AppError::conflict(format!(
            "the DNS server refused the record {} {}",
            f.name, f.rtype
        )));
    }
    let expected = rows
        .iter()
        .filter_map(|r| r.request_total)
        .max()
        .map(|n| usize::try_from(n).unwrap_or(0))
        .unwrap_or(1);
    if rows.is_empty() || rows.len() < expected {
        return Err(AppError::conflict(
            "records of this request were deleted from their zone, or the zone was removed",
        ));
    }
    Ok(rows.iter().all(|r| r.state == "synced"))
}
