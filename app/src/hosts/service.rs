//! Host and instance services. Permissions: list/get need `view_host` (on the host, or the
//! module-wide `edit_host`, `delete_host` or `manage_host`); create needs `host.add_host` (the
//! creator then holds every host permission on it); edit needs `edit_host`; delete needs
//! `delete_host`. Instances: `edit_app` on the application and `edit_host` on the host.
use super::types::*;
use crate::applications::types::{AppFilter, Application};
use crate::audit::service::{record, Entry};
use crate::common::{IdRef, Message, Page, PageQuery};
use crate::ctx::{Actor, Ctx};
use crate::entities::{application as app, host, instance, ip_address as ip};
use crate::error::{AppError, AppResult};
use crate::perms::casbin::apply;
use crate::perms::service::{
    authorize_module, authorize_resource, drop_resource_grants, grant_creator, granted_by_name,
    granted_set, holds_resource, id_in, page_slice, resource_perm_sets, visible_names,
};
use crate::perms::types::{ResourceType, HOST_PERMS};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use std::collections::HashMap;

const HOST: ResourceType = ResourceType::Host;

fn wire_ip(r: &ip::Model) -> IpAddress {
    IpAddress {
        owner: (!r.owner.is_empty()).then(|| r.owner.clone()),
        is_virtual: r.is_virtual,
        addr_type: Some(r.addr_type.clone()),
        network: r.network.clone(),
        netmask: r.netmask.clone(),
        address: r.address.clone(),
        zabbix_groups: serde_json::from_str(&r.zabbix_groups).unwrap_or_default(),
        zabbix_templates: serde_json::from_str(&r.zabbix_templates).unwrap_or_default(),
    }
}

fn snapshot(h: &host::Model, ips: &[IpAddress]) -> serde_json::Value {
    json!({
        "name": h.hostname, "host_type": h.host_type, "status": h.status, "os_status": h.os_status,
        "os_type": h.os_type, "cpu": h.cpu, "memory": h.memory, "location": h.location,
        "description": h.description, "ip_address": ips.iter().map(|i| &i.address).collect::<Vec<_>>(),
    })
}

/// The addresses of `ids`, by host.
pub(crate) async fn ips_of<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> AppResult<HashMap<i64, Vec<IpAddress>>> {
    let mut out: HashMap<i64, Vec<IpAddress>> = HashMap::new();
    for r in ip::Entity::find()
        .filter(ip::Column::HostId.is_in(ids.to_vec()))
        .order_by_asc(ip::Column::Id)
        .all(db)
        .await?
    {
        out.entry(r.host_id).or_default().push(wire_ip(&r));
    }
    Ok(out)
}

/// Maps rows to the wire type: addresses and actions in one query each.
async fn to_wire(ctx: &Ctx, actor: &Actor, rows: Vec<host::Model>) -> AppResult<Vec<Host>> {
    let ids: Vec<i64> = rows.iter().map(|h| h.id).collect();
    let ips = ips_of(&ctx.db, &ids).await?;
    wire_hosts(ctx, actor, rows, ips).await
}

/// A page row: the host and its addresses as one JSON text, so a page of hosts is one query
/// and one row per host (the addresses used to be a second query with two rows per host).
#[derive(sea_orm::FromQueryResult)]
struct PageRow {
    id: i64,
    hostname: String,
    host_type: String,
    status: String,
    description: String,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    os_status: String,
    os_type: String,
    location: String,
    cpu: i64,
    memory: i64,
    search_text: String,
    ips: Option<String>,
}

/// `[[owner, is_virtual, addr_type, network, netmask, address, zabbix_groups, zabbix_templates], …]`
/// per host, in address order.
fn ips_json(backend: sea_orm::DbBackend) -> Expr {
    const COLS: &str =
        "owner, is_virtual, addr_type, network, netmask, address, zabbix_groups, zabbix_templates";
    Expr::cust(if backend == sea_orm::DbBackend::Sqlite {
        format!("(SELECT json_group_array(json_array({COLS})) FROM (SELECT * FROM ip_addresses AS i WHERE i.host_id = hosts.id ORDER BY i.id))")
    } else {
        format!("(SELECT json_agg(json_build_array({COLS}) ORDER BY i.id)::text FROM ip_addresses AS i WHERE i.host_id = hosts.id)")
    })
}

