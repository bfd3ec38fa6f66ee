//! Real DNS servers for tests: PowerDNS 4.7 (sqlite3 backend, HTTP API) and BIND 9.18 (TSIG key,
//! dynamic updates, signed AXFR), each on its own free ports in its own temporary directory,
//! started and stopped by PID (recipes in shared/INTEGRATIONS.md). `dig` asks a server itself.
#![allow(dead_code)]
use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app::dns::driver::Conn;

/// A port free for TCP and UDP on 127.0.0.1, never handed out twice in this process.
pub fn free_dns_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if UdpSocket::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        let mut given = GIVEN.lock().unwrap();
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
}

/// A fresh directory under the temp dir, traversable by the `bind` user.
fn temp_dir(kind: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "opsdeck-{kind}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    chmod(&dir, 0o755);
    dir
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `dig @127.0.0.1 -p PORT +short NAME TYPE`, one answer per line.
fn dig_at(port: u16, name: &str, rtype: &str) -> Vec<String> {
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+short",
            "+time=2",
            "+tries=2",
        ])
        .args(["+norecurse", name, rtype])
        .output()
        .expect("dig (dnsutils) is installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .collect()
}

fn wait_port(port: u16, child: &mut Child, log: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) while starting:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not listening on {port}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Removes a server's directory, or keeps it (logs, data) when the test failed.
fn keep_or_remove(dir: &Path) {
    if std::thread::panicking() {
        eprintln!("test failed: server files kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// SIGTERM, up to 5 s for a clean exit, then SIGKILL.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A running PowerDNS authoritative server with the HTTP API.
pub struct PowerDns {
    /// Base URL of the API (`http://127.0.0.1:PORT/`).
    pub api_url: String,
    pub api_key: String,
    pub dns_port: u16,
    pub api_port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl PowerDns {
    /// Starts a fresh server (empty database) on free ports.
    pub fn start() -> PowerDns {
        let dir = temp_dir("pdns");
        let db = dir.join("pdns.sqlite3");
        run(Command::new("sqlite3").arg(&db).stdin(
            std::fs::File::open("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
                .expect("pdns-backend-sqlite3 is installed"),
        ));
        std::fs::create_dir_all(dir.join("run")).unwrap();
        let (dns_port, api_port) = (free_dns_port(), free_dns_port());
        let api_key = format!("pdns-test-key-{dns_port}");
        let conf = format!(
            "launch=gsqlite3\ngsqlite3-database={db}\nlocal-address=127.0.0.1\nlocal-port={dns_port}\n\
             api=yes\napi-key={api_key}\nwebserver=yes\nwebserver-address=127.0.0.1\n\
             webserver-port={api_port}\nwebserver-allow-from=127.0.0.1\nsocket-dir={run}\n\
             daemon=no\nguardian=no\ndisable-syslog=yes\nsecurity-poll-suffix=\n\
             default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 3600\n\
             cache-ttl=0\nquery-cache-ttl=0\nnegquery-cache-ttl=0\nzone-cache-refresh-interval=0\n\
             distributor-threads=1\nreceiver-threads=1\nloglevel=4\n",
            db = db.display(),
            run = dir.join("run").display(),
        );
        std::fs::write(dir.join("pdns.conf"), conf).unwrap();
        let mut p = PowerDns {
            api_url: format!("http://127.0.0.1:{api_port}/"),
            api_key,
            dns_port,
            api_port,
            dir,
            child: None,
        };
        p.spawn();
        p
    }

    fn spawn(&mut self) {
        let log = self.dir.join("pdns.log");
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = Command::new("/usr/sbin/pdns_server")
            .arg(format!("--config-dir={}", self.dir.display()))
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .expect("pdns-server is installed");
        wait_port(self.api_port, &mut child, &log, "pdns_server");
        wait_port(self.dns_port, &mut child, &log, "pdns_server");
        self.child = Some(child);
    }

    /// Stops the server (data kept).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c);
        }
    }

    /// Starts the stopped server again on the same ports with the same data.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "server still running");
        self.spawn();
    }

    /// The driver connection to this server.
    pub fn conn(&self) -> Conn {
        self.conn_with_key(&self.api_key)
    }

    /// The driver connection with another API key.
    pub fn conn_with_key(&self, key: &str) -> Conn {
        Conn::PowerDns {
            endpoint: self.api_url.clone(),
            api_key: key.to_string(),
            server_id: "localhost".into(),
        }
    }

    /// What the server answers over DNS (`dig +short`), e.g. `dig("www.example.test", "A")`.
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        dig_at(self.dns_port, name, rtype)
    }
}

impl Drop for PowerDns {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        keep_or_remove(&self.dir);
    }
}

