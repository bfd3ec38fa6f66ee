//! The service context (database, enforcer, configuration) and the actor every service fn takes.
use crate::error::{AppError, AppResult};
use crate::perms::casbin::Enforcer;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use tokio::sync::RwLock;

/// SMTP settings; without them mail is written to `mail_dir`.
#[derive(Clone, Debug, Default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `none`, `starttls` or `tls`.
    pub security: String,
}

/// Runtime configuration, read from `OPSDECK_*` environment variables by the server.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    /// Database connections in the pool (default: 4 for SQLite, 2 per core and at least 4 for PostgreSQL).
    pub db_pool: Option<u32>,
    /// SQLite: bytes of the file each connection reads through mmap (default 0: page cache).
    pub sqlite_mmap_mb: u64,
    /// SQLite: page cache per connection, in MB (default 8).
    pub sqlite_cache_mb: u64,
    pub bind: String,
    pub admin_user: String,
    pub admin_password: Option<String>,
    /// The bootstrap administrator's e-mail (`OPSDECK_ADMIN_EMAIL`): set when the administrator is
    /// created, or while its e-mail is still empty (password-reset mail goes there).
    pub admin_email: Option<String>,
    /// The key of stored secrets (`OPSDECK_SECRET_KEY`; see `crypto`).
    pub secret_key: String,
    /// Previous secret keys, used only to decrypt (`OPSDECK_SECRET_KEY_OLD`, comma separated).
    pub secret_key_old: Vec<String>,
    pub public_url: String,
    pub smtp: Option<SmtpConfig>,
    pub mail_from: String,
    pub mail_dir: String,
    pub cookie_secure: bool,
    pub log_json: bool,
    /// Jobs one runner executes at the same time (`OPSDECK_JOB_CONCURRENCY`, default 4).
    pub job_concurrency: usize,
    /// How long a claimed job is locked; the runner renews the lock every third of it while the
    /// job runs, and another runner re-claims the job only once the lock lapsed (its runner died).
    pub job_lock_seconds: u64,
    /// Rows an import writes per transaction (default 250; see `bulk::service`).
    pub import_batch_rows: usize,
    /// An operator-provided CA certificate to issue from (`OPSDECK_CA_CERT`, a PEM file); with
    /// `ca_key_path`. Unset: Opsdeck generates its own CA on first use (see `certs`).
    pub ca_cert_path: Option<String>,
    /// The private key of `ca_cert_path` (`OPSDECK_CA_KEY`, an unencrypted PEM file).
    pub ca_key_path: Option<String>,
    /// Domain suffixes the CA may issue for (`OPSDECK_CA_PERMITTED_DOMAINS`, comma separated,
    /// lower case, no leading dot); empty: any. A CA generated while set carries them as X.509
    /// name constraints.
    pub ca_permitted_domains: Vec<String>,
    /// Where DNS services may point (`OPSDECK_DNS_ALLOWED_ENDPOINTS`, comma separated `host`,
    /// `host:port`, `*.suffix` or `[v6]:port` patterns, lower case); empty: anywhere.
    pub dns_allowed_endpoints: Vec<String>,
    /// A network namespace (`/run/netns/<name>`) to open SSH connections in
    /// (`OPSDECK_SSH_NETNS`); unset: where Opsdeck runs.
    pub ssh_netns: Option<String>,
    /// Seconds for an SSH connection, handshake and login, each (`OPSDECK_SSH_CONNECT_TIMEOUT`, 10).
    pub ssh_connect_timeout: u64,
    /// Runs (host tasks, deploys) one process executes at once (`OPSDECK_RUN_CONCURRENCY`, 8);
    /// they do not take the job slots of mail and imports.
    pub run_concurrency: usize,
    /// Bytes of output stored per run target (`OPSDECK_OUTPUT_MAX_MB`, 32); the rest is dropped
    /// with a note.
    pub output_max_bytes: u64,
    /// The Zabbix 6.0 API hosts are enrolled in (`OPSDECK_ZABBIX_URL`, `_USER`, `_PASSWORD`,
    /// `_AGENT_SERVER`); unset: no monitoring enrolment.
    pub zabbix: Option<ZabbixConfig>,
    /// Where packages are kept (`OPSDECK_ARTIFACT_DIR`, default `data/artifacts`).
    pub artifact_dir: String,
    /// The largest package, in bytes (`OPSDECK_ARTIFACT_MAX_MB`, 1024).
    pub artifact_max_bytes: u64,
    /// Hosts packages may be fetched from (`OPSDECK_PACKAGE_ALLOWED_HOSTS`, the patterns of
    /// `OPSDECK_DNS_ALLOWED_ENDPOINTS`); empty: none (packages are uploaded to Opsdeck).
    pub package_allowed_hosts: Vec<String>,
    /// The accounts deploys may run hooks and applications as on hosts
    /// (`OPSDECK_DEPLOY_USERS`, comma separated; default `work`); never root.
    pub deploy_users: Vec<String>,
}

