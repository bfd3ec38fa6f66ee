//! Applications: hierarchy and full paths, cycles, dependencies, delete refusal, owners,
//! product-line membership, inherited visibility (SQL and Casbin agree), audit. Both databases.
mod common;
use app::perms::types::{ResourceType, APP_PERMS};
use axum::http::Method;
use common::*;
use serde_json::{json, Value};

async fn mk(t: &TestApp, body: Value) -> i64 {
    let r = t.post("/api/applications/", t.admin(), body).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().unwrap()
}

async fn full(t: &TestApp, id: i64) -> String {
    t.get(&format!("/api/applications/{id}/"), t.admin())
        .await
        .ok()["full_name"]
        .as_str()
        .unwrap()
        .to_string()
}

both! {
    async fn full_paths_follow_renames_and_moves_and_cycles_are_refused(t: TestApp) {
        let a = mk(&t, json!({"name": "shop", "run_users": "www", "startup_cmd": "bin/start"})).await;
        let b = mk(&t, json!({"name": "api", "parent_app": a})).await;
        let c = mk(&t, json!({"name": "worker", "parent_app": b})).await;
        assert_eq!(full(&t, c).await, "shop.api.worker");
        let got = t.get(&format!("/api/applications/{a}/"), t.admin()).await.ok();
        assert_eq!(got["has_child"], true);
        assert_eq!(got["run_user"], "www");
        assert_eq!(got["full_path"], "shop");
        // Rename the root: everything below follows.
        t.call(Method::PATCH, &format!("/api/applications/{a}/"), t.admin(), Some(json!({"name": "store"}))).await.ok();
        assert_eq!(full(&t, b).await, "store.api");
        assert_eq!(full(&t, c).await, "store.api.worker");
        // Moving a parent under its own descendant is a cycle.
        let e = t.call(Method::PATCH, &format!("/api/applications/{a}/"), t.admin(), Some(json!({"parent_app": c}))).await.err(400, 40000);
        assert_eq!(e["field"], "parent_app");
        t.call(Method::PATCH, &format!("/api/applications/{a}/"), t.admin(), Some(json!({"parent_app": a}))).await.err(400, 40000);
        // Detach b (null parent): b and c move to the top.
        t.call(Method::PATCH, &format!("/api/application/{b}/"), t.admin(), Some(json!({"parent_app": null}))).await.ok();
        assert_eq!(full(&t, c).await, "api.worker");
        // Names are validated; full names are unique.
        t.post("/api/applications/", t.admin(), json!({"name": "a.b"})).await.err(400, 40000);
        t.post("/api/applications/", t.admin(), json!({"name": "x", "application_type": "vm"})).await.err(400, 40000);
        t.post("/api/applications/", t.admin(), json!({"name": "api"})).await.err(409, 40900);
        t.post("/api/applications/", t.admin(), json!({"name": "y", "parent_app": 999999})).await.err(400, 40000);
        // child-apps moves and detaches.
        t.post(&format!("/api/applications/{a}/child-apps/"), t.admin(), json!([{"id": b}])).await.ok();
        assert_eq!(full(&t, c).await, "store.api.worker");
        let kids = t.get(&format!("/api/applications/{a}/child-apps/"), t.admin()).await.ok();
        assert_eq!(kids["count"], 1);
        t.call(Method::DELETE, &format!("/api/applications/{a}/child-apps/"), t.admin(), Some(json!([{"id": b}]))).await.ok();
        assert_eq!(full(&t, b).await, "api");
        // The audit has before and after of the rename.
        let upd = t.get("/api/audit/logs/?category=app&op_type=update&page_size=100", t.admin()).await.ok();
        let rename = upd["results"].as_array().unwrap().iter().find(|r| r["detail"]["before"]["name"] == "shop").unwrap().clone();
        assert_eq!(rename["detail"]["after"]["name"], "store");
    }
}

