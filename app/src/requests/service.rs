//! Resource requests: hosts, domains and SSL certificates, through the approval engine.
//!
//! Who: `resource_request.create_resource_req` files; the kind's approve flag
//! (`approve_host_req`, `approve_domain_req`, `approve_ssl_cert_req`) decides, sees every request
//! of the kind and operates fulfilment (deliver, upload); requesters see their own; nobody else
//! sees any (everyone needs `enable_resource_req`). Nobody decides on their own request.
//!
//! Fulfilment is the durable job `fulfil`, queued by the approval that completes the quorum and
//! retried until it succeeds: a domain request's records (written at approval, `pending`) are
//! pushed to their zones' servers; an SSL request gets a certificate from Opsdeck's CA; a host
//! request registers its hosts (`raw`) and waits for an operator to mark them delivered.
use super::notify::{self, What};
use super::types::*;
use crate::approvals::service::{self as engine, Subject};
use crate::approvals::types::{RejectInput, STATUSES};
use crate::audit::service::{record, Entry};
use crate::common::{Message, Page};
use crate::ctx::{Actor, Ctx};
use crate::entities::{approval, resource_request as rr, user};
use crate::error::{AppError, AppResult};
use crate::perms::service::{authorize_module, holds_resource, may_module};
use crate::perms::types::ResourceType;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;

const MODULE: &str = "resource_request";

/// Requests one user may have waiting for review at once (of all kinds): filing more is 429,
/// so one account cannot flood the approvers' inboxes and mail.
pub const MAX_OPEN_PER_USER: u64 = 50;

fn subject(id: i64) -> Subject {
    Subject {
        kind: "resource_request",
        table: "resource_requests",
        id,
    }
}

/// What a request stores besides its columns: the input of its kind and what fulfilment made.
#[derive(Debug, Clone, Default, Serialize)]
struct Stored {
    #[serde(flatten)]
    input: RequestInput,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_ids: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate_id: Option<i64>,
}

/// Reads a stored payload. Two plain passes instead of one through `#[serde(flatten)]`, which
/// buffers the whole document first (a fifth of a request list's time, docs/benchmarks.md).
fn stored(r: &rr::Model) -> Stored {
    #[derive(Deserialize, Default)]
    struct Made {
        #[serde(default)]
        host_ids: Option<Vec<i64>>,
        #[serde(default)]
        certificate_id: Option<i64>,
    }
    let made: Made = serde_json::from_str(&r.payload).unwrap_or_default();
    Stored {
        input: serde_json::from_str(&r.payload).unwrap_or_default(),
        host_ids: made.host_ids,
        certificate_id: made.certificate_id,
    }
}

/// The caller's standing for a kind: an approver, or a requester who sees only their own.
struct Access {
    approver: bool,
}

async fn access(ctx: &Ctx, actor: &Actor, kind: RequestKind) -> AppResult<Access> {
    actor.require()?;
    if may_module(ctx, actor, MODULE, kind.approve_perm()).await {
        return Ok(Access { approver: true });
    }
    if may_module(ctx, actor, MODULE, "enable_resource_req").await {
        return Ok(Access { approver: false });
    }
    Err(AppError::forbidden(format!(
        "permission {MODULE}.enable_resource_req required"
    )))
}

async fn require_approver(ctx: &Ctx, actor: &Actor, kind: RequestKind) -> AppResult<()> {
    if access(ctx, actor, kind).await?.approver {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "permission {MODULE}.{} required",
            kind.approve_perm()
        )))
    }
}

/// Loads a request the caller may see (404 otherwise, and for another kind's id).
async fn load_visible<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    acc: &Access,
    kind: RequestKind,
    id: i64,
) -> AppResult<rr::Model> {
    let r = rr::Entity::find_by_id(id)
        .filter(rr::Column::Kind.eq(kind.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("request"))?;
    if !acc.approver && r.creator_id != actor.id {
        return Err(AppError::not_found("request"));
    }
    Ok(r)
}

fn field_errors(errs: Vec<(String, String)>) -> AppResult<()> {
    match errs.into_iter().next() {
        None => Ok(()),
        Some((f, m)) => Err(AppError::invalid(&f, m)),
    }
}

/// When `check_refs` runs.
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    /// Filing or editing: the requester learns nothing about hosts they may not see.
    Filing,
    /// The approval that completes the quorum: host names must be free in the CMDB and not
    /// promised to another approved request that is still being fulfilled.
    Approval,
}

/// Checks what validation cannot see alone: users and applications exist (and the requester
/// may see the applications), records fit a managed zone, host names are free (at approval).
async fn check_refs<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    actor: &Actor,
    kind: RequestKind,
    i: &RequestInput,
    stage: Stage,
    request_id: Option<i64>,
) -> AppResult<()> {
    if let Some(users) = &i.login_users {
        let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
        // Enabled accounts only (as the form's picker): a disabled account gets no access.
        let found: BTreeSet<i64> = user::Entity::find()
            .filter(user::Column::Id.is_in(ids.clone()))
            .filter(user::Column::Status.eq("enabled"))
            .all(db)
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect();
        if let Some(n) = ids.iter().position(|id| !found.contains(id)) {
            return Err(AppError::invalid(
                &format!("login_users[{n}]"),
                "unknown or disabled user",
            ));
        }
    }
    if let Some(apps) = &i.associated_app {
        for (n, a) in apps.iter().enumerate() {
            // A hidden application reads like a missing one.
            if !holds_resource(ctx, actor.id, ResourceType::Application, *a, "view_app").await
                || crate::entities::application::Entity::find_by_id(*a)
                    .one(db)
                    .await?
                    .is_none()
            {
                return Err(AppError::invalid(
                    &format!("associated_app[{n}]"),
                    "unknown application",
                ));
            }
        }
    }
    match kind {
        RequestKind::Host if stage == Stage::Approval => {
            let promised = promised_host_names(db, request_id).await?;
            for (n, h) in i.required_hosts.iter().flatten().enumerate() {
                let name = h.name.trim();
                let field = format!("required_hosts[{n}].name");
                crate::hosts::service::ensure_name_free(db, name, None)
                    .await
                    .map_err(|e| AppError::invalid(&field, e.message))?;
                if promised.contains(&name.to_lowercase()) {
                    return Err(AppError::invalid(
                        &field,
                        format!("host {name} is promised to another approved request"),
                    ));
                }
            }
        }
        RequestKind::Host => {}
        RequestKind::Domain => {
            crate::dns::service::requested::check(db, &dns_inputs(i)).await?;
        }
        RequestKind::Ssl => {}
    }
    Ok(())
}

