//! Casbin wiring: the model, and an adapter that reads and writes the typed tables
//! (`perm_grants` are the `p` lines, `user_roles` and the superuser role the `g` lines).
//!
//! Services write grants in their own transaction (with the audit record), then apply the same
//! lines to the in-memory enforcer with `apply`; the adapter's write methods exist for Casbin's
//! management API and tests.
use crate::entities::{application, perm_grant, role, user_role};
use async_trait::async_trait;
use casbin::{Adapter, CachedApi, CachedEnforcer, CoreApi, DefaultModel, Filter, MgmtApi, Model};

/// The enforcer type used everywhere: Casbin's enforcer with a result cache, which Casbin clears
/// on every policy change made through its management API (as `apply` does).
pub type Enforcer = CachedEnforcer;

/// Cached (subject, object, action) results; module checks repeat on every request.
const CACHE_ENTRIES: usize = 100_000;
use sea_orm::QuerySelect;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

/// The access model: a user holds a permission on an object when a grant to the user or to one of
/// its roles names that permission on the object or on an ancestor of it (g2: application → parent
/// application → product line). Members of the superuser role hold everything.
pub const MODEL: &str = r#"
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _
g2 = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, "superuser") || (g(r.sub, p.sub) && g2(r.obj, p.obj) && r.act == p.act)
"#;

/// The role name that holds every permission.
pub const SUPERUSER_ROLE: &str = "superuser";

/// A policy line in our terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Rule {
    /// subject (`user:1`/`role:2`), object (`module:dns`, `application:5`), permission.
    P(String, String, String),
    /// user subject, role subject.
    G(String, String),
    /// child object, parent object (`application:5` → `application:2` or `business:1`).
    G2(String, String),
}

/// Builds the enforcer and loads every policy from the database.
pub async fn enforcer(db: &DatabaseConnection) -> casbin::Result<Enforcer> {
    let model = DefaultModel::from_str(MODEL).await?;
    let mut e = Enforcer::new(model, SeaAdapter { db: db.clone() }).await?;
    e.enable_auto_save(false);
    e.set_cache(Box::new(casbin::DefaultCache::new(CACHE_ENTRIES)));
    Ok(e)
}

/// Counts changes to any enforcer in this process. Caches derived from the policy (the id sets
/// lists filter by, `perms::service::VisibleCache`) are valid only for the epoch they were
/// computed in. Every change reaches the enforcer through `apply` or a reload (`load_policy`),
/// and both bump it, after the database transaction committed.
static EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The current policy epoch (see `EPOCH`).
pub fn epoch() -> u64 {
    EPOCH.load(std::sync::atomic::Ordering::SeqCst)
}

