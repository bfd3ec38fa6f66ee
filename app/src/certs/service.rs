//! Certificates: Opsdeck's CA, certificates issued for SSL certificate requests or uploaded by
//! operators, who sees and downloads what, and the expiry mail.
//!
//! Who sees a certificate: its owner (the requester or uploader), the owners of its associated
//! applications, holders of `resource_request.approve_ssl_cert_req`, and superusers. Anyone else
//! is answered as if it did not exist (404, and lists count none). The private key goes only to
//! its key holders (`certificate_key_holders`: the owner and the owners of the associated
//! applications when it was issued or uploaded, fixed then) who still see it, and to superusers.
//! An application owner added later (anyone with `edit_app` may add themselves) sees the
//! certificate but never takes its key; approvers issue and upload, they do not take keys.
//! Every download is audited (category `cert`, op_type `download`).
//!
//! The CA: an operator-provided one (`OPSDECK_CA_CERT`/`OPSDECK_CA_KEY`, read on each use), or
//! the one Opsdeck generates on first use: one active row of `cert_authorities` (a partial unique
//! index; concurrent first uses create one, the others read it), its key encrypted, with name
//! constraints for `OPSDECK_CA_PERMITTED_DOMAINS` when set. A CA that cannot be used (files
//! unreadable, a key that is not its certificate's, expired) is logged in detail and answered
//! with a generic 503: paths and OS errors are for operators, not for every signed-in user.
use super::ca::{self, KeyedCert};
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::Page;
use crate::crypto::Keyring;
use crate::ctx::{Actor, Ctx};
use crate::entities::{
    application, application_owner, cert_authority, certificate, resource_request, user,
};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::perms::service::{authorize_module, holds_resource, is_superuser, may_module};
use crate::perms::types::ResourceType;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};

const CA_KEY_CONTEXT: &str = "cert_authorities.key_enc";
const CERT_KEY_CONTEXT: &str = "certificates.key_enc";
const MODULE: &str = "resource_request";
const APPROVER: &str = "approve_ssl_cert_req";
/// Days before expiry the notices go out (the latest first in `expiry_notice` terms).
const NOTICE_DAYS: [i32; 2] = [30, 7];

/// What users are told when the CA cannot be used (the detail goes to the log only).
pub const CA_UNUSABLE: &str =
    "the certificate authority is not usable; an operator must fix its configuration";

/// Logs `detail` (once, here) and answers the generic 503.
fn ca_unavailable(detail: impl Into<String>) -> AppError {
    let detail = detail.into();
    tracing::error!(error = %detail, "certificate authority not usable");
    AppError::new(ErrorCode::Unavailable, CA_UNUSABLE)
}

// ---------------------------------------------------------------- the CA

/// The operator's CA from `OPSDECK_CA_CERT`/`OPSDECK_CA_KEY`, checked: readable, a CA, not
/// expired, and the key is the certificate's. `None` when neither is set.
pub fn provided_ca(config: &crate::ctx::Config) -> AppResult<Option<KeyedCert>> {
    let (cert_path, key_path) = match (&config.ca_cert_path, &config.ca_key_path) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => {
            return Err(ca_unavailable(
                "OPSDECK_CA_CERT and OPSDECK_CA_KEY go together: set both or neither",
            ))
        }
    };
    let read = |var: &str, p: &str| {
        std::fs::read_to_string(p).map_err(|e| ca_unavailable(format!("{var} ({p}): {e}")))
    };
    let cert_pem = read("OPSDECK_CA_CERT", cert_path)?;
    let key_pem = read("OPSDECK_CA_KEY", key_path)?;
    let ders = ca::cert_ders(&cert_pem)
        .map_err(|e| ca_unavailable(format!("OPSDECK_CA_CERT ({cert_path}): {e}")))?;
    let info = ca::describe(&ders[0])
        .map_err(|e| ca_unavailable(format!("OPSDECK_CA_CERT ({cert_path}): {e}")))?;
    if !info.is_ca {
        return Err(ca_unavailable(format!(
            "OPSDECK_CA_CERT ({cert_path}) is not a CA certificate (no basicConstraints CA:TRUE)"
        )));
    }
    if info.not_after <= crate::time::now() {
        return Err(ca_unavailable(format!(
            "OPSDECK_CA_CERT ({cert_path}) expired on {}",
            crate::time::fmt(&info.not_after)
        )));
    }
    let key = ca::load_key(&key_pem)
        .map_err(|e| ca_unavailable(format!("OPSDECK_CA_KEY ({key_path}): {e}")))?;
    if !ca::key_matches(&key, &ders[0]).map_err(ca_unavailable)? {
        return Err(ca_unavailable(format!(
            "OPSDECK_CA_KEY ({key_path}) is not the private key of OPSDECK_CA_CERT ({cert_path}): refusing to issue"
        )));
    }
    Ok(Some(KeyedCert { cert_pem, key_pem }))
}

