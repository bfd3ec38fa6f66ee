//! DNS services against hostile endpoints: a changed endpoint (or key target) never receives the
//! stored secret, redirects are not followed, answer bodies are neither reflected nor read
//! without a limit, endpoints carry no credentials, query or fragment, the optional allow-list
//! of endpoints, and unreachable servers are reported in a few words. The "attacker" is a plain
//! TCP listener of the test that records what reaches it; the real servers are PowerDNS and BIND.
mod common;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use app::dns::driver::{Conn, ErrorKind};
use axum::http::Method;
use common::dns_servers::{Bind, PowerDns};
use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A listener answering every connection with the same bytes, keeping what it was sent.
struct Fake {
    addr: SocketAddr,
    conns: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    async fn start(response: Vec<u8>) -> Fake {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let response = Arc::new(response);
        let (c, s) = (conns.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = l.accept().await else {
                    return;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let (s, response) = (s.clone(), response.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    s.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf).to_ascii_lowercase());
                    let _ = sock.write_all(&response).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Fake { addr, conns, seen }
    }

    /// An HTTP/1.1 answer closing the connection (`Content-Length` only when `length`).
    async fn http(status: &str, headers: &str, body: &[u8], length: bool) -> Fake {
        let mut r = format!("HTTP/1.1 {status}\r\nConnection: close\r\n{headers}");
        if length {
            r.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        r.push_str("\r\n");
        let mut bytes = r.into_bytes();
        bytes.extend_from_slice(body);
        Fake::start(bytes).await
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn conns(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }

    fn seen(&self) -> String {
        self.seen.lock().unwrap().join("\n")
    }
}

async fn pdns_at(t: &TestApp, name: &str, endpoint: &str, key: &str) -> i64 {
    let r = t
        .post(
            "/api/dns-services/",
            t.admin(),
            json!({"name": name, "type": "powerdns", "api_endpoint": endpoint, "api_key": key}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().unwrap()
}

async fn patch(t: &TestApp, sid: i64, body: Value) -> Resp {
    t.call(
        Method::PATCH,
        &format!("/api/dns-services/{sid}/"),
        t.admin(),
        Some(body),
    )
    .await
}

async fn test_conn(t: &TestApp, sid: i64) -> Value {
    t.post(
        &format!("/api/dns-services/{sid}/actions/test/"),
        t.admin(),
        json!({}),
    )
    .await
    .ok()
}

/// Everything Opsdeck shows of DNS services: the list, and the audit records.
async fn everything_shown(t: &TestApp) -> String {
    let list = t.get("/api/dns-services/", t.admin()).await.ok();
    let ops = t
        .get("/api/audit/dns-operations/?page_size=100", t.admin())
        .await
        .ok();
    format!(
        "{list} {ops} {}",
        serde_json::to_string(&t.audit("dns").await).unwrap()
    )
}

const PDNS_OK: &str =
    r#"{"daemon_type": "authoritative", "version": "4.7-evil", "id": "localhost"}"#;

both! {
    async fn a_changed_powerdns_endpoint_needs_the_key_again(t: TestApp) {
        let p = PowerDns::start();
        let sid = pdns_at(&t, "pdns", &p.api_url, &p.api_key).await;
        let attacker = Fake::http("200 OK", "Content-Type: application/json\r\n", PDNS_OK.as_bytes(), true).await;
        // The endpoint, the server id or the type changed without the key: refused, nothing kept.
        for body in [
            json!({"api_endpoint": attacker.url()}),
            json!({"api_endpoint": attacker.url(), "description": "moved"}),
            json!({"server_id": "other"}),
        ] {
            let e = patch(&t, sid, body.clone()).await.err(400, 40000);
            assert_eq!(e["field"], "api_key", "{body} → {e}");
            assert!(e["message"].as_str().unwrap().contains("again"), "{e}");
        }
        let e = patch(&t, sid, json!({"type": "bind", "api_endpoint": attacker.addr.to_string(), "tsig_key_name": "k"})).await.err(400, 40000);
        assert_eq!(e["field"], "tsig_secret", "{e}");
        let s = t.get(&format!("/api/dns-services/{sid}/"), t.admin()).await.ok();
        assert_eq!((s["api_endpoint"].as_str(), s["server_id"].as_str(), s["type"].as_str()), (Some(p.api_url.as_str()), Some("localhost"), Some("powerdns")));
        assert_eq!(test_conn(&t, sid).await["ok"], true);
        // Other fields change without the key; the same endpoint given again is no change.
        patch(&t, sid, json!({"description": "still here", "api_endpoint": p.api_url, "server_id": "localhost", "type": "powerdns"})).await.ok();
        assert_eq!(test_conn(&t, sid).await["ok"], true);
        assert_eq!(attacker.conns(), 0, "the attacker was never contacted");
        // With a new key in the same request the endpoint moves, and only that key goes there.
        let moved = patch(&t, sid, json!({"api_endpoint": attacker.url(), "api_key": "attackers-own-key"})).await.ok();
        assert_eq!(moved["api_key_set"], true);
        let r = test_conn(&t, sid).await;
        assert_eq!(r["ok"], true, "{r}");
        let seen = attacker.seen();
        assert!(seen.contains("x-api-key: attackers-own-key"), "{seen}");
        assert!(!seen.contains(&p.api_key.to_ascii_lowercase()), "the stored key leaked: {seen}");
        // Back to the real server: the key again, or nothing.
        patch(&t, sid, json!({"api_endpoint": p.api_url})).await.err(400, 40000);
        patch(&t, sid, json!({"api_endpoint": p.api_url, "api_key": p.api_key})).await.ok();
        assert_eq!(test_conn(&t, sid).await["ok"], true);
        assert!(!everything_shown(&t).await.contains(&p.api_key));
    }
}

both! {
    async fn a_changed_bind_endpoint_or_key_needs_the_secret_again(t: TestApp) {
        let b = Bind::start(&["sec.example.test"]);
        let r = t.post("/api/dns-services/", t.admin(), json!({"name": "bind", "type": "bind", "api_endpoint": b.addr.to_string(), "tsig_key_name": b.key_name, "tsig_algorithm": b.algorithm, "tsig_secret": b.secret})).await;
        assert_eq!(r.status, 201, "{}", r.json);
        let sid = r.json["id"].as_i64().unwrap();
        let attacker = Fake::start(Vec::new()).await;
        for body in [
            json!({"api_endpoint": attacker.addr.to_string()}),
            json!({"tsig_key_name": "other-key"}),
            json!({"tsig_algorithm": "hmac-sha512"}),
            json!({"api_endpoint": attacker.addr.to_string(), "tsig_key_name": "other-key", "tsig_algorithm": "hmac-sha384"}),
        ] {
            let e = patch(&t, sid, body.clone()).await.err(400, 40000);
            assert_eq!(e["field"], "tsig_secret", "{body} → {e}");
            assert!(e["message"].as_str().unwrap().contains("again"), "{e}");
        }
        let s = t.get(&format!("/api/dns-services/{sid}/"), t.admin()).await.ok();
        assert_eq!((s["api_endpoint"].as_str(), s["tsig_key_name"].as_str(), s["tsig_algorithm"].as_str()), (Some(b.addr.to_string().as_str()), Some(b.key_name.as_str()), Some("hmac-sha256")));
        // Unchanged values given again need no secret.
        patch(&t, sid, json!({"api_endpoint": b.addr.to_string(), "tsig_key_name": b.key_name, "tsig_algorithm": "hmac-sha256", "description": "d"})).await.ok();
        let ok = test_conn(&t, sid).await;
        assert_eq!(ok["ok"], true, "{ok}");
        assert_eq!(attacker.conns(), 0, "the attacker was never contacted");
        // A new algorithm with the secret: accepted, and the server says the key is wrong.
        patch(&t, sid, json!({"tsig_algorithm": "hmac-sha512", "tsig_secret": b.secret})).await.ok();
        assert_eq!(test_conn(&t, sid).await["ok"], false);
        patch(&t, sid, json!({"tsig_algorithm": "hmac-sha256", "tsig_secret": b.secret})).await.ok();
        assert_eq!(test_conn(&t, sid).await["ok"], true);
        assert!(!everything_shown(&t).await.contains(&b.secret));
    }
}

both! {
    async fn redirects_are_not_followed(t: TestApp) {
        let target = Fake::http("200 OK", "Content-Type: application/json\r\n", PDNS_OK.as_bytes(), true).await;
        let location = format!("Location: {}api/v1/servers/localhost\r\n", target.url());
        let redirecting = Fake::http("302 Found", &location, b"", true).await;
        let sid = pdns_at(&t, "redirecting", &redirecting.url(), "redirect-key").await;
        let r = test_conn(&t, sid).await;
        assert_eq!(r["ok"], false, "{r}");
        assert!(r["message"].as_str().unwrap().contains("redirect"), "{r}");
        assert_eq!(redirecting.conns(), 1);
        assert_eq!(target.conns(), 0, "the redirect was followed: {}", target.seen());
    }
}

both! {
    async fn answer_bodies_are_not_reflected(t: TestApp) {
        // A non-JSON error page: only the status.
        let page = Fake::http("404 Not Found", "Content-Type: text/html\r\n", b"<html>internal wiki: token=s3cr3t-t0ken</html>", true).await;
        let sid = pdns_at(&t, "page", &page.url(), "k1").await;
        let r = test_conn(&t, sid).await;
        assert_eq!((r["ok"].as_bool(), r["message"].as_str()), (Some(false), Some("not found: HTTP 404")), "{r}");
        // PowerDNS's JSON error: at most 200 characters, without control characters.
        let long = format!("bad\u{1b}[31m key\n{}", "x".repeat(5000));
        let err = Fake::http("401 Unauthorized", "Content-Type: application/json\r\n", json!({"error": long}).to_string().as_bytes(), true).await;
        let sid = pdns_at(&t, "json-error", &err.url(), "k2").await;
        let r = test_conn(&t, sid).await;
        let m = r["message"].as_str().unwrap();
        assert!(m.starts_with("authentication failed: HTTP 401: bad[31m key"), "{r}");
        assert!(!m.chars().any(char::is_control), "{r}");
        assert!(m.chars().count() <= 240, "{} chars", m.chars().count());
        // A 200 that is no PowerDNS: said so, nothing of it shown.
        let other = Fake::http("200 OK", "Content-Type: application/json\r\n", br#"{"users": ["root:s3cr3t-t0ken"]}"#, true).await;
        let sid = pdns_at(&t, "other", &other.url(), "k3").await;
        let r = test_conn(&t, sid).await;
        assert_eq!(r["ok"], false, "{r}");
        assert!(!r.to_string().contains("s3cr3t"), "{r}");
        // A huge answer (no Content-Length: read until the limit, then given up).
        let huge = format!(r#"{{"daemon_type": "authoritative", "version": "{}"}}"#, "v".repeat(1 << 20));
        let big = Fake::http("200 OK", "Content-Type: application/json\r\n", huge.as_bytes(), false).await;
        let sid = pdns_at(&t, "big", &big.url(), "k4").await;
        let r = test_conn(&t, sid).await;
        assert_eq!(r["ok"], false, "{r}");
        assert!(r["message"].as_str().unwrap().contains("larger than 64 KB"), "{r}");
        assert!(r.to_string().len() < 300);
    }
}

both! {
    async fn endpoints_carry_no_credentials_query_or_fragment(t: TestApp) {
        for endpoint in [
            "http://opsdeck:s3cr3t-pass@127.0.0.1:8081/",
            "http://s3cr3t-pass@127.0.0.1:8081/",
            "http://127.0.0.1:8081/?api-key=s3cr3t-pass",
            "http://127.0.0.1:8081/#s3cr3t-pass",
            "ftp://127.0.0.1:8081/",
            "http://",
        ] {
            let r = t.post("/api/dns-services/", t.admin(), json!({"name": "creds", "type": "powerdns", "api_endpoint": endpoint, "api_key": "k"})).await;
            let e = r.err(400, 40000);
            assert_eq!(e["field"], "api_endpoint", "{endpoint} → {e}");
        }
        let e = t.post("/api/dns-services/", t.admin(), json!({"name": "creds", "type": "bind", "api_endpoint": "user:s3cr3t-pass@127.0.0.1:53", "tsig_key_name": "k", "tsig_secret": "c2VjcmV0"})).await.err(400, 40000);
        assert_eq!(e["field"], "api_endpoint");
        let sid = pdns_at(&t, "fine", "http://127.0.0.1:8081/", "k").await;
        let e = patch(&t, sid, json!({"api_endpoint": "http://u:s3cr3t-pass@127.0.0.1:8081/", "api_key": "k"})).await.err(400, 40000);
        assert_eq!(e["field"], "api_endpoint");
        let shown = everything_shown(&t).await;
        assert!(!shown.contains("s3cr3t-pass"), "{shown}");
        assert_eq!(t.get("/api/dns-services/", t.admin()).await.ok()["count"], 1);
    }
}

both! {
    async fn only_allowed_endpoints_when_configured(backend: Backend) {
        let p = PowerDns::start();
        let b = Bind::start(&["allow.example.test"]);
        let t = TestApp::with_config(backend, |c| {
            c.dns_allowed_endpoints = vec![
                format!("127.0.0.1:{}", p.api_port),
                format!("127.0.0.1:{}", b.addr.port()),
                "*.example.test".into(),
                "[::1]:8081".into(),
            ];
        })
        .await;
        let sid = pdns_at(&t, "allowed", &p.api_url, &p.api_key).await;
        assert_eq!(test_conn(&t, sid).await["ok"], true);
        let r = t.post("/api/dns-services/", t.admin(), json!({"name": "bind", "type": "bind", "api_endpoint": b.addr.to_string(), "tsig_key_name": b.key_name, "tsig_secret": b.secret})).await;
        assert_eq!(r.status, 201, "{}", r.json);
        let bid = r.json["id"].as_i64().unwrap();
        assert_eq!(test_conn(&t, bid).await["ok"], true);
        for (ty, endpoint) in [
            ("powerdns", "http://api.example.test:8081/"),
            ("powerdns", "https://API.Example.Test/"),
            ("powerdns", "http://[::1]:8081/"),
            ("bind", "ns1.example.test:53"),
        ] {
            let r = t.post("/api/dns-services/", t.admin(), json!({"name": format!("{ty} {endpoint}"), "type": ty, "api_endpoint": endpoint, "api_key": "k", "tsig_key_name": "k", "tsig_secret": "c2VjcmV0"})).await;
            assert_eq!(r.status, 201, "{endpoint} → {}", r.json);
        }
        for (ty, endpoint) in [
            ("powerdns", format!("http://127.0.0.1:{}/", p.dns_port)),
            ("powerdns", format!("http://localhost:{}/", p.api_port)),
            ("powerdns", format!("http://127.0.0.2:{}/", p.api_port)),
            ("powerdns", "http://example.test:8081/".to_string()),
            ("powerdns", "http://evil-example.test:8081/".to_string()),
            ("powerdns", "http://[::1]:8082/".to_string()),
            ("bind", "127.0.0.1:53".to_string()),
            ("bind", "127.0.0.1".to_string()),
        ] {
            let r = t.post("/api/dns-services/", t.admin(), json!({"name": "refused", "type": ty, "api_endpoint": endpoint, "api_key": "k", "tsig_key_name": "k", "tsig_secret": "c2VjcmV0"})).await;
            let e = r.err(400, 40000);
            assert_eq!(e["field"], "api_endpoint", "{endpoint} → {e}");
            assert!(e["message"].as_str().unwrap().contains("OPSDECK_DNS_ALLOWED_ENDPOINTS"), "{e}");
        }
        let e = patch(&t, sid, json!({"api_endpoint": format!("http://127.0.0.2:{}/", p.api_port), "api_key": p.api_key})).await.err(400, 40000);
        assert_eq!(e["field"], "api_endpoint");
        let s = t.get(&format!("/api/dns-services/{sid}/"), t.admin()).await.ok();
        assert_eq!(s["api_endpoint"], p.api_url.as_str());
    }
}

both! {
    async fn unreachable_servers_are_reported_in_a_few_words(t: TestApp) {
        // a port nobody listens on
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let sid = pdns_at(&t, "closed-pdns", &format!("http://127.0.0.1:{port}/"), "k").await;
        let r = t.post("/api/dns-services/", t.admin(), json!({"name": "closed-bind", "type": "bind", "api_endpoint": format!("127.0.0.1:{port}"), "tsig_key_name": "k", "tsig_secret": "c2VjcmV0"})).await;
        assert_eq!(r.status, 201, "{}", r.json);
        let bid = r.json["id"].as_i64().unwrap();
        for id in [sid, bid] {
            let r = test_conn(&t, id).await;
            assert_eq!((r["ok"].as_bool(), r["message"].as_str()), (Some(false), Some("unreachable: cannot connect")), "{r}");
        }
        // Creating a zone there: 503 with the same words.
        let e = t.post(&format!("/api/dns-services/{sid}/domains/"), t.admin(), json!({"name": "closed.example.test"})).await;
        assert_eq!(e.status, 503, "{}", e.json);
        let m = e.json["message"].as_str().unwrap();
        assert!(m.ends_with("unreachable: cannot connect") && !m.contains("os error"), "{m}");
    }
}

/// Whole-zone reads stop at 16 MB, with or without a Content-Length (no database involved).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_reads_are_capped() {
    // a valid zone document padded beyond the limit: read in full it would list fine
    let doc = format!(
        r#"{{"rrsets": [], "pad": "{}"}}"#,
        "p".repeat(17 * 1024 * 1024)
    );
    for length in [true, false] {
        let f = Fake::http(
            "200 OK",
            "Content-Type: application/json\r\n",
            doc.as_bytes(),
            length,
        )
        .await;
        let conn = Conn::PowerDns {
            endpoint: f.url(),
            api_key: "k".into(),
            server_id: "localhost".into(),
        };
        let e = conn.list("big.example.test").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid, "{e}");
        assert!(e.message.contains("larger than 16 MB"), "{e}");
    }
    // just under the limit is read
    let ok = format!(
        r#"{{"rrsets": [{{"name": "a.big.example.test.", "type": "A", "ttl": 60, "records": [{{"content": "10.0.0.1", "disabled": false}}]}}], "pad": "{}"}}"#,
        "p".repeat(15 * 1024 * 1024)
    );
    let f = Fake::http(
        "200 OK",
        "Content-Type: application/json\r\n",
        ok.as_bytes(),
        false,
    )
    .await;
    let conn = Conn::PowerDns {
        endpoint: f.url(),
        api_key: "k".into(),
        server_id: "localhost".into(),
    };
    let sets = conn.list("big.example.test").await.unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].contents, ["10.0.0.1"]);
}
