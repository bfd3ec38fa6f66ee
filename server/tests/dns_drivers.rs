//! DNS server drivers against real servers: PowerDNS 4.7 (HTTP API) and BIND 9.18 (TSIG-signed
//! UPDATE and AXFR). Every write is checked twice: by the driver's own `list` and by `dig`
//! asking the server over DNS.
mod common;
use std::time::Instant;

use app::dns::driver::{Conn, ErrorKind, RRSet};
use common::dns_servers::{Bind, PowerDns};

fn set(name: &str, rtype: &str, ttl: u32, contents: &[&str]) -> RRSet {
    RRSet {
        name: name.into(),
        rtype: rtype.into(),
        ttl,
        contents: contents.iter().map(|c| c.to_string()).collect(),
    }
}

/// One canonical RRset of every supported type in zone `z`.
fn every_type(z: &str) -> Vec<RRSet> {
    let long = format!("\"{}\" \"{}\"", "a".repeat(255), "b".repeat(45));
    vec![
        set(&format!("www.{z}"), "A", 300, &["10.0.0.1", "10.0.0.2"]),
        set(
            &format!("www.{z}"),
            "AAAA",
            300,
            &["2001:db8::1", "2001:db8::2"],
        ),
        set(&format!("alias.{z}"), "CNAME", 120, &[&format!("www.{z}.")]),
        // (BIND refuses an MX whose target inside the zone has no address: www has one)
        set(
            z,
            "MX",
            3600,
            &[&format!("10 www.{z}."), "20 mx.example.org."],
        ),
        set(
            &format!("_sip._tcp.{z}"),
            "SRV",
            600,
            &[&format!("10 5 5060 sip.{z}.")],
        ),
        set(z, "TXT", 300, &["\"v=spf1 -all\""]),
        set(
            &format!("txt.{z}"),
            "TXT",
            300,
            &[
                &long,
                "\"with \\\"quotes\\\", a \\\\ and caf\\195\\169\"",
                "\"two\" \"strings\"",
            ],
        ),
        set(z, "NS", 3600, &["ns1.example.org.", "ns2.example.org."]),
        set(&format!("ptr.{z}"), "PTR", 300, &[&format!("host.{z}.")]),
        set(
            z,
            "CAA",
            300,
            &[
                "0 issue \"letsencrypt.org\"",
                "128 iodef \"mailto:sec@example.org\"",
            ],
        ),
    ]
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn find<'a>(sets: &'a [RRSet], name: &str, rtype: &str) -> Option<&'a RRSet> {
    sets.iter().find(|s| s.name == name && s.rtype == rtype)
}

/// Applies every type at once, then checks `list` gives back exactly the same RRsets and the
/// server answers them over DNS.
async fn round_trip(conn: &Conn, zone: &str, dig: impl Fn(&str, &str) -> Vec<String>) {
    let sets = every_type(zone);
    conn.apply(zone, &sets).await.unwrap();
    let listed = conn.list(zone).await.unwrap();
    for want in &sets {
        let got = find(&listed, &want.name, &want.rtype)
            .unwrap_or_else(|| panic!("{} {} missing from {listed:#?}", want.name, want.rtype));
        assert_eq!(got.ttl, want.ttl, "{} {}", want.name, want.rtype);
        assert_eq!(
            sorted(got.contents.clone()),
            sorted(want.contents.clone()),
            "{} {}",
            want.name,
            want.rtype
        );
        assert_eq!(
            sorted(dig(&want.name, &want.rtype)),
            sorted(want.contents.clone()),
            "dig {} {}",
            want.name,
            want.rtype
        );
    }
    assert!(listed.iter().all(|s| s.rtype != "SOA"), "SOA is left out");
    // applying the listed state again changes nothing (what the drift check relies on)
    let mine: Vec<RRSet> = listed
        .iter()
        .filter(|s| sets.iter().any(|w| w.name == s.name && w.rtype == s.rtype))
        .cloned()
        .collect();
    conn.apply(zone, &mine).await.unwrap();
    assert_eq!(conn.list(zone).await.unwrap(), listed);
}

