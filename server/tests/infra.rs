//! Infrastructure: body limits, the job runner (concurrency, lock renewal), stored-secret
//! encryption, server functions under /rpc, framework errors, error pages, the Casbin adapter and
//! the test harness itself. Both databases.
mod common;
use app::crypto::Keyring;
use app::ctx::SmtpConfig;
use axum::http::Method;
use common::*;
use leptos::server_fn::ServerFn;
use sea_orm::EntityTrait;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---- stored secrets -------------------------------------------------------------------------

#[test]
fn secrets_round_trip() {
    let k = Keyring::new("0123456789abcdef-current", &[]).unwrap();
    let c = k.encrypt("s3cret pässword", "hosts.ssh_password").unwrap();
    assert!(c.starts_with(&format!("v1:{}:", k.current_id())), "{c}");
    assert!(!c.contains("s3cret"));
    assert_eq!(
        k.decrypt(&c, "hosts.ssh_password").unwrap(),
        "s3cret pässword"
    );
    // A fresh nonce every time.
    assert_ne!(
        c,
        k.encrypt("s3cret pässword", "hosts.ssh_password").unwrap()
    );
}

#[test]
fn secrets_do_not_open_with_another_key_or_column() {
    let k = Keyring::new("key-one-0123456789", &[]).unwrap();
    let other = Keyring::new("key-two-0123456789", &[]).unwrap();
    let c = k.encrypt("secret", "a.b").unwrap();
    assert!(other.decrypt(&c, "a.b").is_err());
    // Even with the key id forged to the other key's.
    let forged = c.replacen(k.current_id(), other.current_id(), 1);
    assert!(other.decrypt(&forged, "a.b").is_err());
    // Moved to another column.
    assert!(k.decrypt(&c, "a.c").is_err());
    assert!(Keyring::new("  ", &[]).is_err());
}

#[test]
fn secrets_detect_tampering() {
    let k = Keyring::new("key-one-0123456789", &[]).unwrap();
    let c = k.encrypt("secret", "a.b").unwrap();
    let (head, body) = c.rsplit_once(':').unwrap();
    for i in [0, body.len() / 2, body.len() - 1] {
        let mut b: Vec<char> = body.chars().collect();
        b[i] = if b[i] == 'A' { 'B' } else { 'A' };
        let t = format!("{head}:{}", b.into_iter().collect::<String>());
        assert!(
            k.decrypt(&t, "a.b").is_err(),
            "byte {i} changed and still decrypted"
        );
    }
    assert!(k
        .decrypt(&format!("{head}:{}", &body[..10]), "a.b")
        .is_err());
    assert!(k.decrypt(&c.replacen("v1:", "v2:", 1), "a.b").is_err());
    assert!(k.decrypt("plain text", "a.b").is_err());
}

#[test]
fn secrets_old_keys_decrypt_after_rotation() {
    let old = Keyring::new("old-key-0123456789", &[]).unwrap();
    let c = old.encrypt("secret", "a.b").unwrap();
    let rotated = Keyring::new("new-key-0123456789", &["old-key-0123456789".into()]).unwrap();
    assert!(rotated.needs_rotation(&c));
    assert_eq!(rotated.decrypt(&c, "a.b").unwrap(), "secret");
    let again = rotated.reencrypt(&c, "a.b").unwrap();
    assert!(!rotated.needs_rotation(&again));
    assert_eq!(again.split(':').nth(1), Some(rotated.current_id()));
    // New values are never written with an old key, and the old key alone cannot read them.
    assert!(old.decrypt(&again, "a.b").is_err());
    let new_only = Keyring::new("new-key-0123456789", &[]).unwrap();
    assert!(new_only.decrypt(&c, "a.b").is_err());
}

