//! HTTP tests of the foundation, in-process against the real router, on SQLite and PostgreSQL.
mod common;
use axum::http::Method;
use common::*;
use serde_json::json;

both! {
    async fn health_and_ready(t: TestApp) {
        assert_eq!(t.get("/healthz", Auth::None).await.status, 200);
        assert_eq!(t.get("/readyz", Auth::None).await.status, 200);
    }
}

both! {
    async fn login_logout_and_me(t: TestApp) {
        // Anonymous callers get 401 in the error envelope.
        t.get("/api/auth/me/", Auth::None).await.err(401, 40100);
        t.post("/api/auth/login/", Auth::None, json!({"username": "admin", "password": "wrong-password"})).await.err(401, 40100);
        let r = t.post("/api/auth/login/", Auth::None, json!({"username": "admin", "password": ADMIN_PW})).await;
        let set = r.headers.get("set-cookie").unwrap().to_str().unwrap().to_string();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
        assert!(r.headers.get("x-request-id").is_some());
        let cookie = t.login("admin", ADMIN_PW).await;
        let me = t.get("/api/auth/me/", Auth::Cookie(&cookie)).await.ok();
        assert_eq!(me["username"], "admin");
        assert_eq!(me["modules"]["superuser"], true);
        // A second login gets a different session id (the id is rotated at login).
        let again = t.login("admin", ADMIN_PW).await;
        assert_ne!(cookie, again);
        t.post("/api/auth/logout/", Auth::Cookie(&cookie), json!({})).await.ok();
        t.get("/api/auth/me/", Auth::Cookie(&cookie)).await.err(401, 40100);
        // Successes and failures are in the audit log.
        let ops: Vec<String> = t.audit("auth").await.iter().map(|r| r["op_type"].as_str().unwrap().to_string()).collect();
        assert!(ops.contains(&"login".to_string()) && ops.contains(&"login_failed".to_string()) && ops.contains(&"logout".to_string()), "{ops:?}");
    }
}

both! {
    async fn repeated_failures_are_throttled(t: TestApp) {
        for _ in 0..10 {
            t.post("/api/auth/login/", Auth::None, json!({"username": "admin", "password": "nope-nope"})).await.err(401, 40100);
        }
        // Even the right password is refused for the window now.
        t.post("/api/auth/login/", Auth::None, json!({"username": "admin", "password": ADMIN_PW})).await.err(429, 42900);
        let failed = t.audit("auth").await.iter().filter(|r| r["op_type"] == "login_failed").count();
        assert_eq!(failed, 10);
    }
}

both! {
    async fn cross_site_state_changes_are_refused(t: TestApp) {
        let cookie = t.login("admin", ADMIN_PW).await;
        let evil = [("origin", "http://evil.example")];
        let r = t.call_with(Method::POST, "/api/roles/", Auth::Cookie(&cookie), Some(json!({"name": "x"})), &evil).await;
        r.err(403, 40300);
        let fetch = [("sec-fetch-site", "cross-site")];
        t.call_with(Method::POST, "/api/roles/", Auth::Cookie(&cookie), Some(json!({"name": "x"})), &fetch).await.err(403, 40300);
        // Same origin works.
        let same = [("origin", "http://opsdeck.test")];
        assert_eq!(t.call_with(Method::POST, "/api/roles/", Auth::Cookie(&cookie), Some(json!({"name": "x"})), &same).await.status, 201);
    }
}

