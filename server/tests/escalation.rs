//! Nobody gains a permission they were not granted: moves in the application tree, product
//! lines, role memberships, grants and imports, walked as a user with partial rights; the same
//! under concurrency (no cycle, and the closure table agrees with Casbin). Both databases.
mod common;
use app::perms::types::{ResourceType, APP_PERMS, HOST_PERMS, PRODUCTION_PERMS};
use axum::http::Method;
use common::*;
use sea_orm::{EntityTrait, QueryFilter};
use serde_json::{json, Value};
use std::collections::BTreeSet;

async fn mk(t: &TestApp, auth: Auth<'_>, body: Value) -> i64 {
    let r = t.post("/api/applications/", auth, body).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().unwrap()
}

async fn parent_of(t: &TestApp, id: i64) -> Value {
    t.get(&format!("/api/applications/{id}/"), t.admin())
        .await
        .ok()["parent_app"]
        .clone()
}

/// Queues an import and runs it; answers the finished import.
async fn import(t: &TestApp, auth: Auth<'_>, csv: &str) -> Value {
    let r = t
        .post(
            "/api/imports/",
            auth,
            json!({"kind": "applications", "csv": csv}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let id = r.json["id"].as_i64().unwrap();
    app::jobs::run_due(&t.ctx).await.unwrap();
    t.get(&format!("/api/imports/{id}/"), auth).await.ok()
}

both! {
    async fn moving_an_application_needs_every_permission_on_it(t: TestApp) {
        // Mallory may create applications and product lines, and may edit one foreign application.
        let (mid, mtok) = t.user("mallory").await;
        t.grant("user", mid, "application", &["enable_app_mgmt", "create_app"]).await;
        t.grant("user", mid, "business", &["enable_business_mgmt", "add_business"]).await;
        let victim = mk(&t, t.admin(), json!({"name": "victim"})).await;
        let kid = mk(&t, t.admin(), json!({"name": "kid", "parent_app": victim})).await;
        t.post(&format!("/api/users/{mid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": victim, "permission": {"edit_app": true, "view_app": true}}]})).await.ok();
        let trap = mk(&t, Auth::Token(&mtok), json!({"name": "trap"})).await;
        let line = t.post("/api/productions/", Auth::Token(&mtok), json!({"name": "mine"})).await.ok()["id"].as_i64().unwrap();
        let before = matrix(&t, &[mid]).await;
        assert!(!before.contains(&(mid, format!("application:{victim}"), "delete_app".into())));

        // Under her own application: refused, nothing moved.
        t.call(Method::PATCH, &format!("/api/applications/{victim}/"), Auth::Token(&mtok), Some(json!({"parent_app": trap}))).await.err(400, 30002);
        t.post(&format!("/api/applications/{trap}/child-apps/"), Auth::Token(&mtok), json!([{"id": victim}])).await.err(400, 30002);
        assert_eq!(parent_of(&t, victim).await, Value::Null);
        // Into her own product line: refused, by every path.
        t.post(&format!("/api/productions/{line}/applications/"), Auth::Token(&mtok), json!([{"id": victim}])).await.err(400, 30002);
        t.call(Method::PATCH, &format!("/api/applications/{victim}/"), Auth::Token(&mtok), Some(json!({"production": line}))).await.err(400, 30002);
        let r = import(&t, Auth::Token(&mtok), "full_name,production\nvictim,mine\n").await;
        assert_eq!(r["updated"], 0, "{r}");
        assert_eq!(r["errors"][0]["line"], 2, "{r}");
        assert_eq!(t.get(&format!("/api/applications/{victim}/"), t.admin()).await.ok()["production"], Value::Null);
        // Nobody holds anything new, the child included.
        assert_eq!(matrix(&t, &[mid]).await, before);
        assert!(!app::perms::service::holds_resource(&t.ctx, mid, ResourceType::Application, kid, "delete_app").await);

        // Taking it out of a parent hands nothing to anyone: edit_app is enough.
        t.call(Method::PATCH, &format!("/api/applications/{kid}/"), t.admin(), Some(json!({"parent_app": null}))).await.ok();
        t.call(Method::PATCH, &format!("/api/applications/{kid}/"), t.admin(), Some(json!({"parent_app": victim}))).await.ok();
        t.call(Method::DELETE, &format!("/api/applications/{victim}/child-apps/"), t.admin(), Some(json!([{"id": kid}]))).await.ok();

        // With every application permission on it, the move is hers to make.
        let all: serde_json::Map<String, Value> = APP_PERMS.iter().map(|p| (p.to_string(), Value::Bool(true))).collect();
        t.post(&format!("/api/users/{mid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": victim, "permission": all}]})).await.ok();
        t.call(Method::PATCH, &format!("/api/applications/{victim}/"), Auth::Token(&mtok), Some(json!({"parent_app": trap}))).await.ok();
        assert_eq!(parent_of(&t, victim).await, trap);
        t.post(&format!("/api/productions/{line}/applications/"), Auth::Token(&mtok), json!([{"id": victim}])).await.ok();
        // And a superuser may move anything.
        t.call(Method::PATCH, &format!("/api/applications/{kid}/"), t.admin(), Some(json!({"parent_app": trap}))).await.ok();
    }
}