type IpTuple = (
    String,
    serde_json::Value,
    String,
    String,
    String,
    String,
    String,
    String,
);

impl PageRow {
    fn split(self) -> AppResult<(host::Model, Vec<IpAddress>)> {
        let tuples: Vec<IpTuple> = match self.ips.as_deref() {
            None => vec![],
            Some(j) => serde_json::from_str(j).map_err(AppError::internal)?,
        };
        let ips = tuples
            .into_iter()
            .map(|(owner, v, addr_type, network, netmask, address, zg, zt)| {
                wire_ip(&ip::Model {
                    id: 0,
                    host_id: self.id,
                    owner,
                    // SQLite has no booleans: 0/1.
                    is_virtual: v.as_bool().unwrap_or(v.as_i64() == Some(1)),
                    addr_type,
                    network,
                    netmask,
                    address,
                    zabbix_groups: zg,
                    zabbix_templates: zt,
                })
            })
            .collect();
        let h = host::Model {
            id: self.id,
            hostname: self.hostname,
            host_type: self.host_type,
            status: self.status,
            description: self.description,
            created_at: self.created_at,
            updated_at: self.updated_at,
            os_status: self.os_status,
            os_type: self.os_type,
            location: self.location,
            cpu: self.cpu,
            memory: self.memory,
            search_text: self.search_text,
        };
        Ok((h, ips))
    }
}

async fn wire_hosts(
    ctx: &Ctx,
    actor: &Actor,
    rows: Vec<host::Model>,
    mut ips: HashMap<i64, Vec<IpAddress>>,
) -> AppResult<Vec<Host>> {
    let ids: Vec<i64> = rows.iter().map(|h| h.id).collect();
    let mut perms = resource_perm_sets(ctx, actor, HOST, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|h| Host {
            id: h.id,
            name: h.hostname.clone(),
            ip_address: ips.remove(&h.id).unwrap_or_default(),
            available_actions: perms.remove(&h.id).unwrap_or_default(),
            hostname: h.hostname,
            host_type: h.host_type,
            status: h.status,
            os_status: h.os_status,
            os_type: h.os_type,
            cpu: h.cpu,
            memory: h.memory,
            location: h.location,
            description: h.description,
            created_at: crate::time::fmt(&h.created_at),
            updated_at: crate::time::fmt(&h.updated_at),
        })
        .collect())
}

/// What `q` matches by substring: name and description, lower-cased (stored per host and indexed
/// by trigrams; see the `host_search` and `list_speed` migrations). Addresses match by prefix
/// through their own index (`search_filter`).
pub fn search_text(name: &str, description: &str) -> String {
    format!("{} {}", name.to_lowercase(), description.to_lowercase())
}

/// `q`: hosts whose name or description contains the fragment (case-insensitive; through the
/// trigram index from 3 characters on), or with an address that starts with it ("10.1.2" finds
/// 10.1.2.7 and 10.1.20.7, not 110.1.2.7): the ids, as one `… UNION …` (existing hosts only).
fn search_ids(backend: sea_orm::DbBackend, v: &str) -> sea_orm::sea_query::SelectStatement {
    let v = v.to_lowercase();
    let text = crate::db::contains_text(backend, "hosts", "search_text", &v);
    let mut ids = Query::select()
        .column((host::Entity, host::Column::Id))
        .from(host::Entity)
        .and_where(text)
        .to_owned();
    if let Some(range) = address_prefix(backend, &v) {
        ids.union(
            sea_orm::sea_query::UnionType::Distinct,
            Query::select()
                .column(ip::Column::HostId)
                .from(ip::Entity)
                .and_where(range)
                .to_owned(),
        );
    }
    ids
}