both! {
    async fn tokens_shown_once_and_both_schemes_work(t: TestApp) {
        let created = t.post("/api/auth-tokens/", t.admin(), json!({"name": "ci", "description": "for CI"})).await;
        assert_eq!(created.status, 201);
        let value = created.json["value"].as_str().unwrap().to_string();
        let id = created.json["id"].as_i64().unwrap();
        assert!(value.starts_with(&created.json["prefix"].as_str().unwrap().to_string()));
        // Never shown again.
        let one = t.get(&format!("/api/auth-tokens/{id}/"), t.admin()).await.ok();
        assert!(one.get("value").is_none(), "{one}");
        // Any value filter is safe, multi-byte characters included (it used to be sliced by bytes).
        assert_eq!(t.get("/api/auth-tokens/?value=odk_a%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9", t.admin()).await.ok()["count"], 0);
        let list = t.get("/api/auth-tokens/?name=ci", t.admin()).await.ok();
        assert_eq!(list["count"], 1);
        assert!(list["results"][0].get("value").is_none());
        // `token` and `Bearer` both authenticate, as the token's owner.
        assert_eq!(t.get("/api/auth/me/", Auth::Token(&value)).await.ok()["username"], "admin");
        assert_eq!(t.get("/api/auth/me/", Auth::Bearer(&value)).await.ok()["username"], "admin");
        t.call(Method::PATCH, &format!("/api/auth-tokens/{id}/"), t.admin(), Some(json!({"description": "renamed"}))).await.ok();
        t.call(Method::DELETE, &format!("/api/auth-tokens/{id}/"), t.admin(), None).await.ok();
        t.get("/api/auth/me/", Auth::Token(&value)).await.err(401, 40100);
        t.get("/api/auth/me/", Auth::Token("odk_not-a-token")).await.err(401, 40100);
        // Another user cannot see my tokens.
        let (_, other) = t.user("bob").await;
        t.get(&format!("/api/auth-tokens/{}/", id), Auth::Token(&other)).await.err(404, 40400);
        t.post("/api/auth-tokens/", t.admin(), json!({"name": ""})).await.err(400, 40000);
        t.post("/api/auth-tokens/", t.admin(), json!({"name": "x", "expires_in_days": 0})).await.err(400, 40000);
    }
}

both! {
    async fn expired_token_is_refused(t: TestApp) {
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let created = t.post("/api/auth-tokens/", t.admin(), json!({"name": "short", "expires_in_days": 1})).await.ok();
        let value = created["value"].as_str().unwrap().to_string();
        assert_eq!(t.get("/api/auth/me/", Auth::Token(&value)).await.status, 200);
        let row = app::entities::api_token::Entity::find_by_id(created["id"].as_i64().unwrap()).one(&t.ctx.db).await.unwrap().unwrap();
        let mut am: app::entities::api_token::ActiveModel = row.into();
        am.expires_at = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
        am.update(&t.ctx.db).await.unwrap();
        // Written behind the service's back (as another process would): resolutions are cached
        // for a few seconds, so drop them as the TTL would.
        app::tokens::service::forget_tokens(&t.ctx);
        t.get("/api/auth/me/", Auth::Token(&value)).await.err(401, 40100);
    }
}

