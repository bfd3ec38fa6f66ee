//! Zones of a service: list, create (PowerDNS creates the zone; BIND verifies it; both import
//! what the server serves), rename (refused), delete.
use super::*;
use crate::audit::service::record;
use crate::common::{Message, Page};
use crate::dns::driver::RRSet;
use crate::dns::types::*;
use crate::perms::service::{granted_set, id_in, resource_perm_sets};
use sea_orm::{ActiveModelTrait, PaginatorTrait, QueryOrder, Set};

async fn to_wire(
    ctx: &Ctx,
    actor: &Actor,
    rows: Vec<dns_domain::Model>,
) -> AppResult<Vec<DnsDomain>> {
    use sea_orm::sea_query::{Alias, Expr, Query};
    let ids: Vec<i64> = rows.iter().map(|d| d.id).collect();
    let mut perms = resource_perm_sets(ctx, actor, DOMAIN, &ids).await?;
    let creators: Vec<i64> = rows.iter().filter_map(|d| d.creator_id).collect();
    let users = user_names(ctx, &creators).await?;
    let services: HashMap<i64, String> = dns_service::Entity::find()
        .filter(
            dns_service::Column::Id.is_in(rows.iter().map(|d| d.service_id).collect::<Vec<_>>()),
        )
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    // Records per zone and state, pending and failed ones (through the (domain_id, state) index).
    let mut pending: HashMap<i64, u64> = HashMap::new();
    let mut failed: HashMap<i64, u64> = HashMap::new();
    if !ids.is_empty() {
        let q = Query::select()
            .column(dns_record::Column::DomainId)
            .column(dns_record::Column::State)
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .from(dns_record::Entity)
            .and_where(dns_record::Column::DomainId.is_in(ids.clone()))
            .and_where(dns_record::Column::State.is_in(["pending", "failed"]))
            .group_by_col(dns_record::Column::DomainId)
            .group_by_col(dns_record::Column::State)
            .to_owned();
        let backend = ctx.db.get_database_backend();
        for row in ctx.db.query_all_raw(backend.build(&q)).await? {
            let d: i64 = row.try_get_by_index(0)?;
            let state: String = row.try_get_by_index(1)?;
            let n: i64 = row.try_get_by_index(2)?;
            let to = if state == "failed" {
                &mut failed
            } else {
                &mut pending
            };
            to.insert(d, u64::try_from(n).unwrap_or(0));
        }
    }
    Ok(rows
        .into_iter()
        .map(|d| DnsDomain {
            id: d.id,
            available_actions: perms.remove(&d.id).unwrap_or_default(),
            pending: pending.get(&d.id).copied().unwrap_or(0),
            failed: failed.get(&d.id).copied().unwrap_or(0),
            creator: d
                .creator_id
                .and_then(|c| users.get(&c).cloned())
                .unwrap_or_default(),
            service_name: services.get(&d.service_id).cloned().unwrap_or_default(),
            created_time: crate::time::fmt(&d.created_at),
            push_error: d.push_error,
            service_id: d.service_id,
            name: d.name,
        })
        .collect())
}

/// `GET /dns-services/{id}/domains/`: the service's zones the caller may view.
pub async fn list_domains(
    ctx: &Ctx,
    actor: &Actor,
    sid: i64,
    f: DomainFilter,
) -> AppResult<Page<DnsDomain>> {
    use dns_domain::Column as C;
    may_use(ctx, actor).await?;
    load_service(&ctx.db, sid).await?;
    let mut q = dns_domain::Entity::find().filter(C::ServiceId.eq(sid));
    if let Some(ids) = granted_set(ctx, actor, DOMAIN, "view_domain").await? {
        q = q.filter(id_in(
            ctx.db.get_database_backend(),
            (dns_domain::Entity, C::Id),
            &ids,
        ));
    }
    if let Some(v) = f.name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        q = q.filter(C::Name.contains(v.to_ascii_lowercase()));
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(C::Name)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    Ok(Page::new(count, &f.page, to_wire(ctx, actor, rows).await?))
}

/// `GET /dns-services/{id}/domains/{did}/`.
pub async fn get_domain(ctx: &Ctx, actor: &Actor, sid: i64, did: i64) -> AppResult<DnsDomain> {
    authorize_zone(ctx, actor, did, "view_domain").await?;
    let d = load_zone(&ctx.db, sid, did).await?;
    Ok(to_wire(ctx, actor, vec![d]).await?.remove(0))
}

