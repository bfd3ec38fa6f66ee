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

/// Review 2, finding 1: a dropped request released its permit while its hash went on running, so
/// aborted logins ran unbounded hashes. The permit now lives in the blocking task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_check_keeps_its_permit_until_the_hash_ends() {
    let _serial = SERIAL.lock().await;
    let limiter = app::security::argon_limiter();
    let max = app::security::argon_capacity() as usize;
    assert_eq!(limiter.available_permits(), max);
    let hash = app::security::hash_password("some-password-1").unwrap();
    let n = 2.min(max);
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let hash = hash.clone();
            tokio::spawn(
                async move { app::security::verify_password_off("guess-guess", &hash).await },
            )
        })
        .collect();
    let started = std::time::Instant::now();
    while limiter.available_permits() > max - n {
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    for t in tasks {
        t.abort();
        assert!(t.await.unwrap_err().is_cancelled());
    }
    // The requests are gone, their hashes are not: the permits are still taken.
    assert!(
        limiter.available_permits() < max,
        "permits came back before the hashes ended"
    );
    let started = std::time::Instant::now();
    while limiter.available_permits() < max {
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