both! {
    async fn users_crud_filters_and_pagination(t: TestApp) {
        for i in 0..12 {
            t.post("/api/users/", t.admin(), json!({"username": format!("user{i:02}"), "password": "password-123", "email": format!("u{i}@corp.test"), "phone": "1380000"})).await.ok();
        }
        let p1 = t.get("/api/users/?page_size=5&username=user", t.admin()).await.ok();
        assert_eq!(p1["count"], 12);
        assert_eq!(p1["results"].as_array().unwrap().len(), 5);
        assert_eq!(p1["next"], "/api/users/?page=2&page_size=5&username=user");
        assert!(p1["prev"].is_null());
        let p3 = t.get("/api/users/?page=3&page_size=5&username=user", t.admin()).await.ok();
        assert_eq!(p3["results"].as_array().unwrap().len(), 2);
        assert!(p3["next"].is_null());
        // page_number is accepted as the seed spells it.
        let pn = t.get("/api/users/?page_number=2&page_size=5&username=user", t.admin()).await.ok();
        assert_eq!(pn["results"][0]["username"], "user05");
        assert_eq!(t.get("/api/users/?email=u3@corp.test", t.admin()).await.ok()["count"], 1);
        t.get("/api/users/?status=bogus", t.admin()).await.err(400, 40000);
        t.get("/api/users/?page=abc", t.admin()).await.err(400, 40000);
        // Validation and conflicts are 4xx with a field.
        let e = t.post("/api/users/", t.admin(), json!({"username": "user00", "password": "password-123"})).await.err(409, 40900);
        assert_eq!(e["field"], "username");
        let e = t.post("/api/users/", t.admin(), json!({"username": "new", "password": "short"})).await.err(400, 40000);
        assert_eq!(e["field"], "password");
        t.post("/api/users/", t.admin(), json!({"username": "x y", "password": "password-123"})).await.err(400, 40000);
        t.post("/api/users/", t.admin(), json!({"nope": 1})).await.err(400, 40000);
        // Patch records before and after.
        let id = t.get("/api/users/?username=user01", t.admin()).await.ok()["results"][0]["id"].as_i64().unwrap();
        let u = t.call(Method::PATCH, &format!("/api/users/{id}/"), t.admin(), Some(json!({"email": "new@corp.test", "phone": "12345678901"}))).await.ok();
        assert_eq!(u["email"], "new@corp.test");
        t.call(Method::PATCH, &format!("/api/users/{id}/"), t.admin(), Some(json!({"email": "not-mail"}))).await.err(400, 40000);
        let upd = t.audit("user").await.into_iter().find(|r| r["op_type"] == "update").unwrap();
        assert_eq!(upd["detail"]["before"]["email"], "u1@corp.test");
        assert_eq!(upd["detail"]["after"]["email"], "new@corp.test");
        t.get("/api/users/999999/", t.admin()).await.err(404, 40400);
        // A malformed id is a 400 in the envelope, not a framework error page.
        let e = t.get("/api/users/abc/", t.admin()).await.err(400, 40000);
        assert!(e["message"].as_str().unwrap().contains("bad path"));
    }
}

both! {
    async fn disabled_user_cannot_login_or_use_tokens(t: TestApp) {
        let (id, token) = t.user("carol").await;
        let cookie = t.login("carol", "user-pass-123").await;
        assert_eq!(t.get("/api/auth/me/", Auth::Token(&token)).await.status, 200);
        t.post(&format!("/api/users/{id}/actions/disable/"), t.admin(), json!({})).await.ok();
        t.get("/api/auth/me/", Auth::Token(&token)).await.err(401, 40100);
        t.get("/api/auth/me/", Auth::Cookie(&cookie)).await.err(401, 40100);
        t.post("/api/auth/login/", Auth::None, json!({"username": "carol", "password": "user-pass-123"})).await.err(401, 40100);
        assert_eq!(t.get("/api/users/?status=disabled", t.admin()).await.ok()["count"], 1);
        t.post(&format!("/api/users/{id}/actions/enable/"), t.admin(), json!({})).await.ok();
        assert_eq!(t.get("/api/auth/me/", Auth::Token(&token)).await.status, 200);
        // Nobody disables themselves.
        t.post(&format!("/api/users/{}/actions/disable/", t.admin_id), t.admin(), json!({})).await.err(400, 40000);
    }
}

both! {
    async fn change_password_checks_original_and_ends_other_sessions(t: TestApp) {
        let (id, token) = t.user("dave").await;
        let cookie = t.login("dave", "user-pass-123").await;
        let path = format!("/api/users/{id}/actions/change-password/");
        t.post(&path, Auth::Token(&token), json!({"original_password": "wrong-one", "new_password": "another-pass-1"})).await.err(400, 300001);
        t.post(&path, Auth::Token(&token), json!({"original_password": "user-pass-123", "new_password": "short"})).await.err(400, 40000);
        // Someone else's password: refused.
        t.post(&format!("/api/users/{}/actions/change-password/", t.admin_id), Auth::Token(&token), json!({"original_password": ADMIN_PW, "new_password": "another-pass-1"})).await.err(403, 40300);
        t.post(&path, Auth::Token(&token), json!({"original_password": "user-pass-123", "new_password": "another-pass-1"})).await.ok();
        t.get("/api/auth/me/", Auth::Cookie(&cookie)).await.err(401, 40100);
        // Changing it from a browser session keeps that session, with its new fingerprint.
        let mine = t.login("dave", "another-pass-1").await;
        let r = t.post(&path, Auth::Cookie(&mine), json!({"original_password": "another-pass-1", "new_password": "third-pass-12"})).await;
        let renewed = r.cookie().unwrap_or(mine.clone());
        r.ok();
        assert_eq!(t.get("/api/auth/me/", Auth::Cookie(&renewed)).await.ok()["username"], "dave");
    }
}

