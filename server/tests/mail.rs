//! Password reset by mail through a real SMTP sink (aiosmtpd), and the durable mail job's retries.
mod common;
use app::ctx::SmtpConfig;
use common::*;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Sink {
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_sink(port: u16, dir: std::path::PathBuf) -> Sink {
    // A Maildir left by an earlier run on the same port would add its mails to the count.
    let _ = std::fs::remove_dir_all(&dir);
    let child = Command::new("/usr/bin/python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aiosmtpd (Debian python3-aiosmtpd)");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Sink { child, dir };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("SMTP sink did not start on {port}");
}

fn mails(dir: &std::path::Path) -> Vec<String> {
    let mut out = vec![];
    for sub in ["new", "cur"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd.flatten() {
                out.push(std::fs::read_to_string(e.path()).unwrap());
            }
        }
    }
    out
}

/// Mail jobs not yet sent.
async fn queued_mails(t: &TestApp) -> usize {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    app::entities::job::Entity::find()
        .filter(app::entities::job::Column::Kind.eq("mail"))
        .filter(app::entities::job::Column::Status.eq("queued"))
        .all(&t.ctx.db)
        .await
        .unwrap()
        .len()
}

/// Runs due jobs until `n` mails are in the sink (a send that failed under load is retried by
/// the job's backoff, so this waits up to 60 s).
async fn delivered(t: &TestApp, dir: &std::path::Path, n: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        app::jobs::run_due(&t.ctx).await.unwrap();
        let got = mails(dir);
        if got.len() >= n || std::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn reset_token(mail: &str) -> String {
    // Quoted-printable: drop soft line breaks, then decode `=3D`.
    let unfolded = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let at = unfolded
        .find("reset-password?token=")
        .expect("reset link in mail")
        + "reset-password?token=".len();
    unfolded[at..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect()
}

async fn app_with_smtp(backend: Backend, port: u16) -> TestApp {
    TestApp::with_config(backend, |c| {
        c.smtp = Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            username: None,
            password: None,
            security: "none".into(),
        })
    })
    .await
}

both! {
    async fn reset_link_is_mailed_single_use_and_works(backend: Backend) {
        {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!("opsdeck-sink-{port}"));
            let sink = start_sink(port, dir).await;
            let t = app_with_smtp(backend, port).await;
            let (uid, _) = t.user("lena").await;
            t.post("/api/auth/forgot-password/", Auth::None, json!({"username": "lena"})).await.ok();
            // Unknown users get the same answer and no mail.
            t.post("/api/auth/forgot-password/", Auth::None, json!({"username": "ghost"})).await.ok();
            assert_eq!(queued_mails(&t).await, 1);
            let got = delivered(&t, &sink.dir, 1).await;
            assert_eq!(got.len(), 1);
            assert!(got[0].contains("lena@example.test"));
            let token = reset_token(&got[0]);
            t.post("/api/auth/reset-password/", Auth::None, json!({"token": token, "new_password": "short"})).await.err(400, 40000);
            t.post("/api/auth/reset-password/", Auth::None, json!({"token": token, "new_password": "brand-new-pass"})).await.ok();
            t.login("lena", "brand-new-pass").await;
            // Single use.
            t.post("/api/auth/reset-password/", Auth::None, json!({"token": token, "new_password": "another-pass-9"})).await.err(400, 40000);
            // The seed's path, by user id and e-mail.
            t.post(&format!("/api/users/{uid}/actions/forget-password/"), Auth::None, json!({"email": "lena@example.test"})).await.ok();
            assert_eq!(delivered(&t, &sink.dir, 2).await.len(), 2);
            let ops: Vec<String> = t.audit("").await.iter().map(|r| r["op_type"].as_str().unwrap().to_string()).collect();
            assert!(ops.contains(&"reset_password".into()) && ops.contains(&"forgot_password".into()), "{ops:?}");
        }
    }
}

both! {
    async fn smtp_down_is_retried_and_loses_nothing(backend: Backend) {
        let port = free_port(); // nothing listens here yet
        let t = app_with_smtp(backend, port).await;
        t.user("mona").await;
        t.post("/api/auth/forgot-password/", Auth::None, json!({"email": "mona@example.test"})).await.ok();
        assert_eq!(app::jobs::run_due(&t.ctx).await.unwrap(), 1);
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let job = app::entities::job::Entity::find().one(&t.ctx.db).await.unwrap().unwrap();
        assert_eq!(job.status, "queued");
        assert_eq!(job.attempts, 1);
        assert!(job.last_error.is_some());
        assert!(job.run_after > chrono::Utc::now());
        // The server comes back: the retry delivers the same mail.
        let sink = start_sink(port, std::env::temp_dir().join(format!("opsdeck-sink-{port}"))).await;
        let mut am: app::entities::job::ActiveModel = job.into();
        am.run_after = Set(chrono::Utc::now());
        am.update(&t.ctx.db).await.unwrap();
        assert_eq!(app::jobs::run_due(&t.ctx).await.unwrap(), 1);
        let job = app::entities::job::Entity::find().one(&t.ctx.db).await.unwrap().unwrap();
        assert_eq!(job.status, "done");
        assert_eq!(job.attempts, 2);
        assert_eq!(mails(&sink.dir).len(), 1);
    }
}

both! {
    async fn without_smtp_mail_lands_in_the_mail_dir(t: TestApp) {
        t.user("nina").await;
        t.post("/api/auth/forgot-password/", Auth::None, json!({"username": "nina"})).await.ok();
        app::jobs::run_due(&t.ctx).await.unwrap();
        let dir = std::path::Path::new(&t.ctx.config.mail_dir);
        let files: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        assert_eq!(files.len(), 1);
        let body = std::fs::read_to_string(files[0].path()).unwrap();
        assert!(body.contains("nina@example.test") && body.contains("reset-password?token="));
    }
}

both! {
    async fn stale_running_job_is_picked_up_again(t: TestApp) {
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let id = app::jobs::enqueue(&t.ctx.db, "mail", &app::mail::Mail { to: "x@example.test".into(), subject: "s".into(), body: "b".into(), html: None }).await.unwrap();
        // A runner claimed it and died: status running, lock expired.
        let j = app::entities::job::Entity::find_by_id(id).one(&t.ctx.db).await.unwrap().unwrap();
        let mut am: app::entities::job::ActiveModel = j.into();
        am.status = Set("running".into());
        am.attempts = Set(1);
        am.locked_until = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
        am.update(&t.ctx.db).await.unwrap();
        assert_eq!(app::jobs::run_due(&t.ctx).await.unwrap(), 1);
        let j = app::entities::job::Entity::find_by_id(id).one(&t.ctx.db).await.unwrap().unwrap();
        assert_eq!(j.status, "done");
    }
}