both! {
    async fn rotate_secrets_reencrypts_registered_columns(b: Backend) {
        let t = TestApp::with_config(b, |c| {
            c.secret_key = "new-key-0123456789".into();
            c.secret_key_old = vec!["old-key-0123456789".into()];
        })
        .await;
        use sea_orm::ConnectionTrait;
        t.ctx
            .db
            .execute_unprepared("CREATE TABLE t_secret (id BIGINT PRIMARY KEY, val TEXT)")
            .await
            .unwrap();
        let old = Keyring::new("old-key-0123456789", &[]).unwrap();
        let cur = Keyring::new("new-key-0123456789", &[]).unwrap();
        let v1 = old.encrypt("one", "t_secret.val").unwrap();
        let v2 = cur.encrypt("two", "t_secret.val").unwrap();
        t.ctx
            .db
            .execute_unprepared(&format!(
                "INSERT INTO t_secret (id, val) VALUES (1, '{v1}'), (2, '{v2}'), (3, NULL)"
            ))
            .await
            .unwrap();
        let col = app::crypto::SecretColumn {
            table: "t_secret",
            id: "id",
            column: "val",
            context: "t_secret.val",
        };
        assert_eq!(app::crypto::rotate(&t.ctx, &[col]).await.unwrap(), 1);
        assert_eq!(app::crypto::rotate(&t.ctx, &[col]).await.unwrap(), 0);
        let rows = t
            .ctx
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                t.ctx.db.get_database_backend(),
                "SELECT val FROM t_secret WHERE id IN (1, 2) ORDER BY id",
            ))
            .await
            .unwrap();
        let vals: Vec<String> = rows.iter().map(|r| r.try_get_by_index(0).unwrap()).collect();
        assert_ne!(vals[0], v1);
        assert_eq!(vals[1], v2);
        assert_eq!(cur.decrypt(&vals[0], "t_secret.val").unwrap(), "one");
        // The registered columns (DNS credentials, certificate and CA keys) exist in the schema;
        // with no rows stored under an old key, the command rotates nothing.
        for c in app::crypto::SECRET_COLUMNS {
            assert!(c.context.starts_with(c.table), "{c:?}");
        }
        for t_ in ["dns_services", "certificates", "cert_authorities"] {
            assert!(app::crypto::SECRET_COLUMNS.iter().any(|c| c.table == t_), "{t_} registered");
        }
        assert_eq!(app::crypto::rotate(&t.ctx, app::crypto::SECRET_COLUMNS).await.unwrap(), 0);
    }
}

// ---- body limits ----------------------------------------------------------------------------

both! {
    async fn bodies_over_64_kb_are_refused_except_imports(t: TestApp) {
        let big = "x".repeat(100 * 1024);
        let check = |e: serde_json::Value| {
            assert_eq!(e["code"], "payload_too_large", "{e}");
            assert!(e["message"].as_str().unwrap().contains("64 KB"), "{e}");
        };
        // Anonymous endpoint.
        let r = t
            .post("/api/auth/login/", Auth::None, json!({"username": big, "password": "x"}))
            .await;
        check(r.err(413, 41300));
        // Signed in.
        let r = t
            .post("/api/productions/", t.admin(), json!({"name": "p", "description": big}))
            .await;
        check(r.err(413, 41300));
        // A server function.
        let path = <app::productions::api::CreateProduction as ServerFn>::PATH;
        let r = t
            .post(path, t.admin(), json!({"input": {"name": "p", "description": big}}))
            .await;
        check(r.err(413, 41300));
        // A declared length over the limit is refused before the body is read.
        let r = t
            .call_with(
                Method::POST,
                "/api/auth/login/",
                Auth::None,
                Some(json!({"username": "a", "password": "b"})),
                &[("content-length", "70000")],
            )
            .await;
        check(r.err(413, 41300));
        // The 404 of an unknown path too.
        t.post("/no/such/path", Auth::None, json!({"x": big}))
            .await
            .err(413, 41300);
        // Nothing was created.
        let l = t.get("/api/productions/", t.admin()).await.ok();
        assert_eq!(l["count"], 0);
        // A 3 MB import is accepted, through the API and through the server function.
        let mut csv = String::from("name,description\n");
        for i in 0..3000 {
            csv.push_str(&format!("bulk-{i},{}\n", "d".repeat(1000)));
        }
        assert!(csv.len() > 3_000_000);
        let r = t
            .post("/api/imports/", t.admin(), json!({"kind": "hosts", "csv": csv}))
            .await;
        assert_eq!(r.status.as_u16(), 202, "{}", r.json);
        let path = <app::bulk::api::StartImport as ServerFn>::PATH;
        let r = t
            .post(path, t.admin(), json!({"input": {"kind": "hosts", "csv": csv}}))
            .await;
        assert!(r.status.is_success(), "{}", r.json);
        assert_eq!(r.json["total"], 3000);
    }
}

// ---- the job runner -------------------------------------------------------------------------

/// A minimal SMTP server: accepts every mail, but holds the answer to a mail whose text
/// contains `HOLD` until released.
struct Smtp {
    port: u16,
    delivered: Arc<Mutex<Vec<String>>>,
    held: Arc<AtomicUsize>,
    release: tokio::sync::watch::Sender<bool>,
}