both! {
    async fn roles_members_and_module_grants(t: TestApp) {
        let (uid, token) = t.user("erin").await;
        // Without permissions erin sees nothing.
        t.get("/api/users/", Auth::Token(&token)).await.err(403, 40300);
        let role = t.post("/api/roles/", t.admin(), json!({"name": "auditors", "description": "read audit"})).await.ok();
        let rid = role["id"].as_i64().unwrap();
        assert_eq!(role["available_actions"], json!({"edit": true, "delete": true, "manage_members": true, "grant": true}));
        t.post("/api/roles/", t.admin(), json!({"name": "auditors"})).await.err(409, 40900);
        t.grant("role", rid, "system", &["enable_system_mgmt", "view_users", "view_audit"]).await;
        t.post(&format!("/api/roles/{rid}/users/"), t.admin(), json!([{"id": uid}])).await.ok();
        let members = t.get(&format!("/api/roles/{rid}/users/"), t.admin()).await.ok();
        assert_eq!(members[0]["username"], "erin");
        // Now erin may list users and read the audit log, but not manage users; the objects say so.
        let listed = t.get("/api/users/", Auth::Token(&token)).await.ok();
        assert_eq!(listed["results"][0]["available_actions"]["edit"], false);
        assert_eq!(t.get(&format!("/api/roles/{rid}/"), Auth::Token(&token)).await.ok()["available_actions"]["delete"], false);
        assert_eq!(t.get("/api/audit/authorize-operations/modules/", Auth::Token(&token)).await.status, 200);
        t.post("/api/users/", Auth::Token(&token), json!({"username": "zed", "password": "password-123"})).await.err(403, 40300);
        let me = t.get("/api/auth/me/", Auth::Token(&token)).await.ok();
        assert_eq!(me["modules"]["modules"], json!(["system"]));
        // Read back what the role holds.
        let perms = t.get(&format!("/api/roles/{rid}/system/perms/"), t.admin()).await.ok();
        let system = perms.as_array().unwrap().iter().find(|m| m["module_name"] == "system").unwrap();
        assert_eq!(system["permissions"]["view_audit"], true);
        assert_eq!(system["permissions"]["manage_users"], false);
        // Removing her from the role takes the permission away at once.
        t.call(Method::DELETE, &format!("/api/users/{uid}/roles/"), t.admin(), Some(json!([{"id": rid}]))).await.ok();
        t.get("/api/users/", Auth::Token(&token)).await.err(403, 40300);
        // Deleting the role removes its grants too.
        t.post(&format!("/api/users/{uid}/roles/"), t.admin(), json!([{"id": rid}])).await.ok();
        t.call(Method::DELETE, &format!("/api/roles/{rid}/"), t.admin(), None).await.ok();
        t.get("/api/users/", Auth::Token(&token)).await.err(403, 40300);
        t.get(&format!("/api/roles/{rid}/"), t.admin()).await.err(404, 40400);
        let grants: i64 = {
            use sea_orm::{EntityTrait, PaginatorTrait};
            app::entities::perm_grant::Entity::find().count(&t.ctx.db).await.unwrap() as i64
        };
        assert_eq!(grants, 0);
    }
}

