//! SSH to managed hosts through russh (pure Rust, no `ssh` binary): connect (optionally from a
//! network namespace), check the host key against the pinned one, log in with a password or a
//! private key, and run commands with their output streamed as it arrives.
//!
//! Errors carry fixed, secret-free messages (`SshError::message`): credentials never reach an
//! answer, a log line or task output through this module.
use russh::client;
use russh::keys::{
    decode_secret_key, Algorithm, HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate,
};
use russh::ChannelMsg;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to log in. `Debug` never shows the secret.
#[derive(Clone)]
pub enum Login {
    Password(String),
    /// An OpenSSH (or PEM/PKCS#8) private key, with its passphrase when it has one.
    Key {
        pem: String,
        passphrase: Option<String>,
    },
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Login::Password(_) => f.write_str("Login::Password(***)"),
            Login::Key { .. } => f.write_str("Login::Key(***)"),
        }
    }
}

/// Where to connect and as whom.
#[derive(Clone, Debug)]
pub struct Target {
    pub address: String,
    pub port: u16,
    pub username: String,
    pub login: Login,
}

impl Target {
    /// `address:port` as shown in messages (IPv6 in brackets).
    pub fn endpoint(&self) -> String {
        if self.address.contains(':') {
            format!("[{}]:{}", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        }
    }
}

/// A host key as the server offered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostKey {
    /// `algorithm base64` (the OpenSSH public key line without a comment).
    pub openssh: String,
    /// `SHA256:…`, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
}

/// Why an SSH operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshError {
    /// No TCP connection (refused, no route, timed out).
    Unreachable { endpoint: String, reason: String },
    /// The server's key is not the pinned one: refused until an operator accepts the new key.
    HostKeyChanged {
        endpoint: String,
        pinned: String,
        offered: HostKey,
    },
    /// The server refused the login (wrong password, key not authorized, unknown user).
    LoginRefused { endpoint: String, username: String },
    /// The stored credential cannot be used (a private key that does not parse, a wrong passphrase).
    BadCredential(&'static str),
    /// A password login to a host whose key is not pinned yet: the password would go to a host
    /// nobody has checked. Fetch its key (`fetch_host_key`), pin it, then log in.
    NotPinned { endpoint: String },
    /// The pinned host key is not an OpenSSH public key line.
    BadPin { endpoint: String },
    /// A step took longer than allowed.
    Timeout {
        endpoint: String,
        what: &'static str,
    },
    /// The SSH conversation broke down.
    Protocol {
        endpoint: String,
        what: &'static str,
    },
}

impl SshError {
    /// The message for answers and task output: names the host and the user, never a secret.
    pub fn message(&self) -> String {
        match self {
            SshError::Unreachable { endpoint, reason } => {
                format!("{endpoint} unreachable: {reason}")
            }
            SshError::HostKeyChanged {
                endpoint, offered, ..
            } => format!(
                "the host key of {endpoint} changed (now {}); refused until an operator accepts it",
                offered.fingerprint
            ),
            SshError::LoginRefused { endpoint, username } => {
                format!("{endpoint} refused the login of {username} (wrong password or key not authorized)")
            }
            SshError::BadCredential(why) => format!("the stored credential cannot be used: {why}"),
            SshError::NotPinned { endpoint } => format!(
                "{endpoint}: no host key is pinned yet; a password is only sent to a pinned host"
            ),
            SshError::BadPin { endpoint } => {
                format!("the host key pinned for {endpoint} cannot be read")
            }
            SshError::Timeout { endpoint, what } => format!("{endpoint}: {what} timed out"),
            SshError::Protocol { endpoint, what } => format!("{endpoint}: {what} failed"),
        }
    }
}

impl fmt::Display for SshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Connection settings of the process (`OPSDECK_SSH_CONNECT_TIMEOUT`, `OPSDECK_SSH_NETNS`).
#[derive(Clone, Debug)]
pub struct Options {
    /// For the TCP connection, the handshake and the login, each.
    pub connect_timeout: Duration,
    /// A network namespace (`/run/netns/<name>`) to open SSH connections in; the rest of Opsdeck
    /// (database, mail, HTTP) stays where it is.
    pub netns: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(10),
            netns: None,
        }
    }
}

/// The key line without its comment, so pinned and offered lines compare by key alone.
fn key_line(s: &str) -> String {
    s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

struct Checker {
    pinned: Option<PublicKey>,
    /// Only record the key and stop before any login (`fetch_host_key`).
    probe: bool,
    seen: Arc<Mutex<Option<HostKey>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // Host certificates are not asked for (none in `Preferred::host_key_certificates`):
        // only plain keys are pinned.
        let PublicKeyOrCertificate::PublicKey { key, .. } = offered else {
            return Ok(false);
        };
        let line = key.to_openssh().map_err(|_| russh::Error::KexInit)?;
        let seen = HostKey {
            openssh: key_line(&line),
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
        };
        if let Ok(mut s) = self.seen.lock() {
            *s = Some(seen);
        }
        if self.probe {
            return Ok(false);
        }
        // Compared by key, not by text (`ssh-rsa` lines of rsa-sha2 keys compare equal).
        Ok(self
            .pinned
            .as_ref()
            .is_none_or(|p| p.key_data() == key.key_data()))
    }
}