/// Addresses that start with `v`, as a range over the address index (byte order; PostgreSQL's
/// locale collations skip dots); `None` when `v` cannot begin an address.
fn address_prefix(backend: sea_orm::DbBackend, v: &str) -> Option<Expr> {
    let v = v.to_lowercase();
    let next = prefix_end(&v)?;
    Some(if backend == sea_orm::DbBackend::Sqlite {
        Expr::cust_with_values("address >= ? AND address < ?", [v, next])
    } else {
        Expr::cust_with_values(
            // sea-query numbers placeholders for PostgreSQL: `$n`, not `?`.
            r#"address COLLATE "C" >= $1 AND address COLLATE "C" < $2"#,
            [v, next],
        )
    })
}

/// For a fragment that can begin an address (hex digits, dots, colons), the first string after
/// every string that starts with it; `None` for anything else.
fn prefix_end(v: &str) -> Option<String> {
    if v.is_empty()
        || !v
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '.' || c == ':')
    {
        return None;
    }
    let mut bytes = v.as_bytes().to_vec();
    *bytes.last_mut()? += 1;
    String::from_utf8(bytes).ok()
}

fn ip_hosts(cond: Condition) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(ip::Column::HostId)
        .from(ip::Entity)
        .cond_where(cond)
        .to_owned()
}

/// The hosts the actor may see that match `f` (lists and exports).
pub(crate) struct Filtered {
    /// Without ordering: for counts.
    pub unsorted: sea_orm::Select<host::Entity>,
    /// Sorted by the requested column, then id.
    pub sorted: sea_orm::Select<host::Entity>,
    /// The sort column and whether it is descending.
    order: (host::Column, bool),
    /// How to count it without `COUNT(*)`, when possible.
    known: crate::db::Known,
    /// Sorted by name, ascending (the default).
    by_name: bool,
}

