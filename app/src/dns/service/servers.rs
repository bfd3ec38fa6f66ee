//! DNS services (the servers): list, create, edit, delete, test connection. Secrets are
//! encrypted at rest and never answered.
use super::*;
use crate::audit::service::record;
use crate::common::{Message, Page};
use crate::dns::types::*;
use sea_orm::{ActiveModelTrait, PaginatorTrait, QueryOrder, Set};

/// The socket address of a BIND endpoint (`host:port`, `host` for port 53, `[v6]:port`).
pub(crate) async fn resolve_addr(endpoint: &str) -> Result<std::net::SocketAddr, String> {
    let e = endpoint.trim();
    if let Ok(a) = e.parse::<std::net::SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = e
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        return Ok(std::net::SocketAddr::new(ip, 53));
    }
    let with_port = if e.contains(':') {
        e.to_string()
    } else {
        format!("{e}:53")
    };
    let mut found = tokio::net::lookup_host(with_port.as_str())
        .await
        .map_err(|_| format!("cannot resolve {e}"))?;
    found.next().ok_or_else(|| format!("cannot resolve {e}"))
}

/// Checks a BIND endpoint's form without resolving it.
fn check_bind_endpoint(e: &str) -> Result<(), String> {
    let bad = || format!("{e}: give host:port of the BIND server's DNS port (e.g. 127.0.0.1:53)");
    if e.parse::<std::net::SocketAddr>().is_ok() || e.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let (host, port) = match e.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (e, None),
    };
    if let Some(p) = port {
        p.parse::<u16>().map_err(|_| bad())?;
    }
    check_name(&host.to_ascii_lowercase(), false).map_err(|_| bad())
}

/// Checks a PowerDNS API URL: http(s) with a host, and no user:password@, query or fragment
/// (credentials in the URL would show in lists, audit records and errors).
fn check_pdns_endpoint(e: &str) -> Result<(), String> {
    let base = "PowerDNS: api_endpoint is the HTTP API's URL (http://host:8081/)";
    let u = reqwest::Url::parse(e).map_err(|_| base.to_string())?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return Err(base.into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("api_endpoint must not carry user:password@ (give the key as api_key)".into());
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err("api_endpoint must not carry a ?query or #fragment".into());
    }
    Ok(())
}

/// Host (lower case; an IP address in its canonical form, IPv6 without brackets) and port of
/// a service's endpoint, as `OPSDECK_DNS_ALLOWED_ENDPOINTS` matches them.
fn endpoint_host_port(service_type: &str, e: &str) -> Option<(String, u16)> {
    let e = e.trim();
    if service_type == "powerdns" {
        let u = reqwest::Url::parse(e).ok()?;
        return Some((norm_host(u.host_str()?), u.port_or_known_default()?));
    }
    if let Ok(a) = e.parse::<std::net::SocketAddr>() {
        return Some((a.ip().to_string(), a.port()));
    }
    if let Ok(ip) = e
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        return Some((ip.to_string(), 53));
    }
    match e.rsplit_once(':') {
        Some((h, p)) => Some((norm_host(h), p.parse().ok()?)),
        None => Some((norm_host(e), 53)),
    }
}

fn norm_host(h: &str) -> String {
    let h = h.trim().trim_start_matches('[').trim_end_matches(']');
    match h.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => h.trim_end_matches('.').to_ascii_lowercase(),
    }
}

/// Whether `host:port` matches one pattern of `OPSDECK_DNS_ALLOWED_ENDPOINTS`: `host` (any
/// port), `host:port`, `*.suffix` (names under suffix), `[v6]` or `[v6]:port`.
pub(crate) fn pattern_matches(pattern: &str, host: &str, port: u16) -> bool {
    let p = pattern.trim().to_ascii_lowercase();
    let p = p.split_once("://").map_or(p.as_str(), |(_, rest)| rest);
    let p = p.split('/').next().unwrap_or_default();
    let (ph, pp): (&str, Option<&str>) = if let Some(rest) = p.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => return false,
        }
    } else if p.matches(':').count() == 1 {
        let (h, port) = p.split_once(':').unwrap_or((p, ""));
        (h, Some(port))
    } else {
        (p, None)
    };
    if let Some(pp) = pp {
        if pp.parse::<u16>().ok() != Some(port) {
            return false;
        }
    }
    match ph.strip_prefix("*.") {
        Some(suffix) => {
            let suffix = norm_host(suffix);
            !suffix.is_empty() && host.ends_with(&format!(".{suffix}"))
        }
        None => !ph.is_empty() && norm_host(ph) == host,
    }
}

