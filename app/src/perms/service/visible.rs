//! What a user may see, as id sets for lists: computed in SQL from grants, roles and the
//! application closure, cached per policy (and catalog) epoch.
use super::*;

/// `perm_grants` rows (aliased `g`) that belong to the actor: direct, or through a role.
fn actor_grants_cond(actor_id: i64) -> sea_orm::sea_query::Condition {
    use sea_orm::sea_query::{Alias, Cond, Expr, ExprTrait, Query};
    let roles = Query::select()
        .column(Alias::new("role_id"))
        .from(Alias::new("user_roles"))
        .and_where(Expr::col(Alias::new("user_id")).eq(actor_id))
        .to_owned();
    let g = |c: &str| Expr::col((Alias::new("g"), Alias::new(c)));
    Cond::any()
        .add(
            Cond::all()
                .add(g("subject_type").eq("user"))
                .add(g("subject_id").eq(actor_id)),
        )
        .add(
            Cond::all()
                .add(g("subject_type").eq("role"))
                .add(g("subject_id").in_subquery(roles)),
        )
}

/// The actor's grants, joined to the resources they cover: for applications through the
/// ancestor closure (grants on parents and product lines apply), otherwise directly.
/// Selects `(resource id, perm)`.
fn covered_query(
    rtype: ResourceType,
    whose: sea_orm::sea_query::Condition,
) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let g = |c: &str| Expr::col((Alias::new("g"), Alias::new(c)));
    let mut q = Query::select();
    if rtype == ResourceType::Application {
        let p = |c: &str| Expr::col((Alias::new("p"), Alias::new(c)));
        q.expr_as(p("app_id"), Alias::new("rid"))
            .expr_as(g("perm"), Alias::new("perm"))
            .from_as(Alias::new("application_paths"), Alias::new("p"))
            .join_as(
                sea_orm::sea_query::JoinType::InnerJoin,
                Alias::new("perm_grants"),
                Alias::new("g"),
                sea_orm::sea_query::Cond::all()
                    .add(g("resource_type").equals((Alias::new("p"), Alias::new("ancestor_type"))))
                    .add(g("resource_id").equals((Alias::new("p"), Alias::new("ancestor_id")))),
            );
    } else {
        q.expr_as(g("resource_id"), Alias::new("rid"))
            .expr_as(g("perm"), Alias::new("perm"))
            .from_as(Alias::new("perm_grants"), Alias::new("g"))
            .and_where(g("resource_type").eq(rtype.as_str()));
    }
    q.cond_where(whose);
    q
}

/// Per process: the ids each user holds a permission on through grants (direct, through a role,
/// through the application hierarchy), computed once per policy epoch. Lists, counts and
/// `available_actions` of a user without module-wide rights read these instead of joining the
/// grants with the hierarchy closure on every query. The sets are bounded by the user's grants
/// (users who see everything never get one), and the cache by `VISIBLE_ENTRIES`.
#[derive(Default)]
pub struct VisibleCache {
    /// Valid for a policy epoch.
    sets: Stamped<u64>,
    /// The same sets in name order (then id), valid for a policy epoch and a catalog epoch.
    by_name: Stamped<(u64, u64)>,
    /// Held while a missing set is computed, so concurrent requests compute it once.
    computing: tokio::sync::Mutex<()>,
}

/// (user, resource kind, permission).
type SetKey = (i64, &'static str, String);

/// Id sets, each served only under the stamp (epochs) it was computed under; at most
/// `VISIBLE_ENTRIES` of them.
struct Stamped<S> {
    map: std::sync::Mutex<HashMap<SetKey, (S, Arc<Vec<i64>>)>>,
}

impl<S> Default for Stamped<S> {
    fn default() -> Self {
        Stamped {
            map: Default::default(),
        }
    }
}

impl<S: PartialEq + Copy> Stamped<S> {
    fn get(&self, key: &SetKey, stamp: S) -> Option<Arc<Vec<i64>>> {
        let map = self.map.lock().expect("visible cache");
        map.get(key)
            .filter(|(s, _)| *s == stamp)
            .map(|(_, ids)| ids.clone())
    }

    fn put(&self, key: SetKey, stamp: S, ids: Arc<Vec<i64>>) {
        let mut map = self.map.lock().expect("visible cache");
        if map.len() >= VISIBLE_ENTRIES {
            map.clear();
        }
        map.insert(key, (stamp, ids));
    }
}

const VISIBLE_ENTRIES: usize = 4096;

/// Per resource kind: counts committed writes to its rows in this process (see `catalog_changed`).
static CATALOG: [std::sync::atomic::AtomicU64; 4] = [
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
];

fn catalog_slot(rtype: ResourceType) -> &'static std::sync::atomic::AtomicU64 {
    &CATALOG[match rtype {
        ResourceType::Application => 0,
        ResourceType::Host => 1,
        ResourceType::Business => 2,
        ResourceType::DnsDomain => 3,
    }]
}