both! {
    async fn no_inheritance_endpoint_hands_out_what_the_caller_lacks(t: TestApp) {
        // Mallory: grants, roles and users administration, creates applications, edits one
        // foreign application. Bob: an ordinary user. A role carries deploy_app on the victim.
        let (mid, mtok) = t.user("mallory").await;
        let (bid, _) = t.user("bob").await;
        t.grant("user", mid, "system", &["enable_system_mgmt", "grant_perms", "manage_roles", "view_users"]).await;
        t.grant("user", mid, "application", &["enable_app_mgmt", "create_app"]).await;
        let victim = mk(&t, t.admin(), json!({"name": "victim"})).await;
        t.post(&format!("/api/users/{mid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": victim, "permission": {"edit_app": true, "view_app": true}}]})).await.ok();
        let deployers = t.post("/api/roles/", t.admin(), json!({"name": "deployers"})).await.ok()["id"].as_i64().unwrap();
        t.post(&format!("/api/roles/{deployers}/application/perms/"), t.admin(), json!({"authorizations": [{"id": victim, "permission": {"deploy_app": true}}]})).await.ok();
        let empty = t.post("/api/roles/", t.admin(), json!({"name": "empty"})).await.ok()["id"].as_i64().unwrap();
        let trap = mk(&t, Auth::Token(&mtok), json!({"name": "trap"})).await;
        let users = [mid, bid];
        let before = matrix(&t, &users).await;
        let m = Auth::Token(&mtok);

        let refused = [
            // the tree
            t.call(Method::PATCH, &format!("/api/applications/{victim}/"), m, Some(json!({"parent_app": trap}))).await,
            t.post(&format!("/api/applications/{trap}/child-apps/"), m, json!([{"id": victim}])).await,
            // role memberships: a role carrying what she lacks, for others or herself
            t.post(&format!("/api/users/{bid}/roles/"), m, json!([{"id": deployers}])).await,
            t.post(&format!("/api/roles/{deployers}/users/"), m, json!([{"id": bid}])).await,
            t.post(&format!("/api/roles/{deployers}/users/"), m, json!([{"id": mid}])).await,
            // herself into a role that carries nothing (it could carry something later)
            t.post(&format!("/api/users/{mid}/roles/"), m, json!([{"id": empty}])).await,
            // module flags she lacks, to others; flags she holds, to herself
            t.post(&format!("/api/users/{bid}/system/perms/"), m, json!({"module_name": "system", "permissions": {"view_audit": true}})).await,
            t.post(&format!("/api/users/{mid}/system/perms/"), m, json!({"module_name": "system", "permissions": {"view_users": true}})).await,
            t.post(&format!("/api/roles/{deployers}/system/perms/"), m, json!({"module_name": "dns", "permissions": {"enable_dns_mgmt": true}})).await,
            // resource grants she lacks
            t.post(&format!("/api/users/{bid}/application/perms/"), m, json!({"authorizations": [{"id": victim, "permission": {"deploy_app": true}}]})).await,
            t.call(Method::PATCH, &format!("/api/applications/{victim}/authorization/users/"), m, Some(json!([{"user": {"id": bid}, "action": "update", "permission": {"delete_app": true}}]))).await,
            t.call(Method::PATCH, &format!("/api/applications/{victim}/authorization/roles/"), m, Some(json!([{"role": {"id": empty}, "action": "update", "permission": {"deploy_app": true}}]))).await,
        ];
        for (i, r) in refused.into_iter().enumerate() {
            assert!(r.status.is_client_error(), "call {i} answered {} {}", r.status, r.json);
        }
        // Her own application's rights to herself (she holds them) are refused too: self-grant.
        t.post(&format!("/api/users/{mid}/application/perms/"), m, json!({"authorizations": [{"id": trap, "permission": {"deploy_app": true}}]})).await.err(400, 30002);
        assert_eq!(matrix(&t, &users).await, before, "a refused call changed someone's rights");

        // What she may do, she can: hand Bob what she holds, put him in a role within her rights.
        t.post(&format!("/api/users/{bid}/application/perms/"), m, json!({"authorizations": [{"id": victim, "permission": {"view_app": true}}]})).await.ok();
        t.post(&format!("/api/roles/{empty}/users/"), m, json!([{"id": bid}])).await.ok();
        let after = matrix(&t, &users).await;
        let gained: Vec<_> = after.difference(&before).cloned().collect();
        assert_eq!(gained, vec![(bid, format!("application:{victim}"), "view_app".to_string())]);
    }
}