/// Whether the configuration lets a service of `service_type` point at `endpoint`.
pub(crate) fn endpoint_allowed(ctx: &Ctx, service_type: &str, endpoint: &str) -> bool {
    let patterns = &ctx.config.dns_allowed_endpoints;
    if patterns.is_empty() {
        return true;
    }
    endpoint_host_port(service_type, endpoint)
        .is_some_and(|(h, p)| patterns.iter().any(|pat| pattern_matches(pat, &h, p)))
}

pub(crate) const NOT_ALLOWED: &str = "this endpoint is not among the DNS servers allowed by the \
                           configuration (OPSDECK_DNS_ALLOWED_ENDPOINTS)";

/// An endpoint as answered and audited: should a stored one carry user:password@ (from before
/// they were refused), without it.
fn shown_endpoint(e: &str) -> String {
    match reqwest::Url::parse(e) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => e.to_string(),
    }
}

fn wire(s: dns_service::Model, users: &HashMap<i64, String>) -> DnsService {
    DnsService {
        id: s.id,
        creator: s
            .creator_id
            .and_then(|c| users.get(&c).cloned())
            .unwrap_or_default(),
        created_time: crate::time::fmt(&s.created_at),
        updated_time: crate::time::fmt(&s.updated_at),
        api_key_set: s.api_key_enc.is_some(),
        tsig_secret_set: s.tsig_secret_enc.is_some(),
        name: s.name,
        service_type: s.service_type,
        api_endpoint: shown_endpoint(&s.api_endpoint),
        description: s.description,
        server_id: s.server_id,
        tsig_key_name: s.tsig_key_name,
        tsig_algorithm: s.tsig_algorithm,
    }
}

async fn to_wire(ctx: &Ctx, rows: Vec<dns_service::Model>) -> AppResult<Vec<DnsService>> {
    let ids: Vec<i64> = rows.iter().filter_map(|s| s.creator_id).collect();
    let users = user_names(ctx, &ids).await?;
    Ok(rows.into_iter().map(|s| wire(s, &users)).collect())
}

