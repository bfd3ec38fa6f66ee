//! Drift: Opsdeck's enabled records against what the server serves, per name and type, in
//! canonical form; and its two resolutions, push ours or adopt theirs.
//!
//! Compared: every RRset of a managed type (A, AAAA, CNAME, MX, TXT, SRV, NS, PTR, CAA) on either
//! side, contents as sets and the TTL. SOA is never compared (the server owns it); types Opsdeck
//! does not manage are ignored. The apex NS set is compared like any other: creating or adopting
//! a zone imports it, so Opsdeck manages it from then on.
use super::records::{norm_of, plan, rows_named, write, Change, Mode};
use super::*;
use crate::audit::service::record;
use crate::common::Message;
use crate::dns::driver::RRSet;
use crate::dns::types::*;
use crate::entities::dns_outbox;
use sea_orm::TransactionSession;
use std::collections::{BTreeMap, BTreeSet};

type Sets = BTreeMap<(String, String), (i64, BTreeSet<String>)>;

/// Zones whose drift is being read in this process (by database and zone id): one read of a
/// zone's whole content at a time (a view-only user reloading the page cannot make the server
/// transfer the zone over and over in parallel).
static DRIFT_READS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashSet<(String, i64)>>,
> = std::sync::LazyLock::new(Default::default);

/// A zone's drift read in progress; the zone is free again when it drops.
struct DriftRead((String, i64));

impl DriftRead {
    /// Starts a drift read of zone `did`, or 429 when one is running.
    fn start(ctx: &Ctx, did: i64) -> AppResult<DriftRead> {
        let key = (ctx.config.database_url.clone(), did);
        if DRIFT_READS.lock().expect("drift reads").insert(key.clone()) {
            Ok(DriftRead(key))
        } else {
            Err(AppError::new(
                ErrorCode::TooManyRequests,
                "a drift check of this zone is running: try again when it has finished",
            ))
        }
    }
}

impl Drop for DriftRead {
    fn drop(&mut self) {
        DRIFT_READS.lock().expect("drift reads").remove(&self.0);
    }
}

/// How long "adopt" waits for a push of the zone to finish.
const ADOPT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A server content in Opsdeck's canonical form (parsed and written back), or as it came.
fn canonical(rtype: &str, content: &str) -> String {
    parse_content(rtype, content)
        .map(|(v, p)| to_content(rtype, &v, p))
        .unwrap_or_else(|_| content.to_string())
}

fn theirs_of(sets: Vec<RRSet>) -> Sets {
    let mut out = Sets::new();
    for s in sets {
        let rtype = s.rtype.to_ascii_uppercase();
        if !RECORD_TYPES.contains(&rtype.as_str()) {
            continue;
        }
        let contents = s.contents.iter().map(|c| canonical(&rtype, c)).collect();
        out.insert((s.name, rtype), (i64::from(s.ttl), contents));
    }
    out
}

fn ours_of(rows: &[dns_record::Model]) -> Sets {
    let mut out = Sets::new();
    for r in rows.iter().filter(|r| !r.disabled) {
        let e = out
            .entry((r.name.clone(), r.rtype.clone()))
            .or_insert_with(|| (i64::from(r.ttl), BTreeSet::new()));
        e.1.insert(norm_of(r).content);
    }
    out
}

fn differences(
    ours: &Sets,
    theirs: &Sets,
    pending: &BTreeSet<(String, String)>,
) -> Vec<DriftEntry> {
    let keys: BTreeSet<&(String, String)> = ours.keys().chain(theirs.keys()).collect();
    let mut out = vec![];
    for k in keys {
        let (o, t) = (ours.get(k), theirs.get(k));
        let same = match (o, t) {
            (Some(o), Some(t)) => o == t,
            _ => false,
        };
        if same {
            continue;
        }
        out.push(DriftEntry {
            name: k.0.clone(),
            rtype: k.1.clone(),
            ours: o.map(|o| o.1.iter().cloned().collect()).unwrap_or_default(),
            theirs: t.map(|t| t.1.iter().cloned().collect()).unwrap_or_default(),
            ours_ttl: o.map(|o| o.0),
            theirs_ttl: t.map(|t| t.0),
            pending: pending.contains(k),
        });
    }
    out
}