async fn replace_and_delete(conn: &Conn, zone: &str, dig: impl Fn(&str, &str) -> Vec<String>) {
    let www = format!("www.{zone}");
    let txt = format!("note.{zone}");
    conn.apply(
        zone,
        &[
            set(&www, "A", 300, &["10.1.0.1", "10.1.0.2"]),
            set(&txt, "TXT", 60, &["\"one\""]),
        ],
    )
    .await
    .unwrap();
    assert_eq!(sorted(dig(&www, "A")), ["10.1.0.1", "10.1.0.2"]);
    // replace: the new set is all there is, with its new TTL
    conn.apply(zone, &[set(&www, "A", 120, &["10.1.0.3"])])
        .await
        .unwrap();
    let listed = conn.list(zone).await.unwrap();
    assert_eq!(
        find(&listed, &www, "A"),
        Some(&set(&www, "A", 120, &["10.1.0.3"]))
    );
    assert_eq!(dig(&www, "A"), ["10.1.0.3"]);
    assert_eq!(dig(&txt, "TXT"), ["\"one\""], "other RRsets untouched");
    // delete, in the same batch as a replace; input names in any case, with a trailing dot
    conn.apply(
        zone,
        &[
            set(&www.to_uppercase(), "a", 0, &[]),
            set(&format!("{txt}."), "TXT", 60, &["\"two\""]),
        ],
    )
    .await
    .unwrap();
    let listed = conn.list(zone).await.unwrap();
    assert_eq!(find(&listed, &www, "A"), None);
    assert!(dig(&www, "A").is_empty());
    assert_eq!(dig(&txt, "TXT"), ["\"two\""]);
    // deleting what is not there is fine
    conn.apply(zone, &[set(&www, "A", 0, &[])]).await.unwrap();
    // the zone apex keeps NS records: deleting them is refused before anything is sent
    let e = conn
        .apply(zone, &[set(zone, "NS", 0, &[])])
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid);
    // bad data is refused before anything is sent
    let e = conn
        .apply(zone, &[set(&www, "CNAME", 60, &["relative"])])
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid, "{e}");
    let e = conn
        .apply(zone, &[set("www.elsewhere.test", "A", 60, &["10.0.0.1"])])
        .await;
    assert_eq!(e.unwrap_err().kind, ErrorKind::Invalid);
}

/// 2,000 RRsets in one apply; prints the rate.
async fn batch(conn: &Conn, zone: &str, label: &str, dig: impl Fn(&str, &str) -> Vec<String>) {
    let sets: Vec<RRSet> = (0..2000)
        .map(|i| {
            set(
                &format!("h{i:04}.{zone}"),
                "A",
                300,
                &[&format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)],
            )
        })
        .collect();
    let t = Instant::now();
    conn.apply(zone, &sets).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{label}: 2000 records in one apply: {secs:.2} s, {:.0} records/s",
        2000.0 / secs
    );
    let t = Instant::now();
    let listed = conn.list(zone).await.unwrap();
    println!(
        "{label}: list of {} RRsets: {:.2} s",
        listed.len(),
        t.elapsed().as_secs_f64()
    );
    for s in &sets {
        assert_eq!(find(&listed, &s.name, "A"), Some(s));
    }
    assert_eq!(dig(&format!("h0000.{zone}"), "A"), ["10.0.0.0"]);
    assert_eq!(dig(&format!("h1999.{zone}"), "A"), ["10.0.7.207"]);
    // and all of them deleted again in one apply
    let gone: Vec<RRSet> = sets.iter().map(|s| set(&s.name, "A", 0, &[])).collect();
    conn.apply(zone, &gone).await.unwrap();
    let listed = conn.list(zone).await.unwrap();
    assert!(
        listed.iter().all(|s| !s.name.starts_with('h')),
        "{} left",
        listed.len()
    );
    assert!(dig(&format!("h1000.{zone}"), "A").is_empty());
}

// ---------------------------------------------------------------- PowerDNS

async fn pdns_with_zone(zone: &str) -> (PowerDns, Conn) {
    let p = PowerDns::start();
    let conn = p.conn();
    conn.create_zone(zone, &[]).await.unwrap();
    (p, conn)
}

#[tokio::test]
async fn powerdns_round_trip_every_type() {
    let (p, conn) = pdns_with_zone("rt.test").await;
    let text = conn.test(None).await.unwrap();
    assert!(text.contains("PowerDNS authoritative 4."), "{text}");
    round_trip(&conn, "rt.test", |n, t| p.dig(n, t)).await;
}