/// Parent links as the database has them, and as Casbin's g2 has them.
async fn links(t: &TestApp) -> (BTreeSet<(i64, i64)>, BTreeSet<(i64, i64)>) {
    use app::entities::application;
    let db: BTreeSet<(i64, i64)> = application::Entity::find()
        .all(&t.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|a| a.parent_id.map(|p| (a.id, p)))
        .collect();
    let e = t.ctx.enforcer.read().await;
    use casbin::MgmtApi;
    let casbin: BTreeSet<(i64, i64)> = e
        .get_named_grouping_policy("g2")
        .into_iter()
        .filter_map(|l| {
            let c = l[0].strip_prefix("application:")?.parse().ok()?;
            let p = l[1].strip_prefix("application:")?.parse().ok()?;
            Some((c, p))
        })
        .collect();
    (db, casbin)
}

/// The ancestor closure recomputed from parent links, against `application_paths`.
async fn closure_agrees(t: &TestApp) {
    use app::entities::{application, application_path};
    let apps = application::Entity::find().all(&t.ctx.db).await.unwrap();
    for a in &apps {
        let mut want = BTreeSet::from([a.id]);
        let mut next = a.parent_id;
        while let Some(p) = next {
            assert!(want.insert(p), "cycle through {}", a.id);
            next = apps.iter().find(|x| x.id == p).unwrap().parent_id;
        }
        let got: BTreeSet<i64> = application_path::Entity::find()
            .filter(sea_orm::ColumnTrait::eq(
                &application_path::Column::AppId,
                a.id,
            ))
            .all(&t.ctx.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.ancestor_type == "application")
            .map(|r| r.ancestor_id)
            .collect();
        assert_eq!(got, want, "closure of {}", a.full_name);
    }
}