both! {
    async fn dependencies_refuse_cycles_and_block_deletes(t: TestApp) {
        let a = mk(&t, json!({"name": "web"})).await;
        let b = mk(&t, json!({"name": "auth"})).await;
        let c = mk(&t, json!({"name": "db"})).await;
        t.post(&format!("/api/applications/{a}/required-apps/"), t.admin(), json!([{"id": b}])).await.ok();
        t.post(&format!("/api/applications/{b}/required-apps/"), t.admin(), json!([{"id": c}])).await.ok();
        t.post(&format!("/api/applications/{c}/required-apps/"), t.admin(), json!([{"id": a}])).await.err(400, 40000);
        t.post(&format!("/api/applications/{c}/required-apps/"), t.admin(), json!([{"id": c}])).await.err(400, 40000);
        let req = t.get(&format!("/api/applications/{a}/required-apps/"), t.admin()).await.ok();
        assert_eq!(req["results"][0]["name"], "auth");
        let by = t.get(&format!("/api/applications/{c}/required-by-apps/"), t.admin()).await.ok();
        assert_eq!(by["results"][0]["name"], "auth");
        // Deleting what others depend on is refused, naming them, unless forced.
        let e = t.call(Method::DELETE, &format!("/api/applications/{b}/"), t.admin(), None).await.err(409, 40900);
        assert!(e["message"].as_str().unwrap().contains("web"), "{e}");
        t.call(Method::DELETE, &format!("/api/applications/{b}/?force=true"), t.admin(), None).await.ok();
        assert_eq!(t.get(&format!("/api/applications/{a}/required-apps/"), t.admin()).await.ok()["count"], 0);
        // A parent with children is refused even with force.
        let p = mk(&t, json!({"name": "parent"})).await;
        mk(&t, json!({"name": "kid", "parent_app": p})).await;
        let e = t.call(Method::DELETE, &format!("/api/applications/{p}/?force=true"), t.admin(), None).await.err(409, 40900);
        assert!(e["message"].as_str().unwrap().contains("parent.kid"));
        t.call(Method::DELETE, &format!("/api/applications/{a}/required-apps/"), t.admin(), Some(json!([{"id": c}]))).await.ok();
        let ops: Vec<String> = t.audit("app").await.iter().map(|r| r["op_type"].as_str().unwrap().to_string()).collect();
        assert!(ops.contains(&"add_dependency".into()) && ops.contains(&"delete".into()), "{ops:?}");
    }
}

