//! Product lines: CRUD, visibility filtered in SQL, creator rights, delete refusal, audit.
mod common;
use axum::http::Method;
use common::*;
use serde_json::json;

both! {
    async fn crud_and_audit(t: TestApp) {
        let p = t.post("/api/productions/", t.admin(), json!({"name": "payments", "description": "money"})).await;
        assert_eq!(p.status, 201);
        let id = p.json["id"].as_i64().unwrap();
        assert_eq!(p.json["available_actions"], json!({"view": true, "edit": true, "delete": true}));
        t.post("/api/productions/", t.admin(), json!({"name": "payments"})).await.err(409, 40900);
        t.post("/api/productions/", t.admin(), json!({"name": " "})).await.err(400, 40000);
        let u = t.call(Method::PATCH, &format!("/api/productions/{id}/"), t.admin(), Some(json!({"description": "all money"}))).await.ok();
        assert_eq!(u["description"], "all money");
        let got = t.get("/api/productions/?name=pay", t.admin()).await.ok();
        assert_eq!(got["count"], 1);
        assert_eq!(got["results"][0]["application_count"], 0);
        t.call(Method::DELETE, &format!("/api/productions/{id}/"), t.admin(), None).await.ok();
        t.get(&format!("/api/productions/{id}/"), t.admin()).await.err(404, 40400);
        let ops: Vec<String> = t.audit("business").await.iter().map(|r| r["op_type"].as_str().unwrap().to_string()).collect();
        assert_eq!(ops, vec!["delete", "update", "add"]);
        let upd = t.audit("business").await.into_iter().find(|r| r["op_type"] == "update").unwrap();
        assert_eq!(upd["detail"]["before"]["description"], "money");
    }
}

both! {
    async fn lists_show_only_what_the_user_may_see(t: TestApp) {
        let mut ids = vec![];
        for n in ["alpha", "beta", "gamma", "delta"] {
            ids.push(t.post("/api/productions/", t.admin(), json!({"name": n})).await.ok()["id"].as_i64().unwrap());
        }
        let (uid, token) = t.user("pat").await;
        // Nothing granted: an empty list (not an error), and 403 on a direct read.
        assert_eq!(t.get("/api/productions/", Auth::Token(&token)).await.ok()["count"], 0);
        t.get(&format!("/api/productions/{}/", ids[0]), Auth::Token(&token)).await.err(403, 40300);
        // A direct grant on one and a role grant on another: exactly those two, counted in SQL.
        t.post(&format!("/api/users/{uid}/business/perms/"), t.admin(), json!({"authorizations": [{"id": ids[0], "permission": {"view_business": true}}]})).await.ok();
        let rid = t.post("/api/roles/", t.admin(), json!({"name": "viewers"})).await.ok()["id"].as_i64().unwrap();
        t.post(&format!("/api/roles/{rid}/business/perms/"), t.admin(), json!({"authorizations": [{"id": ids[2], "permission": {"view_business": true}}]})).await.ok();
        t.post(&format!("/api/roles/{rid}/users/"), t.admin(), json!([{"id": uid}])).await.ok();
        let got = t.get("/api/productions/?page_size=1", Auth::Token(&token)).await.ok();
        assert_eq!(got["count"], 2);
        assert_eq!(got["results"][0]["name"], "alpha");
        assert_eq!(got["results"][0]["available_actions"], json!({"view": true, "edit": false, "delete": false}));
        assert!(got["next"].is_string());
        let names: Vec<String> = t.get("/api/productions/", Auth::Token(&token)).await.ok()["results"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_string()).collect();
        assert_eq!(names, vec!["alpha", "gamma"]);
        // Editing needs edit_business.
        t.call(Method::PATCH, &format!("/api/productions/{}/", ids[0]), Auth::Token(&token), Some(json!({"name": "x"}))).await.err(403, 40300);
        t.call(Method::DELETE, &format!("/api/productions/{}/", ids[0]), Auth::Token(&token), None).await.err(403, 40300);
        // The module-wide flag shows them all.
        t.grant("user", uid, "business", &["enable_business_mgmt", "view_business"]).await;
        assert_eq!(t.get("/api/productions/", Auth::Token(&token)).await.ok()["count"], 4);
    }
}

both! {
    async fn creators_manage_what_they_create(t: TestApp) {
        let (uid, token) = t.user("cora").await;
        t.post("/api/productions/", Auth::Token(&token), json!({"name": "mine"})).await.err(403, 40300);
        t.grant("user", uid, "business", &["enable_business_mgmt", "add_business"]).await;
        let id = t.post("/api/productions/", Auth::Token(&token), json!({"name": "mine"})).await.ok()["id"].as_i64().unwrap();
        t.post("/api/productions/", t.admin(), json!({"name": "theirs"})).await.ok();
        let got = t.get("/api/productions/", Auth::Token(&token)).await.ok();
        assert_eq!(got["count"], 1);
        t.call(Method::PATCH, &format!("/api/productions/{id}/"), Auth::Token(&token), Some(json!({"description": "ok"}))).await.ok();
        t.call(Method::DELETE, &format!("/api/productions/{id}/"), Auth::Token(&token), None).await.ok();
        // The grants went with it.
        assert_eq!(t.get(&format!("/api/users/{uid}/business/perms/"), t.admin()).await.ok()["count"], 0);
    }
}

both! {
    async fn a_product_line_with_applications_is_not_deleted(t: TestApp) {
        use sea_orm::{ActiveModelTrait, Set};
        let id = t.post("/api/productions/", t.admin(), json!({"name": "core"})).await.ok()["id"].as_i64().unwrap();
        let now = chrono::Utc::now();
        app::entities::application::ActiveModel {
            name: Set("api".into()), full_name: Set("api".into()), production_id: Set(Some(id)), parent_id: Set(None),
            application_type: Set("process".into()), description: Set(String::new()), created_at: Set(now), updated_at: Set(now), ..Default::default()
        }.insert(&t.ctx.db).await.unwrap();
        let e = t.call(Method::DELETE, &format!("/api/productions/{id}/"), t.admin(), None).await.err(409, 40900);
        assert!(e["message"].as_str().unwrap().contains("api"), "{e}");
        assert_eq!(t.get(&format!("/api/productions/{id}/"), t.admin()).await.ok()["application_count"], 1);
    }
}