both! {
    async fn concurrent_moves_and_dependencies_never_make_a_cycle(t: TestApp) {
        let t = std::sync::Arc::new(t);
        for round in 0..12 {
            let a = mk(&t, t.admin(), json!({"name": format!("a{round}")})).await;
            let b = mk(&t, t.admin(), json!({"name": format!("b{round}")})).await;
            let (t1, t2) = (t.clone(), t.clone());
            let x = tokio::spawn(async move {
                t1.call(Method::PATCH, &format!("/api/applications/{a}/"), t1.admin(), Some(json!({"parent_app": b}))).await.status
            });
            let y = tokio::spawn(async move {
                t2.call(Method::PATCH, &format!("/api/applications/{b}/"), t2.admin(), Some(json!({"parent_app": a}))).await.status
            });
            let (x, y) = (x.await.unwrap(), y.await.unwrap());
            assert!(x.is_success() != y.is_success(), "round {round}: {x} and {y}");
            assert!(!x.is_server_error() && !y.is_server_error());
            let (t1, t2) = (t.clone(), t.clone());
            let x = tokio::spawn(async move {
                t1.post(&format!("/api/applications/{a}/required-apps/"), t1.admin(), json!([{"id": b}])).await.status
            });
            let y = tokio::spawn(async move {
                t2.post(&format!("/api/applications/{b}/required-apps/"), t2.admin(), json!([{"id": a}])).await.status
            });
            let (x, y) = (x.await.unwrap(), y.await.unwrap());
            assert!(x.is_success() != y.is_success(), "round {round}: dependencies {x} and {y}");
        }
        let (db, casbin) = links(&t).await;
        assert_eq!(db, casbin, "Casbin's parent links disagree with the database");
        closure_agrees(&t).await;
    }
}

both! {
    async fn adding_children_and_product_lines_is_all_or_nothing(t: TestApp) {
        let parent = mk(&t, t.admin(), json!({"name": "parent"})).await;
        let a = mk(&t, t.admin(), json!({"name": "a"})).await;
        let b = mk(&t, t.admin(), json!({"name": "b"})).await;
        // The second child is the parent itself: a cycle; the first must not move either.
        t.post(&format!("/api/applications/{parent}/child-apps/"), t.admin(), json!([{"id": a}, {"id": parent}])).await.err(400, 40000);
        assert_eq!(parent_of(&t, a).await, Value::Null);
        let line = t.post("/api/productions/", t.admin(), json!({"name": "line"})).await.ok()["id"].as_i64().unwrap();
        t.post(&format!("/api/productions/{line}/applications/"), t.admin(), json!([{"id": a}, {"id": b}, {"id": 999999}])).await.err(404, 40400);
        assert_eq!(t.get(&format!("/api/applications/{a}/"), t.admin()).await.ok()["production"], Value::Null);
        // Both at once, one audit record each.
        let n = t.audit("app").await.len();
        t.post(&format!("/api/productions/{line}/applications/"), t.admin(), json!([{"id": a}, {"id": b}])).await.ok();
        assert_eq!(t.get(&format!("/api/productions/{line}/applications/"), t.admin()).await.ok()["count"], 2);
        assert_eq!(t.audit("app").await.len(), n + 2);
    }
}