both! {
    async fn visibility_is_inherited_and_sql_agrees_with_casbin(t: TestApp) {
        let p = t.post("/api/productions/", t.admin(), json!({"name": "retail"})).await.ok()["id"].as_i64().unwrap();
        let a = mk(&t, json!({"name": "store", "production": p})).await;
        let b = mk(&t, json!({"name": "cart", "parent_app": a})).await;
        let c = mk(&t, json!({"name": "pay", "parent_app": b})).await;
        let d = mk(&t, json!({"name": "other"})).await;
        let (uid, token) = t.user("vera").await;
        assert_eq!(t.get("/api/applications/", Auth::Token(&token)).await.ok()["count"], 0);
        t.get(&format!("/api/applications/{c}/"), Auth::Token(&token)).await.err(403, 40300);
        // A product-line grant (via a role) shows the whole tree under it.
        let rid = t.post("/api/roles/", t.admin(), json!({"name": "retail-dev"})).await.ok()["id"].as_i64().unwrap();
        t.post(&format!("/api/roles/{rid}/business/perms/"), t.admin(), json!({"authorizations": [{"id": p, "permission": {"view_app": true, "deploy_app": true}}]})).await.ok();
        t.post(&format!("/api/roles/{rid}/users/"), t.admin(), json!([{"id": uid}])).await.ok();
        // And a direct grant on the unrelated one.
        t.post(&format!("/api/users/{uid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": d, "permission": {"view_app": true, "restart_app": true}}]})).await.ok();
        let got = t.get("/api/applications/?page_size=2", Auth::Token(&token)).await.ok();
        assert_eq!(got["count"], 4);
        assert!(got["next"].is_string());
        let all = t.get("/api/applications/", Auth::Token(&token)).await.ok();
        let names: Vec<&str> = all["results"].as_array().unwrap().iter().map(|r| r["full_name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["other", "store", "store.cart", "store.cart.pay"]);
        // available_actions (from the per-user visible sets) agree with Casbin's single checks.
        for row in all["results"].as_array().unwrap() {
            let id = row["id"].as_i64().unwrap();
            for perm in APP_PERMS {
                let casbin = app::perms::service::holds_resource(&t.ctx, uid, ResourceType::Application, id, perm).await;
                assert_eq!(row["available_actions"][*perm].as_bool(), Some(casbin), "{perm} on {}", row["full_name"]);
            }
        }
        assert_eq!(all["results"][3]["available_actions"]["deploy_app"], true);
        assert_eq!(all["results"][3]["available_actions"]["edit_app"], false);
        // Moving an application out of the product line takes it out of view, subtree included.
        t.call(Method::PATCH, &format!("/api/applications/{b}/"), t.admin(), Some(json!({"parent_app": null}))).await.ok();
        let names: Vec<String> = t.get("/api/applications/", Auth::Token(&token)).await.ok()["results"].as_array().unwrap().iter().map(|r| r["full_name"].as_str().unwrap().to_string()).collect();
        assert_eq!(names, vec!["other", "store"]);
        assert!(!app::perms::service::holds_resource(&t.ctx, uid, ResourceType::Application, c, "view_app").await);
        // Putting it into the product line brings it back (closure and Casbin both follow).
        t.post(&format!("/api/productions/{p}/applications/"), t.admin(), json!([{"id": b}])).await.ok();
        assert_eq!(t.get("/api/applications/", Auth::Token(&token)).await.ok()["count"], 4);
        assert!(app::perms::service::holds_resource(&t.ctx, uid, ResourceType::Application, c, "view_app").await);
        // Listing a product line's applications is a product-line read: view_app alone is not enough.
        t.get(&format!("/api/productions/{p}/applications/"), Auth::Token(&token)).await.err(403, 40300);
        assert_eq!(t.get(&format!("/api/productions/{p}/applications/"), t.admin()).await.ok()["count"], 2);
        t.call(Method::DELETE, &format!("/api/productions/{p}/applications/"), t.admin(), Some(json!([{"id": b}]))).await.ok();
        assert_eq!(t.get(&format!("/api/productions/{p}/applications/"), t.admin()).await.ok()["count"], 1);
        // Filters: user and role (admin asks), has_parent, full_path.
        assert_eq!(t.get("/api/applications/?user=vera", t.admin()).await.ok()["count"], 2);
        assert_eq!(t.get("/api/applications/?role=retail-dev", t.admin()).await.ok()["count"], 1);
        assert_eq!(t.get("/api/applications/?has_parent=0", t.admin()).await.ok()["count"], 3);
        assert_eq!(t.get("/api/applications/?full_path=cart", t.admin()).await.ok()["count"], 2);
        t.get("/api/applications/?user=vera", Auth::Token(&token)).await.ok();
        // get-by-users answers each user's view, with that user's actions.
        let by = t.post("/api/applications/get-by-users/", t.admin(), json!([{"id": uid}, {"id": t.admin_id}])).await.ok();
        assert_eq!(by[0]["user_id"], uid);
        assert_eq!(by[0]["applications"].as_array().unwrap().len(), 2);
        assert_eq!(by[0]["applications"][0]["available_actions"]["restart_app"], true);
        assert_eq!(by[1]["applications"].as_array().unwrap().len(), 4);
        t.post("/api/applications/get-by-users/", Auth::Token(&token), json!([{"id": uid}])).await.ok();
        t.post("/api/applications/get-by-users/", Auth::Token(&token), json!([{"id": t.admin_id}])).await.err(403, 40300);
        t.get(&format!("/api/applications/?user=admin"), Auth::Token(&token)).await.err(403, 40300);
        // The name filter is a case-insensitive substring match (trigram index from 3 characters).
        for (q, n) in [("CAR", 1), ("ca", 1), ("o", 2), ("sToRe", 1), ("%25", 0)] {
            assert_eq!(t.get(&format!("/api/applications/?name={q}"), t.admin()).await.ok()["count"], n, "name={q}");
        }
        // Lists follow every policy change at once (the visible sets are per policy epoch): a new
        // child of a visible application, a revoked grant, a left role.
        async fn seen(t: &TestApp, token: String) -> i64 {
            t.get("/api/applications/", Auth::Token(&token)).await.ok()["count"].as_i64().unwrap()
        }
        assert_eq!(seen(&t, token.clone()).await, 2);
        mk(&t, json!({"name": "refund", "parent_app": a})).await;
        assert_eq!(seen(&t, token.clone()).await, 3);
        t.post(&format!("/api/users/{uid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": d, "permission": {"view_app": false}}]})).await.ok();
        assert_eq!(seen(&t, token.clone()).await, 2);
        t.call(Method::DELETE, &format!("/api/roles/{rid}/users/"), t.admin(), Some(json!([{"id": uid}]))).await.ok();
        assert_eq!(seen(&t, token.clone()).await, 0);
    }
}

