//! Records: list, create (one, or many all-or-nothing), edit, delete, disable/enable; the zone
//! rules that need the other records (`plan`: CNAME alone, no duplicate, one TTL per set, at
//! most `MAX_SET_RECORDS` records and `MAX_SET_BYTES` of data per set, the apex NS set never
//! emptied; `check_targets`: MX/SRV/NS targets inside the zone keep an A or AAAA record;
//! `check_child_zones`: names of another managed zone are written there) and the one writer of
//! changes (`write`: rows, outbox, audit, job).
//!
//! `detail` (the `plan` and `check_targets` argument) is false for domain requests, whose
//! requesters need not see the zone: their messages then say that a record clashes, never what
//! the records already there hold (values, TTLs, CNAME targets).
use super::*;
use crate::audit::service::record;
use crate::common::{IdRef, Message, Page};
use crate::dns::types::*;
use crate::entities::dns_outbox;
use sea_orm::{ActiveModelTrait, QueryOrder, Set};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// One planned change of a zone's records.
pub(crate) struct Change {
    /// The existing row it replaces or deletes (`None`: a new record).
    pub replaces: Option<dns_record::Model>,
    /// The record afterwards (`None`: deleted).
    pub after: Option<Normalized>,
    /// Its index in the input, for error fields.
    pub origin: usize,
    /// The audit operation (`add`, `update`, `delete`, `disable`, `enable`); `None` for a
    /// follow-on change (the TTL of the other records of a set).
    pub op: Option<&'static str>,
}

/// How `write` leaves the rows.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    /// Queued for the server: outbox rows, `pending`, a `dns_push` job.
    Push,
    /// Already what the server has (adopting its records): `synced`, nothing queued.
    Synced,
}

/// A stored row as a validated record.
pub(crate) fn norm_of(r: &dns_record::Model) -> Normalized {
    let priority = r.priority.map(i64::from);
    Normalized {
        name: r.name.clone(),
        rtype: r.rtype.clone(),
        value: r.value.clone(),
        priority,
        ttl: i64::from(r.ttl),
        ttl_given: true,
        disabled: r.disabled,
        content: to_content(&r.rtype, &r.value, priority),
    }
}

/// Validation errors as one `AppError`: the first field (named by `at`), every message.
pub(crate) fn invalid_at(errs: Vec<(String, String)>, at: &dyn Fn(&str) -> String) -> AppError {
    let field = errs
        .first()
        .map(|(f, _)| f.clone())
        .unwrap_or_else(|| "record".into());
    let message = errs
        .into_iter()
        .map(|(_, m)| m)
        .collect::<Vec<_>>()
        .join("; ");
    AppError::invalid(&at(&field), message)
}