impl Smtp {
    async fn start() -> Smtp {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let delivered = Arc::new(Mutex::new(vec![]));
        let held = Arc::new(AtomicUsize::new(0));
        let (release, rx) = tokio::sync::watch::channel(false);
        let (d, h) = (delivered.clone(), held.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (d, h, mut rx) = (d.clone(), h.clone(), rx.clone());
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut lines = BufReader::new(r).lines();
                    let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                    while let Ok(Some(line)) = lines.next_line().await {
                        let up = line.to_ascii_uppercase();
                        let answer: &[u8] = if up.starts_with("DATA") {
                            let _ = w.write_all(b"354 end with .\r\n").await;
                            let mut msg = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                msg.push_str(&l);
                                msg.push('\n');
                            }
                            if msg.contains("HOLD") {
                                h.fetch_add(1, Ordering::SeqCst);
                                while !*rx.borrow_and_update() {
                                    if rx.changed().await.is_err() {
                                        return;
                                    }
                                }
                            }
                            d.lock().unwrap().push(msg);
                            b"250 queued\r\n"
                        } else if up.starts_with("QUIT") {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 ok\r\n"
                        };
                        if w.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Smtp {
            port,
            delivered,
            held,
            release,
        }
    }
    fn delivered(&self, what: &str) -> bool {
        self.delivered
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.contains(what))
    }
}

async fn queue_mail(t: &TestApp, subject: &str) -> i64 {
    let id = app::jobs::enqueue(
        &t.ctx.db,
        "mail",
        &app::mail::Mail {
            to: "someone@example.test".into(),
            subject: subject.into(),
            body: "hello".into(),
            html: None,
        },
    )
    .await
    .unwrap();
    t.ctx.jobs_notify.notify_one();
    id
}

/// Polls `cond` every 50 ms for up to `secs` seconds.
async fn eventually<F: std::future::Future<Output = bool>>(
    secs: u64,
    mut cond: impl FnMut() -> F,
) -> bool {
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < end {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

both! {
    async fn a_long_job_holds_up_neither_mail_nor_imports_and_keeps_its_lock(b: Backend) {
        let smtp = Smtp::start().await;
        let port = smtp.port;
        let t = TestApp::with_config(b, |c| {
            c.smtp = Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port,
                username: None,
                password: None,
                security: "none".into(),
            });
            c.job_lock_seconds = 1;
        })
        .await;
        let held = queue_mail(&t, "HOLD this one").await;
        let worker = tokio::spawn(app::jobs::worker(t.ctx.clone()));
        assert!(eventually(10, || async { smtp.held.load(Ordering::SeqCst) == 1 }).await);

        // While it is held: an import and another mail are queued, and both finish.
        let imp = t
            .post("/api/imports/", t.admin(), json!({"kind": "hosts", "csv": "name\nweb-1\nweb-2\n"}))
            .await
            .ok();
        let imp = imp["id"].as_i64().unwrap();
        let second = queue_mail(&t, "second mail").await;
        assert!(
            eventually(15, || async { smtp.delivered("second mail") }).await,
            "a queued mail waited for a running job"
        );
        assert!(
            eventually(15, || async {
                t.get(&format!("/api/imports/{imp}/"), t.admin()).await.json["status"] == "done"
            })
            .await,
            "an import waited for a running job"
        );
        assert_eq!(job(&t, second).await.status, "done");

        // The held job outlives its 1 s lock; its runner renews the lock, so another runner
        // finds nothing due and does not start it a second time.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let other = tokio::time::timeout(Duration::from_secs(5), app::jobs::run_due(&t.ctx)).await;
        assert_eq!(other.expect("another runner took over the held job").unwrap(), 0);
        let j = job(&t, held).await;
        assert_eq!((j.status.as_str(), j.attempts), ("running", 1));
        assert!(j.locked_until.unwrap() > app::time::now());
        assert_eq!(smtp.held.load(Ordering::SeqCst), 1);

        smtp.release.send(true).unwrap();
        assert!(eventually(15, || async { job(&t, held).await.status == "done" }).await);
        assert!(smtp.delivered("HOLD this one"));
        worker.abort();
    }
}

// ---- server functions -----------------------------------------------------------------------