both! {
    async fn owners_and_creators(t: TestApp) {
        let (uid, token) = t.user("otto").await;
        let a = mk(&t, json!({"name": "crm"})).await;
        let r = t.post(&format!("/api/applications/{a}/response-person/"), t.admin(), json!([{"id": uid, "type": "ops"}, {"id": t.admin_id, "type": "pm"}])).await.ok();
        assert_eq!(r["count"], 2);
        t.post(&format!("/api/applications/{a}/response-person/"), t.admin(), json!([{"id": uid, "type": "boss"}])).await.err(400, 40000);
        let list = t.get(&format!("/api/application/{a}/response-person/"), t.admin()).await.ok();
        let otto = list["results"].as_array().unwrap().iter().find(|o| o["username"] == "otto").unwrap().clone();
        assert_eq!(otto["type"], "ops");
        assert_eq!(otto["email"], "otto@example.test");
        assert_eq!(t.get(&format!("/api/applications/?response_persons={uid}"), t.admin()).await.ok()["count"], 1);
        t.call(Method::DELETE, &format!("/api/applications/{a}/response-person/"), t.admin(), Some(json!([{"id": uid}]))).await.ok();
        assert_eq!(t.get(&format!("/api/applications/{a}/response-person/"), t.admin()).await.ok()["count"], 1);
        // A user who may create applications manages what they create, but cannot nest into others'.
        t.post("/api/applications/", Auth::Token(&token), json!({"name": "mine"})).await.err(403, 40300);
        t.grant("user", uid, "application", &["enable_app_mgmt", "create_app"]).await;
        let mine = t.post("/api/applications/", Auth::Token(&token), json!({"name": "mine"})).await.ok();
        assert_eq!(mine["available_actions"]["delete_app"], true);
        // A parent otto may not view reads like a missing one (leaks.rs).
        t.post("/api/applications/", Auth::Token(&token), json!({"name": "sub", "parent_app": a})).await.err(400, 40000);
        t.post("/api/applications/", Auth::Token(&token), json!({"name": "sub", "parent_app": mine["id"]})).await.ok();
        assert_eq!(t.get("/api/applications/", Auth::Token(&token)).await.ok()["count"], 2);
    }
}