/// Marks the policy as changed: everything cached from it is stale.
pub fn policy_changed() {
    EPOCH.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// Applies committed changes to the in-memory enforcer (the database is already written).
pub async fn apply(e: &mut Enforcer, added: Vec<Rule>, removed: Vec<Rule>) -> casbin::Result<()> {
    policy_changed();
    let r = apply_lines(e, added, removed).await;
    policy_changed();
    r
}

async fn apply_lines(e: &mut Enforcer, added: Vec<Rule>, removed: Vec<Rule>) -> casbin::Result<()> {
    let (mut ap, mut ag, mut rp, mut rg) = (vec![], vec![], vec![], vec![]);
    let (mut ag2, mut rg2) = (vec![], vec![]);
    for r in added {
        match r {
            Rule::P(s, o, a) => ap.push(vec![s, o, a]),
            Rule::G(u, g) => ag.push(vec![u, g]),
            Rule::G2(c, p) => ag2.push(vec![c, p]),
        }
    }
    for r in removed {
        match r {
            Rule::P(s, o, a) => rp.push(vec![s, o, a]),
            Rule::G(u, g) => rg.push(vec![u, g]),
            Rule::G2(c, p) => rg2.push(vec![c, p]),
        }
    }
    for l in rg2 {
        e.remove_named_grouping_policy("g2", l).await?;
    }
    for l in ag2 {
        e.add_named_grouping_policy("g2", l).await?;
    }
    // Casbin refuses a whole batch if one line is already (or no longer) present: go line by line.
    for l in rp {
        e.remove_policy(l).await?;
    }
    for l in rg {
        e.remove_grouping_policy(l).await?;
    }
    for l in ap {
        e.add_policy(l).await?;
    }
    for l in ag {
        e.add_grouping_policy(l).await?;
    }
    Ok(())
}

/// Whether `sub` may `act` on `obj`; an evaluation error counts as "no" and is logged.
pub fn check(e: &Enforcer, sub: &str, obj: &str, act: &str) -> bool {
    e.enforce((sub, obj, act)).unwrap_or_else(|err| {
        tracing::error!(error = %err, sub, obj, act, "casbin evaluation failed");
        false
    })
}

/// Splits `kind:id` into its parts.
pub fn split_key(key: &str) -> Option<(&str, &str)> {
    key.split_once(':')
}

/// The Casbin adapter over SeaORM.
pub struct SeaAdapter {
    pub db: DatabaseConnection,
}

fn adapter_err(e: impl std::fmt::Display) -> casbin::Error {
    casbin::error::AdapterError(Box::new(std::io::Error::other(e.to_string()))).into()
}

impl SeaAdapter {
    /// g2 lines: application → parent application, application → product line.
    async fn hierarchy(&self) -> Result<Vec<Vec<String>>, casbin::Error> {
        let apps: Vec<(i64, Option<i64>, Option<i64>)> = application::Entity::find()
            .select_only()
            .columns([
                application::Column::Id,
                application::Column::ParentId,
                application::Column::ProductionId,
            ])
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(adapter_err)?;
        let mut out = vec![];
        for (id, parent, production) in apps {
            if let Some(p) = parent {
                out.push(vec![
                    format!("application:{id}"),
                    format!("application:{p}"),
                ]);
            }
            if let Some(p) = production {
                out.push(vec![format!("application:{id}"), format!("business:{p}")]);
            }
        }
        Ok(out)
    }

    async fn lines(&self) -> Result<(Vec<Vec<String>>, Vec<Vec<String>>), casbin::Error> {
        let grants = perm_grant::Entity::find()
            .all(&self.db)
            .await
            .map_err(adapter_err)?;
        let p = grants
            .into_iter()
            .map(|g| {
                vec![
                    format!("{}:{}", g.subject_type, g.subject_id),
                    format!("{}:{}", g.resource_type, g.resource_key),
                    g.perm,
                ]
            })
            .collect();
        let mut g: Vec<Vec<String>> = user_role::Entity::find()
            .all(&self.db)
            .await
            .map_err(adapter_err)?
            .into_iter()
            .map(|m| vec![format!("user:{}", m.user_id), format!("role:{}", m.role_id)])
            .collect();
        if let Some(su) = role::Entity::find()
            .filter(role::Column::Name.eq(SUPERUSER_ROLE))
            .filter(role::Column::Builtin.eq(true))
            .one(&self.db)
            .await
            .map_err(adapter_err)?
        {
            g.push(vec![format!("role:{}", su.id), SUPERUSER_ROLE.to_string()]);
        }
        Ok((p, g))
    }

    fn parse_p(rule: &[String]) -> Option<perm_grant::ActiveModel> {
        let (st, sid) = split_key(rule.first()?)?;
        let (rt, rk) = split_key(rule.get(1)?)?;
        Some(perm_grant::ActiveModel {
            subject_type: Set(st.to_string()),
            subject_id: Set(sid.parse().ok()?),
            resource_type: Set(rt.to_string()),
            resource_key: Set(rk.to_string()),
            resource_id: Set((rt != "module").then(|| rk.parse().ok()).flatten()),
            perm: Set(rule.get(2)?.clone()),
            granted_by: Set(None),
            created_at: Set(crate::time::now()),
            ..Default::default()
        })
    }

    fn parse_g(rule: &[String]) -> Option<(i64, i64)> {
        let (ut, uid) = split_key(rule.first()?)?;
        let (rt, rid) = split_key(rule.get(1)?)?;
        (ut == "user" && rt == "role").then_some(())?;
        Some((uid.parse().ok()?, rid.parse().ok()?))
    }

    /// Stores one line: `Ok(false)` when it is already stored (or is not a line this adapter
    /// keeps), an error when the database refuses it for any other reason.
    async fn insert(&self, ptype: &str, rule: Vec<String>) -> casbin::Result<bool> {
        let stored = |r: Result<(), sea_orm::DbErr>| match r {
            Ok(()) => Ok(true),
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(adapter_err(e)),
        };
        match ptype {
            "p" => match Self::parse_p(&rule) {
                Some(am) => stored(am.insert(&self.db).await.map(|_| ())),
                None => Ok(false),
            },
            "g" => match Self::parse_g(&rule) {
                Some((u, r)) => stored(
                    user_role::ActiveModel {
                        user_id: Set(u),
                        role_id: Set(r),
                    }
                    .insert(&self.db)
                    .await
                    .map(|_| ()),
                ),
                None => Ok(false),
            },
            _ => Ok(false),
        }
    }

    async fn delete(&self, ptype: &str, rule: &[String]) -> casbin::Result<bool> {
        match ptype {
            "p" => {
                let Some(am) = Self::parse_p(rule) else {
                    return Ok(false);
                };
                let n = perm_grant::Entity::delete_many()
                    .filter(perm_grant::Column::SubjectType.eq(am.subject_type.unwrap()))
                    .filter(perm_grant::Column::SubjectId.eq(am.subject_id.unwrap()))
                    .filter(perm_grant::Column::ResourceType.eq(am.resource_type.unwrap()))
                    .filter(perm_grant::Column::ResourceKey.eq(am.resource_key.unwrap()))
                    .filter(perm_grant::Column::Perm.eq(am.perm.unwrap()))
                    .exec(&self.db)
                    .await
                    .map_err(adapter_err)?;
                Ok(n.rows_affected > 0)
            }
            "g" => {
                let Some((u, r)) = Self::parse_g(rule) else {
                    return Ok(false);
                };
                let n = user_role::Entity::delete_by_id((u, r))
                    .exec(&self.db)
                    .await
                    .map_err(adapter_err)?;
                Ok(n.rows_affected > 0)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl Adapter for SeaAdapter {
    async fn load_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        let (p, g) = self.lines().await?;
        m.add_policies("p", "p", p);
        m.add_policies("g", "g", g);
        m.add_policies("g", "g2", self.hierarchy().await?);
        Ok(())
    }

    async fn load_filtered_policy<'a>(
        &mut self,
        m: &mut dyn Model,
        f: Filter<'a>,
    ) -> casbin::Result<()> {
        let (p, g) = self.lines().await?;
        let keep = |line: &Vec<String>, filter: &Vec<&str>| {
            filter
                .iter()
                .enumerate()
                .all(|(i, v)| v.is_empty() || line.get(i).map(String::as_str) == Some(*v))
        };
        m.add_policies("p", "p", p.into_iter().filter(|l| keep(l, &f.p)).collect());
        m.add_policies("g", "g", g.into_iter().filter(|l| keep(l, &f.g)).collect());
        m.add_policies("g", "g2", self.hierarchy().await?);
        Ok(())
    }

    async fn save_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        let txn = crate::db::begin(&self.db).await.map_err(adapter_err)?;
        perm_grant::Entity::delete_many()
            .exec(&txn)
            .await
            .map_err(adapter_err)?;
        user_role::Entity::delete_many()
            .exec(&txn)
            .await
            .map_err(adapter_err)?;
        for rule in m.get_policy("p", "p") {
            if let Some(am) = Self::parse_p(&rule) {
                am.insert(&txn).await.map_err(adapter_err)?;
            }
        }
        for rule in m.get_policy("g", "g") {
            if let Some((u, r)) = Self::parse_g(&rule) {
                user_role::ActiveModel {
                    user_id: Set(u),
                    role_id: Set(r),
                }
                .insert(&txn)
                .await
                .map_err(adapter_err)?;
            }
        }
        txn.commit().await.map_err(adapter_err)
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        perm_grant::Entity::delete_many()
            .exec(&self.db)
            .await
            .map_err(adapter_err)?;
        user_role::Entity::delete_many()
            .exec(&self.db)
            .await
            .map_err(adapter_err)?;
        Ok(())
    }

    fn is_filtered(&self) -> bool {
        false
    }

    async fn add_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        self.insert(ptype, rule).await
    }

    async fn add_policies(
        &mut self,
        _sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let mut all = true;
        for r in rules {
            all &= self.insert(ptype, r).await?;
        }
        Ok(all)
    }

    async fn remove_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        self.delete(ptype, &rule).await
    }

    async fn remove_policies(
        &mut self,
        _sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let mut all = true;
        for r in rules {
            all &= self.delete(ptype, &r).await?;
        }
        Ok(all)
    }

    async fn remove_filtered_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        field_index: usize,
        field_values: Vec<String>,
    ) -> casbin::Result<bool> {
        let (p, g) = self.lines().await?;
        let lines = if ptype == "p" { p } else { g };
        let mut any = false;
        for l in lines {
            let hit = field_values
                .iter()
                .enumerate()
                .all(|(i, v)| v.is_empty() || l.get(field_index + i) == Some(v));
            if hit {
                any |= self.delete(ptype, &l).await?;
            }
        }
        Ok(any)
    }
}