pub(crate) async fn filtered(ctx: &Ctx, actor: &Actor, f: &HostFilter) -> AppResult<Filtered> {
    use host::Column as C;
    let mut q = host::Entity::find();
    let backend = ctx.db.get_database_backend();
    let mut known = crate::db::Known::Table("hosts");
    if let Some(ids) = granted_set(ctx, actor, HOST, "view_host").await? {
        q = q.filter(id_in(backend, (host::Entity, C::Id), &ids));
        known = crate::db::Known::Rows(ids.len() as u64);
    }
    fn set(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    for (col, v) in [
        (C::HostType, &f.host_type),
        (C::Status, &f.status),
        (C::OsStatus, &f.os_status),
        (C::Location, &f.location),
    ] {
        if let Some(v) = set(v) {
            q = q.filter(col.eq(v));
        }
    }
    if let Some(v) = set(&f.name) {
        q = q.filter(C::Hostname.contains(v));
    }
    if let Some(v) = set(&f.ip) {
        let cond = address_prefix(backend, v)
            .unwrap_or_else(|| Expr::col(ip::Column::Address).like(format!("{v}%")));
        q = q.filter(C::Id.in_subquery(ip_hosts(Condition::all().add(cond))));
    }
    let mut searched = None;
    if let Some(v) = set(&f.q) {
        let ids = search_ids(backend, v);
        q = q.filter(C::Id.in_subquery(ids.clone()));
        searched = Some(ids);
    }
    let ordering = f.ordering.as_deref().unwrap_or("name");
    let (desc, key) = ordering
        .strip_prefix('-')
        .map(|k| (true, k))
        .unwrap_or((false, ordering));
    let col = match key {
        "name" | "hostname" => C::Hostname,
        "status" => C::Status,
        "host_type" => C::HostType,
        "location" => C::Location,
        "created_at" => C::CreatedAt,
        other => {
            return Err(AppError::invalid(
                "ordering",
                format!("cannot sort by {other}"),
            ))
        }
    };
    Ok(Filtered {
        sorted: sort(q.clone(), (col, desc)),
        unsorted: q,
        order: (col, desc),
        by_name: matches!(col, C::Hostname) && !desc,
        known: match searched {
            _ if crate::db::no_filter(f, &[]) => known,
            // Only `q`, and every host visible: count the matching ids without reading hosts.
            Some(ids)
                if crate::db::no_filter(f, &["q"])
                    && matches!(known, crate::db::Known::Table(_)) =>
            {
                crate::db::Known::Ids(ids)
            }
            _ => crate::db::Known::Unknown,
        },
    })
}

fn sort(
    q: sea_orm::Select<host::Entity>,
    (col, desc): (host::Column, bool),
) -> sea_orm::Select<host::Entity> {
    let q = if desc {
        q.order_by_desc(col)
    } else {
        q.order_by_asc(col)
    };
    q.order_by_asc(host::Column::Id)
}

/// `GET /hosts/`: the hosts the actor may see, filtered, sorted and paged in SQL. The page's ids
/// are chosen first (sorting only ids), then the page's rows are read with their addresses.
pub async fn list(ctx: &Ctx, actor: &Actor, f: HostFilter) -> AppResult<Page<Host>> {
    use host::Column as C;
    use sea_orm::QueryTrait;
    let fq = filtered(ctx, actor, &f).await?;
    let only_visibility = matches!(fq.known, crate::db::Known::Rows(_));
    let count = crate::db::count_of(&ctx.db, fq.unsorted, fq.known).await?;
    // Restricted by visibility alone, in name order: the page is a slice of the user's visible
    // hosts kept in name order; otherwise the database sorts the candidates' ids.
    let sliced = if only_visibility && fq.by_name {
        granted_by_name(ctx, actor, HOST, "view_host")
            .await?
            .map(|all| page_slice(&all, &f.page))
    } else {
        None
    };
    let rows = host::Entity::find();
    let rows = match sliced {
        Some(ids) => rows.filter(C::Id.is_in(ids)),
        None => rows.filter(
            C::Id.in_subquery(
                fq.sorted
                    .select_only()
                    .column(C::Id)
                    .offset(f.page.offset())
                    .limit(f.page.size())
                    .into_query(),
            ),
        ),
    };
    let page = sort(rows, fq.order)
        .column_as(ips_json(ctx.db.get_database_backend()), "ips")
        .into_model::<PageRow>()
        .all(&ctx.db)
        .await?;
    let mut rows = Vec::with_capacity(page.len());
    let mut ips = HashMap::new();
    for r in page {
        let (h, i) = r.split()?;
        ips.insert(h.id, i);
        rows.push(h);
    }
    Ok(Page::new(
        count,
        &f.page,
        wire_hosts(ctx, actor, rows, ips).await?,
    ))
}

async fn load<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<host::Model> {
    host::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("host"))
}

/// A host by its name, for forms that take a name. One the actor may not view is answered like
/// one that does not exist.
pub async fn by_name(ctx: &Ctx, actor: &Actor, name: &str) -> AppResult<Host> {
    actor.require()?;
    let missing = || AppError::invalid("name", format!("no host {name}"));
    let h = host::Entity::find()
        .filter(host::Column::Hostname.eq(name.trim()))
        .one(&ctx.db)
        .await?
        .ok_or_else(missing)?;
    authorize_resource(ctx, actor, HOST, h.id, "view_host")
        .await
        .map_err(|_| missing())?;
    Ok(to_wire(ctx, actor, vec![h]).await?.remove(0))
}