both! {
    async fn application_endpoints_refuse_the_unprivileged(t: TestApp) {
        let a = mk(&t, json!({"name": "svc"})).await;
        let b = mk(&t, json!({"name": "dep"})).await;
        let p = t.post("/api/productions/", t.admin(), json!({"name": "pl"})).await.ok()["id"].as_i64().unwrap();
        let (_, token) = t.user("nobody").await;
        let ids = json!([{"id": b}]);
        let cases: Vec<(Method, String, Option<Value>)> = vec![
            (Method::POST, "/api/applications/".into(), Some(json!({"name": "n"}))),
            (Method::GET, format!("/api/applications/{a}/"), None),
            (Method::PATCH, format!("/api/applications/{a}/"), Some(json!({"description": "x"}))),
            (Method::DELETE, format!("/api/applications/{a}/"), None),
            (Method::GET, format!("/api/applications/{a}/child-apps/"), None),
            (Method::POST, format!("/api/applications/{a}/child-apps/"), Some(ids.clone())),
            (Method::DELETE, format!("/api/applications/{a}/child-apps/"), Some(ids.clone())),
            (Method::GET, format!("/api/applications/{a}/required-apps/"), None),
            (Method::POST, format!("/api/applications/{a}/required-apps/"), Some(ids.clone())),
            (Method::DELETE, format!("/api/applications/{a}/required-apps/"), Some(ids.clone())),
            (Method::GET, format!("/api/applications/{a}/required-by-apps/"), None),
            (Method::GET, format!("/api/applications/{a}/response-person/"), None),
            (Method::POST, format!("/api/applications/{a}/response-person/"), Some(json!([{"id": 1, "type": "ops"}]))),
            (Method::DELETE, format!("/api/applications/{a}/response-person/"), Some(json!([{"id": 1}]))),
            (Method::GET, format!("/api/productions/{p}/applications/"), None),
            (Method::POST, format!("/api/productions/{p}/applications/"), Some(ids.clone())),
            (Method::DELETE, format!("/api/productions/{p}/applications/"), Some(ids.clone())),
        ];
        for (m, path, body) in cases {
            let r = t.call(m.clone(), &path, Auth::Token(&token), body).await;
            assert_eq!(r.status, 403, "{m} {path}: {} {}", r.status, r.json);
        }
        // The list is not refused, just empty; nothing changed.
        assert_eq!(t.get("/api/applications/", Auth::Token(&token)).await.ok()["count"], 0);
        assert_eq!(t.get("/api/applications/", t.admin()).await.ok()["count"], 2);
    }
}

both! {
    async fn dependency_picture_follows_both_ways_and_hides_what_you_may_not_see(t: TestApp) {
        let db = mk(&t, json!({"name": "db"})).await;
        let api = mk(&t, json!({"name": "api"})).await;
        let web = mk(&t, json!({"name": "web"})).await;
        let cron = mk(&t, json!({"name": "cron"})).await;
        for (from, to) in [(api, db), (web, api), (cron, api)] {
            t.post(&format!("/api/applications/{from}/required-apps/"), t.admin(), json!([{"id": to}])).await.ok();
        }
        let g = t.get(&format!("/api/applications/{api}/dependency-graph/"), t.admin()).await.ok();
        let level = |name: &str| g["nodes"].as_array().unwrap().iter().find(|n| n["full_name"] == name).map(|n| n["level"].as_i64().unwrap());
        assert_eq!(level("api"), Some(0));
        assert_eq!(level("db"), Some(1));
        assert_eq!(level("web"), Some(-1));
        assert_eq!(level("cron"), Some(-1));
        assert_eq!(g["edges"].as_array().unwrap().len(), 3);
        let from_web = t.get(&format!("/api/applications/{web}/dependency-graph/"), t.admin()).await.ok();
        assert_eq!(from_web["nodes"].as_array().unwrap().iter().find(|n| n["level"] == 2).unwrap()["full_name"], "db");
        // A user who may view api only sees the others as unnamed nodes; without view_app: 403.
        let (uid, token) = t.user("gail").await;
        t.get(&format!("/api/applications/{api}/dependency-graph/"), Auth::Token(&token)).await.err(403, 40300);
        t.post(&format!("/api/users/{uid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": api, "permission": {"view_app": true}}]})).await.ok();
        let g = t.get(&format!("/api/applications/{api}/dependency-graph/"), Auth::Token(&token)).await.ok();
        let names: Vec<&str> = g["nodes"].as_array().unwrap().iter().map(|n| n["full_name"].as_str().unwrap()).collect();
        assert_eq!(names.iter().filter(|n| n.is_empty()).count(), 3, "{g}");
        assert!(names.contains(&"api"));
        // Forms look applications and hosts up by name through the service, which answers one
        // the user may not view exactly like one that does not exist.
        let gail = app::ctx::Actor { id: uid, username: "gail".into(), ..Default::default() };
        assert_eq!(app::applications::service::by_full_name(&t.ctx, &gail, "api").await.unwrap().id, api);
        let hidden = app::applications::service::by_full_name(&t.ctx, &gail, "db").await.unwrap_err();
        let absent = app::applications::service::by_full_name(&t.ctx, &gail, "nope").await.unwrap_err();
        assert_eq!((hidden.error_code, hidden.field.as_deref()), (40000, Some("full_name")));
        assert_eq!(hidden.message.replace("db", "X"), absent.message.replace("nope", "X"));
        t.post("/api/hosts/", t.admin(), json!({"name": "box-1"})).await.ok();
        let e = app::hosts::service::by_name(&t.ctx, &gail, "box-1").await.unwrap_err();
        assert_eq!(e.message, "no host box-1");
        assert_eq!(app::hosts::service::by_name(&t.ctx, &app::ctx::Actor { id: t.admin_id, username: "admin".into(), ..Default::default() }, "box-1").await.unwrap().name, "box-1");
    }
}

