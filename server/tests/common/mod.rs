//! Test harness: a fresh database per test (SQLite file or a new PostgreSQL database), the real
//! router driven in-process, and helpers for users, tokens and sessions.
#![allow(dead_code)]
use app::ctx::{Actor, Config, Ctx};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use tower::ServiceExt;

pub mod cloud_fakes;
pub mod dns_api;
pub mod dns_servers;
pub mod ssh_hosts;
pub mod zabbix;

pub const ADMIN_PW: &str = "admin-pass-123";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub ctx: Ctx,
    pub router: axum::Router,
    pub admin_token: String,
    pub admin_id: i64,
    pub dir: std::path::PathBuf,
}

pub struct Resp {
    pub status: StatusCode,
    pub json: Value,
    pub headers: HeaderMap,
}

impl Resp {
    /// The `name=value` of the session cookie this response sets, if any.
    pub fn cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                let kv = c.split(';').next()?.trim();
                kv.starts_with("opsdeck_session=").then(|| kv.to_string())
            })
    }
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            self.status.is_success(),
            "expected success, got {} {}",
            self.status,
            self.json
        );
        self.json
    }
    #[track_caller]
    pub fn err(self, status: u16, code: u64) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status, body {}",
            self.json
        );
        assert_eq!(
            self.json["error_code"].as_u64(),
            Some(code),
            "unexpected error code, body {}",
            self.json
        );
        self.json
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    Token(&'a str),
    Bearer(&'a str),
    Cookie(&'a str),
}

fn unique() -> String {
    format!("{}_{}", std::process::id(), app::security::random_token(6))
}

async fn database_url(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("test.db").display()),
        Backend::Postgres => {
            let admin = std::env::var("OPSDECK_TEST_PG_URL").expect(
                "OPSDECK_TEST_PG_URL is not set: the PostgreSQL half of the tests needs it (make test starts PostgreSQL and sets it)",
            );
            let name = format!("opsdeck_t_{}", unique());
            let db = Database::connect(admin.clone())
                .await
                .expect("connect to PostgreSQL");
            db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(admin);
            format!("{base}/{name}")
        }
    }
}