both! {
    async fn undefined_permissions_are_30001(t: TestApp) {
        let (uid, _) = t.user("fay").await;
        let e = t.post(&format!("/api/users/{uid}/system/perms/"), t.admin(), json!({"module_name": "application", "permissions": {"restart_app": true}})).await.err(400, 30001);
        assert!(e["message"].as_str().unwrap().contains("restart_app"));
        t.post(&format!("/api/users/{uid}/system/perms/"), t.admin(), json!({"module_name": "nope", "permissions": {}})).await.err(400, 30001);
        // The seed's `add_app` means `create_app`; an array body works too.
        t.post(&format!("/api/users/{uid}/system/perms/"), t.admin(), json!([{"module_name": "application", "permissions": {"enable_app_mgmt": true, "add_app": true}}])).await.ok();
        let perms = t.get(&format!("/api/users/{uid}/system/perms/"), t.admin()).await.ok();
        let app = perms.as_array().unwrap().iter().find(|m| m["module_name"] == "application").unwrap();
        assert_eq!(app["permissions"]["create_app"], true);
        // Nothing was written by the refused requests: only the two accepted flags are audited.
        assert_eq!(t.get("/api/audit/authorize-operations/modules/", t.admin()).await.ok()["count"], 2);
    }
}

both! {
    async fn nobody_escalates(t: TestApp) {
        // gina may grant, and holds the system module's grant flags, but not view_audit.
        let (gid, gtoken) = t.user("gina").await;
        t.grant("user", gid, "system", &["enable_system_mgmt", "grant_perms", "view_users", "manage_roles"]).await;
        let (hid, htoken) = t.user("hank").await;
        // She can hand out what she holds…
        t.post(&format!("/api/users/{hid}/system/perms/"), Auth::Token(&gtoken), json!({"module_name": "system", "permissions": {"enable_system_mgmt": true, "view_users": true}})).await.ok();
        assert_eq!(t.get("/api/users/", Auth::Token(&htoken)).await.status, 200);
        // …but not what she lacks (30002), nor to herself.
        t.post(&format!("/api/users/{hid}/system/perms/"), Auth::Token(&gtoken), json!({"module_name": "system", "permissions": {"view_audit": true}})).await.err(400, 30002);
        // Not even a flag she holds: a direct grant to herself would outlive the grant she has.
        t.post(&format!("/api/users/{gid}/system/perms/"), Auth::Token(&gtoken), json!({"module_name": "system", "permissions": {"view_users": true}})).await.err(400, 30002);
        let mine = t.get(&format!("/api/users/{gid}/system/perms/"), t.admin()).await.ok();
        assert_eq!(mine.to_string().matches("true").count(), 4, "{mine}");
        // Not through a role either: a role carrying view_audit cannot be given away by her.
        let rid = t.post("/api/roles/", t.admin(), json!({"name": "audit"})).await.ok()["id"].as_i64().unwrap();
        t.grant("role", rid, "system", &["view_audit"]).await;
        t.post(&format!("/api/roles/{rid}/users/"), Auth::Token(&gtoken), json!([{"id": gid}])).await.err(400, 30002);
        t.post(&format!("/api/users/{hid}/roles/"), Auth::Token(&gtoken), json!([{"id": rid}])).await.err(400, 30002);
        // And never into the superuser role.
        let su = t.get("/api/roles/?name=superuser", t.admin()).await.ok()["results"][0]["id"].as_i64().unwrap();
        t.post(&format!("/api/roles/{su}/users/"), Auth::Token(&gtoken), json!([{"id": gid}])).await.err(400, 30002);
        let me = t.get("/api/auth/me/", Auth::Token(&gtoken)).await.ok();
        assert_eq!(me["modules"]["superuser"], false);
    }
}