both! {
    async fn fifty_concurrent_writes_of_different_kinds_all_land(t: TestApp) {
        let t = std::sync::Arc::new(t);
        let mut users = vec![];
        for i in 0..5 {
            users.push(t.user(&format!("w{i}")).await.0);
        }
        let app_id = mk(&t, t.admin(), json!({"name": "hub"})).await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50usize {
            let t = t.clone();
            let uid = users[(i / 5) % users.len()];
            tasks.spawn(async move {
                let r = match i % 5 {
                    0 => t.call(Method::PATCH, &format!("/api/users/{uid}/"), t.admin(), Some(json!({"display_name": format!("n{i}")}))).await,
                    1 => t.post("/api/hosts/", t.admin(), json!({"name": format!("h{i}"), "status": "raw"})).await,
                    2 => t.post("/api/applications/", t.admin(), json!({"name": format!("c{i}"), "parent_app": app_id})).await,
                    3 => t.post(&format!("/api/users/{uid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": app_id, "permission": {"view_app": true}}]})).await,
                    _ => t.post("/api/productions/", t.admin(), json!({"name": format!("p{i}")})).await,
                };
                (i, r.status, r.json)
            });
        }
        while let Some(r) = tasks.join_next().await {
            let (i, status, body) = r.unwrap();
            assert!(status.is_success(), "write {i}: {status} {body}");
        }
        assert_eq!(t.get("/api/hosts/", t.admin()).await.ok()["count"], 10);
        assert_eq!(t.get("/api/productions/", t.admin()).await.ok()["count"], 10);
        assert_eq!(t.get(&format!("/api/applications/{app_id}/child-apps/"), t.admin()).await.ok()["count"], 10);
        for uid in users {
            assert!(app::perms::service::holds_resource(&t.ctx, uid, ResourceType::Application, app_id, "view_app").await);
        }
    }
}

/// A small deterministic generator (xorshift), so a failure names a reproducible estate.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

both! {
    async fn sql_and_casbin_agree_on_every_user_object_and_permission(t: TestApp) {
        let mut rng = Rng(0x5eed_0b5d_ec4a_11ed);
        let lines: Vec<i64> = {
            let mut v = vec![];
            for i in 0..3 {
                v.push(t.post("/api/productions/", t.admin(), json!({"name": format!("line{i}")})).await.ok()["id"].as_i64().unwrap());
            }
            v
        };
        let mut apps: Vec<i64> = vec![];
        for i in 0..30 {
            let mut body = json!({"name": format!("app{i}")});
            if !apps.is_empty() && rng.next(3) > 0 {
                body["parent_app"] = json!(apps[rng.next(apps.len())]);
            }
            if rng.next(3) == 0 {
                body["production"] = json!(lines[rng.next(lines.len())]);
            }
            apps.push(mk(&t, t.admin(), body).await);
        }
        let mut hosts = vec![];
        for i in 0..8 {
            let r = t.post("/api/hosts/", t.admin(), json!({"name": format!("host{i}"), "status": "raw"})).await;
            hosts.push(r.json["id"].as_i64().unwrap());
        }
        let mut users = vec![];
        for i in 0..5 {
            users.push(t.user(&format!("u{i}")).await);
        }
        let mut roles = vec![];
        for i in 0..3 {
            roles.push(t.post("/api/roles/", t.admin(), json!({"name": format!("r{i}")})).await.ok()["id"].as_i64().unwrap());
        }
        // Random grants, direct and through roles, on applications, product lines and hosts.
        for _ in 0..40 {
            let (subject, sid) = if rng.next(2) == 0 {
                ("users", users[rng.next(users.len())].0)
            } else {
                ("roles", roles[rng.next(roles.len())])
            };
            let (seg, id, perm) = match rng.next(3) {
                0 => ("application", apps[rng.next(apps.len())], APP_PERMS[rng.next(APP_PERMS.len())]),
                1 => ("business", lines[rng.next(lines.len())], PRODUCTION_PERMS[rng.next(PRODUCTION_PERMS.len())]),
                _ => ("host", hosts[rng.next(hosts.len())], HOST_PERMS[rng.next(HOST_PERMS.len())]),
            };
            t.post(&format!("/api/{subject}/{sid}/{seg}/perms/"), t.admin(), json!({"authorizations": [{"id": id, "permission": {perm: true}}]})).await.ok();
        }
        for (uid, _) in &users {
            if rng.next(2) == 0 {
                let rid = roles[rng.next(roles.len())];
                t.post(&format!("/api/roles/{rid}/users/"), t.admin(), json!([{"id": uid}])).await.ok();
            }
        }
        // One user with a module-wide flag, as an application administrator would have.
        t.grant("user", users[0].0, "application", &["enable_app_mgmt", "view_app"]).await;
        // A few moves after the grants, so the closure is exercised, not only creation.
        for _ in 0..5 {
            let a = apps[rng.next(apps.len())];
            let _ = t.call(Method::PATCH, &format!("/api/applications/{a}/"), t.admin(), Some(json!({"parent_app": null}))).await;
        }

        for (uid, token) in &users {
            let actor = app::ctx::Actor { id: *uid, username: String::new(), ..Default::default() };
            for (rtype, ids, perms) in [
                (ResourceType::Application, &apps, APP_PERMS),
                (ResourceType::Host, &hosts, HOST_PERMS),
                (ResourceType::Business, &lines, PRODUCTION_PERMS),
            ] {
                for perm in perms {
                    let sql = app::perms::service::granted_set(&t.ctx, &actor, rtype, perm).await.unwrap();
                    for id in ids.iter() {
                        let casbin = app::perms::service::holds_resource(&t.ctx, *uid, rtype, *id, perm).await;
                        let in_sql = sql.as_ref().is_none_or(|s| s.contains(id));
                        assert_eq!(in_sql, casbin, "user {uid}, {} {id}, {perm}: SQL {in_sql}, Casbin {casbin}", rtype.as_str());
                    }
                }
            }
            // The list and its available_actions say the same.
            let list = t.get("/api/applications/?page_size=100", Auth::Token(token)).await.ok();
            let mut listed = BTreeSet::new();
            for row in list["results"].as_array().unwrap() {
                let id = row["id"].as_i64().unwrap();
                listed.insert(id);
                for perm in APP_PERMS {
                    let casbin = app::perms::service::holds_resource(&t.ctx, *uid, ResourceType::Application, id, perm).await;
                    assert_eq!(row["available_actions"][*perm].as_bool(), Some(casbin), "user {uid}, app {id}, {perm}");
                }
            }
            let mut visible = BTreeSet::new();
            for id in &apps {
                if app::perms::service::holds_resource(&t.ctx, *uid, ResourceType::Application, *id, "view_app").await {
                    visible.insert(*id);
                }
            }
            assert_eq!(listed, visible, "user {uid}: listed applications");
            assert_eq!(list["count"].as_u64(), Some(visible.len() as u64));
        }
    }
}