/// Host names of approved host requests whose hosts are not registered yet.
async fn promised_host_names<C: ConnectionTrait>(
    db: &C,
    except: Option<i64>,
) -> AppResult<BTreeSet<String>> {
    let rows = rr::Entity::find()
        .filter(rr::Column::Kind.eq("host"))
        .filter(rr::Column::Id.ne(except.unwrap_or(0)))
        .filter(rr::Column::Status.eq("approved"))
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .map(stored)
        .filter(|p| p.host_ids.is_none())
        .flat_map(|p| p.input.required_hosts.unwrap_or_default())
        .map(|h| h.name.trim().to_lowercase())
        .collect())
}

/// The requested records as the DNS module takes them.
fn dns_inputs(i: &RequestInput) -> Vec<crate::dns::types::RecordInput> {
    i.records
        .iter()
        .flatten()
        .map(|r| crate::dns::types::RecordInput {
            name: r.record.clone(),
            rtype: r.rtype.clone(),
            value: r.value.clone(),
            ttl: r.ttl,
            priority: r.priority,
            ..Default::default()
        })
        .collect()
}

/// Trims and lowercases what is stored.
fn normalize(mut i: RequestInput) -> RequestInput {
    if let Some(d) = &mut i.domain {
        *d = d.trim().trim_end_matches('.').to_lowercase();
    }
    for h in i.required_hosts.iter_mut().flatten() {
        h.name = h.name.trim().to_string();
    }
    for r in i.records.iter_mut().flatten() {
        r.record = r.record.trim().trim_end_matches('.').to_lowercase();
        r.rtype = r.rtype.trim().to_uppercase();
        r.value = r.value.trim().to_string();
    }
    i
}

/// The seed's defaults of a new host request.
fn with_defaults(kind: RequestKind, mut i: RequestInput) -> RequestInput {
    if kind == RequestKind::Host {
        i.expect_delivery_days.get_or_insert_with(|| "7".into());
        i.expiration.get_or_insert_with(|| "never".into());
    }
    i
}

/// A short fingerprint of a request's content: the UI sends the one it showed with an
/// approval, so nobody approves content they did not see (`approve` answers 409 otherwise).
pub fn content_version(payload: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(payload.as_bytes());
    hex::encode(&d[..8])
}

/// Answers rows as wire requests: creator names and login user names in one query.
async fn to_wire<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    actor: &Actor,
    acc: &Access,
    rows: Vec<rr::Model>,
) -> AppResult<Vec<ResourceRequest>> {
    let mut ids: BTreeSet<i64> = rows.iter().map(|r| r.creator_id).collect();
    let payloads: Vec<Stored> = rows.iter().map(stored).collect();
    for p in &payloads {
        ids.extend(p.input.login_users.iter().flatten().map(|u| u.id));
    }
    let names = ctx.names.names(&ctx.db, ids).await?;
    // Only a waiting request someone approved can carry the caller's approval (a rejection ends
    // the wait, an edit drops approvals with the count): most pages need no query here.
    let maybe_decided: Vec<i64> = rows
        .iter()
        .filter(|r| r.status == "wait_review" && r.approvals_count > 0)
        .map(|r| r.id)
        .collect();
    let decided: BTreeSet<i64> = if acc.approver && !maybe_decided.is_empty() {
        approval::Entity::find()
            .select_only()
            .column(approval::Column::SubjectId)
            .filter(approval::Column::SubjectType.eq("resource_request"))
            .filter(approval::Column::SubjectId.is_in(maybe_decided))
            .filter(approval::Column::ApproverId.eq(actor.id))
            .into_tuple::<i64>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    } else {
        BTreeSet::new()
    };
    // Login users' names: for approvers and those who may list users; others see ids.
    let see_names = acc.approver || may_module(ctx, actor, "system", "view_users").await;
    Ok(rows
        .into_iter()
        .zip(payloads)
        .map(|(r, p)| {
            let kind = RequestKind::parse(&r.kind).unwrap_or(RequestKind::Host);
            let mine = r.creator_id == actor.id;
            let mut actions = vec![];
            if r.status == "wait_review" {
                if mine {
                    actions.extend(["edit", "close"]);
                } else if acc.approver && !decided.contains(&r.id) {
                    actions.extend(["approve", "reject"]);
                }
            }
            if r.status == "approved" && acc.approver {
                actions.push("cancel");
                match kind {
                    RequestKind::Host if p.host_ids.is_some() => actions.push("deliver"),
                    RequestKind::Ssl => actions.push("upload"),
                    _ => {}
                }
            }
            let i = p.input;
            let (host, domain, ssl) = (
                kind == RequestKind::Host,
                kind == RequestKind::Domain,
                kind == RequestKind::Ssl,
            );
            ResourceRequest {
                id: r.id,
                kind: r.kind.clone(),
                creator: names.get(&r.creator_id).cloned().unwrap_or_default(),
                creator_id: r.creator_id,
                created_time: crate::time::fmt(&r.created_at),
                updated_time: crate::time::fmt(&r.updated_at),
                status: r.status.clone(),
                purpose: if host || ssl {
                    Some(i.purpose.unwrap_or_default())
                } else {
                    None
                },
                expect_delivery_days: if host || ssl {
                    Some(i.expect_delivery_days.unwrap_or_else(|| "7".into()))
                } else {
                    None
                },
                expiration: host.then(|| i.expiration.unwrap_or_else(|| "never".into())),
                login_users: host.then(|| {
                    i.login_users
                        .unwrap_or_default()
                        .into_iter()
                        .map(|u| UserRef {
                            id: u.id,
                            username: (see_names || u.id == actor.id)
                                .then(|| names.get(&u.id).cloned())
                                .flatten(),
                        })
                        .collect()
                }),
                shipped_packages: host.then(|| i.shipped_packages.unwrap_or_default()),
                required_hosts: host.then(|| i.required_hosts.unwrap_or_default()),
                records: domain.then(|| i.records.unwrap_or_default()),
                associated_app: (domain || ssl).then(|| i.associated_app.unwrap_or_default()),
                domain: if ssl { i.domain } else { None },
                certificate_type: if ssl { i.certificate_type } else { None },
                approvals_needed: r.approvals_needed,
                approvals_count: r.approvals_count,
                content_version: content_version(&r.payload),
                fulfilment_note: r.fulfilment_note.clone(),
                host_ids: p.host_ids,
                certificate_id: p.certificate_id,
                available_actions: actions.into_iter().map(String::from).collect(),
                decisions: None,
                timeline: None,
            }
        })
        .collect())
}