/// Marks resources of a kind as created, renamed, moved or deleted, after the writing
/// transaction committed: name-ordered visible sets of that kind are stale.
pub fn catalog_changed(rtype: ResourceType) {
    catalog_slot(rtype).fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// The ids of one page of `all`.
pub fn page_slice(all: &[i64], page: &PageQuery) -> Vec<i64> {
    all.iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.size()).unwrap_or(0))
        .copied()
        .collect()
}

/// The ids of `granted_set`, sorted by the kind's name column (then id), for any page of a list
/// restricted by nothing but visibility: a page is then a slice of this, read by primary key,
/// instead of sorting every visible row on every request. Valid while neither the policy nor
/// the kind's rows change (both epochs are read before anything else).
pub async fn granted_by_name(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    perm: &str,
) -> AppResult<Option<Arc<Vec<i64>>>> {
    use sea_orm::sea_query::{Alias, Order, Query};
    use sea_orm::ConnectionTrait;
    actor.require()?;
    let key = (actor.id, rtype.as_str(), perm.to_string());
    // Both epochs before anything is read: what is computed during a change is never served.
    let stamp = (
        crate::perms::casbin::epoch(),
        catalog_slot(rtype).load(std::sync::atomic::Ordering::SeqCst),
    );
    if let Some(sorted) = ctx.visible.by_name.get(&key, stamp) {
        return Ok(Some(sorted));
    }
    let Some(ids) = granted_set(ctx, actor, rtype, perm).await? else {
        return Ok(None);
    };
    let _one_at_a_time = ctx.visible.computing.lock().await;
    if let Some(sorted) = ctx.visible.by_name.get(&key, stamp) {
        return Ok(Some(sorted));
    }
    let backend = ctx.db.get_database_backend();
    let table = Alias::new(rtype.table());
    let q = Query::select()
        .column((table.clone(), Alias::new("id")))
        .from(table.clone())
        .and_where(id_in(backend, (table.clone(), Alias::new("id")), &ids))
        .order_by((table.clone(), Alias::new(rtype.name_column())), Order::Asc)
        .order_by((table, Alias::new("id")), Order::Asc)
        .to_owned();
    let mut sorted = Vec::with_capacity(ids.len());
    for row in ctx.db.query_all_raw(backend.build(&q)).await? {
        sorted.push(row.try_get_by_index::<i64>(0)?);
    }
    let sorted = Arc::new(sorted);
    ctx.visible.by_name.put(key, stamp, sorted.clone());
    Ok(Some(sorted))
}

/// The sorted ids `user_id` holds `perm` on through grants, from the cache when it is current.
async fn held_ids(
    ctx: &Ctx,
    user_id: i64,
    rtype: ResourceType,
    perm: &str,
) -> AppResult<Arc<Vec<i64>>> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    use sea_orm::ConnectionTrait;
    // Read the epoch before the query: a set computed while the policy changes is stored under
    // the old epoch and never served.
    let key = (user_id, rtype.as_str(), perm.to_string());
    if let Some(ids) = ctx.visible.sets.get(&key, crate::perms::casbin::epoch()) {
        return Ok(ids);
    }
    let _one_at_a_time = ctx.visible.computing.lock().await;
    let epoch = crate::perms::casbin::epoch();
    if let Some(ids) = ctx.visible.sets.get(&key, epoch) {
        return Ok(ids);
    }
    let q = Query::select()
        .distinct()
        .column(Alias::new("rid"))
        .from_subquery(
            covered_query(rtype, actor_grants_cond(user_id)),
            Alias::new("c"),
        )
        .and_where(Expr::col(Alias::new("perm")).eq(perm))
        // Only resources that exist, so a list restricted by nothing else counts `ids.len()`.
        // EXISTS per grant row: as `rid IN (SELECT id FROM …)` SQLite walked every host.
        .and_where(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(Alias::new(rtype.table()))
                .and_where(
                    Expr::col((Alias::new(rtype.table()), Alias::new("id")))
                        .equals((Alias::new("c"), Alias::new("rid"))),
                )
                .to_owned(),
        ))
        .order_by(Alias::new("rid"), sea_orm::sea_query::Order::Asc)
        .to_owned();
    let stmt = ctx.db.get_database_backend().build(&q);
    let mut ids = vec![];
    for row in ctx.db.query_all_raw(stmt).await? {
        ids.push(row.try_get::<i64>("", "rid")?);
    }
    let ids = Arc::new(ids);
    ctx.visible.sets.put(key, epoch, ids.clone());
    Ok(ids)
}