async fn server_sets(ctx: &Ctx, zone: &dns_domain::Model) -> AppResult<(Conn, Vec<RRSet>)> {
    let s = load_service(&ctx.db, zone.service_id).await?;
    let conn = conn_of(ctx, &s).await?;
    let sets = conn.list(&zone.name).await.map_err(driver_err)?;
    Ok((conn, sets))
}

/// `GET …/domains/{did}/drift/`: the (name, type) sets where Opsdeck and the server differ.
/// `pending` marks sets with a change still in the outbox (the difference may be just that).
/// One drift read per zone at a time (429 while one runs).
pub async fn drift(ctx: &Ctx, actor: &Actor, sid: i64, did: i64) -> AppResult<Vec<DriftEntry>> {
    authorize_zone(ctx, actor, did, "view_domain").await?;
    let zone = load_zone(&ctx.db, sid, did).await?;
    let _reading = DriftRead::start(ctx, did)?;
    let (_, sets) = server_sets(ctx, &zone).await?;
    let rows = dns_record::Entity::find()
        .filter(dns_record::Column::DomainId.eq(did))
        .filter(dns_record::Column::Disabled.eq(false))
        .all(&ctx.db)
        .await?;
    let pending: BTreeSet<(String, String)> = dns_outbox::Entity::find()
        .filter(dns_outbox::Column::DomainId.eq(did))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|o| (o.name, o.rtype))
        .collect();
    Ok(differences(&ours_of(&rows), &theirs_of(sets), &pending))
}

/// `POST …/domains/{did}/drift/actions/resolve/`: `push` queues Opsdeck's records of that name
/// and type for the server (replacing what it has); `adopt` replaces Opsdeck's enabled records
/// of that name and type by the server's (as `synced`; disabled ones stay unless the server
/// has the same content). Adopting is checked like any change (a CNAME the server has beside
/// other records of Opsdeck's is refused until those are resolved). It holds the zone's push
/// lock from reading the server to writing (no push lands in between, unseen): 409 when a push
/// of the zone keeps it for more than a few seconds.
pub async fn resolve_drift(
    ctx: &Ctx,
    actor: &Actor,
    sid: i64,
    did: i64,
    r: DriftResolve,
) -> AppResult<Message> {
    authorize_zone(ctx, actor, did, "edit_domain").await?;
    let zone = load_zone(&ctx.db, sid, did).await?;
    let name = record_name(&zone.name, &r.name).map_err(|m| AppError::invalid("name", m))?;
    let rtype = r.rtype.trim().to_ascii_uppercase();
    if !RECORD_TYPES.contains(&rtype.as_str()) {
        return Err(AppError::invalid(
            "type",
            format!("type must be one of {}", RECORD_TYPES.join(", ")),
        ));
    }
    match r.action.trim() {
        "push" => push_ours(ctx, actor, did, &name, &rtype).await,
        "adopt" => adopt_theirs(ctx, actor, &zone, &name, &rtype).await,
        _ => Err(AppError::invalid("action", "action is push or adopt")),
    }
}

