//! Resource permissions (applications, hosts, product lines): grants, inheritance through the
//! hierarchy, escalation, both endpoint shapes, audit. On SQLite and PostgreSQL.
mod common;
use app::perms::types::ResourceType;
use axum::http::Method;
use common::*;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;

struct Estate {
    prod: i64,
    a: i64,
    b: i64,
    c: i64,
    h1: i64,
}

async fn estate(t: &TestApp) -> Estate {
    use app::entities::{application, host, production};
    let now = chrono::Utc::now();
    let prod = production::ActiveModel {
        name: Set("payments".into()),
        description: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&t.ctx.db)
    .await
    .unwrap()
    .id;
    let app = |name: &str, full: &str, parent: Option<i64>, production: Option<i64>| {
        application::ActiveModel {
            name: Set(name.into()),
            full_name: Set(full.into()),
            parent_id: Set(parent),
            production_id: Set(production),
            application_type: Set("process".into()),
            description: Set(String::new()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    };
    let a = app("gateway", "gateway", None, Some(prod))
        .insert(&t.ctx.db)
        .await
        .unwrap()
        .id;
    let b = app("api", "gateway.api", Some(a), None)
        .insert(&t.ctx.db)
        .await
        .unwrap()
        .id;
    let c = app("billing", "billing", None, None)
        .insert(&t.ctx.db)
        .await
        .unwrap()
        .id;
    let h1 = host::ActiveModel {
        hostname: Set("web-01".into()),
        host_type: Set(String::new()),
        status: Set(String::new()),
        description: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&t.ctx.db)
    .await
    .unwrap()
    .id;
    app::perms::service::reload(&t.ctx).await.unwrap();
    Estate { prod, a, b, c, h1 }
}

async fn holds(t: &TestApp, uid: i64, rtype: ResourceType, rid: i64, perm: &str) -> bool {
    app::perms::service::holds_resource(&t.ctx, uid, rtype, rid, perm).await
}

both! {
    async fn grants_flow_down_the_hierarchy(t: TestApp) {
        let e = estate(&t).await;
        let (uid, _) = t.user("uma").await;
        let rid = t.post("/api/roles/", t.admin(), json!({"name": "payments-ops"})).await.ok()["id"].as_i64().unwrap();
        t.post(&format!("/api/roles/{rid}/users/"), t.admin(), json!([{"id": uid}])).await.ok();
        // A product-line grant applies to its applications and their children…
        t.post(&format!("/api/roles/{rid}/business/perms/"), t.admin(), json!({"authorizations": [{"id": e.prod, "permission": {"view_app": true}}]})).await.ok();
        assert!(holds(&t, uid, ResourceType::Application, e.a, "view_app").await);
        assert!(holds(&t, uid, ResourceType::Application, e.b, "view_app").await);
        assert!(!holds(&t, uid, ResourceType::Application, e.c, "view_app").await);
        assert!(!holds(&t, uid, ResourceType::Application, e.b, "edit_app").await);
        // …and a parent-application grant to its children.
        t.post(&format!("/api/users/{uid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": e.a, "permissions": {"restart_app": true, "view_app_log": true}}]})).await.ok();
        assert!(holds(&t, uid, ResourceType::Application, e.b, "restart_app").await);
        let rows = t.get(&format!("/api/users/{uid}/application/perms/"), t.admin()).await.ok();
        assert_eq!(rows["count"], 1);
        assert_eq!(rows["results"][0]["app_name"], "gateway");
        assert_eq!(rows["results"][0]["permission"]["restart_app"], true);
        assert_eq!(rows["results"][0]["permission"]["edit_app"], false);
        let roles = t.get(&format!("/api/roles/{rid}/business/perms/"), t.admin()).await.ok();
        assert_eq!(roles["results"][0]["name"], "payments");
        // Revoking takes effect at once.
        t.post(&format!("/api/users/{uid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": e.a, "permission": {"restart_app": false}}]})).await.ok();
        assert!(!holds(&t, uid, ResourceType::Application, e.b, "restart_app").await);
        // The explainer answers "why can uma view gateway.api": through the role's product-line grant.
        let ex = t.get(&format!("/api/users/{uid}/effective-perms/?object=application:{}&perm=view_app", e.b), t.admin()).await.ok();
        assert_eq!(ex["allowed"], true);
        assert_eq!(ex["perms"].as_array().unwrap().len(), 1, "{ex}");
        assert_eq!(ex["perms"][0]["object"], format!("business:{}", e.prod));
        assert_eq!(ex["perms"][0]["sources"][0]["role_name"], "payments-ops");
        let no = t.get(&format!("/api/users/{uid}/effective-perms/?object=application:{}&perm=view_app", e.c), t.admin()).await.ok();
        assert_eq!(no["allowed"], false);
        assert_eq!(no["perms"].as_array().unwrap().len(), 0);
    }
}