fn set(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Applies `input` to `am` (a new or existing service) after validating the result. When
/// an edit changes where the secret goes (type or endpoint; PowerDNS: server_id; BIND: key
/// name or algorithm), the stored secret is dropped: the same edit must give it again (400
/// otherwise), so a changed endpoint never receives the key stored for another.
fn fill(
    ctx: &Ctx,
    am: &mut dns_service::ActiveModel,
    input: &DnsServiceInput,
    new: bool,
) -> AppResult<()> {
    // where the secret went before this edit (type, endpoint, server_id, key name, algorithm)
    let before = (!new).then(|| {
        (
            am.service_type.as_ref().clone(),
            am.api_endpoint.as_ref().clone(),
            am.server_id.as_ref().clone(),
            am.tsig_key_name.as_ref().clone(),
            am.tsig_algorithm.as_ref().clone(),
        )
    });
    if let Some(n) = input.name.as_deref() {
        let n = n.trim();
        if n.is_empty() || n.chars().count() > 100 {
            return Err(AppError::invalid(
                "name",
                "a DNS service needs a name of 1-100 characters",
            ));
        }
        am.name = Set(n.to_string());
    } else if new {
        return Err(AppError::invalid("name", "a DNS service needs a name"));
    }
    if let Some(t) = input.service_type.as_deref() {
        let t = t.trim().to_ascii_lowercase();
        if !SERVICE_TYPES.contains(&t.as_str()) {
            return Err(AppError::invalid("type", "type is bind or powerdns"));
        }
        am.service_type = Set(t);
    } else if new {
        am.service_type = Set("bind".into());
    }
    if let Some(d) = input.description.as_deref() {
        am.description = Set(d.trim().to_string());
    } else if new {
        am.description = Set(String::new());
    }
    if let Some(e) = set(&input.api_endpoint) {
        am.api_endpoint = Set(e);
    } else if new || input.api_endpoint.is_some() {
        return Err(AppError::invalid(
            "api_endpoint",
            "api_endpoint is required",
        ));
    }
    let keys = crate::crypto::Keyring::from_config(&ctx.config)?;
    let ty = am.service_type.as_ref().clone();
    let endpoint = am.api_endpoint.as_ref().clone();
    if ty == "powerdns" {
        check_pdns_endpoint(&endpoint).map_err(|m| AppError::invalid("api_endpoint", m))?;
        if let Some(s) = set(&input.server_id) {
            am.server_id = Set(s);
        } else if new {
            am.server_id = Set("localhost".into());
        }
        if !am
            .server_id
            .as_ref()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(AppError::invalid(
                "server_id",
                "server_id is letters, digits, - _ .",
            ));
        }
        let moved = before.as_ref().is_some_and(|(t, e, sid, _, _)| {
            t != &ty || e != &endpoint || sid != am.server_id.as_ref()
        });
        let had_key = am.api_key_enc.as_ref().is_some();
        if moved {
            am.api_key_enc = Set(None);
        }
        if let Some(k) = input.api_key.as_deref() {
            if k.trim().is_empty() || k.len() > 1024 {
                return Err(AppError::invalid(
                    "api_key",
                    "the API key is empty or too long",
                ));
            }
            am.api_key_enc = Set(Some(keys.encrypt(k.trim(), API_KEY_CTX)?));
        }
        if am.api_key_enc.as_ref().is_none() {
            return Err(AppError::invalid(
                "api_key",
                if moved && had_key {
                    "give the API key again when the endpoint changes (type, api_endpoint or \
                     server_id): the stored key is not sent to another endpoint"
                } else {
                    "PowerDNS services need api_key"
                },
            ));
        }
        am.tsig_key_name = Set(None);
        am.tsig_algorithm = Set(None);
        am.tsig_secret_enc = Set(None);
    } else {
        check_bind_endpoint(&endpoint).map_err(|m| AppError::invalid("api_endpoint", m))?;
        if let Some(k) = input.tsig_key_name.as_deref() {
            let k = k.trim().trim_end_matches('.').to_ascii_lowercase();
            check_name(&k, false).map_err(|m| AppError::invalid("tsig_key_name", m))?;
            am.tsig_key_name = Set(Some(k));
        }
        if am.tsig_key_name.as_ref().is_none() {
            return Err(AppError::invalid(
                "tsig_key_name",
                "BIND services need tsig_key_name",
            ));
        }
        if let Some(a) = input.tsig_algorithm.as_deref() {
            let a = a.trim().to_ascii_lowercase();
            if !TSIG_ALGORITHMS.contains(&a.as_str()) {
                return Err(AppError::invalid(
                    "tsig_algorithm",
                    format!("tsig_algorithm is one of {}", TSIG_ALGORITHMS.join(", ")),
                ));
            }
            am.tsig_algorithm = Set(Some(a));
        } else if am.tsig_algorithm.as_ref().is_none() {
            am.tsig_algorithm = Set(Some("hmac-sha256".into()));
        }
        let moved = before.as_ref().is_some_and(|(t, e, _, kn, alg)| {
            t != &ty
                || e != &endpoint
                || kn != am.tsig_key_name.as_ref()
                || alg != am.tsig_algorithm.as_ref()
        });
        let had_secret = am.tsig_secret_enc.as_ref().is_some();
        if moved {
            am.tsig_secret_enc = Set(None);
        }
        if let Some(s) = input.tsig_secret.as_deref() {
            use base64::Engine;
            let s = s.trim();
            let ok = base64::engine::general_purpose::STANDARD
                .decode(s)
                .is_ok_and(|b| !b.is_empty() && b.len() <= 512);
            if !ok {
                return Err(AppError::invalid(
                    "tsig_secret",
                    "tsig_secret is the key's base64 secret as tsig-keygen prints it",
                ));
            }
            am.tsig_secret_enc = Set(Some(keys.encrypt(s, TSIG_SECRET_CTX)?));
        }
        if am.tsig_secret_enc.as_ref().is_none() {
            return Err(AppError::invalid(
                "tsig_secret",
                if moved && had_secret {
                    "give the TSIG secret again when the endpoint or key changes (type, \
                     api_endpoint, tsig_key_name or tsig_algorithm): the stored secret is not \
                     sent to another endpoint"
                } else {
                    "BIND services need tsig_secret"
                },
            ));
        }
        if new {
            am.server_id = Set("localhost".into());
        }
        am.api_key_enc = Set(None);
    }
    if !endpoint_allowed(ctx, &ty, &endpoint) {
        return Err(AppError::invalid("api_endpoint", NOT_ALLOWED));
    }
    Ok(())
}