both! {
    async fn authorize_operations_audit_and_filters(t: TestApp) {
        let (uid, _) = t.user("ivan").await;
        let rid = t.post("/api/roles/", t.admin(), json!({"name": "ops"})).await.ok()["id"].as_i64().unwrap();
        t.grant("role", rid, "dns", &["enable_dns_mgmt", "manage_dns_server"]).await;
        t.post(&format!("/api/users/{uid}/system/perms/"), t.admin(), json!({"module_name": "host", "permissions": {"enable_host_mgmt": true}})).await.ok();
        t.post(&format!("/api/users/{uid}/system/perms/"), t.admin(), json!({"module_name": "host", "permissions": {"enable_host_mgmt": false}})).await.ok();
        let all = t.get("/api/audit/authorize-operations/modules/", t.admin()).await.ok();
        assert_eq!(all["count"], 4);
        let r = t.get("/api/audit/authorize-operations/modules/?action=disable", t.admin()).await.ok();
        assert_eq!(r["count"], 1);
        let row = &r["results"][0];
        assert_eq!(row["operator"], "admin");
        assert_eq!(row["module_name"], "host");
        assert_eq!(row["perm_name"], "enable_host_mgmt");
        assert_eq!(row["authorized_target_type"], "user");
        assert_eq!(row["authorized_target_name"], "ivan");
        assert!(chrono::DateTime::parse_from_rfc3339(row["op_time"].as_str().unwrap()).is_ok());
        let f = t.get("/api/audit/authorize-operations/modules/?authorized_target_type=role&authorized_target_name=ops&perm_name=manage_dns_server", t.admin()).await.ok();
        assert_eq!(f["count"], 1);
        assert_eq!(t.get("/api/audit/authorize-operations/modules/?module_name=dns", t.admin()).await.ok()["count"], 2);
        assert_eq!(t.get("/api/audit/authorize-operations/modules/?operator=nobody", t.admin()).await.ok()["count"], 0);
        assert_eq!(t.get("/api/audit/authorize-operations/modules/?op_time__gt=2000-01-01T00:00:00Z", t.admin()).await.ok()["count"], 4);
        assert_eq!(t.get("/api/audit/authorize-operations/modules/?op_time__lt=2000-01-01", t.admin()).await.ok()["count"], 0);
        t.get("/api/audit/authorize-operations/modules/?op_time__lt=yesterday", t.admin()).await.err(400, 40000);
        assert_eq!(t.get("/api/audit/authorize-operations/resources/", t.admin()).await.ok()["count"], 0);
    }
}

both! {
    async fn explainer_names_the_source_of_each_permission(t: TestApp) {
        let (uid, token) = t.user("judy").await;
        let rid = t.post("/api/roles/", t.admin(), json!({"name": "dns-admins"})).await.ok()["id"].as_i64().unwrap();
        t.grant("role", rid, "dns", &["enable_dns_mgmt", "manage_dns_server"]).await;
        t.grant("user", uid, "dns", &["enable_dns_mgmt"]).await;
        t.post(&format!("/api/roles/{rid}/users/"), t.admin(), json!([{"id": uid}])).await.ok();
        // Users may explain themselves.
        let e = t.get(&format!("/api/users/{uid}/effective-perms/"), Auth::Token(&token)).await.ok();
        assert_eq!(e["superuser"], false);
        let enable = e["perms"].as_array().unwrap().iter().find(|p| p["perm"] == "enable_dns_mgmt").unwrap();
        let vias: Vec<&str> = enable["sources"].as_array().unwrap().iter().map(|s| s["via"].as_str().unwrap()).collect();
        assert_eq!(vias.len(), 2);
        assert!(vias.contains(&"user") && vias.contains(&"role"));
        let manage = t.get(&format!("/api/users/{uid}/effective-perms/?perm=manage_dns_server"), t.admin()).await.ok();
        assert_eq!(manage["perms"][0]["sources"][0]["role_name"], "dns-admins");
        // But not others.
        t.get(&format!("/api/users/{}/effective-perms/", t.admin_id), Auth::Token(&token)).await.err(403, 40300);
        assert_eq!(t.get(&format!("/api/users/{}/effective-perms/", t.admin_id), t.admin()).await.ok()["superuser"], true);
    }
}

