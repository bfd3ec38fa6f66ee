//! Identity (issue 8, items 1, 9 and the login part of 12): nobody changes a user who holds more
//! than they do; passwords, tokens, reset links and login/forgot-password throttling.
mod common;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use common::*;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Calls the router as a client at `ip` (the address `actor_layer` reads from the connection).
async fn call_from(
    router: &axum::Router,
    ip: &str,
    method: Method,
    path: &str,
    auth: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "opsdeck.test")
        .header("content-type", "application/json");
    if let Some(t) = auth {
        b = b.header("authorization", format!("token {t}"));
    }
    let mut req = b.body(Body::from(body.to_string())).unwrap();
    let addr: std::net::SocketAddr = format!("{ip}:40000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

async fn login_from(t: &TestApp, ip: &str, user: &str, pw: &str) -> (u16, Value) {
    call_from(
        &t.router,
        ip,
        Method::POST,
        "/api/auth/login/",
        None,
        json!({"username": user, "password": pw}),
    )
    .await
}

async fn forgot_from(t: &TestApp, ip: &str, body: Value) -> (u16, Value) {
    call_from(
        &t.router,
        ip,
        Method::POST,
        "/api/auth/forgot-password/",
        None,
        body,
    )
    .await
}

/// A user holding `system` flags (enable_system_mgmt plus `flags`).
async fn system_user(t: &TestApp, name: &str, flags: &[&str]) -> (i64, String) {
    let (id, token) = t.user(name).await;
    let mut all = vec!["enable_system_mgmt"];
    all.extend_from_slice(flags);
    t.grant("user", id, "system", &all).await;
    (id, token)
}

async fn patch_user(t: &TestApp, id: i64, token: &str, body: Value) -> Resp {
    t.call(
        Method::PATCH,
        &format!("/api/users/{id}/"),
        Auth::Token(token),
        Some(body),
    )
    .await
}

both! {
    async fn manage_users_cannot_take_over_a_superuser(t: TestApp) {
        let (_, mallory) = system_user(&t, "mallory", &["view_users", "manage_users", "manage_roles"]).await;
        let admin = t.admin_id;
        // The e-mail (where the reset link goes), the status and the roles of the superuser are out
        // of reach; the refusal names nothing.
        let r = patch_user(&t, admin, &mallory, json!({"email": "mallory@evil.test"})).await.err(400, 30002);
        assert!(!r.to_string().contains("superuser"), "{r}");
        t.post(&format!("/api/users/{admin}/actions/disable/"), Auth::Token(&mallory), json!({})).await.err(400, 30002);
        let role = t.post("/api/roles/", t.admin(), json!({"name": "empty"})).await.ok()["id"].as_i64().unwrap();
        t.post(&format!("/api/users/{admin}/roles/"), Auth::Token(&mallory), json!([{"id": role}])).await.err(400, 30002);
        // Nothing changed.
        let a = t.get(&format!("/api/users/{admin}/"), t.admin()).await.ok();
        assert_eq!(a["email"], "");
        assert_eq!(a["status"], "enabled");
        assert_eq!(a["roles"].as_array().unwrap().len(), 1, "{a}");
        assert_eq!(t.get("/api/auth/me/", t.admin()).await.ok()["username"], "admin");
    }
}

both! {
    async fn manage_users_changes_only_users_it_covers(t: TestApp) {
        let (mallory_id, mallory) = system_user(&t, "mallory", &["view_users", "manage_users", "manage_roles"]).await;
        // bob holds a subset of mallory's rights; carol holds a host flag mallory lacks, directly
        // and dave through a role.
        let (bob, _) = system_user(&t, "bob", &["view_users"]).await;
        let (carol, carol_token) = t.user("carol").await;
        t.grant("user", carol, "host", &["enable_host_mgmt", "add_host"]).await;
        let (dave, _) = t.user("dave").await;
        let hosts = t.post("/api/roles/", t.admin(), json!({"name": "hosts"})).await.ok()["id"].as_i64().unwrap();
        t.grant("role", hosts, "host", &["enable_host_mgmt"]).await;
        t.post(&format!("/api/users/{dave}/roles/"), t.admin(), json!([{"id": hosts}])).await.ok();
        let plain = t.post("/api/roles/", t.admin(), json!({"name": "plain"})).await.ok()["id"].as_i64().unwrap();

        patch_user(&t, bob, &mallory, json!({"email": "bob@new.test"})).await.ok();
        t.post(&format!("/api/users/{bob}/actions/disable/"), Auth::Token(&mallory), json!({})).await.ok();
        t.post(&format!("/api/users/{bob}/actions/enable/"), Auth::Token(&mallory), json!({})).await.ok();
        t.post(&format!("/api/users/{bob}/roles/"), Auth::Token(&mallory), json!([{"id": plain}])).await.ok();
        t.call(Method::DELETE, &format!("/api/users/{bob}/roles/"), Auth::Token(&mallory), Some(json!([{"id": plain}]))).await.ok();

        for u in [carol, dave] {
            patch_user(&t, u, &mallory, json!({"email": "x@evil.test"})).await.err(400, 30002);
            t.post(&format!("/api/users/{u}/actions/disable/"), Auth::Token(&mallory), json!({})).await.err(400, 30002);
            t.post(&format!("/api/users/{u}/roles/"), Auth::Token(&mallory), json!([{"id": plain}])).await.err(400, 30002);
        }
        let c = t.get(&format!("/api/users/{carol}/"), t.admin()).await.ok();
        assert_eq!((c["email"].as_str(), c["status"].as_str()), (Some("carol@example.test"), Some("enabled")));
        // Once mallory holds the same flags, she covers carol.
        t.grant("user", mallory_id, "host", &["enable_host_mgmt", "add_host"]).await;
        patch_user(&t, carol, &mallory, json!({"phone": "12345"})).await.ok();
        // A superuser covers everyone, and everyone may edit their own profile.
        patch_user(&t, dave, &t.admin_token, json!({"email": "dave@new.test"})).await.ok();
        patch_user(&t, carol, &carol_token, json!({"email": "carol@new.test"})).await.ok();
        assert_eq!(t.get(&format!("/api/users/{dave}/"), t.admin()).await.ok()["email"], "dave@new.test");
    }
}

both! {
    async fn bootstrap_admin_email_from_configuration(b: Backend) {
        let t = TestApp::with_config(b, |c| c.admin_email = Some("root@example.test".into())).await;
        let a = t.get(&format!("/api/users/{}/", t.admin_id), t.admin()).await.ok();
        assert_eq!(a["email"], "root@example.test");
    }
}

both! {
    async fn password_change_and_reset_revoke_api_tokens(t: TestApp) {
        use sea_orm::{ActiveModelTrait, Set};
        let (uid, token) = t.user("erin").await;
        let cookie = t.login("erin", "user-pass-123").await;
        t.get("/api/auth/me/", Auth::Token(&token)).await.ok();
        t.post(&format!("/api/users/{uid}/actions/change-password/"), Auth::Cookie(&cookie),
            json!({"original_password": "user-pass-123", "new_password": "changed-pass-1"})).await.ok();
        t.get("/api/auth/me/", Auth::Token(&token)).await.err(401, 40100);
        // A reset too.
        let second = t.post("/api/auth-tokens/", Auth::Cookie(&t.login("erin", "changed-pass-1").await), json!({"name": "second"})).await.ok()["value"].as_str().unwrap().to_string();
        t.get("/api/auth/me/", Auth::Token(&second)).await.ok();
        let now = chrono::Utc::now();
        app::entities::password_reset::ActiveModel {
            user_id: Set(uid),
            token_hash: Set(app::security::sha256_hex("known-reset-token")),
            expires_at: Set(now + chrono::Duration::minutes(30)),
            used_at: Set(None),
            created_at: Set(now),
            ..Default::default()
        }.insert(&t.ctx.db).await.unwrap();
        t.post("/api/auth/reset-password/", Auth::None, json!({"token": "known-reset-token", "new_password": "reset-pass-22"})).await.ok();
        t.get("/api/auth/me/", Auth::Token(&second)).await.err(401, 40100);
        let ops: Vec<Value> = t.audit("user").await;
        assert!(ops.iter().any(|r| r["op_type"] == "reset_password" && r["detail"].to_string().contains("tokens_revoked")), "{ops:?}");
    }
}

both! {
    async fn a_token_cannot_mint_a_longer_lived_token(t: TestApp) {
        // The admin's test token never expires: it may create anything.
        let short = t.post("/api/auth-tokens/", t.admin(), json!({"name": "short", "expires_in_days": 5})).await.ok()["value"].as_str().unwrap().to_string();
        t.post("/api/auth-tokens/", Auth::Token(&short), json!({"name": "forever"})).await.err(400, 40000);
        t.post("/api/auth-tokens/", Auth::Token(&short), json!({"name": "longer", "expires_in_days": 6})).await.err(400, 40000);
        t.post("/api/auth-tokens/", Auth::Bearer(&short), json!({"name": "shorter", "expires_in_days": 3})).await.ok();
        // A session is not limited.
        let cookie = t.login("admin", ADMIN_PW).await;
        t.post("/api/auth-tokens/", Auth::Cookie(&cookie), json!({"name": "forever"})).await.ok();
    }
}

both! {
    async fn the_reset_link_does_not_stay_in_the_jobs_table(t: TestApp) {
        use sea_orm::EntityTrait;
        t.user("fay").await;
        t.post("/api/auth/forgot-password/", Auth::None, json!({"username": "fay"})).await.ok();
        let payload = |jobs: Vec<app::entities::job::Model>| jobs.into_iter().map(|j| j.payload).collect::<Vec<_>>().join("\n");
        let before = payload(app::entities::job::Entity::find().all(&t.ctx.db).await.unwrap());
        assert!(before.contains("reset-password?token="), "{before}");
        app::jobs::run_due(&t.ctx).await.unwrap();
        let dir = std::path::Path::new(&t.ctx.config.mail_dir);
        let file = std::fs::read_dir(dir).unwrap().flatten().next().unwrap().path();
        let mail = std::fs::read_to_string(file).unwrap().replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
        let at = mail.find("reset-password?token=").unwrap() + "reset-password?token=".len();
        let token: String = mail[at..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        assert_eq!(token.len(), 48);
        let jobs = app::entities::job::Entity::find().all(&t.ctx.db).await.unwrap();
        assert_eq!(jobs[0].status, "done");
        let after = payload(jobs);
        assert!(!after.contains(&token) && !after.contains("reset-password"), "{after}");
        assert!(after.contains("fay@example.test"), "{after}");
        // The link still works.
        t.post("/api/auth/reset-password/", Auth::None, json!({"token": token, "new_password": "fresh-pass-77"})).await.ok();
    }
}

both! {
    async fn forgot_password_answers_alike_and_is_throttled(t: TestApp) {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        t.user("gus").await;
        let ip = "10.9.9.9";
        let mut answers = vec![];
        for i in 0..app::auth::service::FORGOT_PER_ADDRESS {
            let body = if i % 2 == 0 { json!({"username": "gus"}) } else { json!({"username": "nobody-here"}) };
            let started = std::time::Instant::now();
            let (status, json) = forgot_from(&t, ip, body).await;
            assert!(started.elapsed() >= std::time::Duration::from_millis(250));
            answers.push((status, json));
        }
        // Known and unknown users get the same answer.
        assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
        assert_eq!(answers[0].0, 200);
        // The address is then refused, whoever it names; another address is not.
        for body in [json!({"username": "gus"}), json!({"username": "nobody-here"})] {
            let (status, json) = forgot_from(&t, ip, body).await;
            assert_eq!((status, json["error_code"].as_u64()), (429, Some(42900)));
        }
        assert_eq!(forgot_from(&t, "10.9.9.10", json!({"username": "nobody-here"})).await.0, 200);
        // Per user: at most FORGOT_PER_USER reset mails in the window, answered the same.
        let mails = app::entities::job::Entity::find()
            .filter(app::entities::job::Column::Kind.eq("mail"))
            .count(&t.ctx.db).await.unwrap();
        assert_eq!(mails, app::auth::service::FORGOT_PER_USER);
    }
}

both! {
    async fn parallel_wrong_logins_cannot_pass_the_cap(t: TestApp) {
        let mut tasks = vec![];
        for _ in 0..30 {
            let router = t.router.clone();
            tasks.push(tokio::spawn(async move {
                call_from(&router, "10.1.1.1", Method::POST, "/api/auth/login/", None,
                    json!({"username": "admin", "password": "wrong-guess"})).await.0
            }));
        }
        let mut statuses = vec![];
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        let verified = statuses.iter().filter(|s| **s == 401).count();
        let refused = statuses.iter().filter(|s| **s == 429).count();
        assert_eq!((verified, refused), (10, 20), "{statuses:?}");
        let failed = t.audit("auth").await.iter().filter(|r| r["op_type"] == "login_failed").count();
        assert_eq!(failed, 10);
    }
}

both! {
    async fn one_users_failures_do_not_lock_out_the_address(t: TestApp) {
        t.user("hana").await;
        t.user("ivan").await;
        let office = "192.0.2.7";
        for _ in 0..app::auth::service::MAX_FAILURES {
            assert_eq!(login_from(&t, office, "hana", "typo-typo").await.0, 401);
        }
        // Hana is refused from the office for the window, even with her password...
        let (status, json) = login_from(&t, office, "hana", "user-pass-123").await;
        assert_eq!((status, json["error_code"].as_u64()), (429, Some(42900)));
        // ...but her colleague behind the same address is not, nor is she from elsewhere.
        assert_eq!(login_from(&t, office, "ivan", "user-pass-123").await.0, 200);
        assert_eq!(login_from(&t, "198.51.100.3", "hana", "user-pass-123").await.0, 200);
    }
}