/// The server's records of managed types as rows to import (contents it serves that Opsdeck
/// cannot express are skipped and named in the answer's second part).
fn importable(zone: &str, sets: Vec<RRSet>) -> (Vec<Normalized>, Vec<String>) {
    let (mut ok, mut skipped) = (vec![], vec![]);
    for s in sets {
        let rtype = s.rtype.to_ascii_uppercase();
        if !RECORD_TYPES.contains(&rtype.as_str())
            || !(s.name == zone || s.name.ends_with(&format!(".{zone}")))
        {
            continue;
        }
        for c in &s.contents {
            match parse_content(&rtype, c) {
                Ok((value, priority)) => ok.push(Normalized {
                    name: s.name.clone(),
                    rtype: rtype.clone(),
                    content: to_content(&rtype, &value, priority),
                    value,
                    priority,
                    ttl: i64::from(s.ttl).clamp(1, MAX_TTL),
                    ttl_given: true,
                    disabled: false,
                }),
                Err(e) => skipped.push(format!("{} {rtype} {c}: {e}", s.name)),
            }
        }
    }
    (ok, skipped)
}

/// `POST /dns-services/{id}/domains/`: PowerDNS creates the zone (the server already having it
/// is a 409 unless `adopt`); BIND must already serve it (its SOA is asked). Then the server's
/// records are imported as `synced` rows (on a new PowerDNS zone: its NS records).
pub async fn create_domain(
    ctx: &Ctx,
    actor: &Actor,
    sid: i64,
    input: DomainInput,
) -> AppResult<DnsDomain> {
    may_manage(ctx, actor).await?;
    let name =
        zone_name(input.name.as_deref().unwrap_or("")).map_err(|m| AppError::invalid("name", m))?;
    let s = load_service(&ctx.db, sid).await?;
    let taken = dns_domain::Entity::find()
        .filter(dns_domain::Column::Name.eq(name.clone()))
        .one(&ctx.db)
        .await?;
    if taken.is_some() {
        return Err(
            AppError::conflict(format!("Opsdeck manages {name} already")).with_field("name"),
        );
    }
    let conn = conn_of(ctx, &s).await?;
    let adopt = input.adopt.unwrap_or(false);
    let mut created = false;
    match conn.create_zone(&name, &[]).await {
        Ok(()) => created = s.service_type == "powerdns",
        Err(e) if e.kind == ErrorKind::Conflict && adopt => {}
        Err(e) if e.kind == ErrorKind::Conflict => {
            return Err(AppError::conflict(format!(
                "the server already has zone {name} ({}): send \"adopt\": true to take it over with its records",
                servers::redact(&conn, e.message)
            ))
            .with_field("name"))
        }
        Err(e) if e.kind == ErrorKind::NotFound => {
            return Err(AppError::invalid("name", servers::redact(&conn, e.message)))
        }
        Err(e) => return Err(driver_err(e)),
    }
    let undo = |conn: Conn, name: String| async move {
        if created {
            if let Err(e) = conn.delete_zone(&name).await {
                tracing::warn!(zone = %name, error = %e, "removing a zone whose creation failed");
            }
        }
    };
    let sets = match conn.list(&name).await {
        Ok(s) => s,
        Err(e) => {
            undo(conn, name).await;
            return Err(driver_err(e));
        }
    };
    let (rows, skipped) = importable(&name, sets);
    match insert_zone(ctx, actor, &s, &name, rows, &skipped, adopt).await {
        Ok(d) => {
            crate::perms::service::catalog_changed(DOMAIN);
            Ok(to_wire(ctx, actor, vec![d]).await?.remove(0))
        }
        Err(e) => {
            undo(conn, name).await;
            Err(e)
        }
    }
}