async fn active_row<C: ConnectionTrait>(db: &C) -> AppResult<Option<cert_authority::Model>> {
    Ok(cert_authority::Entity::find()
        .filter(cert_authority::Column::Active.eq(true))
        .one(db)
        .await?)
}

/// The CA Opsdeck issues from: the operator's, or the generated one (created on first use).
pub(crate) async fn active_ca(ctx: &Ctx) -> AppResult<KeyedCert> {
    if let Some(ca) = provided_ca(&ctx.config)? {
        return Ok(ca);
    }
    let keys = Keyring::from_config(&ctx.config)?;
    let row = match active_row(&ctx.db).await? {
        Some(r) => r,
        None => create_ca(ctx, &keys).await?,
    };
    Ok(KeyedCert {
        key_pem: keys.decrypt(&row.key_enc, CA_KEY_CONTEXT)?,
        cert_pem: row.cert_pem,
    })
}

/// Generates and stores the CA, unless another caller got there first (then answers theirs).
async fn create_ca(ctx: &Ctx, keys: &Keyring) -> AppResult<cert_authority::Model> {
    let generated = ca::generate_ca(crate::time::now(), &ctx.config.ca_permitted_domains)
        .map_err(AppError::internal)?;
    let key_enc = keys.encrypt(&generated.key_pem, CA_KEY_CONTEXT)?;
    let attempt = async {
        let txn = crate::db::begin(&ctx.db).await?;
        if let Some(r) = active_row(&txn).await? {
            return Ok::<_, AppError>(r);
        }
        let row = cert_authority::ActiveModel {
            cert_pem: Set(generated.cert_pem.clone()),
            key_enc: Set(key_enc),
            source: Set("generated".into()),
            active: Set(true),
            created_at: Set(crate::time::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let info = ca::parse_one(&row.cert_pem).unwrap_or_else(|_| dummy_info());
        record(
            &txn,
            &Actor::system(),
            Entry::new("cert", "ca_create")
                .target("cert_authority", Some(row.id), ca::CA_COMMON_NAME)
                .detail(json!({
                    "serial": info.serial,
                    "not_after": crate::time::fmt(&info.not_after),
                    "permitted_domains": ctx.config.ca_permitted_domains,
                })),
        )
        .await?;
        txn.commit().await?;
        tracing::info!(serial = %info.serial, "generated Opsdeck's certificate authority");
        Ok(row)
    };
    match attempt.await {
        Ok(r) => Ok(r),
        // Another caller's CA won the unique index (PostgreSQL; SQLite's `BEGIN IMMEDIATE`
        // already made this one wait and find it).
        Err(e) if e.code == ErrorCode::Conflict => active_row(&ctx.db).await?.ok_or(e),
        Err(e) => Err(e),
    }
}

fn dummy_info() -> ca::CertInfo {
    ca::CertInfo {
        names: vec![],
        common_name: None,
        not_before: DateTime::<Utc>::MIN_UTC,
        not_after: DateTime::<Utc>::MIN_UTC,
        serial: String::new(),
        issuer: String::new(),
        subject: String::new(),
        is_ca: false,
        self_signed: false,
    }
}

/// `GET /certificates/ca/`: the CA certificate (PEM) to install as trusted, for anyone signed in.
pub async fn ca_certificate(ctx: &Ctx, actor: &Actor) -> AppResult<PemFile> {
    actor.require()?;
    let ca = active_ca(ctx).await?;
    Ok(PemFile {
        filename: "opsdeck-ca.crt".into(),
        body: ca.cert_pem,
    })
}

// ---------------------------------------------------------------- names and requests

/// The names a certificate for `domain` of `certificate_type` carries (`wizard`: `*.domain` and
/// `domain`; `normal`: `domain`); a bad domain is a 400 on `domain`. Request validation uses it.
pub fn requested_names(domain: &str, certificate_type: &str) -> AppResult<Vec<String>> {
    ca::names_for(domain, certificate_type).map_err(|m| {
        let field = if m.contains("certificate_type") {
            "certificate_type"
        } else {
            "domain"
        };
        AppError::invalid(field, m)
    })
}

/// An SSL request's fields: (domain, certificate_type, associated application ids).
fn request_fields(r: &resource_request::Model) -> AppResult<(String, String, Vec<i64>)> {
    if r.kind != "ssl" {
        return Err(AppError::bad_request(format!(
            "request {} is a {} request, not an SSL certificate request",
            r.id, r.kind
        )));
    }
    let v: Value = serde_json::from_str(&r.payload).unwrap_or_else(|_| json!({}));
    let domain = v["domain"]
        .as_str()
        .map(str::to_string)
        .or_else(|| r.domain.clone())
        .ok_or_else(|| AppError::invalid("domain", "the request names no domain"))?;
    let ctype = v["certificate_type"]
        .as_str()
        .map(str::to_string)
        .or_else(|| r.certificate_type.clone())
        .unwrap_or_else(|| "normal".into());
    let mut apps = vec![];
    for key in ["associate_app", "associated_app"] {
        if let Some(a) = v[key].as_array() {
            for x in a {
                let id = x
                    .as_i64()
                    .or_else(|| x.as_str().and_then(|s| s.trim().parse().ok()))
                    .or_else(|| x["id"].as_i64());
                if let Some(id) = id {
                    if !apps.contains(&id) {
                        apps.push(id);
                    }
                }
            }
        }
    }
    Ok((domain, ctype, apps))
}

/// The ids of `ids` that are applications.
async fn existing_apps<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let found: HashSet<i64> = application::Entity::find()
        .select_only()
        .column(application::Column::Id)
        .filter(application::Column::Id.is_in(ids.to_vec()))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(ids.iter().copied().filter(|i| found.contains(i)).collect())
}

/// What a new certificate row holds.
struct NewCert {
    request_id: Option<i64>,
    domain: String,
    certificate_type: String,
    info: ca::CertInfo,
    cert_pem: String,
    chain_pem: String,
    key_enc: Option<String>,
    source: &'static str,
    app_ids: Vec<i64>,
    owner_id: i64,
}

/// Inserts the certificate, its application rows and its audit record on `txn`.
async fn insert_cert<C: ConnectionTrait>(txn: &C, actor: &Actor, n: NewCert) -> AppResult<i64> {
    let row = certificate::ActiveModel {
        request_id: Set(n.request_id),
        domain: Set(n.domain.clone()),
        names: Set(json!(n.info.names).to_string()),
        certificate_type: Set(n.certificate_type.clone()),
        serial: Set(n.info.serial.clone()),
        issuer: Set(n.info.issuer.clone()),
        not_before: Set(n.info.not_before),
        not_after: Set(n.info.not_after),
        cert_pem: Set(n.cert_pem),
        chain_pem: Set(n.chain_pem),
        key_enc: Set(n.key_enc.clone()),
        source: Set(n.source.into()),
        app_ids: Set(json!(n.app_ids).to_string()),
        owner_id: Set(n.owner_id),
        expiry_notice: Set(0),
        created_at: Set(crate::time::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    if !n.app_ids.is_empty() {
        let mut q = Query::insert();
        q.into_table(Alias::new("certificate_apps"))
            .columns([Alias::new("certificate_id"), Alias::new("app_id")]);
        for a in &n.app_ids {
            q.values_panic([row.id.into(), (*a).into()]);
        }
        txn.execute(&q).await?;
    }
    let holders = key_holders(txn, n.owner_id, &n.app_ids).await?;
    let mut q = Query::insert();
    q.into_table(Alias::new("certificate_key_holders"))
        .columns([Alias::new("certificate_id"), Alias::new("user_id")]);
    for u in &holders {
        q.values_panic([row.id.into(), (*u).into()]);
    }
    txn.execute(&q).await?;
    let op = if n.source == "ca" { "issue" } else { "upload" };
    record(
        txn,
        actor,
        Entry::new("cert", op)
            .target("certificate", Some(row.id), &n.domain)
            .detail(json!({
                "names": n.info.names,
                "serial": n.info.serial,
                "issuer": n.info.issuer,
                "not_after": crate::time::fmt(&n.info.not_after),
                "request_id": n.request_id,
                "app_ids": n.app_ids,
                "owner_id": n.owner_id,
                "has_key": n.key_enc.is_some(),
                "key_holders": holders,
            })),
    )
    .await?;
    Ok(row.id)
}

/// Who may take the key of a new certificate: its owner and the owners of `apps` now, sorted.
async fn key_holders<C: ConnectionTrait>(db: &C, owner: i64, apps: &[i64]) -> AppResult<Vec<i64>> {
    let mut out = BTreeSet::from([owner]);
    if !apps.is_empty() {
        out.extend(
            application_owner::Entity::find()
                .select_only()
                .column(application_owner::Column::UserId)
                .filter(application_owner::Column::AppId.is_in(apps.to_vec()))
                .into_tuple::<i64>()
                .all(db)
                .await?,
        );
    }
    Ok(out.into_iter().collect())
}

/// Refuses names outside `OPSDECK_CA_PERMITTED_DOMAINS` (when set) and names the CA's own name
/// constraints forbid: a 400 on `domain` that says which and why (the fulfilment shows it).
fn check_permitted(ctx: &Ctx, authority: Option<&KeyedCert>, names: &[String]) -> AppResult<()> {
    let permitted = &ctx.config.ca_permitted_domains;
    if !permitted.is_empty() {
        let outside: Vec<&String> = names
            .iter()
            .filter(|n| !permitted.iter().any(|p| ca::within(n, p)))
            .collect();
        if !outside.is_empty() {
            return Err(AppError::invalid(
                "domain",
                format!(
                    "{} is outside the domains Opsdeck's certificate authority may issue for ({}): file the request for a name under them, or ask an operator to extend OPSDECK_CA_PERMITTED_DOMAINS",
                    outside.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                    permitted.join(", ")
                ),
            ));
        }
    }
    if let Some(a) = authority {
        let out = ca::constrained_out(&a.cert_pem, names).map_err(ca_unavailable)?;
        if !out.is_empty() {
            return Err(AppError::invalid(
                "domain",
                format!(
                    "the certificate authority's name constraints do not permit {}: clients would reject such a certificate",
                    out.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

async fn by_request<C: ConnectionTrait>(db: &C, request_id: i64) -> AppResult<Option<i64>> {
    Ok(certificate::Entity::find()
        .select_only()
        .column(certificate::Column::Id)
        .filter(certificate::Column::RequestId.eq(request_id))
        .into_tuple::<i64>()
        .one(db)
        .await?)
}

/// Issues the certificate of an approved SSL certificate request from Opsdeck's CA and stores it
/// (key encrypted; chain = the CA certificate; owner = the requester). Called by the request's
/// fulfilment job (the system acts: no actor check). Idempotent: a request that already has a
/// certificate answers its id, also when two fulfilments race.
pub async fn issue_for_request(ctx: &Ctx, request: &resource_request::Model) -> AppResult<i64> {
    let (domain, ctype, apps) = request_fields(request)?;
    if let Some(id) = by_request(&ctx.db, request.id).await? {
        return Ok(id);
    }
    let names = requested_names(&domain, &ctype)?;
    check_permitted(ctx, None, &names)?;
    let authority = active_ca(ctx).await?;
    check_permitted(ctx, Some(&authority), &names)?;
    let now = crate::time::now();
    let leaf = ca::issue_leaf(&authority, &names, now, ca::LEAF_MAX_DAYS)
        .map_err(|e| ca_unavailable(format!("issuing failed: {e}")))?;
    let info = ca::parse_one(&leaf.cert_pem).map_err(AppError::internal)?;
    let key_enc = Keyring::from_config(&ctx.config)?.encrypt(&leaf.key_pem, CERT_KEY_CONTEXT)?;
    let base = names
        .last()
        .cloned()
        .unwrap_or_default()
        .trim_start_matches("*.")
        .to_string();
    let attempt = async {
        let txn = crate::db::begin(&ctx.db).await?;
        if let Some(id) = by_request(&txn, request.id).await? {
            return Ok(id);
        }
        let apps = existing_apps(&txn, &apps).await?;
        let id = insert_cert(
            &txn,
            &Actor::system(),
            NewCert {
                request_id: Some(request.id),
                domain: base,
                certificate_type: ctype.clone(),
                info,
                cert_pem: leaf.cert_pem.clone(),
                chain_pem: authority.cert_pem.clone(),
                key_enc: Some(key_enc),
                source: "ca",
                app_ids: apps,
                owner_id: request.creator_id,
            },
        )
        .await?;
        txn.commit().await?;
        Ok::<_, AppError>(id)
    };
    match attempt.await {
        Ok(id) => Ok(id),
        Err(e) if e.code == ErrorCode::Conflict => by_request(&ctx.db, request.id).await?.ok_or(e),
        Err(e) => Err(e),
    }
}

/// Checks and stores an externally issued certificate on `txn` (the caller commits): refuses
/// malformed PEM, a chain that did not sign it, a key that is not its key, an expired
/// certificate and, with a `request`, one that does not cover the requested names — each a 400
/// naming the field. With a request, the requester owns it and the request's applications are
/// its applications (the caller, finishing the request, has checked the approver's right);
/// without one, the actor needs `resource_request.approve_ssl_cert_req` and owns it.
pub async fn store_uploaded<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx,
    actor: &Actor,
    request: Option<&resource_request::Model>,
    input: CertUpload,
) -> AppResult<i64> {
    actor.require()?;
    if request.is_none() {
        authorize_upload(ctx, actor).await?;
    }
    let now = crate::time::now();
    let ders = ca::cert_ders(&input.cert_pem).map_err(|m| AppError::invalid("cert_pem", m))?;
    let leaf = &ders[0];
    let info = ca::describe(leaf).map_err(|m| AppError::invalid("cert_pem", m))?;
    if info.is_ca {
        return Err(AppError::invalid(
            "cert_pem",
            "this is a CA certificate; upload the server certificate (its chain goes in chain_pem)",
        ));
    }
    if info.names.is_empty() {
        return Err(AppError::invalid(
            "cert_pem",
            "the certificate names no DNS name",
        ));
    }
    for n in &info.names {
        check_cert_name(n).map_err(|m| {
            AppError::invalid(
                "cert_pem",
                format!(
                    "the certificate names {}, not a DNS name: {m}",
                    n.escape_debug()
                ),
            )
        })?;
    }
    if info.not_after <= now {
        return Err(AppError::invalid(
            "cert_pem",
            format!(
                "the certificate expired on {}",
                crate::time::fmt(&info.not_after)
            ),
        ));
    }
    let chain: Vec<Vec<u8>> = match input.chain_pem.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => {
            ca::cert_ders(c).map_err(|m| AppError::invalid("chain_pem", m))?
        }
        _ => ders[1..].to_vec(),
    };
    ca::validate_chain(leaf, &chain, now).map_err(|m| AppError::invalid("chain_pem", m))?;
    let key_pem = input
        .key_pem
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if let Some(k) = key_pem {
        let key = ca::load_key(k).map_err(|m| AppError::invalid("key_pem", m))?;
        if !ca::key_matches(&key, leaf).map_err(|m| AppError::invalid("cert_pem", m))? {
            return Err(AppError::invalid(
                "key_pem",
                "the private key does not belong to this certificate",
            ));
        }
    }
    let (domain, ctype, apps, owner) = match request {
        Some(r) => {
            let (domain, ctype, apps) = request_fields(r)?;
            let want = requested_names(&domain, &ctype)?;
            let missing = ca::uncovered(&info.names, &want);
            if !missing.is_empty() {
                return Err(AppError::invalid(
                    "cert_pem",
                    format!(
                        "the certificate does not cover {} (it names {})",
                        missing.join(", "),
                        info.names.join(", ")
                    ),
                ));
            }
            if by_request(txn, r.id).await?.is_some() {
                return Err(AppError::conflict(format!(
                    "request {} already has a certificate",
                    r.id
                )));
            }
            let base = want.last().cloned().unwrap_or_default();
            (
                base.trim_start_matches("*.").to_string(),
                ctype,
                apps,
                r.creator_id,
            )
        }
        None => {
            let first = info.names[0].clone();
            let ctype = if first.starts_with("*.") {
                "wizard"
            } else {
                "normal"
            };
            let mut apps: Vec<i64> = vec![];
            for a in input.associated_app.clone().unwrap_or_default() {
                if !apps.contains(&a) {
                    apps.push(a);
                }
            }
            let found = existing_apps(txn, &apps).await?;
            for (n, a) in apps.iter().enumerate() {
                // A hidden application reads like a missing one.
                if !found.contains(a)
                    || !holds_resource(ctx, actor.id, ResourceType::Application, *a, "view_app")
                        .await
                {
                    return Err(AppError::invalid(
                        &format!("associated_app[{n}]"),
                        "unknown application",
                    ));
                }
            }
            (
                first.trim_start_matches("*.").to_string(),
                ctype.to_string(),
                apps,
                actor.id,
            )
        }
    };
    let apps = existing_apps(txn, &apps).await?;
    let key_enc = match key_pem {
        Some(k) => Some(Keyring::from_config(&ctx.config)?.encrypt(k, CERT_KEY_CONTEXT)?),
        None => None,
    };
    insert_cert(
        txn,
        actor,
        NewCert {
            request_id: request.map(|r| r.id),
            domain,
            certificate_type: ctype,
            cert_pem: ca::to_pem(&ders[..1]),
            chain_pem: ca::to_pem(&chain),
            info,
            key_enc,
            source: "upload",
            app_ids: apps,
            owner_id: owner,
        },
    )
    .await
}

/// A name an uploaded certificate may carry: a DNS name (the request form's check), maybe with a
/// leading `*.`; no control characters or spaces (they would reach lists, mails and files).
fn check_cert_name(n: &str) -> Result<(), String> {
    if n.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("control characters and spaces are not allowed".into());
    }
    crate::requests::types::hostname(n.strip_prefix("*.").unwrap_or(n))
}

async fn authorize_upload(ctx: &Ctx, actor: &Actor) -> AppResult<()> {
    if is_superuser(ctx, actor.id).await {
        return Ok(());
    }
    authorize_module(ctx, actor, MODULE, APPROVER).await
}

/// `POST /certificates/`: an operator uploads a certificate issued elsewhere (to track its
/// expiry and hand it out); needs `resource_request.approve_ssl_cert_req`.
pub async fn upload(ctx: &Ctx, actor: &Actor, input: CertUpload) -> AppResult<Certificate> {
    actor.require()?;
    authorize_upload(ctx, actor).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let id = store_uploaded(&txn, ctx, actor, None, input).await?;
    txn.commit().await?;
    get(ctx, actor, id).await
}

// ---------------------------------------------------------------- visibility

/// What the actor sees: everything, or what they own or is for their applications.
enum Scope {
    All,
    Mine(i64),
}

async fn scope(ctx: &Ctx, actor: &Actor) -> AppResult<Scope> {
    actor.require()?;
    if is_superuser(ctx, actor.id).await || may_module(ctx, actor, MODULE, APPROVER).await {
        Ok(Scope::All)
    } else {
        Ok(Scope::Mine(actor.id))
    }
}

/// Certificate ids associated with an application `user_id` owns.
fn app_owned(user_id: i64) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(Alias::new("certificate_id"))
        .from(Alias::new("certificate_apps"))
        .and_where(
            Expr::col(Alias::new("app_id")).in_subquery(
                Query::select()
                    .column(application_owner::Column::AppId)
                    .from(application_owner::Entity)
                    .and_where(Expr::col(application_owner::Column::UserId).eq(user_id))
                    .to_owned(),
            ),
        )
        .to_owned()
}

fn mine(user_id: i64) -> Condition {
    Condition::any()
        .add(certificate::Column::OwnerId.eq(user_id))
        .add(certificate::Column::Id.in_subquery(app_owned(user_id)))
}

/// Of `rows` (certificates the actor sees), those whose key the actor may take: the ones they
/// hold the key of (`certificate_key_holders`, fixed at issue or upload); superusers all.
async fn key_rights(
    ctx: &Ctx,
    actor: &Actor,
    rows: &[certificate::Model],
) -> AppResult<HashSet<i64>> {
    if rows.is_empty() || actor.id <= 0 {
        return Ok(HashSet::new());
    }
    if is_superuser(ctx, actor.id).await {
        return Ok(rows.iter().map(|r| r.id).collect());
    }
    let q = Query::select()
        .column(Alias::new("certificate_id"))
        .from(Alias::new("certificate_key_holders"))
        .and_where(Expr::col(Alias::new("user_id")).eq(actor.id))
        .and_where(
            Expr::col(Alias::new("certificate_id"))
                .is_in(rows.iter().map(|r| r.id).collect::<Vec<_>>()),
        )
        .to_owned();
    let mut out = HashSet::new();
    for r in ctx.db.query_all(&q).await? {
        out.insert(r.try_get_by_index::<i64>(0)?);
    }
    Ok(out)
}

/// The certificate if the actor may see it; otherwise "not found", as if it did not exist.
async fn visible(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<certificate::Model> {
    let mut q = certificate::Entity::find_by_id(id);
    if let Scope::Mine(uid) = scope(ctx, actor).await? {
        q = q.filter(mine(uid));
    }
    q.one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::not_found("certificate"))
}

fn days_left(not_after: &DateTime<Utc>, now: &DateTime<Utc>) -> i64 {
    (*not_after - *now).num_seconds().div_euclid(86_400)
}

async fn wire(
    ctx: &Ctx,
    actor: &Actor,
    rows: Vec<certificate::Model>,
    detail: bool,
) -> AppResult<Vec<Certificate>> {
    let owners = ctx
        .names
        .names(&ctx.db, rows.iter().map(|r| r.owner_id))
        .await?;
    let keys = key_rights(ctx, actor, &rows).await?;
    let now = crate::time::now();
    Ok(rows
        .into_iter()
        .map(|r| Certificate {
            id: r.id,
            names: serde_json::from_str(&r.names).unwrap_or_default(),
            certificate_type: r.certificate_type,
            serial: r.serial,
            issuer: r.issuer,
            not_before: crate::time::fmt(&r.not_before),
            not_after: crate::time::fmt(&r.not_after),
            days_left: days_left(&r.not_after, &now),
            source: r.source,
            request_id: r.request_id,
            has_key: r.key_enc.is_some(),
            may_download_key: r.key_enc.is_some() && keys.contains(&r.id),
            app_ids: serde_json::from_str(&r.app_ids).unwrap_or_default(),
            owner: owners.get(&r.owner_id).cloned().unwrap_or_default(),
            owner_id: r.owner_id,
            created_at: crate::time::fmt(&r.created_at),
            cert_pem: detail.then(|| r.cert_pem.clone()),
            chain_pem: detail.then(|| r.chain_pem.clone()),
            domain: r.domain,
        })
        .collect())
}

// ---------------------------------------------------------------- reading

/// `GET /certificates/`: the certificates the actor may see, soonest expiry first.
pub async fn list(ctx: &Ctx, actor: &Actor, f: CertFilter) -> AppResult<Page<Certificate>> {
    use certificate::Column as C;
    let mut q = certificate::Entity::find();
    if let Scope::Mine(uid) = scope(ctx, actor).await? {
        q = q.filter(mine(uid));
    }
    if let Some(d) = f.domain.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        let d = d.trim_end_matches('.').to_ascii_lowercase();
        if d.len() > 253
            || !d
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*'))
        {
            return Err(AppError::invalid(
                "domain",
                "a domain has letters, digits, hyphens, dots and `*` only",
            ));
        }
        // Names are stored lower case; the characters allowed carry no LIKE wildcard.
        q = q.filter(C::Names.contains(d));
    }
    if let Some(n) = f.expiring_within_days {
        if !(0..=36_500).contains(&n) {
            return Err(AppError::invalid(
                "expiring_within_days",
                "a number of days from 0 to 36500",
            ));
        }
        q = q.filter(C::NotAfter.lte(crate::time::now() + Duration::days(n)));
    }
    if let Some(r) = f.request_id {
        q = q.filter(C::RequestId.eq(r));
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(C::NotAfter)
        .order_by_asc(C::Id)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    Ok(Page::new(
        count,
        &f.page,
        wire(ctx, actor, rows, false).await?,
    ))
}

/// `GET /certificates/{id}/`: one certificate with its PEM (not the key).
pub async fn get(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Certificate> {
    let c = visible(ctx, actor, id).await?;
    Ok(wire(ctx, actor, vec![c], true).await?.remove(0))
}

fn file_stem(domain: &str) -> String {
    let s: String = domain
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "certificate".into()
    } else {
        s
    }
}

/// `GET /certificates/{id}/download/{part}/`: a PEM file (cert, chain, key or fullchain), audited.
/// The key only for its key holders (the owner and the owners of its applications when it was
/// issued or uploaded) who still see it, and superusers.
pub async fn download(ctx: &Ctx, actor: &Actor, id: i64, part: CertPart) -> AppResult<PemFile> {
    let c = visible(ctx, actor, id).await?;
    let stem = file_stem(&c.domain);
    let (filename, body) = match part {
        CertPart::Cert => (format!("{stem}.crt"), c.cert_pem.clone()),
        CertPart::Chain => {
            if c.chain_pem.trim().is_empty() {
                return Err(AppError::new(
                    ErrorCode::NotFound,
                    "this certificate was uploaded without a chain",
                ));
            }
            (format!("{stem}.chain.pem"), c.chain_pem.clone())
        }
        CertPart::Fullchain => (
            format!("{stem}.fullchain.pem"),
            format!("{}{}", c.cert_pem, c.chain_pem),
        ),
        CertPart::Key => {
            let Some(enc) = &c.key_enc else {
                return Err(AppError::new(
                    ErrorCode::NotFound,
                    "Opsdeck does not hold this certificate's private key",
                ));
            };
            if !key_rights(ctx, actor, std::slice::from_ref(&c))
                .await?
                .contains(&c.id)
            {
                return Err(AppError::forbidden(
                    "only the certificate's owner and the owners of its applications when it was issued may download its private key",
                ));
            }
            (
                format!("{stem}.key"),
                Keyring::from_config(&ctx.config)?.decrypt(enc, CERT_KEY_CONTEXT)?,
            )
        }
    };
    let txn = crate::db::begin(&ctx.db).await?;
    record(
        &txn,
        actor,
        Entry::new("cert", "download")
            .target("certificate", Some(c.id), &c.domain)
            .detail(json!({"part": part.as_str(), "serial": c.serial})),
    )
    .await?;
    txn.commit().await?;
    Ok(PemFile { filename, body })
}

// ---------------------------------------------------------------- expiry mail

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The expiry notice of `c` for one recipient, in their language (`zh…` Chinese, else English).
fn expiry_mail(
    ctx: &Ctx,
    c: &certificate::Model,
    to: &user::Model,
    days: i64,
) -> crate::mail::Mail {
    let zh = to.locale.to_ascii_lowercase().starts_with("zh");
    let names: Vec<String> = serde_json::from_str(&c.names).unwrap_or_default();
    let names = names.join(", ");
    let when = crate::time::fmt(&c.not_after);
    let link = format!(
        "{}/certificates/{}",
        ctx.config.public_url.trim_end_matches('/'),
        c.id
    );
    let (subject, lines, open) = if zh {
        (
            format!("[Opsdeck] 证书 {} 将在 {days} 天后过期", c.domain),
            vec![
                format!("{} 您好：", to.username),
                format!(
                    "证书 {names}（序列号 {}）将于 {when} 过期，剩余 {days} 天。",
                    c.serial
                ),
                "请在 Opsdeck 提交新的 SSL 证书申请，或上传续期后的证书，并在到期前替换服务器上的证书。".to_string(),
            ],
            "查看证书",
        )
    } else {
        (
            format!("[Opsdeck] Certificate for {} expires in {days} days", c.domain),
            vec![
                format!("Hello {},", to.username),
                format!(
                    "The certificate for {names} (serial {}) expires on {when}, in {days} days.",
                    c.serial
                ),
                "File a new SSL certificate request in Opsdeck, or upload the renewed certificate, and replace it on your servers before then.".to_string(),
            ],
            "Open the certificate",
        )
    };
    let body = format!("{}\n\n{open}: {link}\n", lines.join("\n\n"));
    let html = format!(
        "<!doctype html><html><body>{}<p><a href=\"{}\">{open}</a></p></body></html>",
        lines
            .iter()
            .map(|l| format!("<p>{}</p>", escape(l)))
            .collect::<String>(),
        escape(&link)
    );
    crate::mail::Mail {
        to: to.email.clone(),
        subject,
        body,
        html: Some(html),
    }
}

/// The users told about `c`: its owner and the owners of its applications (enabled, with mail).
async fn recipients<C: ConnectionTrait>(
    db: &C,
    c: &certificate::Model,
) -> AppResult<Vec<user::Model>> {
    let app_owners = Query::select()
        .column(application_owner::Column::UserId)
        .from(application_owner::Entity)
        .and_where(
            Expr::col(application_owner::Column::AppId).in_subquery(
                Query::select()
                    .column(Alias::new("app_id"))
                    .from(Alias::new("certificate_apps"))
                    .and_where(Expr::col(Alias::new("certificate_id")).eq(c.id))
                    .to_owned(),
            ),
        )
        .to_owned();
    Ok(user::Entity::find()
        .filter(
            Condition::any()
                .add(user::Column::Id.eq(c.owner_id))
                .add(user::Column::Id.in_subquery(app_owners)),
        )
        .filter(user::Column::Status.ne("disabled"))
        .filter(user::Column::Email.ne(""))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?)
}

/// Queues the expiry mail: to each certificate's owner and the owners of its applications, 30
/// and 7 days before it expires, once per threshold (`expiry_notice`; a certificate first seen
/// inside 7 days gets only the 7-day notice). Each notice is one conditional update with its
/// mails and audit record, so concurrent sweeps send it once. The `cert_expiry` job runs it daily.
pub async fn expiry_sweep(ctx: &Ctx) -> Result<(), String> {
    sweep(ctx).await.map(|_| ()).map_err(|e| e.message)
}

/// The sweep; answers how many notices it sent.
pub async fn sweep(ctx: &Ctx) -> AppResult<u64> {
    use certificate::Column as C;
    let now = crate::time::now();
    let horizon = now + Duration::days(NOTICE_DAYS[0] as i64);
    let due = certificate::Entity::find()
        .filter(C::NotAfter.gt(now))
        .filter(C::NotAfter.lte(horizon))
        .filter(C::ExpiryNotice.ne(NOTICE_DAYS[1]))
        .order_by_asc(C::Id)
        .all(&ctx.db)
        .await?;
    let mut sent = 0;
    for c in due {
        let left = c.not_after - now;
        let target = if left <= Duration::days(NOTICE_DAYS[1] as i64) {
            NOTICE_DAYS[1]
        } else {
            NOTICE_DAYS[0]
        };
        if c.expiry_notice != 0 && c.expiry_notice <= target {
            continue;
        }
        let txn = crate::db::begin(&ctx.db).await?;
        let won = certificate::Entity::update_many()
            .col_expr(C::ExpiryNotice, Expr::value(target))
            .filter(C::Id.eq(c.id))
            .filter(C::ExpiryNotice.eq(c.expiry_notice))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if !won {
            continue;
        }
        let days = std::cmp::max(days_left(&c.not_after, &now), 0);
        let to = recipients(&txn, &c).await?;
        for u in &to {
            crate::jobs::enqueue(&txn, "mail", &expiry_mail(ctx, &c, u, days)).await?;
        }
        record(
            &txn,
            &Actor::system(),
            Entry::new("cert", "expiry_notice")
                .target("certificate", Some(c.id), &c.domain)
                .detail(json!({
                    "threshold_days": target,
                    "days_left": days,
                    "recipients": to.iter().map(|u| &u.username).collect::<Vec<_>>(),
                })),
        )
        .await?;
        txn.commit().await?;
        sent += 1;
    }
    if sent > 0 {
        ctx.jobs_notify.notify_one();
    }
    Ok(sent)
}
