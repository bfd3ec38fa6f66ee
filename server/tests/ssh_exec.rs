//! The SSH layer against real OpenSSH servers in network namespaces: key and password logins,
//! streamed output and exit codes, host key pinning, and the errors an operator sees.
mod common;
use app::exec::ssh::{self, Login, Options, SshError, Stream, Target};
use common::ssh_hosts::{SshHosts, PW_PASS, PW_USER};
use std::time::{Duration, Instant};

fn opts(h: &SshHosts) -> Options {
    Options {
        connect_timeout: Duration::from_secs(4),
        netns: Some(h.netns_path()),
    }
}

fn root(h: &SshHosts, i: usize) -> Target {
    Target {
        address: h.hosts[i].address.clone(),
        port: 22,
        username: "root".into(),
        login: Login::Key {
            pem: h.client_key.clone(),
            passphrase: None,
        },
    }
}

fn password(h: &SshHosts, i: usize, pw: &str) -> Target {
    Target {
        username: PW_USER.into(),
        login: Login::Password(pw.into()),
        ..root(h, i)
    }
}

#[tokio::test]
async fn key_and_password_logins_run_commands_on_separate_hosts() {
    let h = SshHosts::start(2);
    for i in 0..2 {
        let s = ssh::connect(&opts(&h), &root(&h, i), None).await.unwrap();
        assert_eq!(s.host_key.openssh, h.host_key(i));
        assert!(
            s.host_key.fingerprint.starts_with("SHA256:"),
            "{:?}",
            s.host_key
        );
        let (exit, out, _) = s
            .run("hostname; id -un; echo hi > /srv/marker")
            .await
            .unwrap();
        assert!(exit.success(), "{exit:?}");
        assert_eq!(String::from_utf8_lossy(&out), format!("host{i}\nroot\n"));
        // Each host has its own /srv: the file is on host i only.
        assert_eq!(
            std::fs::read_to_string(h.path(i, "/srv/marker")).unwrap(),
            "hi\n"
        );
        s.close().await;
    }
    // A password goes only to a host whose key is pinned: fetched first (no login), then pinned.
    let e = ssh::connect(&opts(&h), &password(&h, 1, PW_PASS), None)
        .await
        .err()
        .unwrap();
    assert!(matches!(e, SshError::NotPinned { .. }), "{e:?}");
    let key = ssh::fetch_host_key(&opts(&h), &h.hosts[1].address, 22)
        .await
        .unwrap();
    assert_eq!(key.openssh, h.host_key(1));
    let s = ssh::connect(&opts(&h), &password(&h, 1, PW_PASS), Some(&key.openssh))
        .await
        .unwrap();
    let (exit, out, err) = s.run("id -un; echo oops >&2; exit 3").await.unwrap();
    assert_eq!(exit.code, Some(3));
    assert_eq!(String::from_utf8_lossy(&out), format!("{PW_USER}\n"));
    assert_eq!(String::from_utf8_lossy(&err), "oops\n");
    // A command that reads its input sees the end of it instead of waiting forever.
    let r = tokio::time::timeout(Duration::from_secs(5), s.run("cat; echo read-all")).await;
    let (exit, out, _) = r.expect("a command reading stdin hung").unwrap();
    assert!(exit.success());
    assert_eq!(out, b"read-all\n");
    // Killed by a signal: no exit code, the signal's name.
    let (exit, _, _) = s.run("kill -KILL $$").await.unwrap();
    assert_eq!(
        (exit.code, exit.signal.as_deref()),
        (None, Some("KILL")),
        "{exit:?}"
    );
}

#[tokio::test]
async fn output_streams_while_the_command_runs() {
    let h = SshHosts::start(1);
    let s = ssh::connect(&opts(&h), &root(&h, 0), None).await.unwrap();
    let t0 = Instant::now();
    let mut chunks: Vec<(Duration, Stream, String)> = vec![];
    let exit = s
        .exec(
            "for i in 1 2 3; do echo line$i; sleep 0.4; done; echo done >&2",
            |st, d| chunks.push((t0.elapsed(), st, String::from_utf8_lossy(d).into_owned())),
        )
        .await
        .unwrap();
    assert!(exit.success());
    let all: String = chunks
        .iter()
        .filter(|c| c.1 == Stream::Stdout)
        .map(|c| c.2.as_str())
        .collect();
    assert_eq!(all, "line1\nline2\nline3\n");
    // The first line arrived long before the command ended (about 1.2 s later).
    assert!(chunks[0].2.starts_with("line1"), "{chunks:?}");
    let last = chunks.last().unwrap().0;
    assert!(
        last - chunks[0].0 >= Duration::from_millis(700),
        "{chunks:?}"
    );
    assert!(
        chunks
            .iter()
            .any(|c| c.1 == Stream::Stderr && c.2 == "done\n"),
        "{chunks:?}"
    );
}