/// The zone's rows at any of `names` (in chunks, so the query's parameters stay bounded).
pub(crate) async fn rows_named<C: ConnectionTrait>(
    db: &C,
    did: i64,
    names: &BTreeSet<String>,
) -> AppResult<Vec<dns_record::Model>> {
    let names: Vec<&String> = names.iter().collect();
    let mut out = vec![];
    for chunk in names.chunks(500) {
        out.extend(
            dns_record::Entity::find()
                .filter(dns_record::Column::DomainId.eq(did))
                .filter(dns_record::Column::Name.is_in(chunk.iter().map(|s| s.to_string())))
                .order_by_asc(dns_record::Column::Id)
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

/// What a domain request is told when its record clashes with records already in the zone.
const CLASH: &str = "clashes with records that already exist at this name";

/// Checks the rules that involve other records over the final state of the names `changes`
/// touch, and gives records without a TTL of their own the TTL of their set. Existing
/// violations the change does not take part in are left alone. `field(origin, f)` names the
/// input field at fault; without `detail` (domain requests) a clash with existing records is
/// told without their values or TTL.
pub(crate) async fn plan<C: ConnectionTrait>(
    db: &C,
    zone: &dns_domain::Model,
    changes: &mut [Change],
    field: &(dyn Fn(usize, &str) -> String + Sync),
    detail: bool,
) -> AppResult<()> {
    let mut names = BTreeSet::new();
    for c in changes.iter() {
        if let Some(r) = &c.replaces {
            names.insert(r.name.clone());
        }
        if let Some(a) = &c.after {
            names.insert(a.name.clone());
        }
    }
    if names.is_empty() {
        return Ok(());
    }
    let existing = rows_named(db, zone.id, &names).await?;
    let replaced: HashSet<i64> = changes
        .iter()
        .filter_map(|c| c.replaces.as_ref().map(|r| r.id))
        .collect();
    let mut fin: Vec<(Option<usize>, Normalized)> = existing
        .iter()
        .filter(|r| !replaced.contains(&r.id))
        .map(|r| (None, norm_of(r)))
        .collect();
    for c in changes.iter_mut() {
        if let Some(a) = c.after.as_mut() {
            if !a.ttl_given {
                if let Some((_, o)) = fin
                    .iter()
                    .find(|(_, o)| o.name == a.name && o.rtype == a.rtype)
                {
                    a.ttl = o.ttl;
                }
            }
            fin.push((Some(c.origin), a.clone()));
        }
    }
    let mut by_set: BTreeMap<(&str, &str), Vec<&(Option<usize>, Normalized)>> = BTreeMap::new();
    let mut by_name: BTreeMap<&str, Vec<&(Option<usize>, Normalized)>> = BTreeMap::new();
    for f in &fin {
        by_set.entry((&f.1.name, &f.1.rtype)).or_default().push(f);
        by_name.entry(&f.1.name).or_default().push(f);
    }
    for ((name, rtype), rows) in &by_set {
        let existing_ttl = rows.iter().find(|r| r.0.is_none()).map(|r| r.1.ttl);
        let ttl = existing_ttl.unwrap_or(rows[0].1.ttl);
        if let Some((Some(o), _)) = rows
            .iter()
            .find(|r| r.0.is_some() && r.1.ttl != ttl)
            .copied()
        {
            let m = if detail || existing_ttl.is_none() {
                format!(
                    "records of {name} {rtype} have ttl {ttl}: all records of one name and type share one TTL (RFC 2181); give ttl {ttl}, or change the TTL of the set by editing one of them"
                )
            } else {
                "records already at this name and type have another TTL: all records of one name and type share one TTL (RFC 2181); leave ttl out to take theirs".into()
            };
            return Err(AppError::invalid(&field(*o, "ttl"), m));
        }
        // Blamed on the last input of the set (the one that takes it over the cap).
        if let Some(o) = rows.iter().filter_map(|r| r.0).max() {
            let bytes: usize = rows.iter().map(|r| r.1.content.len()).sum();
            if rows.len() > MAX_SET_RECORDS || bytes > MAX_SET_BYTES {
                let m = if detail {
                    format!(
                        "{name} {rtype} would have {} records with {bytes} bytes of data: at most {MAX_SET_RECORDS} records and {MAX_SET_BYTES} bytes per name and type",
                        rows.len()
                    )
                } else {
                    format!("too many records at this name and type: at most {MAX_SET_RECORDS} records and {MAX_SET_BYTES} bytes of data per name and type")
                };
                return Err(AppError::invalid(&field(o, "value"), m));
            }
        }
        let mut seen: HashMap<&str, Option<usize>> = HashMap::new();
        for r in rows {
            if let Some(prev) = seen.insert(&r.1.content, r.0) {
                if let Some(o) = r.0.or(prev) {
                    let m = if detail || (r.0.is_some() && prev.is_some()) {
                        format!("{name} {rtype} {} exists already", r.1.content)
                    } else {
                        CLASH.to_string()
                    };
                    return Err(AppError::invalid(&field(o, "value"), m));
                }
            }
        }
    }
    for (name, rows) in &by_name {
        if rows.len() > 1 && rows.iter().any(|r| r.1.rtype == "CNAME") {
            if let Some((Some(o), n)) = rows.iter().find(|r| r.0.is_some()).copied() {
                let m = if !detail && rows.iter().any(|r| r.0.is_none()) {
                    CLASH.to_string()
                } else if n.rtype == "CNAME" {
                    format!("{name} has other records: a CNAME must be alone at its name")
                } else {
                    format!("{name} has a CNAME: no other record may be at that name")
                };
                return Err(AppError::invalid(&field(*o, "name"), m));
            }
        }
    }
    let apex_ns = |n: &Normalized| n.name == zone.name && n.rtype == "NS";
    if let Some(c) = changes.iter().find(|c| {
        c.replaces
            .as_ref()
            .is_some_and(|r| r.name == zone.name && r.rtype == "NS")
            || c.after.as_ref().is_some_and(apex_ns)
    }) {
        let before = existing
            .iter()
            .filter(|r| r.name == zone.name && r.rtype == "NS" && !r.disabled)
            .count();
        let after = fin
            .iter()
            .filter(|(_, n)| apex_ns(n) && !n.disabled)
            .count();
        if before > 0 && after == 0 {
            return Err(AppError::invalid(
                &field(c.origin, if c.replaces.is_some() && c.after.as_ref().is_none_or(|a| a.disabled) { "id" } else { "name" }),
                format!(
                    "{} needs an enabled NS record at its apex: the last one cannot be deleted, disabled or moved",
                    zone.name
                ),
            ));
        }
    }
    Ok(())
}

/// The host an MX, SRV or NS record points at.
fn target_of(n: &Normalized) -> Option<&str> {
    match n.rtype.as_str() {
        "MX" | "NS" => Some(n.value.as_str()),
        "SRV" => n.value.split_whitespace().nth(2),
        _ => None,
    }
}

/// MX, SRV and NS records the change enables that point at a host inside the zone need an
/// enabled A or AAAA record there (in the final state): DNS servers refuse them otherwise
/// (BIND's integrity check refuses the whole update). The other way round too: deleting,
/// disabling, renaming or retyping the last enabled A/AAAA record of a host that an enabled MX,
/// SRV or NS record of the zone points at is refused, naming that record.
pub(crate) async fn check_targets<C: ConnectionTrait>(
    db: &C,
    zone: &dns_domain::Model,
    changes: &[Change],
    field: &(dyn Fn(usize, &str) -> String + Sync),
    detail: bool,
) -> AppResult<()> {
    check_dependants(db, zone, changes, field).await?;
    let suffix = format!(".{}", zone.name);
    let wanted: Vec<(usize, &str)> = changes
        .iter()
        .filter_map(|c| {
            c.after
                .as_ref()
                .filter(|a| !a.disabled)
                .map(|a| (c.origin, a))
        })
        .filter_map(|(o, a)| target_of(a).map(|t| (o, t)))
        .filter(|(_, t)| *t == zone.name || t.ends_with(&suffix))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let names: BTreeSet<String> = wanted.iter().map(|(_, t)| t.to_string()).collect();
    let replaced: HashSet<i64> = changes
        .iter()
        .filter_map(|c| c.replaces.as_ref().map(|r| r.id))
        .collect();
    let address = |n: &Normalized| matches!(n.rtype.as_str(), "A" | "AAAA") && !n.disabled;
    let mut hosts: HashSet<String> = rows_named(db, zone.id, &names)
        .await?
        .iter()
        .filter(|r| !replaced.contains(&r.id))
        .map(norm_of)
        .filter(address)
        .map(|n| n.name)
        .collect();
    hosts.extend(
        changes
            .iter()
            .filter_map(|c| c.after.as_ref())
            .filter(|a| address(a))
            .map(|a| a.name.clone()),
    );
    if let Some((o, t)) = wanted.into_iter().find(|(_, t)| !hosts.contains(*t)) {
        let m = if detail {
            format!("{t} has no A or AAAA record in {}: add one first (or in the same request); DNS servers refuse MX, SRV and NS records pointing at a missing host of their own zone", zone.name)
        } else {
            format!("the host it points at needs an enabled A or AAAA record in {}: add one in this request; DNS servers refuse MX, SRV and NS records pointing at a missing host of their own zone", zone.name)
        };
        return Err(AppError::invalid(&field(o, "value"), m));
    }
    Ok(())
}

fn is_address(n: &Normalized) -> bool {
    matches!(n.rtype.as_str(), "A" | "AAAA") && !n.disabled
}

/// The reverse of the target rule: hosts whose last enabled A/AAAA record the change removes
/// (deleted, disabled, renamed, retyped) must not be the target of an enabled MX, SRV or NS
/// record of the zone that stays.
async fn check_dependants<C: ConnectionTrait>(
    db: &C,
    zone: &dns_domain::Model,
    changes: &[Change],
    field: &(dyn Fn(usize, &str) -> String + Sync),
) -> AppResult<()> {
    use sea_orm::Condition;
    let mut lost: BTreeMap<String, (usize, &'static str)> = BTreeMap::new();
    for c in changes {
        let Some(r) = &c.replaces else { continue };
        if !matches!(r.rtype.as_str(), "A" | "AAAA") || r.disabled {
            continue;
        }
        let f = match &c.after {
            None => "id",
            Some(a) if a.name == r.name && is_address(a) => continue,
            Some(a) if a.disabled => "id",
            Some(a) if a.name != r.name => "name",
            Some(_) => "type",
        };
        lost.entry(r.name.clone()).or_insert((c.origin, f));
    }
    if lost.is_empty() {
        return Ok(());
    }
    let replaced: HashSet<i64> = changes
        .iter()
        .filter_map(|c| c.replaces.as_ref().map(|r| r.id))
        .collect();
    let names: BTreeSet<String> = lost.keys().cloned().collect();
    let mut kept: HashSet<String> = rows_named(db, zone.id, &names)
        .await?
        .iter()
        .filter(|r| !replaced.contains(&r.id))
        .map(norm_of)
        .filter(is_address)
        .map(|n| n.name)
        .collect();
    kept.extend(
        changes
            .iter()
            .filter_map(|c| c.after.as_ref())
            .filter(|a| is_address(a))
            .map(|a| a.name.clone()),
    );
    lost.retain(|h, _| !kept.contains(h));
    let hosts: Vec<String> = lost.keys().cloned().collect();
    for chunk in hosts.chunks(100) {
        let mut srv = Condition::any();
        for h in chunk {
            srv = srv.add(dns_record::Column::Value.like(format!("% {h}")));
        }
        let deps = dns_record::Entity::find()
            .filter(dns_record::Column::DomainId.eq(zone.id))
            .filter(dns_record::Column::Disabled.eq(false))
            .filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(dns_record::Column::Rtype.is_in(["MX", "NS"]))
                            .add(dns_record::Column::Value.is_in(chunk.to_vec())),
                    )
                    .add(
                        Condition::all()
                            .add(dns_record::Column::Rtype.eq("SRV"))
                            .add(srv),
                    ),
            )
            .order_by_asc(dns_record::Column::Id)
            .all(db)
            .await?;
        for d in deps.iter().filter(|d| !replaced.contains(&d.id)) {
            let n = norm_of(d);
            if let Some((host, (o, f))) = target_of(&n).and_then(|t| lost.get_key_value(t)) {
                return Err(AppError::invalid(
                    &field(*o, f),
                    format!(
                        "{host} is the target of {} {} {}: change or delete that record first (DNS servers refuse MX, SRV and NS records pointing at a host of their own zone without an A or AAAA record)",
                        n.name, n.rtype, n.content
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Names at or below the apex of another managed zone (a child zone, e.g. `prod.example.com`
/// inside `example.com`) belong to that zone: records written (created, changed, enabled) there
/// through the parent are refused. The child is named only to callers who may view it.
/// Deleting or disabling such a record stays possible (clean-up).
pub(crate) async fn check_child_zones<C: ConnectionTrait>(
    ctx: &Ctx,
    actor: &Actor,
    db: &C,
    zone: &dns_domain::Model,
    changes: &[Change],
    field: &(dyn Fn(usize, &str) -> String + Sync),
) -> AppResult<()> {
    let suffix = format!(".{}", zone.name);
    let written: Vec<(usize, &str)> = changes
        .iter()
        .filter_map(|c| {
            let a = c.after.as_ref()?;
            let same = c.replaces.as_ref().is_some_and(|r| r.name == a.name);
            (!(a.disabled && same)).then_some((c.origin, a.name.as_str()))
        })
        .collect();
    let mut candidates: BTreeSet<String> = BTreeSet::new();
    for (_, n) in &written {
        let mut s: &str = n;
        while s.ends_with(&suffix) {
            candidates.insert(s.to_string());
            match s.split_once('.') {
                Some((_, rest)) => s = rest,
                None => break,
            }
        }
    }
    if candidates.is_empty() {
        return Ok(());
    }
    let candidates: Vec<String> = candidates.into_iter().collect();
    let mut children: HashMap<String, dns_domain::Model> = HashMap::new();
    for chunk in candidates.chunks(500) {
        for z in dns_domain::Entity::find()
            .filter(dns_domain::Column::Name.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            if z.id != zone.id {
                children.insert(z.name.clone(), z);
            }
        }
    }
    if children.is_empty() {
        return Ok(());
    }
    for (o, n) in written {
        let mut s = n;
        let child = loop {
            if let Some(z) = children.get(s) {
                break Some(z);
            }
            match s.split_once('.') {
                Some((_, rest)) if rest.len() > zone.name.len() => s = rest,
                _ => break None,
            }
        };
        if let Some(z) = child {
            let m = if authorize_zone(ctx, actor, z.id, "view_domain")
                .await
                .is_ok()
            {
                format!(
                    "this name belongs to the managed zone {}: write its records there",
                    z.name
                )
            } else {
                "this name belongs to another zone managed by Opsdeck".to_string()
            };
            return Err(AppError::invalid(&field(o, "name"), m));
        }
    }
    Ok(())
}

fn snapshot(zone: &str, n: &Normalized) -> Value {
    json!({
        "zone": zone, "name": n.name, "type": n.rtype, "value": n.value,
        "priority": n.priority, "ttl": n.ttl, "disabled": n.disabled,
    })
}

/// Writes planned changes in `txn` (the zone locked): the rows, and with `Mode::Push` one outbox
/// row per touched name and type (each written row's `push_seq`), state `pending` and a
/// `dns_push` job; rows of a touched set the server had refused (`failed`) are queued again
/// with it. One audit record per change. `request`: the domain request writing the rows and
/// how many it writes in all. Answers the rows created or changed.
pub(crate) async fn write<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    zone: &dns_domain::Model,
    changes: Vec<Change>,
    request: Option<(i64, i32)>,
    mode: Mode,
) -> AppResult<Vec<dns_record::Model>> {
    let mut sets: BTreeSet<(String, String)> = BTreeSet::new();
    for c in &changes {
        if let Some(r) = &c.replaces {
            sets.insert((r.name.clone(), r.rtype.clone()));
        }
        if let Some(a) = &c.after {
            sets.insert((a.name.clone(), a.rtype.clone()));
        }
    }
    if sets.is_empty() {
        return Ok(vec![]);
    }
    let now = crate::time::now();
    let mut seq: HashMap<(String, String), i64> = HashMap::new();
    if mode == Mode::Push {
        for (name, rtype) in sets {
            let o = dns_outbox::ActiveModel {
                domain_id: Set(zone.id),
                name: Set(name.clone()),
                rtype: Set(rtype.clone()),
                attempts: Set(0),
                last_error: Set(None),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            seq.insert((name, rtype), o.id);
        }
        requeue_failed(txn, zone.id, &seq).await?;
    }
    let (state, adopted) = match mode {
        Mode::Push => ("pending", ""),
        Mode::Synced => ("synced", " (as the server has it)"),
    };
    let mut out = vec![];
    for c in changes {
        let push_seq = |a: &Normalized| {
            seq.get(&(a.name.clone(), a.rtype.clone()))
                .copied()
                .unwrap_or(0)
        };
        let (op, id, name, message, detail) = match (c.replaces, c.after) {
            (None, Some(a)) => {
                let r = dns_record::ActiveModel {
                    domain_id: Set(zone.id),
                    name: Set(a.name.clone()),
                    rtype: Set(a.rtype.clone()),
                    value: Set(a.value.clone()),
                    ttl: Set(a.ttl as i32),
                    priority: Set(a.priority.map(|p| p as i32)),
                    disabled: Set(a.disabled),
                    state: Set(state.into()),
                    push_seq: Set(push_seq(&a)),
                    request_id: Set(request.map(|r| r.0)),
                    request_total: Set(request.map(|r| r.1)),
                    push_error: Set(None),
                    creator_id: Set((actor.id > 0).then_some(actor.id)),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                let m = format!("add record {} {} {}{adopted}", a.name, a.rtype, a.content);
                let d = json!({"before": null, "after": snapshot(&zone.name, &a)});
                let id = r.id;
                out.push(r);
                (c.op, id, a.name, m, d)
            }
            (Some(old), Some(a)) => {
                let before = norm_of(&old);
                let mut am: dns_record::ActiveModel = old.into();
                am.name = Set(a.name.clone());
                am.rtype = Set(a.rtype.clone());
                am.value = Set(a.value.clone());
                am.ttl = Set(a.ttl as i32);
                am.priority = Set(a.priority.map(|p| p as i32));
                am.disabled = Set(a.disabled);
                am.state = Set(state.into());
                am.push_seq = Set(push_seq(&a));
                am.push_error = Set(None);
                am.updated_at = Set(now);
                let r = am.update(txn).await?;
                let m = if before.content == a.content
                    && before.name == a.name
                    && before.rtype == a.rtype
                {
                    format!(
                        "{} record {} {} {}{adopted}",
                        c.op.unwrap_or("update"),
                        a.name,
                        a.rtype,
                        a.content
                    )
                } else {
                    format!(
                        "update record {} {} {} to {} {} {}{adopted}",
                        before.name, before.rtype, before.content, a.name, a.rtype, a.content
                    )
                };
                let d = json!({"before": snapshot(&zone.name, &before), "after": snapshot(&zone.name, &a)});
                let id = r.id;
                out.push(r);
                (c.op, id, a.name, m, d)
            }
            (Some(old), None) => {
                dns_record::Entity::delete_by_id(old.id).exec(txn).await?;
                let before = norm_of(&old);
                let m = format!(
                    "delete record {} {} {}{adopted}",
                    old.name, old.rtype, before.content
                );
                let d = json!({"before": snapshot(&zone.name, &before), "after": null});
                (c.op, old.id, old.name, m, d)
            }
            (None, None) => continue,
        };
        if let Some(op) = op {
            record(txn, actor, entry(op, "record", id, &name, message, detail)).await?;
        }
    }
    if mode == Mode::Push {
        queue_push(txn, zone.id).await?;
    }
    Ok(out)
}

/// Rows of the touched sets (`seq`: set → its new outbox id) that the server had refused go
/// back to `pending` with the set: the set is pushed whole, so they are sent again.
async fn requeue_failed<C: ConnectionTrait>(
    txn: &C,
    did: i64,
    seq: &HashMap<(String, String), i64>,
) -> AppResult<()> {
    use sea_orm::sea_query::Expr;
    let names: BTreeSet<&String> = seq.keys().map(|(n, _)| n).collect();
    let names: Vec<&String> = names.into_iter().collect();
    let mut sets: BTreeSet<(String, String)> = BTreeSet::new();
    for chunk in names.chunks(500) {
        for r in dns_record::Entity::find()
            .filter(dns_record::Column::DomainId.eq(did))
            .filter(dns_record::Column::State.eq("failed"))
            .filter(dns_record::Column::Name.is_in(chunk.iter().map(|s| s.to_string())))
            .all(txn)
            .await?
        {
            sets.insert((r.name, r.rtype));
        }
    }
    for key in sets {
        let Some(id) = seq.get(&key) else { continue };
        dns_record::Entity::update_many()
            .col_expr(dns_record::Column::State, Expr::value("pending"))
            .col_expr(dns_record::Column::PushSeq, Expr::value(*id))
            .col_expr(
                dns_record::Column::PushError,
                Expr::value(Option::<String>::None),
            )
            .filter(dns_record::Column::DomainId.eq(did))
            .filter(dns_record::Column::Name.eq(key.0.as_str()))
            .filter(dns_record::Column::Rtype.eq(key.1.as_str()))
            .filter(dns_record::Column::State.eq("failed"))
            .exec(txn)
            .await?;
    }
    Ok(())
}

fn wire(r: dns_record::Model, zone: &dns_domain::Model) -> DnsRecord {
    DnsRecord {
        id: r.id,
        domain_id: r.domain_id,
        push_error: match r.state.as_str() {
            "pending" => zone.push_error.clone(),
            "failed" => r.push_error.clone(),
            _ => None,
        },
        name: r.name,
        rtype: r.rtype,
        value: r.value,
        ttl: i64::from(r.ttl),
        priority: r.priority.map(i64::from),
        disabled: r.disabled,
        state: r.state,
        request_id: r.request_id,
        created_time: crate::time::fmt(&r.created_at),
        updated_time: crate::time::fmt(&r.updated_at),
    }
}

fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `GET …/domains/{did}/records/`: filtered (name and value contain, type, disabled, state),
/// sorted by name, type and id, paged in SQL.
pub async fn list_records(
    ctx: &Ctx,
    actor: &Actor,
    sid: i64,
    did: i64,
    f: RecordFilter,
) -> AppResult<Page<DnsRecord>> {
    use dns_record::Column as C;
    authorize_zone(ctx, actor, did, "view_domain").await?;
    let zone = load_zone(&ctx.db, sid, did).await?;
    let mut q = dns_record::Entity::find().filter(C::DomainId.eq(did));
    if let Some(v) = text(&f.name) {
        // Through the trigram index on names (FTS5 / pg_trgm, migration m20261202_000004).
        q = q.filter(crate::db::contains_text(
            ctx.db.get_database_backend(),
            "dns_records",
            "name",
            &v.to_ascii_lowercase(),
        ));
    }
    if let Some(v) = text(&f.value) {
        q = q.filter(C::Value.contains(v));
    }
    if let Some(v) = text(&f.rtype) {
        q = q.filter(C::Rtype.eq(v.to_ascii_uppercase()));
    }
    if let Some(v) = text(&f.disabled) {
        let b = match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err(AppError::invalid("disabled", "disabled is true or false")),
        };
        q = q.filter(C::Disabled.eq(b));
    }
    if let Some(v) = text(&f.state) {
        if !matches!(v, "pending" | "synced" | "failed") {
            return Err(AppError::invalid(
                "state",
                "state is pending, synced or failed",
            ));
        }
        q = q.filter(C::State.eq(v));
    }
    // A whole zone's size is kept by triggers (`dns_record_counts`): no count of 50k rows a page.
    let known = if crate::db::no_filter(&f, &[]) {
        zone_count(&ctx.db, did).await?
    } else {
        None
    };
    let q = q
        .order_by_asc(C::Name)
        .order_by_asc(C::Rtype)
        .order_by_asc(C::Id);
    let (count, rows) = match known {
        Some(n) => (
            n,
            q.offset(f.page.offset())
                .limit(f.page.size())
                .all(&ctx.db)
                .await?,
        ),
        None => {
            // Filtered: the page's ids and the number of matches in one statement over the
            // narrow (id, name, type) rows, then the page's records; a page past the end asks for
            // the count alone.
            let page: Vec<(i64, i64)> = q
                .clone()
                .select_only()
                .column(C::Id)
                .column_as(
                    sea_orm::sea_query::Expr::cust("COUNT(*) OVER ()"),
                    "total_rows",
                )
                .offset(f.page.offset())
                .limit(f.page.size())
                .into_tuple()
                .all(&ctx.db)
                .await?;
            let count = match page.first() {
                Some((_, n)) => u64::try_from(*n).unwrap_or(0),
                None if f.page.offset() == 0 => 0,
                None => sea_orm::PaginatorTrait::count(q, &ctx.db).await?,
            };
            let rows = if page.is_empty() {
                vec![]
            } else {
                dns_record::Entity::find()
                    .filter(C::Id.is_in(page.into_iter().map(|(id, _)| id)))
                    .order_by_asc(C::Name)
                    .order_by_asc(C::Rtype)
                    .order_by_asc(C::Id)
                    .all(&ctx.db)
                    .await?
            };
            (count, rows)
        }
    };
    Ok(Page::new(
        count,
        &f.page,
        rows.into_iter().map(|r| wire(r, &zone)).collect(),
    ))
}

/// The number of records of zone `did` from `dns_record_counts` (None: no row yet).
async fn zone_count<C: ConnectionTrait>(db: &C, did: i64) -> AppResult<Option<u64>> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let q = Query::select()
        .column(Alias::new("n"))
        .from(Alias::new("dns_record_counts"))
        .and_where(Expr::col(Alias::new("domain_id")).eq(did))
        .to_owned();
    Ok(match db.query_one(&q).await? {
        Some(row) => Some(u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0)),
        None => None,
    })
}

async fn load_record<C: ConnectionTrait>(
    db: &C,
    did: i64,
    rid: i64,
) -> AppResult<dns_record::Model> {
    dns_record::Entity::find_by_id(rid)
        .one(db)
        .await?
        .filter(|r| r.domain_id == did)
        .ok_or_else(|| AppError::not_found("record"))
}

/// `GET …/records/{rid}/`.
pub async fn get_record(
    ctx: &Ctx,
    actor: &Actor,
    sid: i64,
    did: i64,
    rid: i64,
) -> AppResult<DnsRecord> {
    authorize_zone(ctx, actor, did, "view_domain").await?;
    let zone = load_zone(&ctx.db, sid, did).await?;
    Ok(wire(load_record(&ctx.db, did, rid).await?, &zone))
}

/// Begins a write of zone `did` of service `sid`: the transaction and the locked zone.
async fn begin_zone(
    ctx: &Ctx,
    sid: i64,
    did: i64,
) -> AppResult<(sea_orm::DatabaseTransaction, dns_domain::Model)> {
    let txn = crate::db::begin(&ctx.db).await?;
    let zone = lock_zone(&txn, did).await?;
    if zone.service_id != sid {
        return Err(AppError::not_found("domain"));
    }
    Ok((txn, zone))
}

/// `POST …/records/`: one record, or (`bulk`) an array created all-or-nothing; error fields
/// of an array are `[i].field`.
pub async fn create_records(
    ctx: &Ctx,
    actor: &Actor,
    sid: i64,
    did: i64,
    inputs: Vec<RecordInput>,
    bulk: bool,
) -> AppResult<Vec<DnsRecord>> {
    authorize_zone(ctx, actor, did, "edit_domain").await?;
    if inputs.is_empty() {
        return Err(AppError::invalid("records", "no record given"));
    }
    crate::common::validate::items(inputs.len())?;
    let at = |i: usize, f: &str| {
        if bulk {
            format!("[{i}].{f}")
        } else {
            f.to_string()
        }
    };
    let (txn, zone) = begin_zone(ctx, sid, did).await?;
    let mut changes = vec![];
    for (i, r) in inputs.iter().enumerate() {
        let n = validate_record(&zone.name, r).map_err(|e| invalid_at(e, &|f| at(i, f)))?;
        changes.push(Change {
            replaces: None,
            after: Some(n),
            origin: i,
            op: Some("add"),
        });
    }
    check_child_zones(ctx, actor, &txn, &zone, &changes, &at).await?;
    plan(&txn, &zone, &mut changes, &at, true).await?;
    check_targets(&txn, &zone, &changes, &at, true).await?;
    let rows = write(&txn, actor, &zone, changes, None, Mode::Push).await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(rows.into_iter().map(|r| wire(r, &zone)).collect())
}

/// `PATCH …/records/{rid}/`: changes the given fields. A new `ttl` applies to every record of
/// the same name and type (they share one TTL).
pub async fn update_record(
    ctx: &Ctx,
    actor: &Actor,
    sid: i64,
    did: i64,
    rid: i64,
    p: RecordPatch,
) -> AppResult<DnsRecord> {
    authorize_zone(ctx, actor, did, "edit_domain").await?;
    let (txn, zone) = begin_zone(ctx, sid, did).await?;
    let old = load_record(&txn, did, rid).await?;
    let rtype = p.rtype.clone().unwrap_or_else(|| old.rtype.clone());
    let priority = match (&p.priority, &p.value) {
        (Some(x), _) => Some(*x),
        (None, Some(v)) if split_priority(&rtype, v).is_some() => None,
        _ if matches!(rtype.to_ascii_uppercase().as_str(), "MX" | "SRV") => {
            old.priority.map(i64::from)
        }
        _ => None,
    };
    let input = RecordInput {
        name: p.name.clone().unwrap_or_else(|| old.name.clone()),
        rtype,
        value: p.value.clone().unwrap_or_else(|| old.value.clone()),
        ttl: p.ttl.or(Some(i64::from(old.ttl))),
        priority,
        disabled: p.disabled.or(Some(old.disabled)),
    };
    let mut n =
        validate_record(&zone.name, &input).map_err(|e| invalid_at(e, &|f| f.to_string()))?;
    n.ttl_given = p.ttl.is_some();
    let before = norm_of(&old);
    let only_toggle = before.content == n.content
        && before.name == n.name
        && before.rtype == n.rtype
        && before.ttl == n.ttl;
    if only_toggle && before.disabled == n.disabled && p.ttl.is_none() {
        return Ok(wire(old, &zone));
    }
    let op = match (only_toggle, n.disabled) {
        (true, true) if !before.disabled => "disable",
        (true, false) if before.disabled => "enable",
        _ => "update",
    };
    let mut changes = vec![];
    if let Some(ttl) = p.ttl {
        let names = BTreeSet::from([n.name.clone()]);
        for s in rows_named(&txn, did, &names).await? {
            if s.id != old.id && s.rtype == n.rtype && i64::from(s.ttl) != ttl {
                let mut a = norm_of(&s);
                a.ttl = ttl;
                changes.push(Change {
                    replaces: Some(s),
                    after: Some(a),
                    origin: 0,
                    op: None,
                });
            }
        }
    }
    // The other records of the set whose TTL follows: one audit entry names them all.
    let others: Vec<i64> = changes
        .iter()
        .filter_map(|c| c.replaces.as_ref().map(|r| r.id))
        .collect();
    let (set_name, set_type) = (n.name.clone(), n.rtype.clone());
    changes.insert(
        0,
        Change {
            replaces: Some(old),
            after: Some(n),
            origin: 0,
            op: Some(op),
        },
    );
    let one = |_: usize, f: &str| f.to_string();
    check_child_zones(ctx, actor, &txn, &zone, &changes, &one).await?;
    plan(&txn, &zone, &mut changes, &one, true).await?;
    check_targets(&txn, &zone, &changes, &one, true).await?;
    let mut rows = write(&txn, actor, &zone, changes, None, Mode::Push).await?;
    if let (Some(ttl), false) = (p.ttl, others.is_empty()) {
        record(
            &txn,
            actor,
            entry(
                "update",
                "record",
                rid,
                &set_name,
                format!(
                    "ttl of {set_name} {set_type} set to {ttl} with record {rid}: also records {others:?} (one TTL per name and type)"
                ),
                json!({"name": set_name, "type": set_type, "ttl": ttl, "records": others, "with": rid}),
            ),
        )
        .await?;
    }
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(wire(rows.remove(0), &zone))
}

/// `DELETE …/records/{rid}/`.
pub async fn delete_record(
    ctx: &Ctx,
    actor: &Actor,
    sid: i64,
    did: i64,
    rid: i64,
) -> AppResult<Message> {
    authorize_zone(ctx, actor, did, "edit_domain").await?;
    let (txn, zone) = begin_zone(ctx, sid, did).await?;
    let old = load_record(&txn, did, rid).await?;
    let mut changes = vec![Change {
        replaces: Some(old),
        after: None,
        origin: 0,
        op: Some("delete"),
    }];
    plan(&txn, &zone, &mut changes, &|_, f| f.to_string(), true).await?;
    check_targets(&txn, &zone, &changes, &|_, f| f.to_string(), true).await?;
    write(&txn, actor, &zone, changes, None, Mode::Push).await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(Message::success())
}

/// `POST …/records/actions/disable/` and `…/enable/`: `[{"id": 1}, …]`. A disabled record is
/// removed from the server and kept in Opsdeck; enabling it puts it back.
pub async fn set_disabled(
    ctx: &Ctx,
    actor: &Actor,
    sid: i64,
    did: i64,
    ids: Vec<IdRef>,
    disabled: bool,
) -> AppResult<Message> {
    authorize_zone(ctx, actor, did, "edit_domain").await?;
    crate::common::validate::items(ids.len())?;
    let (txn, zone) = begin_zone(ctx, sid, did).await?;
    let rows: HashMap<i64, dns_record::Model> = dns_record::Entity::find()
        .filter(dns_record::Column::DomainId.eq(did))
        .filter(dns_record::Column::Id.is_in(ids.iter().map(|i| i.id).collect::<Vec<_>>()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut changes = vec![];
    let mut done = HashSet::new();
    for (i, IdRef { id }) in ids.iter().enumerate() {
        let Some(r) = rows.get(id) else {
            return Err(AppError::not_found(&format!("record {id} of this zone"))
                .with_field(&format!("[{i}].id")));
        };
        if r.disabled == disabled || !done.insert(*id) {
            continue;
        }
        let mut a = norm_of(r);
        a.disabled = disabled;
        changes.push(Change {
            replaces: Some(r.clone()),
            after: Some(a),
            origin: i,
            op: Some(if disabled { "disable" } else { "enable" }),
        });
    }
    let at = |i: usize, f: &str| format!("[{i}].{f}");
    check_child_zones(ctx, actor, &txn, &zone, &changes, &at).await?;
    plan(&txn, &zone, &mut changes, &at, true).await?;
    check_targets(&txn, &zone, &changes, &at, true).await?;
    write(&txn, actor, &zone, changes, None, Mode::Push).await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(Message::success())
}