/// A running BIND primary serving `zones`, with a TSIG key allowed to update and transfer them.
pub struct Bind {
    pub addr: SocketAddr,
    pub key_name: String,
    pub algorithm: String,
    /// Base64 secret as tsig-keygen printed it.
    pub secret: String,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Bind {
    /// Starts named on a free port; each zone gets a minimal zone file (SOA, NS `ns1.<zone>.`
    /// and its A record 127.0.0.1).
    pub fn start(zones: &[&str]) -> Bind {
        let dir = temp_dir("bind");
        let port = free_dns_port();
        let key_name = "opsdeck-key".to_string();
        let algorithm = "hmac-sha256".to_string();
        let key_conf = run(Command::new("tsig-keygen").args(["-a", &algorithm, &key_name]));
        std::fs::write(dir.join("opsdeck.key"), &key_conf).unwrap();
        let secret = key_conf
            .split("secret \"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("tsig-keygen prints a secret")
            .to_string();
        std::fs::create_dir_all(dir.join("zones")).unwrap();
        let d = dir.display();
        let mut conf = format!(
            "include \"{d}/opsdeck.key\";\n\
             options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n\
               session-keyfile \"{d}/session.key\";\n  managed-keys-directory \"{d}\";\n\
               listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n\
               recursion no;\n  dnssec-validation no;\n  notify no;\n}};\n\
             controls {{ }};\n"
        );
        for z in zones {
            std::fs::write(
                dir.join("zones").join(format!("{z}.db")),
                format!(
                    "$TTL 300\n@ IN SOA ns1.{z}. hostmaster.{z}. 1 3600 600 86400 300\n\
                     @ IN NS ns1.{z}.\nns1 IN A 127.0.0.1\n"
                ),
            )
            .unwrap();
            conf.push_str(&format!(
                "zone \"{z}\" {{ type primary; file \"{d}/zones/{z}.db\"; \
                 allow-transfer {{ key {key_name}; }}; \
                 update-policy {{ grant {key_name} zonesub ANY; }}; }};\n"
            ));
        }
        std::fs::write(dir.join("named.conf"), conf).unwrap();
        run(Command::new("chown").args(["-R", "bind:bind"]).arg(&dir));
        let mut b = Bind {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            key_name,
            algorithm,
            secret,
            dir,
            child: None,
        };
        b.spawn();
        b
    }

    fn spawn(&mut self) {
        let log = self.dir.join("named.log");
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = Command::new("/usr/sbin/named")
            .arg("-g")
            .args(["-n", "1"])
            .arg("-c")
            .arg(self.dir.join("named.conf"))
            .args(["-u", "bind"])
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .expect("bind9 is installed");
        wait_port(self.addr.port(), &mut child, &log, "named");
        // zones are loaded when named logs "running"
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let runs = text.matches("running\n").count();
            let starts = text.matches("starting BIND").count();
            if runs >= starts && runs > 0 {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("named exited ({status}):\n{text}");
            }
            assert!(Instant::now() < deadline, "named did not start:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
    }

    /// Stops named (zones and journals kept).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c);
        }
    }

    /// Starts the stopped server again on the same port with the same data.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "server still running");
        self.spawn();
    }

    /// The driver connection to this server.
    pub fn conn(&self) -> Conn {
        self.conn_with_secret(&self.secret)
    }

    /// The driver connection with another TSIG secret.
    pub fn conn_with_secret(&self, secret: &str) -> Conn {
        Conn::Bind {
            addr: self.addr,
            tsig_key_name: self.key_name.clone(),
            tsig_algorithm: self.algorithm.clone(),
            tsig_secret: secret.to_string(),
        }
    }

    /// What the server answers over DNS (`dig +short`).
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        dig_at(self.addr.port(), name, rtype)
    }

    /// How many DNS messages a signed AXFR of `zone` takes (as dig reports it).
    pub fn axfr_messages(&self, zone: &str) -> usize {
        let out = run(Command::new("dig")
            .args(["@127.0.0.1", "-p", &self.addr.port().to_string(), "-k"])
            .arg(self.dir.join("opsdeck.key"))
            .args([zone, "AXFR"]));
        out.split("(messages ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no XFR summary in {out}"))
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        keep_or_remove(&self.dir);
    }
}