/// `SELECT` of the given ids, bound as one parameter whatever their number: a JSON array read
/// by `json_each` on SQLite, a `bigint[]` literal read by `unnest` on PostgreSQL (a third faster
/// than `jsonb_array_elements_text`; `id = ANY(…)` made PostgreSQL walk the name index instead).
fn id_list(backend: sea_orm::DbBackend, ids: &[i64]) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
    let mut q = Query::select();
    if backend == sea_orm::DbBackend::Sqlite {
        let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        q.expr(Expr::cust("value")).from_function(
            Func::cust(Alias::new("json_each")).arg(json),
            Alias::new("v"),
        );
    } else {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        q.expr(Expr::cust("v")).from_function(
            Func::cust(Alias::new("unnest"))
                .arg(Expr::val(format!("{{{}}}", list.join(","))).cast_as(Alias::new("bigint[]"))),
            Alias::new("v"),
        );
    }
    q
}

/// For list queries: `None` when the actor sees every resource of this kind (superuser or the
/// module-wide flag), else a subquery of the ids they hold `perm` on directly, through a role,
/// or (applications) through a parent or product line. Lists filter with `id IN (subquery)` so
/// counts and pages come from SQL; the ids come from the per-process `VisibleCache`.
pub async fn granted_ids(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    perm: &str,
) -> AppResult<Option<sea_orm::sea_query::SelectStatement>> {
    Ok(granted_set(ctx, actor, rtype, perm)
        .await?
        .map(|ids| id_list(ctx.db.get_database_backend(), &ids)))
}

/// Like `granted_ids`, with the ids themselves (sorted, existing resources only), for lists that
/// can count them without a query.
pub async fn granted_set(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    perm: &str,
) -> AppResult<Option<Arc<Vec<i64>>>> {
    actor.require()?;
    if sees_all(ctx, actor, rtype, perm).await {
        return Ok(None);
    }
    Ok(Some(held_ids(ctx, actor.id, rtype, perm).await?))
}

/// `id IN (ids)` as one bound parameter (see `id_list`).
pub fn id_in(
    backend: sea_orm::DbBackend,
    col: impl sea_orm::sea_query::IntoColumnRef,
    ids: &[i64],
) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Expr, ExprTrait};
    Expr::col(col).in_subquery(id_list(backend, ids))
}

/// The permissions the actor holds on each of `ids` (for `available_actions` of a page of
/// results): grants through the hierarchy, module-wide flags, superuser.
pub async fn resource_perm_sets(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    ids: &[i64],
) -> AppResult<HashMap<i64, PermFlags>> {
    let mut held: Vec<(&str, Option<Arc<Vec<i64>>>)> = vec![];
    for p in rtype.perms() {
        let set = if sees_all(ctx, actor, rtype, p).await {
            None
        } else if actor.id > 0 && !ids.is_empty() {
            Some(held_ids(ctx, actor.id, rtype, p).await?)
        } else {
            Some(Arc::new(vec![]))
        };
        held.push((p, set));
    }
    Ok(ids
        .iter()
        .map(|id| {
            let flags = held
                .iter()
                .map(|(p, set)| {
                    let on = match set {
                        None => true,
                        Some(s) => s.binary_search(id).is_ok(),
                    };
                    (p.to_string(), on)
                })
                .collect();
            (*id, flags)
        })
        .collect())
}

/// Ids of resources a role holds `perm` on (through the hierarchy for applications), as a subquery.
pub fn role_granted_ids(
    rtype: ResourceType,
    role_id: i64,
    perm: &str,
) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let g = |c: &str| Expr::col((Alias::new("g"), Alias::new(c)));
    let whose = sea_orm::sea_query::Cond::all()
        .add(g("subject_type").eq("role"))
        .add(g("subject_id").eq(role_id));
    let inner = covered_query(rtype, whose);
    Query::select()
        .column(Alias::new("rid"))
        .from_subquery(inner, Alias::new("c"))
        .and_where(Expr::col(Alias::new("perm")).eq(perm))
        .to_owned()
}