fn like(backend: sea_orm::DbBackend, column: &str, v: &str) -> Expr {
    let pattern = crate::db::contains_pattern(&v.to_lowercase());
    let p = if backend == sea_orm::DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    Expr::cust_with_values(
        format!(r#""resource_requests"."{column}" LIKE {p} ESCAPE '\'"#),
        [pattern],
    )
}

/// `GET /resource-request/{kind}/`: approvers see every request of the kind, others their own.
/// `view=mine` narrows to one's own; `view=inbox` to those waiting for the caller's decision.
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    kind: RequestKind,
    f: RequestFilter,
) -> AppResult<Page<ResourceRequest>> {
    let acc = access(ctx, actor, kind).await?;
    let backend = ctx.db.get_database_backend();
    let mut q = rr::Entity::find().filter(rr::Column::Kind.eq(kind.as_str()));
    let view = f.view.as_deref().unwrap_or("");
    if !acc.approver || view == "mine" {
        q = q.filter(rr::Column::CreatorId.eq(actor.id));
    }
    if view == "inbox" {
        if !acc.approver {
            return Ok(Page::new(0, &f.page, vec![]));
        }
        q = q
            .filter(rr::Column::Status.eq("wait_review"))
            .filter(rr::Column::CreatorId.ne(actor.id))
            .filter(not_decided_by(actor.id));
    }
    if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
        if !STATUSES.contains(&s) {
            return Err(AppError::invalid(
                "status",
                format!("one of {}", STATUSES.join(", ")),
            ));
        }
        q = q.filter(rr::Column::Status.eq(s));
    }
    if let Some(c) = f.creator.as_deref().filter(|s| !s.is_empty()) {
        let uid = crate::users::service::creator_filter_id(&ctx.db, c).await?;
        q = q.filter(rr::Column::CreatorId.eq(uid));
    }
    if let Some(s) = f.time_gt.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(rr::Column::CreatedAt.gt(crate::time::parse("time__gt", s)?));
    }
    if let Some(s) = f.time_lt.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(rr::Column::CreatedAt.lt(crate::time::parse("time__lt", s)?));
    }
    if kind == RequestKind::Ssl {
        if let Some(d) = f.domain.as_deref().filter(|s| !s.is_empty()) {
            q = q.filter(like(backend, "domain", d.trim()));
        }
        if let Some(t) = f.certificate_type.as_deref().filter(|s| !s.is_empty()) {
            q = q.filter(rr::Column::CertificateType.eq(t));
        }
    }
    // Counts without a scan where the filters allow (docs/benchmarks.md, issue 9): an
    // approver's whole kind or one status of it from `request_counts`; the inbox by `inbox_total`.
    let status = f.status.as_deref().filter(|s| !s.is_empty());
    let plain = crate::db::no_filter(&f, &["status", "view"]);
    let count = if plain && acc.approver && view != "mine" && view != "inbox" {
        known_count(&ctx.db, kind, status).await?
    } else if plain && view == "inbox" && status.is_none_or(|s| s == "wait_review") {
        inbox_total(&ctx.db, kind, actor.id).await?
    } else {
        q.clone().count(&ctx.db).await?
    };
    let rows = q
        .order_by_desc(rr::Column::Id)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    let out = to_wire(&ctx.db, ctx, actor, &acc, rows).await?;
    Ok(Page::new(count, &f.page, out))
}

/// Most login-user lookups one user makes in a minute (`login_user`).
const MAX_LOOKUPS_PER_MINUTE: u64 = 30;

/// A login user for a host request by exact username (the form's picker). Needs what filing
/// needs, not `view_users`: a requester names colleagues without being able to list or search
/// users. It confirms that an enabled account has the name, so every lookup is audited and a user
/// gets at most `MAX_LOOKUPS_PER_MINUTE` (counted in the audit log, so across processes).
pub async fn login_user(ctx: &Ctx, actor: &Actor, username: &str) -> AppResult<UserRef> {
    authorize_module(ctx, actor, MODULE, "create_resource_req").await?;
    let name = username.trim();
    let unknown = || AppError::not_found("user").with_field("username");
    if crate::common::validate::username(name).is_err() {
        return Err(unknown());
    }
    let txn = crate::db::begin(&ctx.db).await?;
    // Parallel lookups of one user wait here, so none counts before another's row is in
    // (SQLite's write transaction already serializes them).
    crate::db::advisory_lock(&txn, &format!("lookup-user\n{}", actor.id)).await?;
    let since = crate::time::now() - chrono::Duration::seconds(60);
    let recent = crate::entities::audit_log::Entity::find()
        .filter(crate::entities::audit_log::Column::OperatorId.eq(actor.id))
        .filter(crate::entities::audit_log::Column::Category.eq("request"))
        .filter(crate::entities::audit_log::Column::OpType.eq("lookup_user"))
        .filter(crate::entities::audit_log::Column::OpTime.gt(since))
        .count(&txn)
        .await?;
    if recent >= MAX_LOOKUPS_PER_MINUTE {
        return Err(AppError::new(
            crate::error::ErrorCode::TooManyRequests,
            "too many user lookups; wait a minute",
        ));
    }
    let id = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Username.eq(name))
        .filter(user::Column::Status.eq("enabled"))
        .into_tuple::<i64>()
        .one(&txn)
        .await?;
    record(
        &txn,
        actor,
        Entry::new("request", "lookup_user")
            .target("user", id, name)
            .detail(json!({ "found": id.is_some() })),
    )
    .await?;
    txn.commit().await?;
    Ok(UserRef {
        id: id.ok_or_else(unknown)?,
        username: Some(name.to_string()),
    })
}