#[tokio::test]
async fn refused_logins_are_clear_and_never_show_the_secret() {
    let h = SshHosts::start(1);
    let secret = "wrong-Secret-4711";
    let pin = h.host_key(0);
    let e = ssh::connect(&opts(&h), &password(&h, 0, secret), Some(&pin))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, SshError::LoginRefused { .. }), "{e:?}");
    let m = e.message();
    assert!(m.contains("10.200.0.11:22") && m.contains(PW_USER), "{m}");
    assert!(
        !m.contains(secret) && !format!("{e:?}").contains(secret),
        "{m}"
    );
    // A key the host does not know.
    let other = h.dir.join("other");
    std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            other.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    let t = Target {
        login: Login::Key {
            pem: std::fs::read_to_string(&other).unwrap(),
            passphrase: None,
        },
        ..root(&h, 0)
    };
    let e = ssh::connect(&opts(&h), &t, None).await.err().unwrap();
    assert!(matches!(e, SshError::LoginRefused { .. }), "{e:?}");
    // A stored key that is not a key.
    let t = Target {
        login: Login::Key {
            pem: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n".into(),
            passphrase: None,
        },
        ..root(&h, 0)
    };
    let e = ssh::connect(&opts(&h), &t, None).await.err().unwrap();
    assert!(matches!(e, SshError::BadCredential(_)), "{e:?}");
    assert!(!format!("{:?}", t.login).contains("BEGIN"));
}

#[tokio::test]
async fn a_changed_host_key_is_refused_until_the_new_one_is_pinned() {
    let mut h = SshHosts::start(1);
    let first = ssh::connect(&opts(&h), &root(&h, 0), None).await.unwrap();
    let pinned = first.host_key.clone();
    first.close().await;
    ssh::connect(&opts(&h), &root(&h, 0), Some(&pinned.openssh))
        .await
        .unwrap()
        .close()
        .await;
    h.change_host_key(0);
    let e = ssh::connect(&opts(&h), &root(&h, 0), Some(&pinned.openssh))
        .await
        .err()
        .unwrap();
    match &e {
        SshError::HostKeyChanged {
            offered, pinned: p, ..
        } => {
            assert_eq!(offered.openssh, h.host_key(0));
            assert_eq!(p, &pinned.openssh);
            assert_ne!(offered.fingerprint, pinned.fingerprint);
            assert!(
                e.message().contains(&offered.fingerprint),
                "{}",
                e.message()
            );
        }
        other => panic!("{other:?}"),
    }
    // Pinning the offered key (what an operator's "accept" does) lets it in again.
    let offered = match e {
        SshError::HostKeyChanged { offered, .. } => offered,
        _ => unreachable!(),
    };
    let s = ssh::connect(&opts(&h), &root(&h, 0), Some(&offered.openssh))
        .await
        .unwrap();
    assert_eq!(s.run("hostname").await.unwrap().1, b"host0\n");
}

#[tokio::test]
async fn unreachable_hosts_fail_with_their_address() {
    let h = SshHosts::start(1);
    // Nobody has this address: no answer (ARP fails, or the connect times out).
    let t = Target {
        address: "10.200.0.99".into(),
        ..root(&h, 0)
    };
    let t0 = Instant::now();
    let e = ssh::connect(&opts(&h), &t, None).await.err().unwrap();
    assert!(matches!(e, SshError::Unreachable { .. }), "{e:?}");
    assert!(
        e.message().starts_with("10.200.0.99:22 unreachable"),
        "{}",
        e.message()
    );
    assert!(t0.elapsed() < Duration::from_secs(6), "{:?}", t0.elapsed());
    // The host is there, the port is not.
    let t = Target {
        port: 2222,
        ..root(&h, 0)
    };
    let e = ssh::connect(&opts(&h), &t, None).await.err().unwrap();
    assert_eq!(
        e.message(),
        "10.200.0.11:2222 unreachable: connection refused"
    );
}