async fn insert_zone(
    ctx: &Ctx,
    actor: &Actor,
    s: &dns_service::Model,
    name: &str,
    rows: Vec<Normalized>,
    skipped: &[String],
    adopt: bool,
) -> AppResult<dns_domain::Model> {
    let now = crate::time::now();
    let txn = crate::db::begin(&ctx.db).await?;
    let d = dns_domain::ActiveModel {
        service_id: Set(s.id),
        name: Set(name.to_string()),
        creator_id: Set((actor.id > 0).then_some(actor.id)),
        push_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let imported = rows.len();
    for chunk in rows.chunks(500) {
        dns_record::Entity::insert_many(chunk.iter().map(|r| dns_record::ActiveModel {
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
            creator_id: Set((actor.id > 0).then_some(actor.id)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }))
        .exec(&txn)
        .await?;
    }
    let how = if adopt { "adopt" } else { "add" };
    record(
        &txn,
        actor,
        entry(
            "add",
            "domain",
            d.id,
            name,
            format!(
                "{how} domain {name} on {} ({imported} records imported)",
                s.name
            ),
            json!({"service": s.name, "adopt": adopt, "imported": imported, "skipped": skipped}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(d)
}

/// `PATCH /dns-services/{id}/domains/{did}/`: a zone is never renamed (its records, the server's
/// zone and grants hang on the name): the same name answers the zone, another one is refused.
pub async fn update_domain(
    ctx: &Ctx,
    actor: &Actor,
    sid: i64,
    did: i64,
    input: DomainInput,
) -> AppResult<DnsDomain> {
    may_manage(ctx, actor).await?;
    let d = load_zone(&ctx.db, sid, did).await?;
    if let Some(n) = input.name.as_deref() {
        let n = zone_name(n).map_err(|m| AppError::invalid("name", m))?;
        if n != d.name {
            return Err(AppError::invalid(
                "name",
                "a zone cannot be renamed: add the new zone and move its records, then delete this one",
            ));
        }
    }
    Ok(to_wire(ctx, actor, vec![d]).await?.remove(0))
}

/// `DELETE /dns-services/{id}/domains/{did}/`: removes the zone from PowerDNS (nothing on BIND,
/// whose zones belong to its operator), then its records, outbox and grants from Opsdeck (each
/// grant dropped is audited as a `resource_perm` revoke). Domain requests whose records go
/// with it are not served: their fulfilment stops for a person (see `request_synced`).
pub async fn delete_domain(ctx: &Ctx, actor: &Actor, sid: i64, did: i64) -> AppResult<Message> {
    use crate::entities::dns_outbox;
    may_manage(ctx, actor).await?;
    let d = load_zone(&ctx.db, sid, did).await?;
    let s = load_service(&ctx.db, sid).await?;
    let conn = conn_of(ctx, &s).await?;
    conn.delete_zone(&d.name).await.map_err(driver_err)?;
    let txn = crate::db::begin(&ctx.db).await?;
    lock_zone(&txn, did).await?;
    let n = dns_record::Entity::delete_many()
        .filter(dns_record::Column::DomainId.eq(did))
        .exec(&txn)
        .await?
        .rows_affected;
    dns_outbox::Entity::delete_many()
        .filter(dns_outbox::Column::DomainId.eq(did))
        .exec(&txn)
        .await?;
    let removed = crate::perms::service::drop_resource_grants(&txn, DOMAIN, did).await?;
    audit_revokes(&txn, actor, did, &d.name, &removed).await?;
    dns_domain::Entity::delete_by_id(did).exec(&txn).await?;
    record(
        &txn,
        actor,
        entry(
            "delete",
            "domain",
            did,
            &d.name,
            format!("delete domain {} on {} ({n} records)", d.name, s.name),
            json!({"service": s.name, "records": n}),
        ),
    )
    .await?;
    txn.commit().await?;
    crate::perms::service::catalog_changed(DOMAIN);
    crate::perms::casbin::apply(&mut *ctx.enforcer.write().await, vec![], removed).await?;
    Ok(Message::success())
}

/// One `resource_perm` revoke audit record per grant dropped with zone `did` (as revoking it by
/// hand would write).
async fn audit_revokes<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    did: i64,
    zone: &str,
    removed: &[crate::perms::casbin::Rule],
) -> AppResult<()> {
    use crate::perms::casbin::Rule;
    use crate::perms::types::SubjectType;
    for r in removed {
        let Rule::P(subject, _, perm) = r else {
            continue;
        };
        let Some((st, id)) = subject.split_once(':') else {
            continue;
        };
        let st = match st {
            "user" => SubjectType::User,
            "role" => SubjectType::Role,
            _ => continue,
        };
        let Ok(id) = id.parse::<i64>() else { continue };
        let name = crate::perms::service::subject_name(txn, st, id)
            .await
            .unwrap_or_else(|_| id.to_string());
        record(
            txn,
            actor,
            crate::audit::service::Entry::new("resource_perm", "revoke")
                .target(DOMAIN.as_str(), Some(did), zone)
                .grant(perm, false, st.as_str(), &name),
        )
        .await?;
    }
    Ok(())
}