both! {
    async fn dashboard_counts_only_what_you_may_see(t: TestApp) {
        let line = t.post("/api/productions/", t.admin(), json!({"name": "pay"})).await.ok()["id"].as_i64().unwrap();
        let a = mk(&t, json!({"name": "ledger", "production": line})).await;
        mk(&t, json!({"name": "loose"})).await;
        for (i, st) in ["raw", "raw", "offline"].iter().enumerate() {
            t.post("/api/hosts/", t.admin(), json!({"name": format!("h{i}"), "status": st, "host_type": "ALI_ECS"})).await.ok();
        }
        let none = t.get("/api/applications/?production=0", t.admin()).await.ok();
        assert_eq!(none["count"], 1);
        assert_eq!(none["results"][0]["name"], "loose");
        let s = t.get("/api/dashboard/", t.admin()).await.ok();
        assert_eq!((s["hosts"].as_u64(), s["applications"].as_u64(), s["productions"].as_u64()), (Some(3), Some(2), Some(1)));
        assert_eq!(s["hosts_by_status"][0], json!({"key": "raw", "count": 2}));
        assert_eq!(s["hosts_by_type"][0], json!({"key": "ALI_ECS", "count": 3}));
        assert!(s["apps_by_production"].as_array().unwrap().contains(&json!({"key": "pay", "count": 1})));
        let (uid, token) = t.user("nell").await;
        let s = t.get("/api/dashboard/", Auth::Token(&token)).await.ok();
        assert_eq!((s["hosts"].as_u64(), s["applications"].as_u64()), (Some(0), Some(0)));
        assert_eq!(s["hosts_by_status"], json!([]));
        t.post(&format!("/api/users/{uid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": a, "permission": {"view_app": true}}]})).await.ok();
        let s = t.get("/api/dashboard/", Auth::Token(&token)).await.ok();
        assert_eq!(s["applications"], 1);
        // The line itself is not visible to nell: its bar is not named.
        assert_eq!(s["apps_by_production"], json!([{"key": "…", "count": 1}]));
        t.get("/api/dashboard/", Auth::None).await.err(401, 40100);
    }
}

both! {
    async fn a_non_admin_list_in_name_order_follows_renames_and_new_children(t: TestApp) {
        let ids = [mk(&t, json!({"name": "k-2"})).await, mk(&t, json!({"name": "k-1"})).await, mk(&t, json!({"name": "k-3"})).await];
        let (uid, token) = t.user("otto").await;
        t.post(&format!("/api/users/{uid}/application/perms/"), t.admin(), json!({"authorizations": ids.iter().map(|id| json!({"id": id, "permission": {"view_app": true}})).collect::<Vec<_>>()})).await.ok();
        async fn names(t: &TestApp, token: &str) -> Vec<String> {
            let r = t.get("/api/applications/?page_size=2", Auth::Token(token)).await.ok();
            r["results"].as_array().unwrap().iter().map(|a| a["full_name"].as_str().unwrap().to_string()).collect()
        }
        assert_eq!(names(&t, &token).await, vec!["k-1", "k-2"]);
        t.call(Method::PATCH, &format!("/api/applications/{}/", ids[1]), t.admin(), Some(json!({"name": "k-9"}))).await.ok();
        assert_eq!(names(&t, &token).await, vec!["k-2", "k-3"]);
        mk(&t, json!({"name": "c", "parent_app": ids[0]})).await;
        assert_eq!(names(&t, &token).await, vec!["k-2", "k-2.c"]);
        assert_eq!(t.get("/api/applications/", Auth::Token(&token)).await.ok()["count"], 4);
    }
}