both! {
    async fn bad_grants_are_refused_and_change_nothing(t: TestApp) {
        let e = estate(&t).await;
        let (uid, _) = t.user("vic").await;
        let path = format!("/api/users/{uid}/application/perms/");
        t.post(&path, t.admin(), json!({"authorizations": [{"id": e.a, "permission": {"view_host": true}}]})).await.err(400, 30001);
        t.post(&path, t.admin(), json!({"authorizations": [{"id": 999999, "permission": {"view_app": true}}]})).await.err(404, 40400);
        // A batch with one bad entry writes nothing.
        t.post(&path, t.admin(), json!({"authorizations": [{"id": e.a, "permission": {"view_app": true}}, {"id": 999999, "permission": {"view_app": true}}]})).await.err(404, 40400);
        assert_eq!(t.get(&path, t.admin()).await.ok()["count"], 0);
        assert_eq!(t.get("/api/audit/authorize-operations/resources/", t.admin()).await.ok()["count"], 0);
        t.post(&format!("/api/users/{uid}/host/perms/"), t.admin(), json!({"authorizations": [{"id": e.h1, "permission": {"login_host": true, "fly": true}}]})).await.err(400, 30001);
    }
}

both! {
    async fn grantors_only_hand_out_what_they_hold(t: TestApp) {
        let e = estate(&t).await;
        let (gid, gtoken) = t.user("gus").await;
        let (hid, _) = t.user("hal").await;
        t.grant("user", gid, "system", &["enable_system_mgmt", "grant_perms", "view_users"]).await;
        t.post(&format!("/api/users/{gid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": e.a, "permission": {"view_app": true}}]})).await.ok();
        let path = format!("/api/users/{hid}/application/perms/");
        // Holding view_app on the parent lets gus hand out view_app on the child.
        t.post(&path, Auth::Token(&gtoken), json!({"authorizations": [{"id": e.b, "permission": {"view_app": true}}]})).await.ok();
        t.post(&path, Auth::Token(&gtoken), json!({"authorizations": [{"id": e.a, "permission": {"edit_app": true}}]})).await.err(400, 30002);
        t.post(&path, Auth::Token(&gtoken), json!({"authorizations": [{"id": e.c, "permission": {"view_app": true}}]})).await.err(400, 30002);
        // Module-wide flags count: manage_host covers every host permission.
        t.post(&format!("/api/users/{hid}/host/perms/"), Auth::Token(&gtoken), json!({"authorizations": [{"id": e.h1, "permission": {"login_host": true}}]})).await.err(400, 30002);
        t.grant("user", gid, "host", &["enable_host_mgmt", "manage_host"]).await;
        assert!(holds(&t, gid, ResourceType::Host, e.h1, "deactivate_host").await);
        let ex = t.get(&format!("/api/users/{gid}/effective-perms/?object=host:{}&perm=login_host", e.h1), t.admin()).await.ok();
        assert_eq!(ex["allowed"], true);
        assert_eq!(ex["perms"][0]["object"], "module:host");
        assert_eq!(ex["perms"][0]["perm"], "manage_host");
        t.post(&format!("/api/users/{hid}/host/perms/"), Auth::Token(&gtoken), json!({"authorizations": [{"id": e.h1, "permission": {"login_host": true}}]})).await.ok();
        assert!(holds(&t, hid, ResourceType::Host, e.h1, "login_host").await);
        assert!(!holds(&t, hid, ResourceType::Host, e.h1, "delete_host").await);
    }
}