both! {
    async fn the_tree_stays_within_what_casbin_follows(t: TestApp) {
        // Eight levels nest; a ninth is refused, by creation and by moving a subtree.
        let mut parent = mk(&t, t.admin(), json!({"name": "l1"})).await;
        let top = parent;
        for i in 2..=8 {
            parent = mk(&t, t.admin(), json!({"name": format!("l{i}"), "parent_app": parent})).await;
        }
        let e = t.post("/api/applications/", t.admin(), json!({"name": "l9", "parent_app": parent})).await.err(400, 40000);
        assert_eq!(e["field"], "parent_app");
        let other = mk(&t, t.admin(), json!({"name": "other"})).await;
        mk(&t, t.admin(), json!({"name": "kid", "parent_app": other})).await;
        t.call(Method::PATCH, &format!("/api/applications/{other}/"), t.admin(), Some(json!({"parent_app": parent}))).await.err(400, 40000);
        // A grant at the top reaches the deepest level, by Casbin and by the list alike.
        let (uid, token) = t.user("deep").await;
        t.post(&format!("/api/users/{uid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": top, "permission": {"view_app": true}}]})).await.ok();
        assert!(app::perms::service::holds_resource(&t.ctx, uid, ResourceType::Application, parent, "view_app").await);
        t.get(&format!("/api/applications/{parent}/"), Auth::Token(&token)).await.ok();
        assert_eq!(t.get("/api/applications/", Auth::Token(&token)).await.ok()["count"], 8);
    }
}
