//! `opsdeck bench-seed`: fills a database with the CMDB benchmark's estate (docs/benchmarks.md).
//! It writes rows in bulk, bypassing the services (and their audit), which is what a generator of
//! test data should do; the permission grants it creates are ordinary grant rows.
use app::ctx::{Actor, Ctx};
use app::entities::{
    application as app_e, application_dependency as dep, application_path as path, host, instance,
    ip_address as ip, perm_grant, production, role, user_role,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use std::collections::HashSet;

mod deploy;
mod dns;
mod requests;

/// Sizes of the generated estate.
pub struct Sizes {
    pub hosts: usize,
    pub apps: usize,
    pub instances: usize,
    pub grants: usize,
    /// Resource requests (issue 9 benchmark; 0: none).
    pub requests: usize,
    /// Records of the DNS benchmark zone `bench.test` (0: no DNS service or zone).
    pub records: usize,
    /// Deploy tasks (issue 10 benchmark; 0: none).
    pub deploy_tasks: usize,
    /// The PowerDNS server of that zone: API base URL and key (needed when `records` > 0).
    pub pdns: Option<(String, String)>,
}

/// A tiny deterministic generator (xorshift), so every run builds the same estate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

async fn chunks<A, E>(db: &sea_orm::DatabaseConnection, rows: Vec<A>) -> Result<(), String>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + Send,
{
    let txn = db.begin().await.map_err(|e| e.to_string())?;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<A> = rows.by_ref().take(500).collect();
        E::insert_many(batch)
            .exec(&txn)
            .await
            .map_err(|e| e.to_string())?;
    }
    txn.commit().await.map_err(|e| e.to_string())
}