/// The host key algorithms to negotiate for a pinned key: only its own kind, so a server that
/// also has keys of other kinds shows the pinned one (as OpenSSH does with known_hosts) instead
/// of what would look like a changed key.
fn algorithms_for(key: &PublicKey) -> Vec<Algorithm> {
    match key.algorithm() {
        Algorithm::Rsa { .. } => vec![
            Algorithm::Rsa {
                hash: Some(russh::keys::ssh_key::HashAlg::Sha512),
            },
            Algorithm::Rsa {
                hash: Some(russh::keys::ssh_key::HashAlg::Sha256),
            },
            Algorithm::Rsa { hash: None },
        ],
        other => vec![other],
    }
}

fn config(pinned: Option<&PublicKey>) -> Arc<client::Config> {
    let mut c = client::Config {
        inactivity_timeout: Some(Duration::from_secs(120)),
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 4,
        ..Default::default()
    };
    if let Some(p) = pinned {
        c.preferred.key = algorithms_for(p).into();
    }
    Arc::new(c)
}

/// Connects only to read the host key the server offers (before any login), for an operator to
/// pin on first contact.
pub async fn fetch_host_key(opts: &Options, address: &str, port: u16) -> Result<HostKey, SshError> {
    let t = Target {
        address: address.to_string(),
        port,
        username: String::new(),
        login: Login::Password(String::new()),
    };
    let endpoint = t.endpoint();
    let stream = tcp(opts, &endpoint, address, port).await?;
    let seen = Arc::new(Mutex::new(None));
    let checker = Checker {
        pinned: None,
        probe: true,
        seen: seen.clone(),
    };
    let _ = tokio::time::timeout(
        opts.connect_timeout,
        client::connect_stream(config(None), stream, checker),
    )
    .await;
    let key = seen.lock().ok().and_then(|s| s.clone());
    key.ok_or(SshError::Protocol {
        endpoint,
        what: "reading the host key",
    })
}

/// An open, logged-in SSH connection. Channels (one per command) share it.
pub struct Session {
    handle: client::Handle<Checker>,
    endpoint: String,
    /// The key the server showed (to pin on first contact).
    pub host_key: HostKey,
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The exit status; `None` when the command was killed by a signal or the channel closed
    /// without one.
    pub code: Option<u32>,
    pub signal: Option<String>,
}

impl Exit {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Opens a TCP connection, in the configured network namespace if any. A namespace is entered
/// by a short-lived thread of its own (`setns` changes only the calling thread), never by a
/// runtime thread that would carry the namespace into other work.
async fn tcp(
    opts: &Options,
    endpoint: &str,
    address: &str,
    port: u16,
) -> Result<tokio::net::TcpStream, SshError> {
    let unreachable = |reason: String| SshError::Unreachable {
        endpoint: endpoint.to_string(),
        reason,
    };
    let addr: SocketAddr = match address.parse::<std::net::IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port),
        Err(_) => {
            let host = address.to_string();
            tokio::task::spawn_blocking(move || (host.as_str(), port).to_socket_addrs())
                .await
                .map_err(|_| unreachable("name lookup failed".into()))?
                .map_err(|_| unreachable("unknown host name".into()))?
                .next()
                .ok_or_else(|| unreachable("unknown host name".into()))?
        }
    };
    let timeout = opts.connect_timeout;
    let netns = opts.netns.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("ssh-connect".into())
        .spawn(move || {
            let r = (|| -> std::io::Result<std::net::TcpStream> {
                if let Some(ns) = netns {
                    enter_netns(&ns)?;
                }
                let s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
                s.set_nonblocking(true)?;
                s.set_nodelay(true)?;
                Ok(s)
            })();
            let _ = tx.send(r);
        })
        .map_err(|_| unreachable("could not start a connection".into()))?;
    let std_stream = rx
        .await
        .map_err(|_| unreachable("could not start a connection".into()))?
        .map_err(|e| {
            unreachable(match e.kind() {
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                    format!("no answer within {} s", timeout.as_secs())
                }
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                _ => match e.raw_os_error() {
                    Some(libc::EHOSTUNREACH) => "no route to host".into(),
                    Some(libc::ENETUNREACH) => "network unreachable".into(),
                    _ => "connection failed".into(),
                },
            })
        })?;
    tokio::net::TcpStream::from_std(std_stream)
        .map_err(|_| unreachable("could not use the connection".into()))
}

