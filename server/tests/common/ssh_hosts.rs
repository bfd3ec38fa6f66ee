//! OpenSSH servers as managed hosts, each in a network namespace of its own behind a bridge in a
//! control namespace (the recipe of shared/INTEGRATIONS.md). Opsdeck reaches them by opening its
//! SSH connections in the control namespace (`OPSDECK_SSH_NETNS`); the database and everything
//! else stay in the root namespace. Each host also has private mounts of `/etc`, `/home` and
//! `/srv` (a copy, an empty dir, an empty dir), so a test can create users and write deploy paths
//! on a host without touching the machine, and read the host's files from outside at
//! `SshHosts::path(i, …)`.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The user every host has with a password (password logins are tested with it).
pub const PW_USER: &str = "deploy";
pub const PW_PASS: &str = "deploy-pass-123";

pub struct SshHosts {
    pub dir: PathBuf,
    tag: String,
    /// The control namespace's name (`/run/netns/<ctl>`).
    pub ctl: String,
    pub hosts: Vec<SshHost>,
    /// The private key (OpenSSH format) that root on every host accepts.
    pub client_key: String,
}

pub struct SshHost {
    pub address: String,
    ns: String,
    dir: PathBuf,
    child: Option<Child>,
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keygen(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "",
            "-f",
            path.to_str().unwrap(),
        ],
    );
}

impl SshHosts {
    /// Starts `n` hosts at 10.200.0.11, .12, … (each test has its own control namespace, so the
    /// addresses repeat harmlessly across tests running at once).
    pub fn start(n: usize) -> SshHosts {
        let tag = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let dir = std::env::temp_dir().join(format!("opsdeck-ssh-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        keygen(&dir.join("client"));
        let client_key = std::fs::read_to_string(dir.join("client")).unwrap();
        let ctl = format!("oc-ctl-{tag}");
        run("ip", &["netns", "add", &ctl]);
        run("ip", &["-n", &ctl, "link", "add", "br0", "type", "bridge"]);
        run(
            "ip",
            &["-n", &ctl, "addr", "add", "10.200.0.1/24", "dev", "br0"],
        );
        run("ip", &["-n", &ctl, "link", "set", "br0", "up"]);
        run("ip", &["-n", &ctl, "link", "set", "lo", "up"]);
        let mut me = SshHosts {
            dir,
            tag,
            ctl,
            hosts: vec![],
            client_key,
        };
        for i in 0..n {
            me.add_host(i);
        }
        for i in 0..n {
            me.launch(i);
        }
        me
    }

    fn add_host(&mut self, i: usize) {
        let ns = format!("oc-h{i}-{}", self.tag);
        let hdir = self.dir.join(format!("h{i}"));
        for d in ["srv", "home", "shim"] {
            std::fs::create_dir_all(hdir.join(d)).unwrap();
        }
        // Power commands a host may be asked to run land here (first on root's PATH), so a
        // test never powers off this machine: they only note how they were called.
        for cmd in ["shutdown", "reboot", "poweroff", "halt"] {
            let p = hdir.join("shim").join(cmd);
            std::fs::write(&p, format!("#!/bin/sh\necho \"{cmd} $*\" >> /srv/.power\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        run("cp", &["-a", "/etc", hdir.join("etc").to_str().unwrap()]);
        keygen(&hdir.join("hostkey"));
        std::fs::copy(self.dir.join("client.pub"), hdir.join("authorized_keys")).unwrap();
        let address = format!("10.200.0.{}", 11 + i);
        std::fs::write(
            hdir.join("sshd.conf"),
            format!(
                "ListenAddress {address}\nPort 22\nHostKey {d}/hostkey\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys .ssh/authorized_keys\nPasswordAuthentication yes\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n\
                 Subsystem sftp internal-sftp\nMaxStartups 100:30:200\n",
                d = hdir.display()
            ),
        )
        .unwrap();
        let veth = format!("vh{i}");
        run("ip", &["netns", "add", &ns]);
        run(
            "ip",
            &[
                "-n", &self.ctl, "link", "add", &veth, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ],
        );
        run(
            "ip",
            &["-n", &self.ctl, "link", "set", &veth, "master", "br0", "up"],
        );
        run(
            "ip",
            &[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                "eth0",
            ],
        );
        run("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
        run("ip", &["-n", &ns, "link", "set", "lo", "up"]);
        self.hosts.push(SshHost {
            address,
            ns,
            dir: hdir,
            child: None,
        });
    }

    /// Starts host `i`'s sshd in its namespaces (private /etc, /home, /srv; hostname `host<i>`)
    /// with the password user, and waits until it accepts connections.
    fn launch(&mut self, i: usize) {
        let h = &mut self.hosts[i];
        let d = h.dir.display().to_string();
        let script = format!(
            "set -e; hostname host{i}; mount --bind {d}/etc /etc; mount --bind {d}/home /home; \
             mount --bind {d}/srv /srv; mount --bind {d}/shim /usr/local/sbin; id {PW_USER} >/dev/null 2>&1 || useradd -m -s /bin/bash {PW_USER}; \
             echo '{PW_USER}:{PW_PASS}' | chpasswd; exec /usr/sbin/sshd -D -e -f {d}/sshd.conf"
        );
        let log = std::fs::File::create(h.dir.join("sshd.log")).unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &h.ns,
                "unshare",
                "--uts",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        h.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let log_path = h.dir.join("sshd.log");
        loop {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if log.contains("Server listening") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "sshd of host {i} did not start: {log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self, i: usize) {
        if let Some(mut c) = self.hosts[i].child.take() {
            // `ip netns exec` execs `unshare`, which execs sh, which execs sshd: the child is sshd.
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The network namespace Opsdeck opens SSH connections in.
    pub fn netns_path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.ctl))
    }

    /// Host `i`'s public key line (`ssh-ed25519 AAAA…`).
    pub fn host_key(&self, i: usize) -> String {
        std::fs::read_to_string(self.hosts[i].dir.join("hostkey.pub"))
            .unwrap()
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Gives host `i` a new host key (as a reinstalled machine would have) and restarts it.
    pub fn change_host_key(&mut self, i: usize) {
        self.stop(i);
        keygen(&self.hosts[i].dir.join("hostkey"));
        let log = self.hosts[i].dir.join("sshd.log");
        let _ = std::fs::remove_file(log);
        self.launch(i);
    }

    /// A file of host `i` as seen from outside (`rel` is an absolute path under /srv, /home or /etc
    /// on the host).
    pub fn path(&self, i: usize, on_host: &str) -> PathBuf {
        let rel = on_host.trim_start_matches('/');
        self.hosts[i].dir.join(rel)
    }
}

impl Drop for SshHosts {
    fn drop(&mut self) {
        for i in 0..self.hosts.len() {
            self.stop(i);
            let _ = Command::new("ip")
                .args(["netns", "del", &self.hosts[i].ns])
                .status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ctl])
            .status();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