/// `GET /hosts/{id}/`.
pub async fn get(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Host> {
    authorize_resource(ctx, actor, HOST, id, "view_host").await?;
    let h = load(&ctx.db, id).await?;
    Ok(to_wire(ctx, actor, vec![h]).await?.remove(0))
}

/// Replaces a host's addresses; an address already used on the same network by another host is
/// refused, naming that host only when the actor may view it.
async fn set_ips<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    actor: &Actor,
    host_id: i64,
    ips: &[IpAddress],
) -> AppResult<()> {
    for i in ips {
        let taken = ip::Entity::find()
            .filter(ip::Column::Network.eq(i.network.clone()))
            .filter(ip::Column::Address.eq(i.address.clone()))
            .filter(ip::Column::HostId.ne(host_id))
            .one(db)
            .await?;
        if let Some(t) = taken {
            let other = if holds_resource(ctx, actor.id, HOST, t.host_id, "view_host").await {
                host::Entity::find_by_id(t.host_id)
                    .one(db)
                    .await?
                    .map(|h| h.hostname)
            } else {
                None
            };
            let by = other.map_or_else(|| "another host".to_string(), |h| format!("host {h}"));
            return Err(AppError::invalid(
                "ip_address",
                format!(
                    "{} is already used on network {} by {by}",
                    i.address, i.network
                ),
            ));
        }
    }
    ip::Entity::delete_many()
        .filter(ip::Column::HostId.eq(host_id))
        .exec(db)
        .await?;
    for i in ips {
        ip::ActiveModel {
            host_id: Set(host_id),
            owner: Set(i.owner.clone().unwrap_or_default()),
            is_virtual: Set(i.is_virtual),
            addr_type: Set(i.addr_type.clone().unwrap_or_else(|| "PRIVATE".into())),
            network: Set(i.network.clone()),
            netmask: Set(i.netmask.clone()),
            address: Set(i.address.clone()),
            zabbix_groups: Set(json!(i.zabbix_groups).to_string()),
            zabbix_templates: Set(json!(i.zabbix_templates).to_string()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

pub(crate) async fn ensure_name_free<C: ConnectionTrait>(
    db: &C,
    name: &str,
    except: Option<i64>,
) -> AppResult<()> {
    let mut q = host::Entity::find().filter(host::Column::Hostname.eq(name));
    if let Some(id) = except {
        q = q.filter(host::Column::Id.ne(id));
    }
    if q.one(db).await?.is_some() {
        return Err(AppError::conflict(format!("host {name} already exists")).with_field("name"));
    }
    Ok(())
}

/// A host written by `create_in`/`update_in`: the row, its addresses, the audit snapshots, and
/// (for a new host) the creator's grants to load into the enforcer after commit.
pub(crate) struct Written {
    pub host: host::Model,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub rules: Vec<crate::perms::casbin::Rule>,
}

/// Creates a host inside `txn` (authorized and validated; no audit record).
pub(crate) async fn create_in<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx,
    actor: &Actor,
    input: HostInput,
) -> AppResult<Written> {
    authorize_module(ctx, actor, "host", "add_host").await?;
    insert_in(txn, ctx, actor, input).await
}

/// Registers a host inside `txn` without an authorization check: for callers that decided
/// already (a host request's fulfilment, approved by an approver). The actor gets every host
/// permission on it, as a creator does.
pub(crate) async fn insert_in<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx,
    actor: &Actor,
    input: HostInput,
) -> AppResult<Written> {
    let ips = validate_host(&input)?.unwrap_or_default();
    let name = input.name.clone().unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return Err(AppError::invalid("name", "a host needs a name"));
    }
    ensure_name_free(txn, &name, None).await?;
    let now = crate::time::now();
    let h = host::ActiveModel {
        hostname: Set(name.clone()),
        host_type: Set(input.host_type.unwrap_or_else(|| "PHY_HOST".into())),
        status: Set(input.status.unwrap_or_else(|| "raw".into())),
        os_status: Set(input.os_status.unwrap_or_else(|| "stopped".into())),
        os_type: Set(input.os_type.unwrap_or_default()),
        cpu: Set(input.cpu.unwrap_or(0)),
        memory: Set(input.memory.unwrap_or(0)),
        location: Set(input.location.unwrap_or_default()),
        search_text: Set(search_text(
            &name,
            input.description.as_deref().unwrap_or_default(),
        )),
        description: Set(input.description.unwrap_or_default()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    set_ips(txn, ctx, actor, h.id, &ips).await?;
    let rules = grant_creator(txn, actor, HOST, h.id, HOST_PERMS).await?;
    Ok(Written {
        before: json!(null),
        after: snapshot(&h, &ips),
        host: h,
        rules,
    })
}

/// `POST /hosts/`.
pub async fn create(ctx: &Ctx, actor: &Actor, input: HostInput) -> AppResult<Host> {
    let txn = crate::db::begin(&ctx.db).await?;
    let w = create_in(&txn, ctx, actor, input).await?;
    record(
        &txn,
        actor,
        Entry::new("host", "add")
            .target("host", Some(w.host.id), &w.host.hostname)
            .change(w.before, w.after),
    )
    .await?;
    txn.commit().await?;
    crate::perms::service::catalog_changed(HOST);
    apply(&mut *ctx.enforcer.write().await, w.rules, vec![]).await?;
    Ok(to_wire(ctx, actor, vec![w.host]).await?.remove(0))
}

/// Updates a host inside `txn` (authorized and validated; no audit record).
pub(crate) async fn update_in<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    input: HostInput,
) -> AppResult<Written> {
    authorize_resource(ctx, actor, HOST, id, "edit_host").await?;
    let ips = validate_host(&input)?;
    let before = load(txn, id).await?;
    if let Some(to) = input.status.as_deref() {
        crate::hosttasks::service::authorize_status(ctx, actor, id, &before.status, to).await?;
    }
    let before_ips = ips_of(txn, &[id]).await?.remove(&id).unwrap_or_default();
    let mut am: host::ActiveModel = before.clone().into();
    if let Some(n) = input.name.as_deref().map(str::trim) {
        ensure_name_free(txn, n, Some(id)).await?;
        am.hostname = Set(n.to_string());
    }
    macro_rules! take {
        ($($f:ident),*) => { $( if let Some(v) = input.$f.clone() { am.$f = Set(v); } )* };
    }
    take!(
        host_type,
        status,
        os_status,
        os_type,
        cpu,
        memory,
        location,
        description
    );
    am.updated_at = Set(crate::time::now());
    am.search_text = Set(search_text(am.hostname.as_ref(), am.description.as_ref()));
    let after = am.update(txn).await?;
    if let Some(ips) = &ips {
        set_ips(txn, ctx, actor, id, ips).await?;
    }
    let after_ips = ips.unwrap_or(before_ips.clone());
    Ok(Written {
        before: snapshot(&before, &before_ips),
        after: snapshot(&after, &after_ips),
        host: after,
        rules: vec![],
    })
}

/// `PATCH /hosts/{id}/`.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, input: HostInput) -> AppResult<Host> {
    let txn = crate::db::begin(&ctx.db).await?;
    let w = update_in(&txn, ctx, actor, id, input).await?;
    record(
        &txn,
        actor,
        Entry::new("host", "update")
            .target("host", Some(id), &w.host.hostname)
            .change(w.before, w.after),
    )
    .await?;
    txn.commit().await?;
    crate::perms::service::catalog_changed(HOST);
    Ok(to_wire(ctx, actor, vec![w.host]).await?.remove(0))
}

/// Ids and names of the applications with instances on a host (for refusal messages).
pub(crate) async fn apps_on<C: ConnectionTrait>(
    db: &C,
    host_id: i64,
) -> AppResult<Vec<(i64, String)>> {
    let sub = Query::select()
        .column(instance::Column::AppId)
        .from(instance::Entity)
        .and_where(Expr::col(instance::Column::HostId).eq(host_id))
        .to_owned();
    Ok(app::Entity::find()
        .filter(app::Column::Id.in_subquery(sub))
        .order_by_asc(app::Column::FullName)
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.full_name))
        .collect())
}