#[tokio::test]
async fn powerdns_replace_and_delete() {
    let (p, conn) = pdns_with_zone("rd.test").await;
    replace_and_delete(&conn, "rd.test", |n, t| p.dig(n, t)).await;
    // the server itself rejects a CNAME next to other data: Invalid, with what it said
    conn.apply("rd.test", &[set("x.rd.test", "A", 60, &["10.0.0.9"])])
        .await
        .unwrap();
    let e = conn
        .apply(
            "rd.test",
            &[set("x.rd.test", "CNAME", 60, &["www.rd.test."])],
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid, "{e}");
    assert!(e.message.contains("422"), "{e}");
}

#[tokio::test]
async fn powerdns_batch_of_2000() {
    let (p, conn) = pdns_with_zone("batch.test").await;
    batch(&conn, "batch.test", "PowerDNS", |n, t| p.dig(n, t)).await;
}

#[tokio::test]
async fn powerdns_zones_exist_conflict_and_delete() {
    let p = PowerDns::start();
    let conn = p.conn();
    assert!(!conn.zone_exists("z.test").await.unwrap());
    assert_eq!(
        conn.list("z.test").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    conn.create_zone(
        "Z.test.",
        &["ns-a.example.org".into(), "ns-b.example.org.".into()],
    )
    .await
    .unwrap();
    assert!(conn.zone_exists("z.test").await.unwrap());
    assert_eq!(
        sorted(p.dig("z.test", "NS")),
        ["ns-a.example.org.", "ns-b.example.org."]
    );
    // the SOA comes from default-soa-content, not a.misconfigured.dns.server.invalid
    let soa = p.dig("z.test", "SOA");
    assert!(
        soa[0].starts_with("ns1.z.test. hostmaster.z.test. "),
        "{soa:?}"
    );
    let e = conn.create_zone("z.test", &[]).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(!e.retryable());
    let text = conn.test(Some("z.test")).await.unwrap();
    assert!(text.ends_with("zone z.test present"), "{text}");
    conn.delete_zone("z.test").await.unwrap();
    assert!(!conn.zone_exists("z.test").await.unwrap());
    assert!(p.dig("z.test", "SOA").is_empty());
    conn.delete_zone("z.test").await.unwrap(); // already gone: fine
    let e = conn
        .apply("z.test", &[set("a.z.test", "A", 60, &["10.0.0.1"])])
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
}

#[tokio::test]
async fn powerdns_disabled_records_are_left_out() {
    let (p, conn) = pdns_with_zone("dis.test").await;
    // disable one record of an RRset and all of another, through the API directly
    let body = serde_json::json!({ "rrsets": [
        { "name": "a.dis.test.", "type": "A", "ttl": 60, "changetype": "REPLACE",
          "records": [ { "content": "10.0.0.1", "disabled": false },
                       { "content": "10.0.0.2", "disabled": true } ] },
        { "name": "b.dis.test.", "type": "A", "ttl": 60, "changetype": "REPLACE",
          "records": [ { "content": "10.0.0.3", "disabled": true } ] } ] });
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH"])
        .args([
            "-H",
            &format!("X-API-Key: {}", p.api_key),
            "-d",
            &body.to_string(),
        ])
        .arg(format!(
            "{}api/v1/servers/localhost/zones/dis.test.",
            p.api_url
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "204");
    let listed = conn.list("dis.test").await.unwrap();
    assert_eq!(
        find(&listed, "a.dis.test", "A"),
        Some(&set("a.dis.test", "A", 60, &["10.0.0.1"]))
    );
    assert_eq!(find(&listed, "b.dis.test", "A"), None);
    assert_eq!(p.dig("a.dis.test", "A"), ["10.0.0.1"]);
    assert!(p.dig("b.dis.test", "A").is_empty());
}

#[tokio::test]
async fn powerdns_wrong_api_key_is_auth() {
    let (p, _) = pdns_with_zone("key.test").await;
    let bad = p.conn_with_key("not-the-key");
    let e = bad.test(None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert!(!e.message.contains("not-the-key"));
    assert_eq!(
        bad.list("key.test").await.unwrap_err().kind,
        ErrorKind::Auth
    );
    let e = bad
        .apply("key.test", &[set("a.key.test", "A", 60, &["10.0.0.1"])])
        .await;
    assert_eq!(e.unwrap_err().kind, ErrorKind::Auth);
    assert_eq!(
        bad.create_zone("other.test", &[]).await.unwrap_err().kind,
        ErrorKind::Auth
    );
    assert!(p.dig("a.key.test", "A").is_empty());
}

#[tokio::test]
async fn powerdns_down_is_unreachable_then_recovers() {
    let (mut p, conn) = pdns_with_zone("down.test").await;
    p.stop();
    let t = Instant::now();
    let e = conn.test(None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable, "{e}");
    assert!(e.retryable());
    let e = conn
        .apply("down.test", &[set("a.down.test", "A", 60, &["10.0.0.1"])])
        .await;
    assert_eq!(e.unwrap_err().kind, ErrorKind::Unreachable);
    assert_eq!(
        conn.list("down.test").await.unwrap_err().kind,
        ErrorKind::Unreachable
    );
    assert!(t.elapsed().as_secs() < 5, "connection refused is immediate");
    p.start_again();
    conn.apply("down.test", &[set("a.down.test", "A", 60, &["10.0.0.1"])])
        .await
        .unwrap();
    assert_eq!(p.dig("a.down.test", "A"), ["10.0.0.1"]);
    assert!(
        conn.zone_exists("down.test").await.unwrap(),
        "data survived the restart"
    );
}

// ---------------------------------------------------------------- BIND

#[tokio::test]
async fn bind_round_trip_every_type() {
    let b = Bind::start(&["rt.test"]);
    let conn = b.conn();
    let text = conn.test(None).await.unwrap();
    assert!(
        text.contains("TSIG key accepted; version.bind: \"9.18"),
        "{text}"
    );
    let text = conn.test(Some("rt.test")).await.unwrap();
    assert!(
        text.contains("rt.test SOA ns1.rt.test. hostmaster.rt.test. "),
        "{text}"
    );
    conn.create_zone("rt.test", &[]).await.unwrap(); // exists: Ok
    round_trip(&conn, "rt.test", |n, t| b.dig(n, t)).await;
    // the zone file's glue is listed too
    let listed = conn.list("rt.test").await.unwrap();
    assert_eq!(
        find(&listed, "ns1.rt.test", "A"),
        Some(&set("ns1.rt.test", "A", 300, &["127.0.0.1"]))
    );
}

#[tokio::test]
async fn bind_replace_and_delete() {
    let b = Bind::start(&["rd.test"]);
    let conn = b.conn();
    replace_and_delete(&conn, "rd.test", |n, t| b.dig(n, t)).await;
    // BIND's integrity check refuses an MX to a name inside the zone without an address;
    // nothing of that message is applied
    let e = conn
        .apply(
            "rd.test",
            &[
                set("ok.rd.test", "A", 60, &["10.0.0.5"]),
                set("rd.test", "MX", 60, &["10 nomail.rd.test."]),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused, "{e}");
    assert!(
        b.dig("ok.rd.test", "A").is_empty(),
        "the update is all or nothing"
    );
    assert!(b.dig("rd.test", "MX").is_empty());
}

#[tokio::test]
async fn bind_batch_of_2000() {
    let b = Bind::start(&["batch.test"]);
    let conn = b.conn();
    batch(&conn, "batch.test", "BIND", |n, t| b.dig(n, t)).await;
    // a transfer of several messages, each with its TSIG chained to the previous one
    let sets: Vec<RRSet> = (0..1500)
        .map(|i| {
            set(
                &format!("t{i}.batch.test"),
                "TXT",
                60,
                &[&format!("\"{}\"", "x".repeat(100))],
            )
        })
        .collect();
    conn.apply("batch.test", &sets).await.unwrap();
    assert!(b.axfr_messages("batch.test") > 3);
    let listed = conn.list("batch.test").await.unwrap();
    assert_eq!(listed.iter().filter(|s| s.rtype == "TXT").count(), 1500);
}

#[tokio::test]
async fn bind_wrong_tsig_secret_is_auth() {
    let b = Bind::start(&["key.test"]);
    // a valid base64 secret of the right length, but not the server's
    let bad = b.conn_with_secret("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=");
    let e = bad.test(None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert!(e.message.contains("BADSIG"), "{e}");
    assert_eq!(
        bad.list("key.test").await.unwrap_err().kind,
        ErrorKind::Auth
    );
    let e = bad
        .apply("key.test", &[set("a.key.test", "A", 60, &["10.0.0.1"])])
        .await;
    assert_eq!(e.unwrap_err().kind, ErrorKind::Auth);
    assert_eq!(
        bad.zone_exists("key.test").await.unwrap_err().kind,
        ErrorKind::Auth
    );
    assert!(b.dig("a.key.test", "A").is_empty());
    // an unknown key name too
    let Conn::Bind {
        addr,
        tsig_algorithm,
        tsig_secret,
        ..
    } = b.conn()
    else {
        unreachable!()
    };
    let unknown = Conn::Bind {
        addr,
        tsig_key_name: "who".into(),
        tsig_algorithm,
        tsig_secret,
    };
    let e = unknown.test(None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    // a secret that is not base64 is refused locally
    assert_eq!(
        b.conn_with_secret("%%%").test(None).await.unwrap_err().kind,
        ErrorKind::Auth
    );
}

#[tokio::test]
async fn bind_zone_missing_is_not_found() {
    let b = Bind::start(&["here.test"]);
    let conn = b.conn();
    assert!(conn.zone_exists("here.test").await.unwrap());
    assert!(!conn.zone_exists("missing.test").await.unwrap());
    // a name inside a served zone is no zone
    assert!(!conn.zone_exists("www.here.test").await.unwrap());
    for e in [
        conn.create_zone("missing.test", &[]).await.unwrap_err(),
        conn.list("missing.test").await.unwrap_err(),
        conn.apply(
            "missing.test",
            &[set("a.missing.test", "A", 60, &["10.0.0.1"])],
        )
        .await
        .unwrap_err(),
        conn.test(Some("missing.test")).await.unwrap_err(),
    ] {
        assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    }
    conn.delete_zone("here.test").await.unwrap(); // BIND: nothing to do
    assert!(conn.zone_exists("here.test").await.unwrap());
}

#[tokio::test]
async fn bind_down_is_unreachable_then_recovers() {
    let mut b = Bind::start(&["down.test"]);
    let conn = b.conn();
    conn.apply("down.test", &[set("a.down.test", "A", 60, &["10.0.0.1"])])
        .await
        .unwrap();
    b.stop();
    let t = Instant::now();
    let e = conn.test(None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable, "{e}");
    assert!(e.retryable());
    let e = conn
        .apply("down.test", &[set("b.down.test", "A", 60, &["10.0.0.2"])])
        .await;
    assert_eq!(e.unwrap_err().kind, ErrorKind::Unreachable);
    assert_eq!(
        conn.list("down.test").await.unwrap_err().kind,
        ErrorKind::Unreachable
    );
    assert!(t.elapsed().as_secs() < 5, "connection refused is immediate");
    b.start_again();
    conn.apply("down.test", &[set("b.down.test", "A", 60, &["10.0.0.2"])])
        .await
        .unwrap();
    let listed = conn.list("down.test").await.unwrap();
    assert!(
        find(&listed, "a.down.test", "A").is_some(),
        "the journal survived the restart"
    );
    assert_eq!(b.dig("b.down.test", "A"), ["10.0.0.2"]);
}

#[tokio::test]
async fn silent_server_times_out_as_unreachable() {
    // a listening socket that never answers: the 5 s request timeout applies
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let conn = Conn::Bind {
        addr,
        tsig_key_name: "k".into(),
        tsig_algorithm: "hmac-sha256".into(),
        tsig_secret: "c2VjcmV0".into(),
    };
    let t = Instant::now();
    let e = conn.test(None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable, "{e}");
    let took = t.elapsed().as_secs_f64();
    assert!((4.5..8.0).contains(&took), "took {took}");
    let pd = Conn::PowerDns {
        endpoint: format!("http://{addr}/"),
        api_key: "k".into(),
        server_id: "localhost".into(),
    };
    let t = Instant::now();
    assert_eq!(
        pd.test(None).await.unwrap_err().kind,
        ErrorKind::Unreachable
    );
    let took = t.elapsed().as_secs_f64();
    assert!((4.5..8.0).contains(&took), "took {took}");
    drop(l);
}