both! {
    async fn every_endpoint_refuses_a_user_without_permission(t: TestApp) {
        let (uid, token) = t.user("nobody").await;
        let (other, _) = t.user("victim").await;
        let rid = t.post("/api/roles/", t.admin(), json!({"name": "r"})).await.ok()["id"].as_i64().unwrap();
        let cases: Vec<(Method, String, Option<serde_json::Value>)> = vec![
            (Method::GET, "/api/users/".into(), None),
            (Method::POST, "/api/users/".into(), Some(json!({"username": "n2", "password": "password-123"}))),
            (Method::GET, format!("/api/users/{other}/"), None),
            (Method::PATCH, format!("/api/users/{other}/"), Some(json!({"email": "a@b.co"}))),
            (Method::POST, format!("/api/users/{other}/roles/"), Some(json!([{"id": rid}]))),
            (Method::DELETE, format!("/api/users/{other}/roles/"), Some(json!([{"id": rid}]))),
            (Method::POST, format!("/api/users/{other}/actions/disable/"), None),
            (Method::POST, format!("/api/users/{other}/actions/enable/"), None),
            (Method::POST, format!("/api/users/{other}/actions/change-password/"), Some(json!({"original_password": "x", "new_password": "password-123"}))),
            (Method::GET, format!("/api/users/{other}/system/perms/"), None),
            (Method::POST, format!("/api/users/{other}/system/perms/"), Some(json!({"module_name": "dns", "permissions": {"enable_dns_mgmt": true}}))),
            (Method::POST, format!("/api/users/{uid}/system/perms/"), Some(json!({"module_name": "dns", "permissions": {"enable_dns_mgmt": true}}))),
            (Method::GET, format!("/api/users/{other}/effective-perms/"), None),
            (Method::GET, "/api/roles/".into(), None),
            (Method::POST, "/api/roles/".into(), Some(json!({"name": "mine"}))),
            (Method::GET, format!("/api/roles/{rid}/"), None),
            (Method::PATCH, format!("/api/roles/{rid}/"), Some(json!({"name": "renamed"}))),
            (Method::DELETE, format!("/api/roles/{rid}/"), None),
            (Method::GET, format!("/api/roles/{rid}/users/"), None),
            (Method::POST, format!("/api/roles/{rid}/users/"), Some(json!([{"id": uid}]))),
            (Method::DELETE, format!("/api/roles/{rid}/users/"), Some(json!([{"id": uid}]))),
            (Method::GET, format!("/api/roles/{rid}/system/perms/"), None),
            (Method::POST, format!("/api/roles/{rid}/system/perms/"), Some(json!({"module_name": "dns", "permissions": {"enable_dns_mgmt": true}}))),
            (Method::GET, "/api/audit/authorize-operations/modules/".into(), None),
            (Method::GET, "/api/audit/authorize-operations/resources/".into(), None),
            (Method::GET, "/api/audit/logs/".into(), None),
        ];
        for (m, path, body) in cases {
            let r = t.call(m.clone(), &path, Auth::Token(&token), body.clone()).await;
            assert_eq!(r.status, 403, "{m} {path} answered {} {}", r.status, r.json);
            assert_eq!(r.json["error_code"], 40300, "{m} {path}");
            // And anonymous callers get 401.
            let r = t.call(m.clone(), &path, Auth::None, body).await;
            assert_eq!(r.status, 401, "anonymous {m} {path} answered {}", r.status);
        }
        // The refusals changed nothing.
        assert_eq!(t.get(&format!("/api/roles/{rid}/"), t.admin()).await.ok()["name"], "r");
        assert_eq!(t.get(&format!("/api/users/{other}/"), t.admin()).await.ok()["status"], "enabled");
    }
}