/// `DELETE /hosts/{id}/`: refused while application instances run on it, unless `force`
/// (which removes those instances).
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64, force: bool) -> AppResult<Message> {
    authorize_resource(ctx, actor, HOST, id, "delete_host").await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let h = load(&txn, id).await?;
    let apps = apps_on(&txn, id).await?;
    if !apps.is_empty() && !force {
        return Err(AppError::conflict(format!(
            "{} has instances of {}; delete with force=true to remove them",
            h.hostname,
            visible_names(ctx, actor, ResourceType::Application, &apps).await?
        )));
    }
    let apps: Vec<String> = apps.into_iter().map(|(_, n)| n).collect();
    let ips = ips_of(&txn, &[id]).await?.remove(&id).unwrap_or_default();
    instance::Entity::delete_many()
        .filter(instance::Column::HostId.eq(id))
        .exec(&txn)
        .await?;
    ip::Entity::delete_many()
        .filter(ip::Column::HostId.eq(id))
        .exec(&txn)
        .await?;
    let removed = drop_resource_grants(&txn, HOST, id).await?;
    host::Entity::delete_by_id(id).exec(&txn).await?;
    let detail = json!({"before": snapshot(&h, &ips), "after": null, "removed_instances_of": apps});
    record(
        &txn,
        actor,
        Entry::new("host", "delete")
            .target("host", Some(id), &h.hostname)
            .detail(detail),
    )
    .await?;
    txn.commit().await?;
    crate::perms::service::catalog_changed(HOST);
    apply(&mut *ctx.enforcer.write().await, vec![], removed).await?;
    Ok(Message::success())
}