/// What the audit keeps of a service (no secrets; whether each is set).
fn snapshot(s: &dns_service::Model) -> Value {
    json!({
        "name": s.name, "type": s.service_type, "api_endpoint": shown_endpoint(&s.api_endpoint),
        "description": s.description, "server_id": s.server_id,
        "tsig_key_name": s.tsig_key_name, "tsig_algorithm": s.tsig_algorithm,
        "api_key_set": s.api_key_enc.is_some(), "tsig_secret_set": s.tsig_secret_enc.is_some(),
    })
}

async fn ensure_name_free<C: ConnectionTrait>(
    db: &C,
    name: &str,
    except: Option<i64>,
) -> AppResult<()> {
    let mut q = dns_service::Entity::find().filter(dns_service::Column::Name.eq(name));
    if let Some(id) = except {
        q = q.filter(dns_service::Column::Id.ne(id));
    }
    if q.one(db).await?.is_some() {
        return Err(
            AppError::conflict(format!("a DNS service named {name} exists already"))
                .with_field("name"),
        );
    }
    Ok(())
}

/// `GET /dns-services/`: every service (names, endpoints; never secrets) for holders of
/// `enable_dns_mgmt`.
pub async fn list_services(
    ctx: &Ctx,
    actor: &Actor,
    f: DnsServiceFilter,
) -> AppResult<Page<DnsService>> {
    use dns_service::Column as C;
    may_use(ctx, actor).await?;
    let mut q = dns_service::Entity::find();
    if let Some(v) = set(&f.name) {
        q = q.filter(C::Name.contains(v));
    }
    if let Some(v) = set(&f.description) {
        q = q.filter(C::Description.contains(v));
    }
    if let Some(v) = set(&f.creator) {
        let sub = sea_orm::sea_query::Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .and_where(sea_orm::sea_query::ExprTrait::eq(
                sea_orm::sea_query::Expr::col(user::Column::Username),
                v,
            ))
            .to_owned();
        q = q.filter(C::CreatorId.in_subquery(sub));
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(C::Name)
        .order_by_asc(C::Id)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    Ok(Page::new(count, &f.page, to_wire(ctx, rows).await?))
}

/// `GET /dns-services/{id}/`.
pub async fn get_service(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<DnsService> {
    may_use(ctx, actor).await?;
    let s = load_service(&ctx.db, id).await?;
    Ok(to_wire(ctx, vec![s]).await?.remove(0))
}

/// `POST /dns-services/`.
pub async fn create_service(
    ctx: &Ctx,
    actor: &Actor,
    input: DnsServiceInput,
) -> AppResult<DnsService> {
    may_manage(ctx, actor).await?;
    let now = crate::time::now();
    let mut am = dns_service::ActiveModel {
        creator_id: Set((actor.id > 0).then_some(actor.id)),
        api_key_enc: Set(None),
        tsig_key_name: Set(None),
        tsig_algorithm: Set(None),
        tsig_secret_enc: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    fill(ctx, &mut am, &input, true)?;
    let txn = crate::db::begin(&ctx.db).await?;
    ensure_name_free(&txn, am.name.as_ref(), None).await?;
    let s = am.insert(&txn).await?;
    record(
        &txn,
        actor,
        entry(
            "add",
            "server",
            s.id,
            &s.name,
            format!("add DNS server {} ({})", s.name, s.service_type),
            json!({"before": null, "after": snapshot(&s)}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(to_wire(ctx, vec![s]).await?.remove(0))
}

/// `PATCH /dns-services/{id}/`: the type changes only while the service has no zones.
pub async fn update_service(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    input: DnsServiceInput,
) -> AppResult<DnsService> {
    may_manage(ctx, actor).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let before = load_service(&txn, id).await?;
    let mut am: dns_service::ActiveModel = before.clone().into();
    fill(ctx, &mut am, &input, false)?;
    if am.service_type.as_ref() != &before.service_type && zone_count(&txn, id).await? > 0 {
        return Err(AppError::invalid(
            "type",
            "the type of a service with zones cannot change",
        ));
    }
    ensure_name_free(&txn, am.name.as_ref(), Some(id)).await?;
    am.updated_at = Set(crate::time::now());
    let after = am.update(&txn).await?;
    let mut extra = json!({"before": snapshot(&before), "after": snapshot(&after)});
    extra["api_key_changed"] = json!(before.api_key_enc != after.api_key_enc);
    extra["tsig_secret_changed"] = json!(before.tsig_secret_enc != after.tsig_secret_enc);
    record(
        &txn,
        actor,
        entry(
            "update",
            "server",
            id,
            &after.name,
            format!("update DNS server {}", after.name),
            extra,
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(to_wire(ctx, vec![after]).await?.remove(0))
}

async fn zone_count<C: ConnectionTrait>(db: &C, sid: i64) -> AppResult<u64> {
    Ok(dns_domain::Entity::find()
        .filter(dns_domain::Column::ServiceId.eq(sid))
        .count(db)
        .await?)
}

/// `DELETE /dns-services/{id}/`: refused (409) while it has zones.
pub async fn delete_service(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    may_manage(ctx, actor).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let s = load_service(&txn, id).await?;
    let n = zone_count(&txn, id).await?;
    if n > 0 {
        return Err(AppError::conflict(format!(
            "DNS service {} has {n} zone(s): delete them first",
            s.name
        )));
    }
    dns_service::Entity::delete_by_id(id).exec(&txn).await?;
    record(
        &txn,
        actor,
        entry(
            "delete",
            "server",
            id,
            &s.name,
            format!("delete DNS server {}", s.name),
            json!({"before": snapshot(&s), "after": null}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(Message::success())
}

/// `POST /dns-services/{id}/actions/test/`: asks the server (PowerDNS: its version; BIND: the
/// SOA of one of its zones, or a signed query). Always 200: `ok` false with a short reason
/// when it fails (`unreachable: cannot connect`, `HTTP 401: <PowerDNS's error>`, never a raw
/// answer body). The message never carries a secret.
pub async fn test_service(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<ConnTest> {
    may_manage(ctx, actor).await?;
    let s = load_service(&ctx.db, id).await?;
    if !endpoint_allowed(ctx, &s.service_type, &s.api_endpoint) {
        return Ok(ConnTest {
            ok: false,
            message: NOT_ALLOWED.into(),
        });
    }
    let hint = dns_domain::Entity::find()
        .filter(dns_domain::Column::ServiceId.eq(id))
        .order_by_asc(dns_domain::Column::Id)
        .one(&ctx.db)
        .await?
        .map(|d| d.name);
    let conn = match conn_of(ctx, &s).await {
        Ok(c) => c,
        Err(e) => {
            return Ok(ConnTest {
                ok: false,
                message: e.message,
            })
        }
    };
    let (ok, message) = match conn.test(hint.as_deref()).await {
        Ok(m) => (true, m),
        Err(e) => (false, e.to_string()),
    };
    Ok(ConnTest {
        ok,
        message: redact(&conn, message),
    })
}

/// Removes the connection's secrets from a text (should a server ever echo them).
pub(crate) fn redact(conn: &Conn, mut text: String) -> String {
    let secret = match conn {
        Conn::PowerDns { api_key, .. } => api_key,
        Conn::Bind { tsig_secret, .. } => tsig_secret,
    };
    if secret.len() >= 4 {
        text = text.replace(secret.as_str(), "***");
    }
    text
}