async fn push_ours(
    ctx: &Ctx,
    actor: &Actor,
    did: i64,
    name: &str,
    rtype: &str,
) -> AppResult<Message> {
    use sea_orm::sea_query::Expr;
    use sea_orm::ActiveModelTrait;
    let txn = crate::db::begin(&ctx.db).await?;
    let zone = lock_zone(&txn, did).await?;
    let now = crate::time::now();
    let o = dns_outbox::ActiveModel {
        domain_id: sea_orm::Set(did),
        name: sea_orm::Set(name.to_string()),
        rtype: sea_orm::Set(rtype.to_string()),
        attempts: sea_orm::Set(0),
        last_error: sea_orm::Set(None),
        created_at: sea_orm::Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let n = dns_record::Entity::update_many()
        .col_expr(dns_record::Column::State, Expr::value("pending"))
        .col_expr(dns_record::Column::PushSeq, Expr::value(o.id))
        .filter(dns_record::Column::DomainId.eq(did))
        .filter(dns_record::Column::Name.eq(name))
        .filter(dns_record::Column::Rtype.eq(rtype))
        .exec(&txn)
        .await?
        .rows_affected;
    record(
        &txn,
        actor,
        entry(
            "update",
            "domain",
            did,
            &zone.name,
            format!("drift: push Opsdeck's {name} {rtype} ({n} records) to the server"),
            json!({"name": name, "type": rtype, "action": "push"}),
        ),
    )
    .await?;
    queue_push(&txn, did).await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(Message::success())
}

async fn adopt_theirs(
    ctx: &Ctx,
    actor: &Actor,
    zone: &dns_domain::Model,
    name: &str,
    rtype: &str,
) -> AppResult<Message> {
    let Some(held) = super::push::hold_push_lock(ctx, zone.id, ADOPT_WAIT).await? else {
        return Err(AppError::conflict(
            "a push of this zone is running: adopt the server's records when it has finished",
        ));
    };
    let r = match &held {
        super::push::PushLock::Pg(t) => adopt_locked(ctx, t, actor, zone, name, rtype).await,
        super::push::PushLock::Local(_) => {
            adopt_locked(ctx, &ctx.db, actor, zone, name, rtype).await
        }
    };
    held.release().await?;
    r
}

/// `adopt_theirs` with the zone's push lock held; writes through `db` (PostgreSQL: the lock's
/// transaction, committed when the lock is let go).
async fn adopt_locked<C: ConnectionTrait + sea_orm::TransactionTrait>(
    ctx: &Ctx,
    db: &C,
    actor: &Actor,
    zone: &dns_domain::Model,
    name: &str,
    rtype: &str,
) -> AppResult<Message> {
    let (_, sets) = server_sets(ctx, zone).await?;
    let theirs = sets
        .into_iter()
        .find(|s| s.name == name && s.rtype.eq_ignore_ascii_case(rtype));
    let mut adopted: Vec<Normalized> = vec![];
    if let Some(s) = &theirs {
        for c in &s.contents {
            let (value, priority) = parse_content(rtype, c).map_err(|e| {
                AppError::invalid("name", format!("cannot adopt {name} {rtype} {c}: {e}"))
            })?;
            adopted.push(Normalized {
                name: name.to_string(),
                rtype: rtype.to_string(),
                content: to_content(rtype, &value, priority),
                value,
                priority,
                ttl: i64::from(s.ttl).clamp(1, MAX_TTL),
                ttl_given: true,
                disabled: false,
            });
        }
    }
    let txn = crate::db::begin(db).await?;
    let zone = lock_zone(&txn, zone.id).await?;
    let mut changes = vec![];
    let wanted: BTreeSet<String> = adopted.iter().map(|a| a.content.clone()).collect();
    let mut have: BTreeSet<String> = BTreeSet::new();
    for r in rows_named(&txn, zone.id, &BTreeSet::from([name.to_string()])).await? {
        if r.rtype != rtype {
            continue;
        }
        let n = norm_of(&r);
        let keep_enabled =
            !r.disabled && wanted.contains(&n.content) && i64::from(r.ttl) == adopted[0].ttl;
        if keep_enabled {
            have.insert(n.content);
        } else if r.disabled && !wanted.contains(&n.content) {
            let mut a = n;
            if let Some(t) = adopted.first().map(|a| a.ttl) {
                a.ttl = t;
            }
            if i64::from(r.ttl) != a.ttl {
                changes.push(Change {
                    replaces: Some(r),
                    after: Some(a),
                    origin: 0,
                    op: Some("update"),
                });
            }
        } else {
            changes.push(Change {
                replaces: Some(r),
                after: None,
                origin: 0,
                op: Some("delete"),
            });
        }
    }
    for a in adopted {
        if !have.contains(&a.content) {
            changes.push(Change {
                replaces: None,
                after: Some(a),
                origin: 0,
                op: Some("add"),
            });
        }
    }
    plan(
        &txn,
        &zone,
        &mut changes,
        &|_, f| {
            if f == "id" {
                "name".into()
            } else {
                f.to_string()
            }
        },
        true,
    )
    .await?;
    write(&txn, actor, &zone, changes, None, Mode::Synced).await?;
    record(
        &txn,
        actor,
        entry(
            "update",
            "domain",
            zone.id,
            &zone.name,
            format!("drift: adopt the server's {name} {rtype}"),
            json!({"name": name, "type": rtype, "action": "adopt", "theirs": theirs.map(|t| t.contents)}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(Message::success())
}