/// Builds the estate and a non-admin user `bench` whose 1,000 grants come through a role, then
/// (when sized) the resource requests and the DNS zone of the issue 9 benchmark.
/// Answers `NAME=value` lines: API tokens for an administrator (`ADMIN_TOKEN`, `bench-admin`)
/// and for `bench` (`BENCH_TOKEN`), and what the requests and DNS parts add.
pub async fn seed(ctx: &Ctx, s: Sizes) -> Result<Vec<(String, String)>, String> {
    let db = &ctx.db;
    let now = chrono::Utc::now();
    let mut rng = Rng(0x5eed_0bad_cafe_f00d);
    let lines = 20usize;
    chunks(
        db,
        (0..lines)
            .map(|i| production::ActiveModel {
                name: Set(format!("line-{i:02}")),
                description: Set(String::new()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    let first_line = production::Entity::find()
        .one(db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no product line")?
        .id;

    // Applications: a fifth top-level (each in a product line), the rest children of earlier ones.
    let top = (s.apps / 5).max(1);
    let mut parent: Vec<Option<usize>> = Vec::with_capacity(s.apps);
    let mut full: Vec<String> = Vec::with_capacity(s.apps);
    for i in 0..s.apps {
        if i < top {
            parent.push(None);
            full.push(format!("app{i:05}"));
        } else {
            let p = rng.below(i.min(top * 3));
            parent.push(Some(p));
            full.push(format!("{}.app{i:05}", full[p]));
        }
    }
    // Ids are assigned in insertion order from the first id.
    chunks(
        db,
        (0..s.apps)
            .map(|i| app_e::ActiveModel {
                name: Set(format!("app{i:05}")),
                full_name: Set(full[i].clone()),
                production_id: Set(parent[i].is_none().then(|| first_line + (i % lines) as i64)),
                parent_id: Set(None),
                application_type: Set("process".into()),
                description: Set(String::new()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    let first_app = app_e::Entity::find()
        .one(db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no application")?
        .id;
    let id_of = |i: usize| first_app + i as i64;
    // Parents, then the closure table.
    let txn = db.begin().await.map_err(|e| e.to_string())?;
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            app_e::ActiveModel {
                id: Set(id_of(i)),
                parent_id: Set(Some(id_of(*p))),
                ..Default::default()
            }
            .update(&txn)
            .await
            .map_err(|e| e.to_string())?;
        }
    }
    txn.commit().await.map_err(|e| e.to_string())?;
    let mut paths = vec![];
    for i in 0..s.apps {
        let mut cur = Some(i);
        while let Some(c) = cur {
            paths.push(path::ActiveModel {
                app_id: Set(id_of(i)),
                ancestor_type: Set("application".into()),
                ancestor_id: Set(id_of(c)),
            });
            if parent[c].is_none() {
                paths.push(path::ActiveModel {
                    app_id: Set(id_of(i)),
                    ancestor_type: Set("business".into()),
                    ancestor_id: Set(first_line + (c % lines) as i64),
                });
            }
            cur = parent[c];
        }
    }
    chunks(db, paths).await?;
    let mut edges = HashSet::new();
    for i in 1..s.apps {
        edges.insert((i, rng.below(i)));
    }
    chunks(
        db,
        edges
            .into_iter()
            .map(|(a, r)| dep::ActiveModel {
                app_id: Set(id_of(a)),
                required_id: Set(id_of(r)),
            })
            .collect(),
    )
    .await?;

    // Hosts with two addresses each.
    let types = app::hosts::types::HOST_TYPES;
    let statuses = app::hosts::types::HOST_STATUSES;
    // Host i: 10.a.b.c in 10.a.0.0/16 and 172.(16+a).b.c in a /24.
    let addrs = |i: usize| {
        let (a, b, c) = ((i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
        [
            (
                format!("10.{a}.{b}.{c}"),
                format!("10.{a}.0.0"),
                "255.255.0.0",
            ),
            (
                format!("172.{}.{b}.{c}", 16 + a),
                format!("172.{}.{b}.0", 16 + a),
                "255.255.255.0",
            ),
        ]
    };
    chunks(
        db,
        (0..s.hosts)
            .map(|i| host::ActiveModel {
                hostname: Set(format!("host-{i:06}")),
                host_type: Set(types[i % types.len()].into()),
                status: Set(statuses[i % statuses.len()].into()),
                os_status: Set("running".into()),
                os_type: Set("debian-12".into()),
                location: Set(["hangzhou", "beijing", "shanghai"][i % 3].into()),
                description: Set(String::new()),
                search_text: Set(app::hosts::service::search_text(
                    &format!("host-{i:06}"),
                    "",
                )),
                cpu: Set(8),
                memory: Set(16384),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    let first_host = host::Entity::find()
        .one(db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no host")?
        .id;
    let mut ips = Vec::with_capacity(s.hosts * 2);
    for i in 0..s.hosts {
        for (addr, net, mask) in addrs(i) {
            ips.push(ip::ActiveModel {
                host_id: Set(first_host + i as i64),
                owner: Set("HOST".into()),
                is_virtual: Set(false),
                addr_type: Set("PRIVATE".into()),
                network: Set(net),
                netmask: Set(mask.into()),
                address: Set(addr),
                zabbix_groups: Set("[]".into()),
                zabbix_templates: Set("[]".into()),
                ..Default::default()
            });
        }
    }
    chunks(db, ips).await?;
    let mut pairs = HashSet::new();
    while pairs.len() < s.instances.min(s.apps * s.hosts) {
        pairs.insert((rng.below(s.apps), rng.below(s.hosts)));
    }
    chunks(
        db,
        pairs
            .into_iter()
            .map(|(a, h)| instance::ActiveModel {
                app_id: Set(id_of(a)),
                host_id: Set(first_host + h as i64),
                status: Set("running".into()),
                version: Set("1.0.0".into()),
                created_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;

    // The non-admin user: every grant through one role, half on hosts, half on top-level applications.
    let pw = app::security::random_token(12);
    let admin = Actor::system();
    app::users::service::ensure_admin(ctx, "bench-admin", Some(&pw))
        .await
        .map_err(|e| e.message)?;
    let admin_user = app::entities::user::Entity::find()
        .filter(app::entities::user::Column::Username.eq("bench-admin"))
        .one(db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no bench-admin")?;
    let r = role::ActiveModel {
        name: Set("bench-role".into()),
        description: Set(String::new()),
        creator: Set("bench".into()),
        builtin: Set(false),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| e.to_string())?;
    let bench = app::entities::user::ActiveModel {
        username: Set("bench".into()),
        email: Set(String::new()),
        phone: Set(String::new()),
        display_name: Set("Benchmark user".into()),
        password_hash: Set(app::security::hash_password(&pw).map_err(|e| e.message)?),
        status: Set("enabled".into()),
        locale: Set("en".into()),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| e.to_string())?;
    user_role::ActiveModel {
        user_id: Set(bench.id),
        role_id: Set(r.id),
    }
    .insert(db)
    .await
    .map_err(|e| e.to_string())?;
    let mut grants = vec![];
    for k in 0..s.grants {
        let (rtype, rid, perm) = if k % 2 == 0 {
            (
                "host",
                first_host + ((k / 2) * (s.hosts / (s.grants / 2).max(1))) as i64,
                "view_host",
            )
        } else {
            (
                "application",
                id_of(((k / 2) * (top / (s.grants / 2).max(1)).max(1)) % top),
                "view_app",
            )
        };
        grants.push((rtype, rid, perm));
    }
    grants.sort();
    grants.dedup();
    chunks(
        db,
        grants
            .into_iter()
            .map(|(rtype, rid, perm)| perm_grant::ActiveModel {
                subject_type: Set("role".into()),
                subject_id: Set(r.id),
                resource_type: Set(rtype.into()),
                resource_key: Set(rid.to_string()),
                resource_id: Set(Some(rid)),
                perm: Set(perm.into()),
                granted_by: Set(None),
                created_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    let admin_actor = Actor {
        id: admin_user.id,
        username: admin_user.username.clone(),
        ..admin.clone()
    };
    let mut out: Vec<(String, String)> = vec![];
    let mut people = vec![];
    if s.requests > 0 {
        people = requests::seed(db, &pw, s.requests).await?;
    }
    if s.deploy_tasks > 0 {
        deploy::seed(db, first_app, s.apps, admin_user.id, s.deploy_tasks).await?;
    }
    app::perms::service::reload(ctx)
        .await
        .map_err(|e| e.message)?;
    if s.records > 0 {
        let (url, key) = s.pdns.clone().ok_or(
            "OPSDECK_BENCH_PDNS_URL and OPSDECK_BENCH_PDNS_KEY are needed for the DNS zone",
        )?;
        let (sid, did) = dns::seed(ctx, &admin_actor, &url, &key, s.records).await?;
        out.push(("BENCH_DNS_SID".into(), sid.to_string()));
        out.push(("BENCH_DNS_DID".into(), did.to_string()));
    }
    app::db::analyze(db).await.map_err(|e| e.to_string())?;
    let token = |id: i64, name: &str| {
        let who = Actor {
            id,
            username: name.to_string(),
            ..admin.clone()
        };
        async move {
            app::tokens::service::create(
                ctx,
                &who,
                app::tokens::types::TokenInput {
                    name: Some("bench".into()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.message)?
            .value
            .ok_or_else(|| "no token".to_string())
        }
    };
    out.insert(
        0,
        (
            "ADMIN_TOKEN".into(),
            token(admin_user.id, "bench-admin").await?,
        ),
    );
    out.insert(1, ("BENCH_TOKEN".into(), token(bench.id, "bench").await?));
    for (var, id, name) in people {
        out.push((var.to_string(), token(id, &name).await?));
    }
    Ok(out)
}
