//! Two Opsdeck processes on one PostgreSQL (two contexts, as two processes would have): a
//! change committed through one reaches the other's caches (policy, token cache) through the
//! notification triggers, without a restart or a wait for a cache expiry. (Catalog epochs are
//! process-wide statics, shared by two contexts in one test process: not observable here.)
mod common;
use app::ctx::Actor;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// Polls `f` for up to 5 s.
async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    while !f().await {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{what}: not seen by the other process"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn another_process_sees_grants_revocations_and_token_changes() {
    let t = TestApp::new(Backend::Postgres).await;
    // The second process: its own context (enforcer, caches) on the same database.
    let other = app::db::context(t.ctx.config.as_ref().clone())
        .await
        .unwrap();
    assert_ne!(other.instance, t.ctx.instance);
    tokio::spawn(app::changes::listen(other.clone()));
    let (uid, token) = t.user("bob").await;
    let bob = Actor {
        id: uid,
        username: "bob".into(),
        ..Default::default()
    };
    // Let the listener connect before the first change.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!app::perms::service::may_module(&other, &bob, "dns", "enable_dns_mgmt").await);
    // Granted through the first process …
    t.grant("user", uid, "dns", &["enable_dns_mgmt"]).await;
    // … and held in the second, whose enforcer was loaded before.
    let o = other.clone();
    let b = bob.clone();
    eventually("the grant", move || {
        let (o, b) = (o.clone(), b.clone());
        async move { app::perms::service::may_module(&o, &b, "dns", "enable_dns_mgmt").await }
    })
    .await;
    // Revoked: gone there too.
    t.post(
        &format!("/api/users/{uid}/system/perms/"),
        t.admin(),
        json!({"module_name": "dns", "permissions": {"enable_dns_mgmt": false}}),
    )
    .await
    .ok();
    assert!(!app::perms::service::may_module(&t.ctx, &bob, "dns", "enable_dns_mgmt").await);
    let o = other.clone();
    let b = bob.clone();
    eventually("the revocation", move || {
        let (o, b) = (o.clone(), b.clone());
        async move { !app::perms::service::may_module(&o, &b, "dns", "enable_dns_mgmt").await }
    })
    .await;
    // A token resolved (and cached) by the second process, then disabled user in the first: the
    // second refuses it at once, not after its cache's 5 s.
    assert!(app::tokens::service::authenticate(&other, &token)
        .await
        .is_ok());
    t.post(
        &format!("/api/users/{uid}/actions/disable/"),
        t.admin(),
        json!({}),
    )
    .await
    .ok();
    let t0 = Instant::now();
    let o = other.clone();
    let tok = token.clone();
    eventually("the disabled user", move || {
        let (o, tok) = (o.clone(), tok.clone());
        async move { app::tokens::service::authenticate(&o, &tok).await.is_err() }
    })
    .await;
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
}

/// What a transaction notified (the `what` of each notification), waiting 300 ms for stragglers.
async fn notified(l: &mut sea_orm::sqlx::postgres::PgListener) -> Vec<String> {
    let mut out = vec![];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(300), l.recv()).await {
        out.push(n.payload().split(' ').next().unwrap_or("").to_string());
    }
    out.sort();
    out
}

#[tokio::test]
async fn only_changes_the_caches_use_are_notified() {
    use axum::http::Method;
    let t = TestApp::new(Backend::Postgres).await;
    let mut l = sea_orm::sqlx::postgres::PgListener::connect(&t.ctx.config.database_url)
        .await
        .unwrap();
    l.listen(app::changes::CHANNEL).await.unwrap();
    let _ = notified(&mut l).await;
    let id = t
        .post("/api/hosts/", t.admin(), json!({"name": "notify-1"}))
        .await
        .ok()["id"]
        .as_i64()
        .unwrap();
    // A new host: its name catalog (and the creator's grant, when one is written: policy).
    assert!(notified(&mut l).await.contains(&"catalog:host".to_string()));
    // Its description or status: nothing any cache holds.
    t.call(
        Method::PATCH,
        &format!("/api/hosts/{id}/"),
        t.admin(),
        Some(json!({"description": "rack 4", "status": "attached"})),
    )
    .await
    .ok();
    assert_eq!(notified(&mut l).await, Vec::<String>::new());
    // A rename: the catalog.
    t.call(
        Method::PATCH,
        &format!("/api/hosts/{id}/"),
        t.admin(),
        Some(json!({"name": "notify-2"})),
    )
    .await
    .ok();
    assert_eq!(notified(&mut l).await, vec!["catalog:host".to_string()]);
    // A grant: the policy.
    let (uid, _) = t.user("carol").await;
    let _ = notified(&mut l).await;
    t.grant("user", uid, "dns", &["enable_dns_mgmt"]).await;
    assert!(notified(&mut l).await.contains(&"policy".to_string()));
    // Disabling the user: tokens.
    t.post(
        &format!("/api/users/{uid}/actions/disable/"),
        t.admin(),
        json!({}),
    )
    .await
    .ok();
    assert!(notified(&mut l).await.contains(&"tokens".to_string()));
}