both! {
    async fn resource_centric_endpoints_and_audit(t: TestApp) {
        let e = estate(&t).await;
        let (u1, _) = t.user("ida").await;
        let (u2, _) = t.user("joe").await;
        let rid = t.post("/api/roles/", t.admin(), json!({"name": "web"})).await.ok()["id"].as_i64().unwrap();
        let users = format!("/api/applications/{}/authorization/users/", e.a);
        t.call(Method::PATCH, &users, t.admin(), Some(json!([
            {"user": {"id": u1}, "permission": {"view_app": true, "deploy_app": true}, "action": "update"},
            {"user": {"id": u2}, "permission": {"view_app": true}},
        ]))).await.ok();
        let got = t.get(&users, t.admin()).await.ok();
        assert_eq!(got["count"], 2);
        assert_eq!(got["results"][0]["user"]["username"], "ida");
        assert_eq!(got["results"][0]["permission"]["deploy_app"], true);
        // The seed's singular path works too.
        assert_eq!(t.get(&format!("/api/application/{}/authorization/users/", e.a), t.admin()).await.ok()["count"], 2);
        t.call(Method::PATCH, &users, t.admin(), Some(json!([{"user": {"id": u1}, "permission": {"deploy_app": false}}, {"user": {"id": u2}, "action": "delete"}]))).await.ok();
        let got = t.get(&users, t.admin()).await.ok();
        assert_eq!(got["count"], 1);
        assert_eq!(got["results"][0]["permission"]["deploy_app"], false);
        t.call(Method::PATCH, &users, t.admin(), Some(json!([{"user": {"id": u1}, "action": "explode"}]))).await.err(400, 40000);
        t.call(Method::PATCH, &users, t.admin(), Some(json!([{"role": {"id": rid}}]))).await.err(400, 40000);
        let hosts = format!("/api/hosts/{}/authorization/roles/", e.h1);
        t.call(Method::PATCH, &hosts, t.admin(), Some(json!([{"role": {"id": rid}, "permission": {"login_host": true}}]))).await.ok();
        let got = t.get(&format!("/api/host/{}/authorization/roles/", e.h1), t.admin()).await.ok();
        assert_eq!(got["results"][0]["role"]["name"], "web");
        t.get("/api/hosts/999999/authorization/roles/", t.admin()).await.err(404, 40400);
        // Audit: every flag change, filterable as the seed lists.
        let all = t.get("/api/audit/authorize-operations/resources/", t.admin()).await.ok();
        // ida: view_app, deploy_app; joe: view_app; then ida deploy_app off, joe deleted; role web: login_host.
        assert_eq!(all["count"], 6);
        let f = t.get(&format!("/api/audit/authorize-operations/resources/?resource_type=application&resource_id={}&action=disable", e.a), t.admin()).await.ok();
        assert_eq!(f["count"], 2);
        let h = t.get("/api/audit/authorize-operations/resources/?resource_type=host&authorized_target_type=role&authorized_target_name=web", t.admin()).await.ok();
        assert_eq!(h["count"], 1);
        assert_eq!(h["results"][0]["resource"]["name"], "web-01");
        assert_eq!(h["results"][0]["perm_name"], "login_host");
        // Name filter on a subject's grants (full application name).
        assert_eq!(t.get(&format!("/api/users/{u1}/application/perms/?app_name=gate"), t.admin()).await.ok()["count"], 1);
        assert_eq!(t.get(&format!("/api/users/{u1}/application/perms/?app_name=billing"), t.admin()).await.ok()["count"], 0);
    }
}

both! {
    async fn resource_grant_endpoints_refuse_the_unprivileged(t: TestApp) {
        let e = estate(&t).await;
        let (uid, token) = t.user("nobody").await;
        let (other, _) = t.user("other").await;
        let body = json!({"authorizations": [{"id": e.a, "permission": {"view_app": true}}]});
        let patch = json!([{"user": {"id": other}, "permission": {"view_app": true}}]);
        let cases: Vec<(Method, String, Option<serde_json::Value>)> = vec![
            (Method::GET, format!("/api/users/{other}/application/perms/"), None),
            (Method::POST, format!("/api/users/{other}/application/perms/"), Some(body.clone())),
            (Method::POST, format!("/api/users/{uid}/application/perms/"), Some(body.clone())),
            (Method::GET, format!("/api/roles/1/host/perms/"), None),
            (Method::POST, format!("/api/roles/1/host/perms/"), Some(json!({"authorizations": []}))),
            (Method::GET, format!("/api/users/{other}/business/perms/"), None),
            (Method::GET, format!("/api/applications/{}/authorization/users/", e.a), None),
            (Method::PATCH, format!("/api/applications/{}/authorization/users/", e.a), Some(patch.clone())),
            (Method::GET, format!("/api/hosts/{}/authorization/roles/", e.h1), None),
            (Method::PATCH, format!("/api/hosts/{}/authorization/users/", e.h1), Some(patch.clone())),
            (Method::GET, format!("/api/productions/{}/authorization/users/", e.prod), None),
        ];
        for (m, path, b) in cases {
            let r = t.call(m.clone(), &path, Auth::Token(&token), b).await;
            assert_eq!(r.status, 403, "{m} {path}: {} {}", r.status, r.json);
        }
        // Reading one's own grants needs no permission.
        assert_eq!(t.get(&format!("/api/users/{uid}/application/perms/"), Auth::Token(&token)).await.status, 200);
        assert_eq!(t.get("/api/audit/authorize-operations/resources/", t.admin()).await.ok()["count"], 0);
    }
}
