//! Configuration from `OPSDECK_*` environment variables (see the README's table).
use app::ctx::{Config, SmtpConfig};
use std::env::var;

fn opt(name: &str) -> Option<String> {
    var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A whole number from the environment, or `default`.
fn num(name: &str, default: u64) -> Result<u64, String> {
    opt(name).map_or(Ok(default), |v| {
        v.parse()
            .map_err(|_| format!("{name}: {v} is not a whole number"))
    })
}

/// Reads the configuration; a missing secret key is generated once into `data/secret.key`.
pub fn from_env() -> Result<Config, String> {
    let d = Config::default();
    let bind = opt("OPSDECK_BIND").unwrap_or(d.bind);
    let smtp = match opt("OPSDECK_SMTP_HOST") {
        Some(host) => Some(SmtpConfig {
            host,
            port: opt("OPSDECK_SMTP_PORT")
                .map(|p| p.parse().map_err(|_| "OPSDECK_SMTP_PORT is not a port"))
                .transpose()?
                .unwrap_or(25),
            username: opt("OPSDECK_SMTP_USER"),
            password: opt("OPSDECK_SMTP_PASSWORD"),
            security: opt("OPSDECK_SMTP_SECURITY").unwrap_or_else(|| "none".into()),
        }),
        None => None,
    };
    let secret_key = match opt("OPSDECK_SECRET_KEY") {
        Some(k) => k,
        None => {
            let path = std::path::Path::new("data/secret.key");
            match std::fs::read_to_string(path) {
                Ok(k) if !k.trim().is_empty() => k.trim().to_string(),
                _ => {
                    std::fs::create_dir_all("data").map_err(|e| format!("data/: {e}"))?;
                    let k = app::security::random_token(32);
                    std::fs::write(path, &k).map_err(|e| format!("data/secret.key: {e}"))?;
                    k
                }
            }
        }
    };
    Ok(Config {
        database_url: opt("OPSDECK_DATABASE_URL").unwrap_or(d.database_url),
        db_pool: match num("OPSDECK_DB_POOL", 0)? {
            0 if opt("OPSDECK_DB_POOL").is_none() => None,
            n => Some(
                u32::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("OPSDECK_DB_POOL: a number of connections, at least 1")?,
            ),
        },
        sqlite_mmap_mb: num("OPSDECK_SQLITE_MMAP_MB", d.sqlite_mmap_mb)?,
        sqlite_cache_mb: num("OPSDECK_SQLITE_CACHE_MB", d.sqlite_cache_mb)?,
        public_url: opt("OPSDECK_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}")),
        bind,
        admin_user: opt("OPSDECK_ADMIN_USER").unwrap_or(d.admin_user),
        admin_password: opt("OPSDECK_ADMIN_PASSWORD"),
        admin_email: opt("OPSDECK_ADMIN_EMAIL").map(|e| e.trim().to_string()),
        secret_key,
        secret_key_old: opt("OPSDECK_SECRET_KEY_OLD")
            .map(|v| {
                v.split(',')
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        smtp,
        mail_from: opt("OPSDECK_MAIL_FROM").unwrap_or(d.mail_from),
        mail_dir: opt("OPSDECK_MAIL_DIR").unwrap_or(d.mail_dir),
        cookie_secure: opt("OPSDECK_COOKIE_SECURE").is_some_and(|v| v == "1" || v == "true"),
        log_json: opt("OPSDECK_LOG_JSON").is_some_and(|v| v == "1" || v == "true"),
        job_concurrency: match num("OPSDECK_JOB_CONCURRENCY", d.job_concurrency as u64)? {
            0 => return Err("OPSDECK_JOB_CONCURRENCY: at least 1".into()),
            n => n.min(64) as usize,
        },
        job_lock_seconds: d.job_lock_seconds,
        import_batch_rows: d.import_batch_rows,
        ca_cert_path: opt("OPSDECK_CA_CERT"),
        ca_key_path: opt("OPSDECK_CA_KEY"),
        ca_permitted_domains: permitted_domains(opt("OPSDECK_CA_PERMITTED_DOMAINS"))?,
        dns_allowed_endpoints: patterns(opt("OPSDECK_DNS_ALLOWED_ENDPOINTS")),
        package_allowed_hosts: patterns(opt("OPSDECK_PACKAGE_ALLOWED_HOSTS")),
        deploy_users: match opt("OPSDECK_DEPLOY_USERS") {
            None => d.deploy_users.clone(),
            Some(v) => {
                let users: Vec<String> = v
                    .split(',')
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect();
                if let Some(bad) = users
                    .iter()
                    .find(|u| *u == "root" || !app::exec::init::login_name_ok(u))
                {
                    return Err(format!("OPSDECK_DEPLOY_USERS: {bad} cannot run deploys (a login name other than root)"));
                }
                users
            }
        },
        artifact_dir: opt("OPSDECK_ARTIFACT_DIR").unwrap_or(d.artifact_dir),
        artifact_max_bytes: num("OPSDECK_ARTIFACT_MAX_MB", d.artifact_max_bytes >> 20)?
            .clamp(1, 65536)
            << 20,
        ssh_netns: opt("OPSDECK_SSH_NETNS"),
        ssh_connect_timeout: num("OPSDECK_SSH_CONNECT_TIMEOUT", d.ssh_connect_timeout)?
            .clamp(1, 120),
        run_concurrency: num("OPSDECK_RUN_CONCURRENCY", d.run_concurrency as u64)?.clamp(1, 64)
            as usize,
        output_max_bytes: num("OPSDECK_OUTPUT_MAX_MB", d.output_max_bytes >> 20)?.clamp(1, 1024)
            << 20,
        zabbix: opt("OPSDECK_ZABBIX_URL").map(|url| {
            let host = reqwest_host(&url);
            app::ctx::ZabbixConfig {
                user: opt("OPSDECK_ZABBIX_USER").unwrap_or_else(|| "Admin".into()),
                password: opt("OPSDECK_ZABBIX_PASSWORD").unwrap_or_default(),
                agent_server: opt("OPSDECK_ZABBIX_AGENT_SERVER").unwrap_or(host),
                url,
            }
        }),
    })
}

/// A comma-separated list of endpoint patterns, lower case.
fn patterns(v: Option<String>) -> Vec<String> {
    v.map(|v| {
        v.split(',')
            .map(|p| p.trim().to_ascii_lowercase())
            .filter(|p| !p.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// `OPSDECK_CA_PERMITTED_DOMAINS`: comma-separated DNS suffixes (a leading `.` or `*.` and a
/// trailing `.` are dropped), lower case; a malformed one stops the start.
fn permitted_domains(v: Option<String>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = vec![];
    for d in v.iter().flat_map(|v| v.split(',')) {
        let d = d.trim().to_ascii_lowercase();
        let d = d.trim_start_matches("*.").trim_matches('.').to_string();
        if d.is_empty() {
            continue;
        }
        app::certs::ca::check_dns_name(&d)
            .map_err(|e| format!("OPSDECK_CA_PERMITTED_DOMAINS: {d}: {e}"))?;
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// The host part of a URL (`http://zbx.example:8080/…` → `zbx.example`).
fn reqwest_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let hostport = rest.split('/').next().unwrap_or_default();
    match hostport.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_string(),
        None => hostport.split(':').next().unwrap_or_default().to_string(),
    }
}