both! {
    async fn casbin_adapter_round_trips_policy(t: TestApp) {
        use casbin::{Adapter, CoreApi, DefaultModel, Enforcer, MgmtApi};
        let mut a = app::perms::casbin::SeaAdapter { db: t.ctx.db.clone() };
        let (uid, _) = t.user("kim").await;
        assert!(a.add_policy("p", "p", vec![format!("user:{uid}"), "module:dns".into(), "enable_dns_mgmt".into()]).await.unwrap());
        // A fresh enforcer loads what the adapter wrote, including the admin's superuser membership.
        let m = DefaultModel::from_str(app::perms::casbin::MODEL).await.unwrap();
        let e = Enforcer::new(m, app::perms::casbin::SeaAdapter { db: t.ctx.db.clone() }).await.unwrap();
        assert!(e.enforce((format!("user:{uid}").as_str(), "module:dns", "enable_dns_mgmt")).unwrap());
        assert!(!e.enforce((format!("user:{uid}").as_str(), "module:dns", "manage_dns_server")).unwrap());
        assert!(e.enforce((format!("user:{}", t.admin_id).as_str(), "module:dns", "manage_dns_server")).unwrap());
        assert_eq!(e.get_policy().len(), 1); // kim's grant; the admin holds everything through the superuser role
        assert!(a.remove_filtered_policy("p", "p", 0, vec![format!("user:{uid}")]).await.unwrap());
        let m = DefaultModel::from_str(app::perms::casbin::MODEL).await.unwrap();
        let e = Enforcer::new(m, app::perms::casbin::SeaAdapter { db: t.ctx.db.clone() }).await.unwrap();
        assert!(!e.enforce((format!("user:{uid}").as_str(), "module:dns", "enable_dns_mgmt")).unwrap());
    }
}

both! {
    async fn openapi_document_matches_the_router(t: TestApp) {
        let doc = t.get("/api/openapi.json", Auth::None).await.ok();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths["/api/users/"]["get"]["responses"]["200"].is_object());
        assert_eq!(paths["/api/users/"]["post"]["description"], "Requires: system.manage_users");
        assert!(paths["/api/applications/{id}/authorization/users/"]["patch"].is_object());
        assert!(paths["/api/audit/authorize-operations/modules/"]["get"]["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "op_time__gt"));
        // Every $ref resolves.
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for (i, _) in text.match_indices("#/components/schemas/") {
            let name: String = text[i + 21..].chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "unresolved $ref {name}");
        }
        assert!(schemas["User"]["properties"]["username"].is_object());
        // Every documented operation is routed: anonymous calls get the API's answer, never 404/405.
        let mut n = 0;
        for (path, item) in paths {
            for (method, _) in item.as_object().unwrap() {
                n += 1;
                let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let body = (m != Method::GET).then(|| json!({}));
                let r = t.call(m.clone(), &path.replace("{id}", "1"), Auth::None, body).await;
                assert!(r.status != 404 && r.status != 405, "{m} {path} is documented but answered {}", r.status);
                assert!(r.json.get("error_code").is_some() || r.status.is_success(), "{m} {path}: {}", r.json);
            }
        }
        assert!(n >= 60, "only {n} operations documented");
        // The viewer is served by Opsdeck itself.
        let r = t.get("/api/docs", Auth::None).await;
        assert_eq!(r.status, 308);
    }
}

both! {
    async fn user_lookup_by_name_is_permission_checked(t: TestApp) {
        let (uid, _) = t.user("quinn").await;
        let quinn = app::ctx::Actor { id: uid, username: "quinn".into(), ..Default::default() };
        let admin = app::ctx::Actor { id: t.admin_id, username: "admin".into(), ..Default::default() };
        use app::users::service::by_username;
        assert_eq!(by_username(&t.ctx, &quinn, "quinn").await.unwrap().id, uid);
        // Others, and names that do not exist, are both refused: no probing for accounts.
        assert_eq!(by_username(&t.ctx, &quinn, "admin").await.unwrap_err().error_code, 40300);
        assert_eq!(by_username(&t.ctx, &quinn, "ghost").await.unwrap_err().error_code, 40300);
        assert_eq!(by_username(&t.ctx, &admin, "quinn").await.unwrap().username, "quinn");
        let e = by_username(&t.ctx, &admin, "ghost").await.unwrap_err();
        assert_eq!((e.error_code, e.field.as_deref()), (40400, Some("username")));
    }
}