/// How Opsdeck reaches Zabbix.
#[derive(Clone, Default)]
pub struct ZabbixConfig {
    /// `http(s)://…/api_jsonrpc.php`.
    pub url: String,
    pub user: String,
    pub password: String,
    /// What an inited host's agent is told the Zabbix server is (`Server=`); default: the
    /// API's host.
    pub agent_server: String,
}

impl std::fmt::Debug for ZabbixConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZabbixConfig")
            .field("url", &self.url)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://data/opsdeck.db?mode=rwc".into(),
            db_pool: None,
            sqlite_mmap_mb: 0,
            sqlite_cache_mb: 8,
            bind: "127.0.0.1:3000".into(),
            admin_user: "admin".into(),
            admin_password: None,
            admin_email: None,
            secret_key: String::new(),
            secret_key_old: Vec::new(),
            public_url: "http://127.0.0.1:3000".into(),
            smtp: None,
            mail_from: "Opsdeck <opsdeck@localhost>".into(),
            mail_dir: "data/mail".into(),
            cookie_secure: false,
            log_json: false,
            job_concurrency: 4,
            job_lock_seconds: 300,
            import_batch_rows: 250,
            ca_cert_path: None,
            ca_key_path: None,
            ca_permitted_domains: Vec::new(),
            dns_allowed_endpoints: Vec::new(),
            ssh_netns: None,
            ssh_connect_timeout: 10,
            run_concurrency: 8,
            output_max_bytes: 32 << 20,
            zabbix: None,
            artifact_dir: "data/artifacts".into(),
            artifact_max_bytes: 1 << 30,
            package_allowed_hosts: Vec::new(),
            deploy_users: vec!["work".into()],
        }
    }
}

/// What every service fn gets first: shared handles, cheap to clone.
#[derive(Clone)]
pub struct Ctx {
    pub db: DatabaseConnection,
    pub enforcer: Arc<RwLock<Enforcer>>,
    pub config: Arc<Config>,
    /// Wakes the job runner when a job is queued.
    pub jobs_notify: Arc<tokio::sync::Notify>,
    /// Rows done so far of running imports (import id → rows), for progress in the UI.
    pub progress: Arc<std::sync::Mutex<std::collections::HashMap<i64, u64>>>,
    /// Ids users hold permissions on, per policy epoch (see `perms::service::VisibleCache`).
    pub visible: Arc<crate::perms::service::VisibleCache>,
    /// Recently resolved API tokens (see `tokens::service::TokenCache`).
    pub tokens: Arc<crate::tokens::service::TokenCache>,
    /// This context's name on its PostgreSQL connections (`application_name`), which change
    /// notifications carry, so it tells its own changes from other processes' (`changes`).
    pub instance: Arc<str>,
    /// Usernames by id (see `users::service::NameCache`: never stale, so no invalidation).
    pub names: Arc<crate::users::service::NameCache>,
    /// Held from the start of a change of who inherits what until the enforcer has it
    /// (`perms::inherit::begin`), so enforcer updates apply in commit order.
    pub structure: Arc<tokio::sync::Mutex<()>>,
    /// Live output of the runs this process executes (see `exec::hub`).
    pub hub: Arc<crate::exec::hub::Hub>,
}

/// Who is acting, and on which request. `id == 0` is an anonymous caller.
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub id: i64,
    pub username: String,
    pub request_id: String,
    pub ip: String,
    /// Set when the request authenticated with an API token (not a session).
    pub via_token: Option<TokenAuth>,
}

/// The API token a request authenticated with.
#[derive(Clone, Debug)]
pub struct TokenAuth {
    /// When that token expires (`None`: never). Tokens it creates may not outlive it.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Actor {
    /// An unauthenticated caller (login, password reset).
    pub fn anonymous(request_id: impl Into<String>, ip: impl Into<String>) -> Self {
        Actor {
            id: 0,
            username: String::new(),
            request_id: request_id.into(),
            ip: ip.into(),
            via_token: None,
        }
    }
    /// The system itself (bootstrap, jobs).
    pub fn system() -> Self {
        Actor {
            id: 0,
            username: "system".into(),
            request_id: String::new(),
            ip: String::new(),
            via_token: None,
        }
    }
    /// Fails with 401 unless the actor is a signed-in user.
    pub fn require(&self) -> AppResult<()> {
        if self.id > 0 {
            Ok(())
        } else {
            Err(AppError::unauthenticated())
        }
    }
    /// The Casbin subject of this actor.
    pub fn subject(&self) -> String {
        format!("user:{}", self.id)
    }
}