fn enter_netns(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path)?;
    // SAFETY: setns on an open namespace file descriptor; affects only this thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Connects, checks the host key and logs in. `pinned`: the OpenSSH line pinned for this endpoint;
/// `None` (first contact) is allowed for key logins only, which reveal nothing to an impostor:
/// any key is then accepted and answered in `Session::host_key` to pin. A password login needs a
/// pinned key (`fetch_host_key` first).
pub async fn connect(
    opts: &Options,
    t: &Target,
    pinned: Option<&str>,
) -> Result<Session, SshError> {
    let endpoint = t.endpoint();
    let timeout = opts.connect_timeout;
    let pinned_key = match pinned {
        Some(p) => Some(
            PublicKey::from_openssh(p.trim()).map_err(|_| SshError::BadPin {
                endpoint: endpoint.clone(),
            })?,
        ),
        None if matches!(t.login, Login::Password(_)) => {
            return Err(SshError::NotPinned { endpoint });
        }
        None => None,
    };
    let stream = tcp(opts, &endpoint, &t.address, t.port).await?;
    let seen = Arc::new(Mutex::new(None));
    let checker = Checker {
        pinned: pinned_key.clone(),
        probe: false,
        seen: seen.clone(),
    };
    let offered = || seen.lock().ok().and_then(|s| s.clone());
    let handshake = tokio::time::timeout(
        timeout,
        client::connect_stream(config(pinned_key.as_ref()), stream, checker),
    )
    .await;
    let mut handle = match handshake {
        Err(_) => {
            return Err(SshError::Timeout {
                endpoint,
                what: "the SSH handshake",
            })
        }
        Ok(Err(_)) => {
            let Some(p) = pinned_key else {
                return Err(SshError::Protocol {
                    endpoint,
                    what: "the SSH handshake",
                });
            };
            // A different key, or none of the pinned kind any more (no common algorithm): then
            // ask which key the server has now.
            let now = match offered() {
                Some(o) => Some(o),
                None => fetch_host_key(opts, &t.address, t.port).await.ok(),
            };
            let differs = |o: &HostKey| {
                PublicKey::from_openssh(&o.openssh).map_or(true, |k| k.key_data() != p.key_data())
            };
            return Err(match now {
                Some(o) if differs(&o) => SshError::HostKeyChanged {
                    endpoint,
                    pinned: key_line(pinned.unwrap_or_default()),
                    offered: o,
                },
                _ => SshError::Protocol {
                    endpoint,
                    what: "the SSH handshake",
                },
            });
        }
        Ok(Ok(h)) => h,
    };
    let host_key = offered().ok_or_else(|| SshError::Protocol {
        endpoint: endpoint.clone(),
        what: "the SSH handshake",
    })?;
    let result = tokio::time::timeout(timeout, authenticate(&mut handle, t)).await;
    match result {
        Err(_) => Err(SshError::Timeout {
            endpoint,
            what: "the login",
        }),
        Ok(Err(e)) => Err(e),
        Ok(Ok(true)) => Ok(Session {
            handle,
            endpoint,
            host_key,
        }),
        Ok(Ok(false)) => Err(SshError::LoginRefused {
            endpoint,
            username: t.username.clone(),
        }),
    }
}

/// Logs in: `Ok(true)` accepted, `Ok(false)` refused by the server.
async fn authenticate(handle: &mut client::Handle<Checker>, t: &Target) -> Result<bool, SshError> {
    let broke = |what| SshError::Protocol {
        endpoint: t.endpoint(),
        what,
    };
    let r = match &t.login {
        Login::Password(p) => handle
            .authenticate_password(t.username.clone(), p.clone())
            .await
            .map_err(|_| broke("the login"))?,
        Login::Key { pem, passphrase } => {
            // Decoding an encrypted key runs bcrypt: off the runtime's threads.
            let (pem, pass) = (pem.clone(), passphrase.clone());
            let key = tokio::task::spawn_blocking(move || decode_secret_key(&pem, pass.as_deref()))
                .await
                .map_err(|_| broke("the login"))?
                .map_err(|_| {
                    SshError::BadCredential("the private key could not be read (wrong passphrase?)")
                })?;
            let hash = handle
                .best_supported_rsa_hash()
                .await
                .map_err(|_| broke("the login"))?
                .flatten();
            handle
                .authenticate_publickey(
                    t.username.clone(),
                    PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                )
                .await
                .map_err(|_| broke("the login"))?
        }
    };
    Ok(r.success())
}

