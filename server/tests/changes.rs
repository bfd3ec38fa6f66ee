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