/// `GET /hosts/{id}/applications/`: applications with an instance on this host (that you may see).
pub async fn applications(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    f: AppFilter,
) -> AppResult<Page<Application>> {
    authorize_resource(ctx, actor, HOST, id, "view_host").await?;
    let sub = Query::select()
        .column(instance::Column::AppId)
        .from(instance::Entity)
        .and_where(Expr::col(instance::Column::HostId).eq(id))
        .to_owned();
    crate::applications::service::list_in(
        ctx,
        actor,
        app::Entity::find().filter(app::Column::Id.in_subquery(sub)),
        f,
    )
    .await
}

fn wire_instance(
    i: instance::Model,
    hosts: &HashMap<i64, String>,
    apps: &HashMap<i64, String>,
) -> Instance {
    Instance {
        id: i.id,
        hostid: i.host_id,
        hostname: hosts.get(&i.host_id).cloned().unwrap_or_default(),
        app_id: i.app_id,
        app_name: apps.get(&i.app_id).cloned().unwrap_or_default(),
        status: i.status,
        version: i.version,
    }
}

async fn names_for<C: ConnectionTrait>(
    db: &C,
    rows: &[instance::Model],
) -> AppResult<(HashMap<i64, String>, HashMap<i64, String>)> {
    let hosts = host::Entity::find()
        .filter(host::Column::Id.is_in(rows.iter().map(|r| r.host_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|h| (h.id, h.hostname))
        .collect();
    let apps = app::Entity::find()
        .filter(app::Column::Id.is_in(rows.iter().map(|r| r.app_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.full_name))
        .collect();
    Ok((hosts, apps))
}

/// `GET /applications/{id}/instances/`.
pub async fn instances(
    ctx: &Ctx,
    actor: &Actor,
    app_id: i64,
    page: PageQuery,
) -> AppResult<Page<Instance>> {
    authorize_resource(ctx, actor, ResourceType::Application, app_id, "view_app").await?;
    let q = instance::Entity::find().filter(instance::Column::AppId.eq(app_id));
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(instance::Column::Id)
        .offset(page.offset())
        .limit(page.size())
        .all(&ctx.db)
        .await?;
    let (mut hosts, apps) = names_for(&ctx.db, &rows).await?;
    // Hosts the caller may not view appear by id, without their name.
    if let Some(seen) = granted_set(ctx, actor, HOST, "view_host").await? {
        hosts.retain(|id, _| seen.binary_search(id).is_ok());
    }
    Ok(Page::new(
        count,
        &page,
        rows.into_iter()
            .map(|r| wire_instance(r, &hosts, &apps))
            .collect(),
    ))
}

/// `POST /applications/{id}/instances/`: attaches the application to hosts (audited on both).
pub async fn add_instances(
    ctx: &Ctx,
    actor: &Actor,
    app_id: i64,
    on: Vec<InstanceOnHost>,
) -> AppResult<Vec<Instance>> {
    crate::common::validate::items(on.len())?;
    authorize_resource(ctx, actor, ResourceType::Application, app_id, "edit_app").await?;
    for o in &on {
        authorize_resource(ctx, actor, HOST, o.hostid, "edit_host").await?;
    }
    let txn = crate::db::begin(&ctx.db).await?;
    let a = app::Entity::find_by_id(app_id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("application"))?;
    let mut created = vec![];
    for o in on {
        let h = load(&txn, o.hostid)
            .await
            .map_err(|_| AppError::invalid("hostid", format!("no host {}", o.hostid)))?;
        if instance::Entity::find()
            .filter(instance::Column::AppId.eq(app_id))
            .filter(instance::Column::HostId.eq(h.id))
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(AppError::conflict(format!(
                "{} already has an instance on {}",
                a.full_name, h.hostname
            ))
            .with_field("hostid"));
        }
        let i = instance::ActiveModel {
            app_id: Set(app_id),
            host_id: Set(h.id),
            status: Set("stopped".into()),
            version: Set(String::new()),
            created_at: Set(crate::time::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        record(
            &txn,
            actor,
            Entry::new("app", "attach_host")
                .target("application", Some(app_id), &a.full_name)
                .detail(json!({"host": h.hostname, "instance": i.id})),
        )
        .await?;
        record(
            &txn,
            actor,
            Entry::new("host", "attach_app")
                .target("host", Some(h.id), &h.hostname)
                .detail(json!({"application": a.full_name, "instance": i.id})),
        )
        .await?;
        created.push(i);
    }
    txn.commit().await?;
    let (hosts, apps) = names_for(&ctx.db, &created).await?;
    Ok(created
        .into_iter()
        .map(|r| wire_instance(r, &hosts, &apps))
        .collect())
}

/// `DELETE /applications/{id}/instances/`: `[{"id": instance}]`.
pub async fn remove_instances(
    ctx: &Ctx,
    actor: &Actor,
    app_id: i64,
    ids: Vec<IdRef>,
) -> AppResult<Message> {
    crate::common::validate::items(ids.len())?;
    authorize_resource(ctx, actor, ResourceType::Application, app_id, "edit_app").await?;
    let rows = instance::Entity::find()
        .filter(instance::Column::AppId.eq(app_id))
        .filter(instance::Column::Id.is_in(ids.iter().map(|i| i.id).collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?;
    for r in &rows {
        authorize_resource(ctx, actor, HOST, r.host_id, "edit_host").await?;
    }
    let txn = crate::db::begin(&ctx.db).await?;
    let (hosts, apps) = names_for(&txn, &rows).await?;
    for r in rows {
        instance::Entity::delete_by_id(r.id).exec(&txn).await?;
        let (hn, an) = (
            hosts.get(&r.host_id).cloned().unwrap_or_default(),
            apps.get(&r.app_id).cloned().unwrap_or_default(),
        );
        record(
            &txn,
            actor,
            Entry::new("app", "detach_host")
                .target("application", Some(app_id), &an)
                .detail(json!({"host": hn, "instance": r.id})),
        )
        .await?;
        record(
            &txn,
            actor,
            Entry::new("host", "detach_app")
                .target("host", Some(r.host_id), &hn)
                .detail(json!({"application": an, "instance": r.id})),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Message::success())
}