both! {
    async fn server_functions_refuse_anonymous_cross_site_and_unauthorized_callers(t: TestApp) {
        let list = <app::productions::api::ListProductions as ServerFn>::PATH;
        let create = <app::productions::api::CreateProduction as ServerFn>::PATH;
        assert!(list.starts_with("/rpc/") && create.starts_with("/rpc/"));
        let input = json!({"input": {"name": "line-1"}});
        // Anonymous.
        let r = t.post(list, Auth::None, json!({"filter": {}})).await;
        assert_eq!(r.json["error_code"], 40100, "{}", r.json);
        let r = t.post(create, Auth::None, input.clone()).await;
        assert_eq!(r.json["error_code"], 40100, "{}", r.json);
        // Cross-site, with a valid session cookie.
        let admin = t.login("admin", ADMIN_PW).await;
        for h in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
            t.call_with(Method::POST, create, Auth::Cookie(&admin), Some(input.clone()), &[h])
                .await
                .err(403, 40300);
        }
        // Signed in without the permission.
        t.user("bob").await;
        let bob = t.login("bob", "user-pass-123").await;
        let r = t.call(Method::POST, create, Auth::Cookie(&bob), Some(input.clone())).await;
        assert_eq!(r.json["error_code"], 40300, "{}", r.json);
        let l = t.get("/api/productions/", t.admin()).await.ok();
        assert_eq!(l["count"], 0, "a refused call created something");
        // Authorized.
        let r = t.call(Method::POST, create, Auth::Cookie(&admin), Some(input.clone())).await.ok();
        assert_eq!(r["name"], "line-1");
        let r = t.call(Method::POST, list, Auth::Cookie(&admin), Some(json!({"filter": {}}))).await.ok();
        assert_eq!(r["count"], 1);
        // Bob sees what he may see: nothing.
        let r = t.call(Method::POST, list, Auth::Cookie(&bob), Some(json!({"filter": {}}))).await.ok();
        assert_eq!(r["count"], 0);
    }
}

both! {
    async fn server_function_framework_errors_are_generic(t: TestApp) {
        let list = <app::productions::api::ListProductions as ServerFn>::PATH;
        for body in [json!({"nothing": 1}), json!({"filter": {"page": "x"}}), json!([1, 2])] {
            let r = t.post(list, t.admin(), body).await;
            assert_eq!(r.json["error_code"], 40000, "{}", r.json);
            let msg = r.json["message"].as_str().unwrap();
            assert_eq!(msg, "the request could not be read", "{}", r.json);
        }
    }
}

// ---- error pages ----------------------------------------------------------------------------

