//! Password hashing is bounded per process (issue 8, review finding 2): when every Argon2 permit is
//! taken, a login waits briefly and is then refused with 503 instead of queueing blocking threads
//! (19 MiB each) without bound. In a file of its own: the limiter is process-wide.
mod common;
use common::*;
use serde_json::json;

/// The two backends' runs share the process-wide limiter: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

both! {
    async fn a_saturated_server_refuses_password_checks(b: Backend) {
        let _serial = SERIAL.lock().await;
        let t = TestApp::new(b).await;
        t.user("sam").await;
        let limiter = app::security::argon_limiter();
        let all = limiter.acquire_many(app::security::argon_capacity()).await.unwrap();
        let started = std::time::Instant::now();
        let r = t.post("/api/auth/login/", Auth::None, json!({"username": "sam", "password": "user-pass-123"})).await;
        r.err(503, 50300);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
        drop(all);
        t.login("sam", "user-pass-123").await;
    }
}