pub fn leptos_options() -> leptos::prelude::LeptosOptions {
    leptos::prelude::LeptosOptions::builder()
        .output_name("opsdeck")
        .site_root("target/site")
        .build()
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        Self::with_config(backend, |_| {}).await
    }

    pub async fn with_config(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = std::env::temp_dir().join(format!("opsdeck-test-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = Config {
            database_url: database_url(backend, &dir).await,
            mail_dir: dir.join("mail").display().to_string(),
            artifact_dir: dir.join("artifacts").display().to_string(),
            deploy_users: vec!["work".into(), "deploy".into()],
            secret_key: "test-secret".into(),
            public_url: "http://opsdeck.test".into(),
            ..Config::default()
        };
        tweak(&mut config);
        let ctx = app::db::context(config).await.expect("context");
        app::users::service::ensure_admin(&ctx, "admin", Some(ADMIN_PW))
            .await
            .expect("admin");
        let admin_id = user_id(&ctx, "admin").await;
        let admin = Actor {
            id: admin_id,
            username: "admin".into(),
            ..Default::default()
        };
        let admin_token = app::tokens::service::create(
            &ctx,
            &admin,
            app::tokens::types::TokenInput {
                name: Some("test".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .value
        .unwrap();
        let router = server::app(ctx.clone(), leptos_options());
        TestApp {
            ctx,
            router,
            admin_token,
            admin_id,
            dir,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
    ) -> Resp {
        self.call_with(method, path, auth, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "opsdeck.test");
        b = match auth {
            Auth::None => b,
            Auth::Token(t) => b.header("authorization", format!("token {t}")),
            Auth::Bearer(t) => b.header("authorization", format!("Bearer {t}")),
            Auth::Cookie(c) => b.header("cookie", c),
        };
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Resp {
            status,
            json,
            headers,
        }
    }

    pub async fn get(&self, path: &str, auth: Auth<'_>) -> Resp {
        self.call(Method::GET, path, auth, None).await
    }
    pub async fn post(&self, path: &str, auth: Auth<'_>, body: Value) -> Resp {
        self.call(Method::POST, path, auth, Some(body)).await
    }
    pub fn admin(&self) -> Auth<'_> {
        Auth::Token(&self.admin_token)
    }

    /// Creates a user (as admin, through the API) and a token for them; answers (id, token).
    pub async fn user(&self, username: &str) -> (i64, String) {
        let u = self
            .post("/api/users/", self.admin(), serde_json::json!({"username": username, "password": "user-pass-123", "email": format!("{username}@example.test")}))
            .await
            .ok();
        let id = u["id"].as_i64().unwrap();
        let actor = Actor {
            id,
            username: username.into(),
            ..Default::default()
        };
        let token = app::tokens::service::create(
            &self.ctx,
            &actor,
            app::tokens::types::TokenInput {
                name: Some("t".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .value
        .unwrap();
        (id, token)
    }

    /// Logs in through the API; answers the session cookie.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .post(
                "/api/auth/login/",
                Auth::None,
                serde_json::json!({"username": username, "password": password}),
            )
            .await;
        let cookie = r.cookie();
        r.ok();
        cookie.expect("login sets the session cookie")
    }

    /// Grants module flags to a user or role (as admin).
    pub async fn grant(&self, subject: &str, id: i64, module: &str, perms: &[&str]) {
        let flags: serde_json::Map<String, Value> = perms
            .iter()
            .map(|p| (p.to_string(), Value::Bool(true)))
            .collect();
        self.post(
            &format!("/api/{subject}s/{id}/system/perms/"),
            self.admin(),
            serde_json::json!({"module_name": module, "permissions": flags}),
        )
        .await
        .ok();
    }

    /// Audit rows of a category, newest first.
    pub async fn audit(&self, category: &str) -> Vec<Value> {
        self.get(
            &format!("/api/audit/logs/?category={category}&page_size=100"),
            self.admin(),
        )
        .await
        .ok()["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Every (user, object, permission) that holds for the given users, over every module flag and
/// every application, host and product line: what "nobody gained anything" is compared on.
pub async fn matrix(
    t: &TestApp,
    users: &[i64],
) -> std::collections::BTreeSet<(i64, String, String)> {
    use app::entities::{application, host, production};
    use app::perms::types::{ResourceType, APP_PERMS, HOST_PERMS, MODULES, PRODUCTION_PERMS};
    use sea_orm::EntityTrait;
    let apps: Vec<i64> = application::Entity::find()
        .all(&t.ctx.db)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    let hosts: Vec<i64> = host::Entity::find()
        .all(&t.ctx.db)
        .await
        .unwrap()
        .iter()
        .map(|h| h.id)
        .collect();
    let lines: Vec<i64> = production::Entity::find()
        .all(&t.ctx.db)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    let mut out = std::collections::BTreeSet::new();
    for &u in users {
        for m in MODULES {
            for p in m.perms {
                let obj = format!("module:{}", m.name);
                if app::perms::service::holds(&t.ctx, u, &obj, p).await {
                    out.insert((u, obj, p.to_string()));
                }
            }
        }
        for (rtype, ids, perms) in [
            (ResourceType::Application, &apps, APP_PERMS),
            (ResourceType::Host, &hosts, HOST_PERMS),
            (ResourceType::Business, &lines, PRODUCTION_PERMS),
        ] {
            for &id in ids {
                for p in perms {
                    if app::perms::service::holds_resource(&t.ctx, u, rtype, id, p).await {
                        out.insert((u, format!("{}:{id}", rtype.as_str()), p.to_string()));
                    }
                }
            }
        }
    }
    out
}

/// A job row as the database has it.
pub async fn job(t: &TestApp, id: i64) -> app::entities::job::Model {
    use sea_orm::EntityTrait;
    app::entities::job::Entity::find_by_id(id)
        .one(&t.ctx.db)
        .await
        .unwrap()
        .unwrap()
}

pub async fn user_id(ctx: &Ctx, username: &str) -> i64 {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    app::entities::user::Entity::find()
        .filter(app::entities::user::Column::Username.eq(username))
        .one(&ctx.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Defines a test that runs once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both {
    (async fn $name:ident($t:ident : TestApp) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($t: TestApp) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(TestApp::new(Backend::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(TestApp::new(Backend::Postgres).await).await
            }
        }
    };
    (async fn $name:ident($b:ident : Backend) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($b: Backend) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres).await
            }
        }
    };
}

/// A PostgreSQL test database is dropped with its test (pass or fail): `DROP DATABASE … WITH
/// (FORCE)` from a thread of its own (Drop cannot await), which also ends the test's own pool
/// connections; the drop waits for it, so the test process cannot exit first.
impl Drop for TestApp {
    fn drop(&mut self) {
        let url = self.ctx.config.database_url.clone();
        let Some(name) = url
            .rsplit('/')
            .next()
            .filter(|n| n.starts_with("opsdeck_t_") && url.starts_with("postgres"))
            .map(str::to_string)
        else {
            return;
        };
        drop_pg_database(name);
    }
}

/// Drops the PostgreSQL test database `name` (see `Drop for TestApp`).
pub fn drop_pg_database(name: String) {
    let Ok(admin) = std::env::var("OPSDECK_TEST_PG_URL") else {
        return;
    };
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            match Database::connect(admin).await {
                Ok(db) => {
                    if let Err(e) = db
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await
                    {
                        eprintln!("dropping test database {name}: {e}");
                    }
                    let _ = db.close().await;
                }
                Err(e) => eprintln!("dropping test database {name}: {e}"),
            }
        })
    })
    .join();
}

/// The mails written to a mail directory (no SMTP configured) or a Maildir folder:
/// `{to, subject, text, html}` each, decoded by Python's `email` package (MIME, base64, RFC 2047).
pub fn decoded_mails(dir: &std::path::Path) -> Vec<Value> {
    let script = r#"
import email, email.policy, json, os, sys
out = []
d = sys.argv[1]
for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
    p = os.path.join(d, n)
    if not os.path.isfile(p):
        continue
    m = email.message_from_bytes(open(p, 'rb').read(), policy=email.policy.default)
    text = m.get_body(('plain',))
    html = m.get_body(('html',))
    out.append({"to": str(m['To']), "subject": str(m['Subject']),
                "text": text.get_content() if text else None, "html": html.get_content() if html else None})
print(json.dumps(out))
"#;
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Runs every queued job now, retries included (whatever their backoff says).
pub async fn run_jobs_now(t: &TestApp) {
    use app::entities::job;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    job::Entity::update_many()
        .col_expr(job::Column::RunAfter, Expr::value(app::time::now()))
        .filter(job::Column::Status.eq("queued"))
        .exec(&t.ctx.db)
        .await
        .unwrap();
    app::jobs::run_due(&t.ctx).await.unwrap();
}

impl TestApp {
    /// Creates a user holding `perms` of `module`; answers (id, token).
    pub async fn user_with(&self, username: &str, module: &str, perms: &[&str]) -> (i64, String) {
        let u = self.user(username).await;
        self.grant("user", u.0, module, perms).await;
        u
    }
}

/// Flags of someone who files resource requests.
pub const REQUESTER: &[&str] = &["enable_resource_req", "create_resource_req"];
/// Flags of someone who approves every kind of resource request.
pub const APPROVER: &[&str] = &[
    "enable_resource_req",
    "approve_host_req",
    "approve_domain_req",
    "approve_ssl_cert_req",
];

/// Serves the app on a free loopback port (WebSocket upgrades need a real connection).
pub async fn serve(t: &TestApp) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = t.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });
    addr
}