impl Session {
    /// `address:port` of the connection.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Runs `command` (through the login shell of the remote user) and hands each chunk of its
    /// output to `out` as it arrives. No time limit here: callers wrap it in theirs.
    pub async fn exec(
        &self,
        command: &str,
        mut out: impl FnMut(Stream, &[u8]),
    ) -> Result<Exit, SshError> {
        let broke = |what| SshError::Protocol {
            endpoint: self.endpoint.clone(),
            what,
        };
        let mut channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|_| broke("opening a channel"))?;
        channel
            .exec(true, command)
            .await
            .map_err(|_| broke("starting the command"))?;
        // No input: a command that reads stdin sees its end instead of waiting forever.
        channel
            .eof()
            .await
            .map_err(|_| broke("starting the command"))?;
        let mut exit = Exit {
            code: None,
            signal: None,
        };
        let mut closed = false;
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { ref data } => out(Stream::Stdout, data),
                ChannelMsg::ExtendedData { ref data, ext: 1 } => out(Stream::Stderr, data),
                ChannelMsg::ExitStatus { exit_status } => exit.code = Some(exit_status),
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    let name = match signal_name {
                        russh::Sig::Custom(s) => s,
                        other => format!("{other:?}"),
                    };
                    // The server names it: keep a short plain word, nothing else.
                    exit.signal = Some(
                        name.chars()
                            .filter(|c| c.is_ascii_alphanumeric())
                            .take(32)
                            .collect(),
                    )
                }
                ChannelMsg::Failure => {
                    let _ = channel.close().await;
                    return Err(broke("running the command (the server refused it)"));
                }
                ChannelMsg::Close => closed = true,
                _ => {}
            }
        }
        // The channel's messages ended without a close or an exit: the connection broke.
        if !closed && exit.code.is_none() && exit.signal.is_none() {
            return Err(broke("the connection (lost while the command ran)"));
        }
        Ok(exit)
    }

    /// Runs `command` and answers its exit and whole output (stdout, stderr), for short checks.
    pub async fn run(&self, command: &str) -> Result<(Exit, Vec<u8>, Vec<u8>), SshError> {
        let (mut o, mut e) = (vec![], vec![]);
        let exit = self
            .exec(command, |s, d| match s {
                Stream::Stdout => o.extend_from_slice(d),
                Stream::Stderr => e.extend_from_slice(d),
            })
            .await?;
        Ok((exit, o, e))
    }

    /// Copies a local file to `path` on the host over SFTP (created or truncated, mode 0600);
    /// answers the bytes written. The caller bounds the time.
    pub async fn upload(&self, local: &std::path::Path, path: &str) -> Result<u64, SshError> {
        use tokio::io::AsyncWriteExt;
        let broke = |what| SshError::Protocol {
            endpoint: self.endpoint.clone(),
            what,
        };
        let channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|_| broke("opening an SFTP channel"))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|_| broke("starting SFTP"))?;
        let sftp = russh_sftp::client::SftpSession::new(channel.into_stream())
            .await
            .map_err(|_| broke("starting SFTP"))?;
        let mut src = tokio::fs::File::open(local)
            .await
            .map_err(|_| broke("reading the package"))?;
        let attrs = russh_sftp::protocol::FileAttributes {
            permissions: Some(0o600),
            ..Default::default()
        };
        use russh_sftp::protocol::OpenFlags;
        let mut dst = sftp
            .open_with_flags_and_attributes(
                path,
                OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE,
                attrs,
            )
            .await
            .map_err(|_| broke("creating the file (SFTP)"))?;
        let n = tokio::io::copy(&mut src, &mut dst)
            .await
            .map_err(|_| broke("copying the package (SFTP)"))?;
        dst.shutdown()
            .await
            .map_err(|_| broke("copying the package (SFTP)"))?;
        let _ = sftp.close().await;
        Ok(n)
    }

    /// Says goodbye to the server.
    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// The public key (OpenSSH line, no comment) of a private key, which must decode with
/// `passphrase`: checks a credential when it is stored.
pub fn public_key_of(pem: &str, passphrase: Option<&str>) -> Result<String, SshError> {
    let key = decode_secret_key(pem, passphrase).map_err(|_| {
        SshError::BadCredential("the private key could not be read (wrong passphrase?)")
    })?;
    let line = key
        .public_key()
        .to_openssh()
        .map_err(|_| SshError::BadCredential("the private key has no usable public key"))?;
    Ok(key_line(&line))
}

impl Options {
    /// The options of a configuration (`OPSDECK_SSH_CONNECT_TIMEOUT`, `OPSDECK_SSH_NETNS`).
    pub fn of(c: &crate::ctx::Config) -> Options {
        Options {
            connect_timeout: Duration::from_secs(c.ssh_connect_timeout.max(1)),
            netns: c.ssh_netns.as_ref().map(PathBuf::from),
        }
    }
}

/// The `SHA256:…` fingerprint of an OpenSSH public key line.
pub fn fingerprint_of(line: &str) -> Option<String> {
    PublicKey::from_openssh(line.trim())
        .ok()
        .map(|k| k.fingerprint(HashAlg::Sha256).to_string())
}