/// How many requests of `kind` (in `status`, a valid status) there are: `request_counts`, kept
/// by triggers (migration m20261202_000004).
async fn known_count<C: ConnectionTrait>(
    db: &C,
    kind: RequestKind,
    status: Option<&str>,
) -> AppResult<u64> {
    let mut q = Query::select();
    q.expr_as(
        Expr::cust("CAST(COALESCE(SUM(n), 0) AS BIGINT)"),
        Alias::new("n"),
    )
    .from(Alias::new("request_counts"))
    .and_where(Expr::col(Alias::new("kind")).eq(kind.as_str()));
    if let Some(s) = status {
        q.and_where(Expr::col(Alias::new("status")).eq(s));
    }
    let n: i64 = match db.query_one(&q).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// How many requests of `kind` wait for `user`'s decision (the inbox), from small ranges instead
/// of a scan of every waiting request: those waiting (`request_counts`), minus the user's own,
/// minus those the user approved already. A waiting request the user decided on has
/// `approvals_count > 0`: a rejection ends the wait, an approval counts, and an edit drops the
/// approvals with the count (`approvals::service::edit`).
async fn inbox_total<C: ConnectionTrait>(db: &C, kind: RequestKind, user: i64) -> AppResult<u64> {
    Ok(inbox_totals(db, &[kind], user).await?.remove(0))
}

/// `inbox_total` of several kinds in one statement (the navigation badge asks for all three).
async fn inbox_totals<C: ConnectionTrait>(
    db: &C,
    kinds: &[RequestKind],
    user: i64,
) -> AppResult<Vec<u64>> {
    if kinds.is_empty() {
        return Ok(vec![]);
    }
    // `kind` and `user` are our own enum's names and an integer: nothing from the caller.
    let parts: Vec<String> = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let k = kind.as_str();
            format!(
                "SELECT {i} AS i, CAST(COALESCE((SELECT n FROM request_counts WHERE kind = '{k}' AND status = 'wait_review'), 0) \
                 - (SELECT COUNT(*) FROM resource_requests WHERE kind = '{k}' AND status = 'wait_review' AND creator_id = {user}) \
                 - (SELECT COUNT(*) FROM resource_requests r WHERE r.kind = '{k}' AND r.status = 'wait_review' \
                    AND r.approvals_count > 0 AND r.creator_id <> {user} AND EXISTS (SELECT 1 FROM approvals a \
                    WHERE a.subject_type = 'resource_request' AND a.subject_id = r.id AND a.approver_id = {user})) \
                 AS BIGINT) AS n"
            )
        })
        .collect();
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            backend,
            parts.join(" UNION ALL "),
        ))
        .await?;
    let mut out = vec![0u64; kinds.len()];
    for row in rows {
        let i: i32 = row.try_get("", "i")?;
        let n: i64 = row.try_get("", "n")?;
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
            *slot = u64::try_from(n).unwrap_or(0);
        }
    }
    Ok(out)
}

/// Requests the user has not decided on yet.
fn not_decided_by(user_id: i64) -> Condition {
    Condition::all().add(
        Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(approval::Entity)
                .and_where(
                    Expr::col((approval::Entity, approval::Column::SubjectType))
                        .eq("resource_request"),
                )
                .and_where(
                    Expr::col((approval::Entity, approval::Column::SubjectId))
                        .equals((Alias::new("resource_requests"), Alias::new("id"))),
                )
                .and_where(Expr::col((approval::Entity, approval::Column::ApproverId)).eq(user_id))
                .to_owned(),
        )
        .not(),
    )
}

/// `GET /resource-request/{kind}/{id}/`: the request with its decisions and timeline.
pub async fn get(
    ctx: &Ctx,
    actor: &Actor,
    kind: RequestKind,
    id: i64,
) -> AppResult<ResourceRequest> {
    let acc = access(ctx, actor, kind).await?;
    let r = load_visible(&ctx.db, actor, &acc, kind, id).await?;
    let mut w = to_wire(&ctx.db, ctx, actor, &acc, vec![r]).await?.remove(0);
    w.decisions = Some(engine::decisions(ctx, subject(id)).await?);
    w.timeline = Some(engine::timeline(&ctx.db, subject(id)).await?);
    Ok(w)
}