both! {
    async fn error_pages_render_with_the_context(t: TestApp) {
        // The 404 page (and a browser's first request for a missing /favicon.ico) renders the
        // app, whose current-user resource calls a server function in process: it needs Ctx.
        let admin = t.login("admin", ADMIN_PW).await;
        let r = t.get("/no/such/page", Auth::Cookie(&admin)).await;
        assert_eq!(r.status.as_u16(), 404);
        let html = r.json.as_str().unwrap_or_default().to_string();
        assert!(!html.contains("internal error"), "{html}");
        assert!(html.contains(r#"\"username\":\"admin\""#), "{html}");
        let r = t.get("/favicon.ico", Auth::None).await;
        assert_eq!(r.status.as_u16(), 404);
        let html = r.json.as_str().unwrap_or_default().to_string();
        assert!(!html.contains("internal error"), "{html}");
        assert!(html.contains(r#"{\"Ok\":null}"#), "{html}");
    }
}

// ---- the Casbin adapter ---------------------------------------------------------------------

both! {
    async fn the_casbin_adapter_reports_refused_inserts(t: TestApp) {
        use casbin::Adapter;
        let mut a = app::perms::casbin::SeaAdapter { db: t.ctx.db.clone() };
        // A user that does not exist: the foreign key refuses the row.
        let r = a
            .add_policy("g", "g", vec!["user:999999".into(), "role:1".into()])
            .await;
        assert!(r.is_err(), "{r:?}");
        // A line that is already stored is not an error.
        let (bob, _) = t.user("bob").await;
        assert!(a.add_policy("p", "p", vec![format!("user:{bob}"), "module:system".into(), "view_users".into()]).await.unwrap());
        assert!(!a.add_policy("p", "p", vec![format!("user:{bob}"), "module:system".into(), "view_users".into()]).await.unwrap());
    }
}

// ---- the harness ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_test_databases_are_dropped_with_their_test() {
    let t = TestApp::new(Backend::Postgres).await;
    let name = t
        .ctx
        .config
        .database_url
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let admin = sea_orm::Database::connect(std::env::var("OPSDECK_TEST_PG_URL").unwrap())
        .await
        .unwrap();
    let exists = |admin: sea_orm::DatabaseConnection, name: String| async move {
        use sea_orm::ConnectionTrait;
        admin
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
            ))
            .await
            .unwrap()
            .is_some()
    };
    assert!(exists(admin.clone(), name.clone()).await);
    drop(t);
    assert!(
        !exists(admin, name).await,
        "the test database outlived its test"
    );
}

// ---- imports in batches ---------------------------------------------------------------------

async fn import_run(t: &TestApp, kind: &str, csv: &str, all_or_nothing: bool) -> serde_json::Value {
    let r = t
        .post(
            "/api/imports/",
            t.admin(),
            json!({"kind": kind, "csv": csv, "all_or_nothing": all_or_nothing}),
        )
        .await
        .ok();
    app::jobs::run_due(&t.ctx).await.unwrap();
    t.get(&format!("/api/imports/{}/", r["id"]), t.admin())
        .await
        .ok()
}

both! {
    async fn imports_write_in_short_batches_and_rerun_safely(b: Backend) {
        let t = TestApp::with_config(b, |c| c.import_batch_rows = 3).await;
        // 8 hosts, one refused: three batches, each its own transaction and audit record.
        let mut csv = String::from("name,cpu\n");
        for i in 0..8 {
            csv.push_str(&format!("batch-{i},{}\n", if i == 4 { "many" } else { "2" }));
        }
        let r = import_run(&t, "hosts", &csv, false).await;
        assert_eq!((r["status"].as_str(), r["created"].as_u64()), (Some("done"), Some(7)), "{r}");
        assert_eq!(r["errors"][0]["line"], 6, "{r}");
        let audits: Vec<_> = t
            .audit("host")
            .await
            .into_iter()
            .filter(|a| a["op_type"] == "import")
            .collect();
        assert_eq!(audits.len(), 3, "one audit record per batch");
        let mut batches: Vec<u64> = audits.iter().map(|a| a["detail"]["batch"].as_u64().unwrap()).collect();
        batches.sort();
        assert_eq!(batches, [1, 2, 3]);

        // All-or-nothing: a refused row in the last batch keeps the first batches out too.
        let mut csv = String::from("name,cpu\n");
        for i in 0..8 {
            csv.push_str(&format!("whole-{i},{}\n", if i == 7 { "many" } else { "2" }));
        }
        let r = import_run(&t, "hosts", &csv, true).await;
        assert_eq!(r["created"], 0, "{r}");
        assert!(r["message"].as_str().unwrap().contains("nothing imported"), "{r}");
        assert_eq!(t.get("/api/hosts/?name=whole", t.admin()).await.ok()["count"], 0);

        // A job cut off mid-apply runs again: what was applied reads "unchanged".
        let csv = "name,cpu\nagain-0,1\nagain-1,1\nagain-2,1\nagain-3,1\n";
        let r = import_run(&t, "hosts", csv, true).await;
        assert_eq!(r["created"], 4, "{r}");
        let id = r["id"].as_i64().unwrap();
        use sea_orm::{ActiveModelTrait, Set};
        let mut am: app::entities::import::ActiveModel = app::entities::import::Entity::find_by_id(id)
            .one(&t.ctx.db)
            .await
            .unwrap()
            .unwrap()
            .into();
        // As a cut-off import is: still running, its file kept (a finished one drops it).
        am.status = Set("running".into());
        am.content = Set(csv.into());
        am.update(&t.ctx.db).await.unwrap();
        app::bulk::service::run(&t.ctx, id).await.unwrap();
        let r = t.get(&format!("/api/imports/{id}/"), t.admin()).await.ok();
        assert_eq!((r["created"].as_u64(), r["unchanged"].as_u64()), (Some(0), Some(4)), "{r}");

        // Applications: parents, children and dependencies spread over batches.
        let csv = "full_name,required_apps\n\
                   shop.web.ui,shop.db\n\
                   shop,\n\
                   shop.web,\n\
                   shop.db,\n\
                   shop.web.api,shop.db;shop.web.ui\n\
                   tools,\n\
                   tools.cron,shop.web.api\n";
        let r = import_run(&t, "applications", csv, true).await;
        assert_eq!(r["created"], 7, "{r}");
        assert_eq!(r["errors"], json!([]), "{r}");
        let apps = t.get("/api/applications/?full_path=tools.cron", t.admin()).await.ok();
        let cron = apps["results"].as_array().unwrap().iter().find(|a| a["full_name"] == "tools.cron").unwrap()["id"].as_i64().unwrap();
        let req = t.get(&format!("/api/applications/{cron}/required-apps/"), t.admin()).await.ok();
        assert_eq!(req["results"][0]["full_name"], "shop.web.api", "{req}");
    }
}