/// Opens a task's channel with extra headers; answers the socket or the refused status.
pub async fn ws_open(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, String)],
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    u16,
> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("websocket: {e}"),
    }
}

/// Starts the `opsdeck serve` binary on the test's database (its own free port), its output
/// appended to `log`, with `env` on top of the test's configuration.
pub fn spawn_server(
    t: &TestApp,
    log: &std::path::Path,
    env: &[(&str, String)],
) -> std::process::Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .arg("serve")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("OPSDECK_DATABASE_URL", &t.ctx.config.database_url)
        .env("OPSDECK_BIND", format!("127.0.0.1:{port}"))
        .env("OPSDECK_SECRET_KEY", &t.ctx.config.secret_key)
        .env("OPSDECK_ADMIN_PASSWORD", ADMIN_PW)
        .env("OPSDECK_MAIL_DIR", t.dir.join("mail"))
        .env("OPSDECK_ARTIFACT_DIR", &t.ctx.config.artifact_dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap()
}

/// Asserts that no task target is still running or pending.
pub async fn nothing_left_running(t: &TestApp) {
    use app::entities::run_target;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let open = run_target::Entity::find()
        .filter(run_target::Column::Status.is_in(["running", "pending"]))
        .all(&t.ctx.db)
        .await
        .unwrap();
    assert!(open.is_empty(), "{open:?}");
}