/// `POST /resource-request/{kind}/`: files a request (needs `create_resource_req`); mails its
/// approvers and the owners of associated applications.
pub async fn create(
    ctx: &Ctx,
    actor: &Actor,
    kind: RequestKind,
    input: RequestInput,
) -> AppResult<ResourceRequest> {
    let acc = access(ctx, actor, kind).await?;
    authorize_module(ctx, actor, MODULE, "create_resource_req").await?;
    let input = with_defaults(kind, normalize(input));
    field_errors(validate(kind, &input, true))?;
    let txn = crate::db::begin(&ctx.db).await?;
    let open = rr::Entity::find()
        .filter(rr::Column::CreatorId.eq(actor.id))
        .filter(rr::Column::Status.eq("wait_review"))
        .count(&txn)
        .await?;
    if open >= MAX_OPEN_PER_USER {
        return Err(AppError::new(
            crate::error::ErrorCode::TooManyRequests,
            format!(
                "you have {open} requests waiting for review; close some or wait for decisions"
            ),
        ));
    }
    check_refs(&txn, ctx, actor, kind, &input, Stage::Filing, None).await?;
    let now = crate::time::now();
    let payload = Stored {
        input: input.clone(),
        ..Default::default()
    };
    let row = rr::ActiveModel {
        kind: Set(kind.as_str().into()),
        creator_id: Set(actor.id),
        status: Set("wait_review".into()),
        payload: Set(serde_json::to_string(&payload).map_err(AppError::internal)?),
        domain: Set(input.domain.clone()),
        certificate_type: Set(input.certificate_type.clone()),
        approvals_needed: Set(engine::quorum(&txn, kind.as_str()).await?),
        approvals_count: Set(0),
        fulfilment_note: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    engine::event(&txn, subject(row.id), Some(actor), "filed", "").await?;
    record(
        &txn,
        actor,
        request_entry(kind, row.id, "add").detail(json!({ "after": payload.input })),
    )
    .await?;
    let mut to = notify::approvers(&txn, ctx, kind).await?;
    to.remove(&actor.id);
    notify::send(&txn, ctx, &to, kind, row.id, &actor.username, &What::Filed).await?;
    if kind != RequestKind::Host {
        let mut owners =
            notify::app_owners(&txn, input.associated_app.as_deref().unwrap_or_default()).await?;
        owners.retain(|u| *u != actor.id && !to.contains(u));
        notify::send(
            &txn,
            ctx,
            &owners,
            kind,
            row.id,
            &actor.username,
            &What::Associated,
        )
        .await?;
    }
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(to_wire(&ctx.db, ctx, actor, &acc, vec![row])
        .await?
        .remove(0))
}

/// `PATCH /resource-request/{kind}/{id}/`: the requester edits while it waits for review; the
/// fields given replace the stored ones. Approvals given to the earlier content are dropped.
pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    kind: RequestKind,
    id: i64,
    input: RequestInput,
) -> AppResult<ResourceRequest> {
    let acc = access(ctx, actor, kind).await?;
    let input = normalize(input);
    let txn = crate::db::begin(&ctx.db).await?;
    let r = load_visible(&txn, actor, &acc, kind, id).await?;
    if r.creator_id != actor.id {
        return Err(AppError::forbidden("only the requester may edit a request"));
    }
    if r.status != "wait_review" {
        return Err(engine::refused(&r.status));
    }
    let before = stored(&r);
    let mut merged = before.input.clone();
    macro_rules! take {
        ($($f:ident),*) => { $( if input.$f.is_some() { merged.$f = input.$f.clone(); } )* };
    }
    take!(
        purpose,
        expect_delivery_days,
        expiration,
        login_users,
        shipped_packages,
        required_hosts,
        records,
        associated_app,
        domain,
        certificate_type
    );
    field_errors(validate(kind, &merged, false))?;
    check_refs(&txn, ctx, actor, kind, &merged, Stage::Filing, Some(id)).await?;
    engine::edit(&txn, actor, subject(id), "").await?;
    let payload = Stored {
        input: merged.clone(),
        ..before.clone()
    };
    rr::Entity::update_many()
        .col_expr(
            rr::Column::Payload,
            Expr::value(serde_json::to_string(&payload).map_err(AppError::internal)?),
        )
        .col_expr(rr::Column::Domain, Expr::value(merged.domain.clone()))
        .col_expr(
            rr::Column::CertificateType,
            Expr::value(merged.certificate_type.clone()),
        )
        .filter(rr::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    record(
        &txn,
        actor,
        request_entry(kind, id, "update").change(json!(before.input), json!(merged)),
    )
    .await?;
    txn.commit().await?;
    get(ctx, actor, kind, id).await
}

/// `POST …/{id}/actions/approve/`: one approval (no self-approval; 30001 when already
/// approved, 30002 when closed, rejected or finished). The approval that completes the quorum
/// re-checks the request against the current state (host names free, records fit their zones)
/// and queues its fulfilment; a domain request's records are written then, `pending`.
pub async fn approve(
    ctx: &Ctx,
    actor: &Actor,
    kind: RequestKind,
    id: i64,
    input: ApproveInput,
) -> AppResult<Message> {
    require_approver(ctx, actor, kind).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let acc = Access { approver: true };
    load_visible(&txn, actor, &acc, kind, id).await?;
    let done = engine::approve(&txn, actor, subject(id)).await?;
    // Read the content only now: the approval's write holds the row, so no edit slips in
    // between what is checked here and what is fulfilled.
    let r = load_visible(&txn, actor, &acc, kind, id).await?;
    if let Some(v) = input.content_version.as_deref().filter(|v| !v.is_empty()) {
        if v != content_version(&r.payload) {
            return Err(AppError::conflict(
                "the request was edited since you opened it; review it again",
            ));
        }
    }
    let p = stored(&r);
    if done {
        check_refs(
            &txn,
            ctx,
            &requester(&txn, r.creator_id).await?,
            kind,
            &p.input,
            Stage::Approval,
            Some(id),
        )
        .await
        .map_err(|e| {
            AppError::invalid(
                e.field.as_deref().unwrap_or("request"),
                format!("the request no longer fits: {}", e.message),
            )
        })?;
        if kind == RequestKind::Domain {
            let resolved =
                crate::dns::service::requested::check(&txn, &dns_inputs(&p.input)).await?;
            crate::dns::service::requested::insert(&txn, actor, id, &resolved).await?;
        }
        crate::jobs::enqueue(&txn, "fulfil", &json!({ "request_id": id })).await?;
        let who = user_name(&txn, r.creator_id).await?;
        notify::send(
            &txn,
            ctx,
            &BTreeSet::from([r.creator_id]),
            kind,
            id,
            &who,
            &What::Approved,
        )
        .await?;
    }
    record(
        &txn,
        actor,
        request_entry(kind, id, "approve").detail(
            json!({ "quorum_reached": done, "content_version": content_version(&r.payload) }),
        ),
    )
    .await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(Message::success())
}

/// `POST …/{id}/actions/reject/`: rejects with an optional reason (the UI requires one).
pub async fn reject(
    ctx: &Ctx,
    actor: &Actor,
    kind: RequestKind,
    id: i64,
    input: RejectInput,
) -> AppResult<Message> {
    require_approver(ctx, actor, kind).await?;
    let reason = input.reason.unwrap_or_default();
    let txn = crate::db::begin(&ctx.db).await?;
    let r = load_visible(&txn, actor, &Access { approver: true }, kind, id).await?;
    engine::reject(&txn, actor, subject(id), &reason).await?;
    with_reason(
        &txn,
        ctx,
        actor,
        kind,
        &r,
        "reject",
        &reason,
        What::Rejected,
    )
    .await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(Message::success())
}

/// `POST …/{id}/actions/close/`: the requester withdraws the request while it waits for review.
pub async fn close(ctx: &Ctx, actor: &Actor, kind: RequestKind, id: i64) -> AppResult<Message> {
    let acc = access(ctx, actor, kind).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    load_visible(&txn, actor, &acc, kind, id).await?;
    engine::close(&txn, actor, subject(id)).await?;
    record(&txn, actor, request_entry(kind, id, "close")).await?;
    txn.commit().await?;
    Ok(Message::success())
}

/// `POST /resource-request/hosts/{id}/actions/deliver/`: an approver marks the registered hosts
/// delivered, which finishes the request.
pub async fn deliver(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    let kind = RequestKind::Host;
    require_approver(ctx, actor, kind).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let r = load_visible(&txn, actor, &Access { approver: true }, kind, id).await?;
    let p = stored(&r);
    if r.status != "approved" {
        return Err(engine::refused_for_fulfilment(&r.status));
    }
    let Some(hosts) = p.host_ids.clone() else {
        return Err(AppError::conflict(
            "the hosts are not registered yet; try again shortly",
        ));
    };
    let detail = format!("delivered hosts {hosts:?}");
    operator_finish(
        &txn,
        ctx,
        actor,
        &r,
        "deliver",
        detail,
        json!({ "host_ids": hosts }),
    )
    .await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(Message::success())
}

/// `POST /resource-request/ssl-certificates/{id}/actions/upload/`: an approver finishes an
/// approved SSL request with a certificate issued elsewhere.
pub async fn upload(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    input: CertificateUpload,
) -> AppResult<Message> {
    let kind = RequestKind::Ssl;
    require_approver(ctx, actor, kind).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let r = load_visible(&txn, actor, &Access { approver: true }, kind, id).await?;
    if r.status != "approved" {
        return Err(engine::refused_for_fulfilment(&r.status));
    }
    let cert = crate::certs::service::store_uploaded(
        &txn,
        ctx,
        actor,
        Some(&r),
        crate::certs::types::CertUpload {
            cert_pem: input.cert_pem,
            chain_pem: input.chain_pem,
            key_pem: input.key_pem,
            associated_app: None,
        },
    )
    .await?;
    set_payload(&txn, &r, |p| p.certificate_id = Some(cert)).await?;
    let detail = format!("uploaded certificate #{cert}");
    operator_finish(
        &txn,
        ctx,
        actor,
        &r,
        "upload",
        detail,
        json!({ "certificate_id": cert }),
    )
    .await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(Message::success())
}

/// The audit record of an operation on a request (`category` request, target `<kind>_request`).
fn request_entry(kind: RequestKind, id: i64, op: &str) -> Entry {
    Entry::new("request", op).target(
        &format!("{}_request", kind.as_str()),
        Some(id),
        format!("#{id}"),
    )
}

/// An approver's fulfilment action (deliver, upload) finishes the approved request: refused with
/// the request's status when another finished it first; audited in the same transaction.
async fn operator_finish<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx,
    actor: &Actor,
    r: &rr::Model,
    op: &str,
    detail: String,
    audit: serde_json::Value,
) -> AppResult<()> {
    if !finish(txn, ctx, Some(actor), r, detail).await? {
        return Err(engine::refused(&status_of(txn, r.id).await?));
    }
    let kind = RequestKind::parse(&r.kind).unwrap_or(RequestKind::Host);
    record(txn, actor, request_entry(kind, r.id, op).detail(audit)).await
}

/// The audit record and the requester's mail of a decision that carries a reason.
#[allow(clippy::too_many_arguments)]
async fn with_reason<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx,
    actor: &Actor,
    kind: RequestKind,
    r: &rr::Model,
    op: &str,
    reason: &str,
    what: fn(String) -> What,
) -> AppResult<()> {
    let reason = reason.trim();
    record(
        txn,
        actor,
        request_entry(kind, r.id, op).detail(json!({ "reason": reason })),
    )
    .await?;
    let who = user_name(txn, r.creator_id).await?;
    let why = if reason.is_empty() {
        "-".to_string()
    } else {
        reason.to_string()
    };
    let to = BTreeSet::from([r.creator_id]);
    notify::send(txn, ctx, &to, kind, r.id, &who, &what(why)).await
}

async fn status_of<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<String> {
    Ok(engine::state(db, subject(id)).await?.status)
}

async fn user_name<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<String> {
    Ok(user::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|u| u.username)
        .unwrap_or_default())
}

/// The requester as an actor (fulfilment grants them what they asked for).
async fn requester<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<Actor> {
    Ok(Actor {
        id,
        username: user_name(db, id).await?,
        ..Actor::system()
    })
}

async fn set_payload<C: ConnectionTrait>(
    db: &C,
    r: &rr::Model,
    f: impl FnOnce(&mut Stored),
) -> AppResult<()> {
    let mut p = stored(r);
    f(&mut p);
    rr::Entity::update_many()
        .col_expr(
            rr::Column::Payload,
            Expr::value(serde_json::to_string(&p).map_err(AppError::internal)?),
        )
        .filter(rr::Column::Id.eq(r.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Finishes an approved request (audited as `actor`, or the system), clears its note and mails
/// the requester. Answers false when it was not `approved` any more.
async fn finish<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    actor: Option<&Actor>,
    r: &rr::Model,
    detail: String,
) -> AppResult<bool> {
    if !engine::finish(db, actor, subject(r.id), detail.clone()).await? {
        return Ok(false);
    }
    rr::Entity::update_many()
        .col_expr(
            rr::Column::FulfilmentNote,
            Expr::value(Option::<String>::None),
        )
        .filter(rr::Column::Id.eq(r.id))
        .exec(db)
        .await?;
    let kind = RequestKind::parse(&r.kind).unwrap_or(RequestKind::Host);
    let system = Actor::system();
    record(
        db,
        actor.unwrap_or(&system),
        request_entry(kind, r.id, "finish").detail(json!({ "detail": detail })),
    )
    .await?;
    let who = user_name(db, r.creator_id).await?;
    notify::send(
        db,
        ctx,
        &BTreeSet::from([r.creator_id]),
        kind,
        r.id,
        &who,
        &What::Fulfilled(detail),
    )
    .await?;
    Ok(true)
}

/// Why a fulfilment attempt failed, in words fit for the requester (details go to the log).
enum Failure {
    /// Worth another attempt (a server down, a database hiccup): the job retries.
    Retry(String),
    /// Needs a person (a host name taken since the approval, a name the CA may not sign): the
    /// job stops; an approver cancels the request or removes the cause and files anew.
    Stop(String),
}

/// A fault of ours: logged once with the request, shown as a generic reason.
fn internal(request: i64, e: impl std::fmt::Display) -> Failure {
    tracing::error!(request, error = %e, "fulfilment");
    Failure::Retry("internal error (logged); retrying".into())
}

/// An error from a service: bad input or a conflict stops; the rest is retried.
fn from_app(request: i64, e: AppError) -> Failure {
    use crate::error::ErrorCode as C;
    match e.code {
        C::Validation | C::Conflict | C::NotFound => Failure::Stop(e.message),
        C::Internal => Failure::Retry("internal error (logged); retrying".into()),
        _ => {
            tracing::warn!(request, error = %e.message, "fulfilment");
            Failure::Retry(e.message)
        }
    }
}

/// The `fulfil` job: makes an approved request real. A failure worth retrying keeps the request
/// `approved` with "fulfilment pending: …" (the runner retries, backoff capped at 5 minutes);
/// one that needs a person says "fulfilment failed: …" and the job ends. The requester is mailed
/// when a reason first appears.
pub async fn fulfil(ctx: &Ctx, id: i64) -> Result<(), String> {
    let r = rr::Entity::find_by_id(id)
        .one(&ctx.db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("request gone")?;
    if r.status != "approved" {
        return Ok(());
    }
    let kind = RequestKind::parse(&r.kind).ok_or("unknown request kind")?;
    let result = match kind {
        RequestKind::Host => fulfil_hosts(ctx, &r).await,
        RequestKind::Domain => fulfil_domain(ctx, &r).await,
        RequestKind::Ssl => fulfil_ssl(ctx, &r).await,
    };
    let (note, retry) = match result {
        Ok(()) => return Ok(()),
        Err(Failure::Retry(reason)) => (format!("fulfilment pending: {reason}"), Some(reason)),
        Err(Failure::Stop(reason)) => (
            format!("fulfilment failed: {reason}; an approver may cancel the request"),
            None,
        ),
    };
    if let Err(e) = pending(ctx, &r, kind, &note).await {
        tracing::error!(request = id, error = %e, "recording a fulfilment failure");
    }
    match retry {
        Some(reason) => Err(reason),
        None => Ok(()),
    }
}

/// Shows `note` on the request; when it is new, adds a `fulfilment_failed` event and, the first
/// time, mails the requester.
async fn pending(ctx: &Ctx, r: &rr::Model, kind: RequestKind, note: &str) -> AppResult<()> {
    let txn = crate::db::begin(&ctx.db).await?;
    let now = rr::Entity::find_by_id(r.id).one(&txn).await?;
    let Some(now) = now.filter(|n| n.status == "approved") else {
        return Ok(());
    };
    if now.fulfilment_note.as_deref() == Some(note) {
        return Ok(());
    }
    let first = now
        .fulfilment_note
        .as_deref()
        .is_none_or(|n| !n.starts_with("fulfilment "));
    rr::Entity::update_many()
        .col_expr(
            rr::Column::FulfilmentNote,
            Expr::value(Some(note.to_string())),
        )
        .filter(rr::Column::Id.eq(r.id))
        .filter(rr::Column::Status.eq("approved"))
        .exec(&txn)
        .await?;
    engine::event(&txn, subject(r.id), None, "fulfilment_failed", note).await?;
    if first {
        let who = user_name(&txn, r.creator_id).await?;
        notify::send(
            &txn,
            ctx,
            &BTreeSet::from([r.creator_id]),
            kind,
            r.id,
            &who,
            &What::FulfilmentFailed(note.to_string()),
        )
        .await?;
    }
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(())
}

/// Registers the requested hosts (`raw`) once; the requester gets every host permission on
/// them (as their creator), the login users `view_host` and `login_host`; every grant is
/// audited. The request then waits for an approver to mark the hosts delivered.
async fn fulfil_hosts(ctx: &Ctx, r: &rr::Model) -> Result<(), Failure> {
    let id = r.id;
    let txn = crate::db::begin(&ctx.db)
        .await
        .map_err(|e| internal(id, e))?;
    // Another runner may have registered them meanwhile: re-read under the write lock.
    let Some(r) = rr::Entity::find_by_id(id)
        .one(&txn)
        .await
        .map_err(|e| internal(id, e))?
    else {
        return Ok(());
    };
    let p = stored(&r);
    if r.status != "approved" || p.host_ids.is_some() {
        return Ok(());
    }
    let owner = requester(&txn, r.creator_id)
        .await
        .map_err(|e| from_app(id, e))?;
    let system = Actor::system();
    let logins: Vec<(i64, String)> = {
        let ids: Vec<i64> = p
            .input
            .login_users
            .iter()
            .flatten()
            .map(|u| u.id)
            .filter(|u| *u != owner.id)
            .collect();
        user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .all(&txn)
            .await
            .map_err(|e| internal(id, e))?
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect()
    };
    let mut ids = vec![];
    let mut rules = vec![];
    let purpose = p.input.purpose.clone().unwrap_or_default();
    for h in p.input.required_hosts.iter().flatten() {
        let w = crate::hosts::service::insert_in(
            &txn,
            ctx,
            &owner,
            crate::hosts::types::HostInput {
                name: Some(h.name.clone()),
                host_type: (!h.host_type.is_empty()).then(|| h.host_type.clone()),
                status: Some("raw".into()),
                os_type: (!h.os.is_empty()).then(|| h.os.clone()),
                cpu: Some(h.specs.cpu_core),
                memory: Some(h.specs.mem),
                description: Some(format!("request #{id}: {purpose}")),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| {
            from_app(
                id,
                AppError {
                    message: format!("host {}: {}", h.name, e.message),
                    ..e
                },
            )
        })?;
        let (hid, hname) = (w.host.id, w.host.hostname.clone());
        record(
            &txn,
            &system,
            Entry::new("host", "add")
                .target("host", Some(hid), &hname)
                .change(w.before, w.after)
                .detail(json!({ "request_id": id })),
        )
        .await
        .map_err(|e| from_app(id, e))?;
        let mut granted: Vec<(i64, String, &str)> = crate::perms::types::HOST_PERMS
            .iter()
            .map(|p| (owner.id, owner.username.clone(), *p))
            .collect();
        rules.extend(w.rules);
        for (uid, uname) in &logins {
            rules.extend(
                crate::perms::service::grant_user(
                    &txn,
                    &system,
                    *uid,
                    ResourceType::Host,
                    hid,
                    &["view_host", "login_host"],
                )
                .await
                .map_err(|e| from_app(id, e))?,
            );
            granted.push((*uid, uname.clone(), "view_host"));
            granted.push((*uid, uname.clone(), "login_host"));
        }
        for (_, uname, perm) in granted {
            record(
                &txn,
                &system,
                Entry::new("resource_perm", "grant")
                    .target("host", Some(hid), &hname)
                    .grant(perm, true, "user", &uname)
                    .detail(json!({ "request_id": id })),
            )
            .await
            .map_err(|e| from_app(id, e))?;
        }
        ids.push(hid);
    }
    set_payload(&txn, &r, |p| p.host_ids = Some(ids.clone()))
        .await
        .map_err(|e| from_app(id, e))?;
    rr::Entity::update_many()
        .col_expr(
            rr::Column::FulfilmentNote,
            Expr::value(Some("hosts registered; waiting for delivery".to_string())),
        )
        .filter(rr::Column::Id.eq(id))
        .exec(&txn)
        .await
        .map_err(|e| internal(id, e))?;
    engine::event(
        &txn,
        subject(id),
        None,
        "fulfilled",
        format!("registered hosts {ids:?}"),
    )
    .await
    .map_err(|e| from_app(id, e))?;
    txn.commit().await.map_err(|e| internal(id, e))?;
    crate::perms::service::catalog_changed(ResourceType::Host);
    crate::perms::casbin::apply(&mut *ctx.enforcer.write().await, rules, vec![])
        .await
        .map_err(|e| internal(id, e))?;
    Ok(())
}

/// Pushes the zones holding the request's records; finishes once the servers have them all.
async fn fulfil_domain(ctx: &Ctx, r: &rr::Model) -> Result<(), Failure> {
    use crate::dns::service::requested;
    use crate::entities::dns_record;
    let id = r.id;
    let zones: BTreeSet<i64> = dns_record::Entity::find()
        .filter(dns_record::Column::RequestId.eq(id))
        .all(&ctx.db)
        .await
        .map_err(|e| internal(id, e))?
        .into_iter()
        .map(|x| x.domain_id)
        .collect();
    for z in zones {
        if let Err(e) = requested::push_zone(ctx, z).await {
            // The server's own words stay in the log and on the zone (DNS module).
            tracing::warn!(request = id, zone = z, error = %e, "fulfilment: DNS push");
            return Err(Failure::Retry(
                "the DNS server has not taken the records yet".into(),
            ));
        }
    }
    if !requested::request_synced(&ctx.db, id)
        .await
        .map_err(|e| from_app(id, e))?
    {
        return Err(Failure::Retry(
            "the DNS server has not taken the records yet".into(),
        ));
    }
    let txn = crate::db::begin(&ctx.db)
        .await
        .map_err(|e| internal(id, e))?;
    let n = stored(r).input.records.map(|r| r.len()).unwrap_or(0);
    finish(
        &txn,
        ctx,
        None,
        r,
        format!("{n} record(s) served by the DNS server"),
    )
    .await
    .map_err(|e| from_app(id, e))?;
    txn.commit().await.map_err(|e| internal(id, e))?;
    ctx.jobs_notify.notify_one();
    Ok(())
}

/// Issues the certificate from Opsdeck's CA (once) and finishes the request.
async fn fulfil_ssl(ctx: &Ctx, r: &rr::Model) -> Result<(), Failure> {
    let id = r.id;
    let cert = crate::certs::service::issue_for_request(ctx, r)
        .await
        .map_err(|e| from_app(id, e))?;
    let txn = crate::db::begin(&ctx.db)
        .await
        .map_err(|e| internal(id, e))?;
    let Some(now) = rr::Entity::find_by_id(id)
        .one(&txn)
        .await
        .map_err(|e| internal(id, e))?
    else {
        return Ok(());
    };
    set_payload(&txn, &now, |p| p.certificate_id = Some(cert))
        .await
        .map_err(|e| from_app(id, e))?;
    finish(&txn, ctx, None, &now, format!("certificate #{cert} issued"))
        .await
        .map_err(|e| from_app(id, e))?;
    txn.commit().await.map_err(|e| internal(id, e))?;
    ctx.jobs_notify.notify_one();
    Ok(())
}

/// `POST …/{id}/actions/cancel/`: an approver gives up an approved request whose fulfilment
/// cannot finish (status `closed`, with the reason). What fulfilment already made stays: hosts
/// registered in the CMDB, records written to their zone (the DNS module manages them).
pub async fn cancel(
    ctx: &Ctx,
    actor: &Actor,
    kind: RequestKind,
    id: i64,
    input: CancelInput,
) -> AppResult<Message> {
    require_approver(ctx, actor, kind).await?;
    let reason = input.reason.unwrap_or_default();
    crate::approvals::types::validate_reason(&reason, false)
        .map_err(|m| AppError::invalid("reason", m))?;
    let txn = crate::db::begin(&ctx.db).await?;
    let r = load_visible(&txn, actor, &Access { approver: true }, kind, id).await?;
    engine::cancel(&txn, actor, subject(id), reason.trim()).await?;
    with_reason(
        &txn,
        ctx,
        actor,
        kind,
        &r,
        "cancel",
        &reason,
        What::Cancelled,
    )
    .await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(Message::success())
}

/// `GET /resource-request/inbox/`: how many requests wait for the caller's decision, per kind
/// (the navigation badge). Kinds the caller does not approve count 0.
pub async fn inbox_count(ctx: &Ctx, actor: &Actor) -> AppResult<InboxCount> {
    actor.require()?;
    let mut kinds = vec![];
    for kind in RequestKind::ALL {
        if may_module(ctx, actor, MODULE, kind.approve_perm()).await {
            kinds.push(kind);
        }
    }
    let mut out = InboxCount::default();
    for (kind, n) in kinds
        .iter()
        .zip(inbox_totals(&ctx.db, &kinds, actor.id).await?)
    {
        match kind {
            RequestKind::Host => out.host = n,
            RequestKind::Domain => out.domain = n,
            RequestKind::Ssl => out.ssl = n,
        }
        out.total += n;
    }
    Ok(out)
}

async fn require_superuser(ctx: &Ctx, actor: &Actor) -> AppResult<()> {
    actor.require()?;
    if crate::perms::service::is_superuser(ctx, actor.id).await {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only a superuser changes approval settings",
        ))
    }
}

/// `GET /resource-request/settings/`: approvals each kind needs (superusers).
pub async fn settings(ctx: &Ctx, actor: &Actor) -> AppResult<RequestSettings> {
    require_superuser(ctx, actor).await?;
    Ok(RequestSettings {
        host_quorum: Some(engine::quorum(&ctx.db, "host").await?),
        domain_quorum: Some(engine::quorum(&ctx.db, "domain").await?),
        ssl_quorum: Some(engine::quorum(&ctx.db, "ssl").await?),
    })
}

/// `PATCH /resource-request/settings/`: sets the quorum of kinds (1 or 2; for requests filed
/// afterwards).
pub async fn set_settings(
    ctx: &Ctx,
    actor: &Actor,
    input: RequestSettings,
) -> AppResult<RequestSettings> {
    require_superuser(ctx, actor).await?;
    let before = settings(ctx, actor).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    for (kind, v) in [
        ("host", input.host_quorum),
        ("domain", input.domain_quorum),
        ("ssl", input.ssl_quorum),
    ] {
        if let Some(n) = v {
            engine::set_quorum(&txn, kind, n)
                .await
                .map_err(|e| e.with_field(&format!("{kind}_quorum")))?;
        }
    }
    record(
        &txn,
        actor,
        Entry::new("request", "settings").change(json!(before), json!(input)),
    )
    .await?;
    txn.commit().await?;
    settings(ctx, actor).await
}

/// After host init: an approved host request whose registered hosts are all inited (or in use)
/// is finished, as if an operator had delivered them ("fulfilled by init"). Runs in the
/// transaction that records the init result.
pub(crate) async fn hosts_inited<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx,
    host_id: i64,
) -> AppResult<()> {
    let waiting = rr::Entity::find()
        .filter(rr::Column::Kind.eq(RequestKind::Host.as_str()))
        .filter(rr::Column::Status.eq("approved"))
        .all(txn)
        .await?;
    for r in waiting {
        let Some(ids) = stored(&r).host_ids else {
            continue;
        };
        if !ids.contains(&host_id) {
            continue;
        }
        // Only hosts a host_init task finished on count (not a status set by hand); a deleted
        // host never does.
        let inits = Query::select()
            .column(crate::entities::run::Column::Id)
            .from(crate::entities::run::Entity)
            .and_where(crate::entities::run::Column::Kind.eq(crate::exec::init::HOST_INIT))
            .to_owned();
        let done: Vec<i64> = crate::entities::run_target::Entity::find()
            .select_only()
            .column(crate::entities::run_target::Column::HostId)
            .distinct()
            .filter(crate::entities::run_target::Column::HostId.is_in(ids.clone()))
            .filter(crate::entities::run_target::Column::Status.eq("finished"))
            .filter(crate::entities::run_target::Column::RunId.in_subquery(inits))
            .into_tuple()
            .all(txn)
            .await?;
        if ids.iter().all(|i| done.contains(i)) {
            finish(
                txn,
                ctx,
                None,
                &r,
                format!("fulfilled by init: hosts {ids:?}"),
            )
            .await?;
        }
    }
    Ok(())
}
