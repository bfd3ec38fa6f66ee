//! DNS module against real PowerDNS and BIND servers: services (secrets write-only, test
//! connection), zones (create, adopt, import), every record operation checked by asking the
//! server itself, the outbox while the server is down, drift and its resolutions, the
//! requests interface, permissions, the operations log. Both databases.
mod common;
use app::dns::driver::RRSet;
use axum::http::Method;
use common::dns_api::*;
use common::dns_servers::{Bind, PowerDns};
use common::*;
use serde_json::{json, Value};

/// `dig +short` against the server on `port` (usable while the server's handle is borrowed).
fn dig_port(port: u16, name: &str, rtype: &str) -> Vec<String> {
    let out = std::process::Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+short",
            "+time=2",
            "+tries=2",
            "+norecurse",
            name,
            rtype,
        ])
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Every record type, then edit, delete, disable and enable; each step asked of the server.
async fn record_lifecycle(
    t: &TestApp,
    sid: i64,
    did: i64,
    z: &str,
    dig: &dyn Fn(&str, &str) -> Vec<String>,
) {
    let long = "x".repeat(300);
    let created = add(
        t,
        sid,
        did,
        json!([
            {"name": "www", "type": "A", "value": "10.0.0.1"},
            {"name": format!("www.{z}"), "type": "A", "value": "10.0.0.2"},
            {"name": "v6", "type": "AAAA", "value": "2001:DB8::1", "ttl": 300},
            {"name": "alias", "type": "CNAME", "value": format!("www.{z}")},
            {"record": "@", "type": "MX", "value": format!("10 mail.{z}")},
            {"name": "mail2", "type": "MX", "value": "mx2.example.net.", "priority": 20},
            {"name": "txt", "type": "TXT", "value": "v=spf1 \"quoted\" -all"},
            {"name": "long", "type": "TXT", "value": long},
            {"name": "_sip._tcp", "type": "SRV", "value": format!("10 5 5060 sip.{z}")},
            {"name": "@", "type": "CAA", "value": "0 issue letsencrypt.org"},
            {"name": "sub", "type": "NS", "value": format!("ns.sub.{z}")},
            {"name": "ptr", "type": "PTR", "value": format!("host.{z}")},
            {"name": "mail", "type": "A", "value": "10.0.1.1"},
            {"name": "sip", "type": "AAAA", "value": "2001:db8::5"},
            {"name": "ns.sub", "type": "A", "value": "10.0.1.2"}
        ]),
    )
    .await;
    assert_eq!(created.as_array().unwrap().len(), 15);
    assert!(
        created
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] == "pending"),
        "{created}"
    );
    assert_eq!(created[4]["priority"], 10);
    assert_eq!(created[4]["value"], format!("mail.{z}"));
    assert_eq!(created[0]["ttl"], 600);
    run_jobs_now(t).await;
    let all = records(t, sid, did, "").await;
    assert!(all.iter().all(|r| r["state"] == "synced"), "{all:?}");
    assert_eq!(
        sorted(dig(&format!("www.{z}"), "A")),
        ["10.0.0.1", "10.0.0.2"]
    );
    assert_eq!(dig(&format!("v6.{z}"), "AAAA"), ["2001:db8::1"]);
    assert_eq!(dig(&format!("alias.{z}"), "CNAME"), [format!("www.{z}.")]);
    assert_eq!(dig(z, "MX"), [format!("10 mail.{z}.")]);
    assert_eq!(dig(&format!("mail2.{z}"), "MX"), ["20 mx2.example.net."]);
    assert_eq!(
        dig(&format!("txt.{z}"), "TXT"),
        [r#""v=spf1 \"quoted\" -all""#]
    );
    assert_eq!(
        dig(&format!("long.{z}"), "TXT"),
        [format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45))]
    );
    assert_eq!(
        dig(&format!("_sip._tcp.{z}"), "SRV"),
        [format!("10 5 5060 sip.{z}.")]
    );
    assert_eq!(dig(z, "CAA"), ["0 issue \"letsencrypt.org\""]);
    assert_eq!(dig(&format!("ptr.{z}"), "PTR"), [format!("host.{z}.")]);
    // Delegation: the server answers the NS in the authority section; ask it directly over the API/AXFR instead.
    let listed = t
        .get(
            &format!("/api/dns-services/{sid}/domains/{did}/drift/"),
            t.admin(),
        )
        .await
        .ok();
    assert_eq!(listed, json!([]), "nothing differs after the push");

    // Edit: the value, and a TTL that applies to the whole set.
    let a0 = created[0]["id"].as_i64().unwrap();
    let e = t
        .call(
            Method::PATCH,
            &format!("{}{a0}/", rec_path(sid, did)),
            t.admin(),
            Some(json!({"value": "10.0.0.9", "ttl": 120})),
        )
        .await
        .ok();
    assert_eq!(
        (e["value"].as_str(), e["ttl"].as_i64(), e["state"].as_str()),
        (Some("10.0.0.9"), Some(120), Some("pending"))
    );
    let www = records(t, sid, did, "name=www&type=A").await;
    assert!(www.iter().all(|r| r["ttl"] == 120), "{www:?}");
    // The seed's PATCH …/records/ with the id in the body.
    let mx2 = created[5]["id"].as_i64().unwrap();
    t.call(
        Method::PATCH,
        &rec_path(sid, did),
        t.admin(),
        Some(json!({"id": mx2, "value": "30 mx3.example.net"})),
    )
    .await
    .ok();
    run_jobs_now(t).await;
    assert_eq!(
        sorted(dig(&format!("www.{z}"), "A")),
        ["10.0.0.2", "10.0.0.9"]
    );
    assert_eq!(dig(&format!("mail2.{z}"), "MX"), ["30 mx3.example.net."]);

    // Disable removes from the server and keeps the record; enable brings it back.
    let a1 = created[1]["id"].as_i64().unwrap();
    t.post(
        &format!("{}actions/disable/", rec_path(sid, did)),
        t.admin(),
        json!([{"id": a0}, {"id": a1}]),
    )
    .await
    .ok();
    let www = records(t, sid, did, "name=www&type=A&disabled=true").await;
    assert_eq!(www.len(), 2);
    run_jobs_now(t).await;
    assert_eq!(dig(&format!("www.{z}"), "A"), Vec::<String>::new());
    t.post(
        &format!("{}actions/enable/", rec_path(sid, did)),
        t.admin(),
        json!([{"id": a1}]),
    )
    .await
    .ok();
    run_jobs_now(t).await;
    assert_eq!(dig(&format!("www.{z}"), "A"), ["10.0.0.2"]);
    assert_eq!(records(t, sid, did, "state=pending").await.len(), 0);

    // Delete.
    let txt = created[6]["id"].as_i64().unwrap();
    t.call(
        Method::DELETE,
        &format!("{}{txt}/", rec_path(sid, did)),
        t.admin(),
        None,
    )
    .await
    .ok();
    run_jobs_now(t).await;
    assert_eq!(dig(&format!("txt.{z}"), "TXT"), Vec::<String>::new());
    t.get(&format!("{}{txt}/", rec_path(sid, did)), t.admin())
        .await
        .err(404, 40400);

    // Rules that need the other records, and the fields they name; nothing is written.
    let before = records(t, sid, did, "").await.len();
    for (body, field) in [
        (
            json!({"name": "www", "type": "CNAME", "value": format!("x.{z}")}),
            "name",
        ),
        (
            json!({"name": "alias", "type": "TXT", "value": "x"}),
            "name",
        ),
        (
            json!({"name": "www", "type": "A", "value": "10.0.0.2"}),
            "value",
        ),
        (
            json!({"name": "www", "type": "A", "value": "10.0.0.3", "ttl": 999}),
            "ttl",
        ),
        (
            json!({"name": "www", "type": "A", "value": "10.0.0.256"}),
            "value",
        ),
        (
            json!({"name": "www.elsewhere.test.", "type": "A", "value": "10.0.0.3"}),
            "name",
        ),
        (
            json!({"name": "m", "type": "MX", "value": format!("mx.{z}")}),
            "priority",
        ),
        (
            json!({"name": "m", "type": "MX", "value": format!("10 nohost.{z}")}),
            "value",
        ),
        (
            json!([{"name": "s", "type": "SRV", "value": format!("1 1 80 www2.{z}")}, {"name": "www2", "type": "A", "value": "10.0.0.7", "disabled": true}]),
            "[0].value",
        ),
        (
            json!({"name": "t", "type": "TXT", "value": "a".repeat(4001)}),
            "value",
        ),
        (json!({"name": "x", "type": "SPF", "value": "a"}), "type"),
        (
            json!({"name": "x", "type": "A", "value": "10.0.0.1", "ttl": 0}),
            "ttl",
        ),
        (
            json!({"name": "@", "type": "CNAME", "value": format!("x.{z}")}),
            "name",
        ),
        (
            json!([{"name": "ok", "type": "A", "value": "10.1.1.1"}, {"name": "bad", "type": "A", "value": "nope"}]),
            "[1].value",
        ),
        (
            json!([{"name": "dup", "type": "A", "value": "10.1.1.1"}, {"name": "dup", "type": "A", "value": "10.1.1.1"}]),
            "[1].value",
        ),
    ] {
        let e = t
            .post(&rec_path(sid, did), t.admin(), body.clone())
            .await
            .err(400, 40000);
        assert_eq!(e["field"], field, "{body} → {e}");
    }
    assert_eq!(
        records(t, sid, did, "").await.len(),
        before,
        "all or nothing"
    );
    // A record without ttl joins its set's TTL.
    let j = add(
        t,
        sid,
        did,
        json!({"name": "www", "type": "A", "value": "10.0.0.4"}),
    )
    .await;
    assert_eq!(j["ttl"], 120);
    run_jobs_now(t).await;
    assert_eq!(
        sorted(dig(&format!("www.{z}"), "A")),
        ["10.0.0.2", "10.0.0.4"]
    );
    assert_eq!(
        t.get(
            &format!("/api/dns-services/{sid}/domains/{did}/drift/"),
            t.admin()
        )
        .await
        .ok(),
        json!([])
    );
}

both! {
    async fn powerdns_services_zones_and_records(t: TestApp) {
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-a").await;
        // Secrets are write-only.
        let s = t.get(&format!("/api/dns-services/{sid}/"), t.admin()).await.ok();
        assert_eq!((s["type"].as_str(), s["api_key_set"].as_bool(), s["server_id"].as_str()), (Some("powerdns"), Some(true), Some("localhost")));
        let ok = t.post(&format!("/api/dns-services/{sid}/actions/test/"), t.admin(), json!({})).await.ok();
        assert_eq!(ok["ok"], true, "{ok}");
        assert!(ok["message"].as_str().unwrap().contains("PowerDNS"), "the server's version: {ok}");
        let z = "pdns.example.test";
        let did = zone(&t, sid, z).await;
        // The new zone's NS set comes from the server and is managed from now on.
        let ns = records(&t, sid, did, "type=NS").await;
        assert_eq!(ns.len(), 1, "{ns:?}");
        assert_eq!((ns[0]["name"].as_str(), ns[0]["state"].as_str()), (Some(z), Some("synced")));
        t.post(&format!("/api/dns-services/{sid}/domains/"), t.admin(), json!({"name": z})).await.err(409, 40900);
        t.post(&format!("/api/dns-services/{sid}/domains/"), t.admin(), json!({"name": "bad name"})).await.err(400, 40000);
        let listed = t.get(&format!("/api/dns-services/{sid}/domains/?name=pdns"), t.admin()).await.ok();
        assert_eq!(listed["count"], 1);
        assert_eq!(listed["results"][0]["available_actions"], json!({"view_domain": true, "edit_domain": true}));
        record_lifecycle(&t, sid, did, z, &|n, ty| p.dig(n, ty)).await;
        // The last apex NS cannot go; the zone cannot be renamed.
        let ns_id = ns[0]["id"].as_i64().unwrap();
        let e = t.call(Method::DELETE, &format!("{}{ns_id}/", rec_path(sid, did)), t.admin(), None).await.err(400, 40000);
        assert_eq!(e["field"], "id");
        t.call(Method::PATCH, &format!("/api/dns-services/{sid}/domains/{did}/"), t.admin(), Some(json!({"name": "other.test"}))).await.err(400, 40000);
        // A service with zones is not deleted; a wrong key answers ok false with the server's word.
        t.call(Method::DELETE, &format!("/api/dns-services/{sid}/"), t.admin(), None).await.err(409, 40900);
        let e = t.call(Method::PATCH, &format!("/api/dns-services/{sid}/"), t.admin(), Some(json!({"api_key": "wrong-key-value"}))).await.ok();
        assert_eq!(e["api_key_set"], true);
        let bad = t.post(&format!("/api/dns-services/{sid}/actions/test/"), t.admin(), json!({})).await.ok();
        assert_eq!(bad["ok"], false, "{bad}");
        assert!(!bad.to_string().contains("wrong-key-value"));
        t.call(Method::PATCH, &format!("/api/dns-services/{sid}/"), t.admin(), Some(json!({"api_key": p.api_key}))).await.ok();
        // Deleting the zone removes it from PowerDNS (the seed's path without the id, as ?id=).
        t.call(Method::DELETE, &format!("/api/dns-services/{sid}/domains/?id={did}"), t.admin(), None).await.ok();
        assert!(!p.conn().zone_exists(z).await.unwrap());
        assert_eq!(t.get(&format!("/api/dns-services/{sid}/domains/"), t.admin()).await.ok()["count"], 0);
        t.call(Method::DELETE, &format!("/api/dns-services/{sid}/"), t.admin(), None).await.ok();
        // No answer, audit record or log line ever carried the key.
        let ops = t.get("/api/audit/dns-operations/?page_size=100", t.admin()).await.ok();
        let all = format!("{ops} {}", serde_json::to_string(&t.audit("dns").await).unwrap());
        assert!(!all.contains(&p.api_key) && !all.contains("wrong-key-value"));
        assert!(ops["count"].as_u64().unwrap() > 10);
        let servers = t.get("/api/audit/dns-operations/?op_target=server&op_type=add", t.admin()).await.ok();
        assert_eq!(servers["count"], 1);
        assert_eq!(servers["results"][0]["operator"], "admin");
        let del = t.get("/api/audit/dns-operations/?op_target=record&op_type=delete&op_detail=txt.pdns", t.admin()).await.ok();
        assert_eq!(del["count"], 1, "{del}");
        for k in ["id", "op_target", "op_type", "op_detail", "op_time", "operator"] {
            assert!(del["results"][0].get(k).is_some(), "{k}");
        }
        let future = t.get("/api/audit/dns-operations/?op_time__gt=2999-01-01", t.admin()).await.ok();
        assert_eq!(future["count"], 0);
    }
}

both! {
    async fn bind_zones_import_and_records(t: TestApp) {
        let z = "bind.example.test";
        let b = Bind::start(&[z]);
        let sid = bind_service(&t, &b, "bind-a").await;
        let s = t.get("/api/dns-services/", t.admin()).await.ok();
        assert_eq!(s["results"][0]["tsig_secret_set"], true);
        assert!(!s.to_string().contains(&b.secret));
        let ok = t.post(&format!("/api/dns-services/{sid}/actions/test/"), t.admin(), json!({})).await.ok();
        assert_eq!(ok["ok"], true, "{ok}");
        // A zone BIND does not serve is refused with what the server said.
        let e = t.post(&format!("/api/dns-services/{sid}/domains/"), t.admin(), json!({"name": "missing.test"})).await.err(400, 40000);
        assert_eq!(e["field"], "name");
        // Its existing records are imported as synced rows (AXFR).
        let did = zone(&t, sid, z).await;
        let imported = records(&t, sid, did, "").await;
        let mut got: Vec<(String, String, String)> = imported.iter().map(|r| (r["name"].as_str().unwrap().into(), r["type"].as_str().unwrap().into(), r["value"].as_str().unwrap().into())).collect();
        got.sort();
        assert_eq!(got, [(z.to_string(), "NS".to_string(), format!("ns1.{z}")), (format!("ns1.{z}"), "A".into(), "127.0.0.1".into())]);
        assert!(imported.iter().all(|r| r["state"] == "synced" && r["ttl"] == 300));
        record_lifecycle(&t, sid, did, z, &|n, ty| b.dig(n, ty)).await;
        // A wrong TSIG secret: test says so, pushes fail and say why.
        t.call(Method::PATCH, &format!("/api/dns-services/{sid}/"), t.admin(), Some(json!({"tsig_secret": "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldA=="}))).await.ok();
        let bad = t.post(&format!("/api/dns-services/{sid}/actions/test/"), t.admin(), json!({})).await.ok();
        assert_eq!(bad["ok"], false, "{bad}");
        add(&t, sid, did, json!({"name": "late", "type": "A", "value": "10.9.9.9"})).await;
        run_jobs_now(&t).await;
        let d = t.get(&format!("/api/dns-services/{sid}/domains/{did}/"), t.admin()).await.ok();
        assert!(d["push_error"].is_string(), "{d}");
        assert_eq!(d["pending"], 1);
        t.call(Method::PATCH, &format!("/api/dns-services/{sid}/"), t.admin(), Some(json!({"tsig_secret": b.secret}))).await.ok();
        run_jobs_now(&t).await;
        assert_eq!(b.dig(&format!("late.{z}"), "A"), ["10.9.9.9"]);
        // Deleting a BIND zone leaves it on the server.
        t.call(Method::DELETE, &format!("/api/dns-services/{sid}/domains/"), t.admin(), Some(json!({"id": did}))).await.ok();
        assert!(b.conn().zone_exists(z).await.unwrap());
        // Input checks of services.
        for (body, field) in [
            (json!({"name": "x", "type": "bind", "api_endpoint": "http://127.0.0.1:8053/", "tsig_key_name": "k", "tsig_secret": b.secret}), "api_endpoint"),
            (json!({"name": "x", "type": "bind", "api_endpoint": "127.0.0.1:53", "tsig_key_name": "k", "tsig_secret": "not base64!"}), "tsig_secret"),
            (json!({"name": "x", "type": "bind", "api_endpoint": "127.0.0.1:53", "tsig_key_name": "k", "tsig_algorithm": "md5", "tsig_secret": b.secret}), "tsig_algorithm"),
            (json!({"name": "x", "type": "powerdns", "api_endpoint": "http://127.0.0.1:1/"}), "api_key"),
            (json!({"name": "x", "type": "knot", "api_endpoint": "127.0.0.1"}), "type"),
            (json!({"name": "bind-a", "type": "bind", "api_endpoint": "127.0.0.1:53", "tsig_key_name": "k", "tsig_secret": b.secret}), "name"),
        ] {
            let r = t.post("/api/dns-services/", t.admin(), body.clone()).await;
            assert!(r.status == 400 || r.status == 409, "{body} → {}", r.json);
            assert_eq!(r.json["field"], field, "{body} → {}", r.json);
        }
    }
}

/// Changes made while the server is down stay pending with the error shown, then reach it in
/// order, once: the server ends with the final state only.
async fn down_then_up(
    t: &TestApp,
    sid: i64,
    did: i64,
    z: &str,
    stop: &mut dyn FnMut(bool),
    dig: &dyn Fn(&str, &str) -> Vec<String>,
) {
    let a = add(
        t,
        sid,
        did,
        json!({"name": "flip", "type": "A", "value": "10.2.0.1"}),
    )
    .await;
    run_jobs_now(t).await;
    assert_eq!(dig(&format!("flip.{z}"), "A"), ["10.2.0.1"]);
    stop(false);
    let id = a["id"].as_i64().unwrap();
    t.call(
        Method::PATCH,
        &format!("{}{id}/", rec_path(sid, did)),
        t.admin(),
        Some(json!({"value": "10.2.0.2"})),
    )
    .await
    .ok();
    let gone = add(
        t,
        sid,
        did,
        json!({"name": "gone", "type": "TXT", "value": "soon deleted"}),
    )
    .await;
    add(
        t,
        sid,
        did,
        json!({"name": "kept", "type": "A", "value": "10.2.0.3"}),
    )
    .await;
    t.call(
        Method::DELETE,
        &format!("{}{}/", rec_path(sid, did), gone["id"]),
        t.admin(),
        None,
    )
    .await
    .ok();
    t.call(
        Method::PATCH,
        &format!("{}{id}/", rec_path(sid, did)),
        t.admin(),
        Some(json!({"value": "10.2.0.4"})),
    )
    .await
    .ok();
    run_jobs_now(t).await;
    let pending = records(t, sid, did, "state=pending").await;
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert!(
        pending
            .iter()
            .all(|r| r["push_error"].as_str().is_some_and(|e| !e.is_empty())),
        "{pending:?}"
    );
    let d = t
        .get(
            &format!("/api/dns-services/{sid}/domains/{did}/"),
            t.admin(),
        )
        .await
        .ok();
    assert!(d["push_error"].is_string() && d["pending"] == 2, "{d}");
    stop(true);
    run_jobs_now(t).await;
    assert_eq!(dig(&format!("flip.{z}"), "A"), ["10.2.0.4"]);
    assert_eq!(dig(&format!("kept.{z}"), "A"), ["10.2.0.3"]);
    assert_eq!(dig(&format!("gone.{z}"), "TXT"), Vec::<String>::new());
    assert_eq!(records(t, sid, did, "state=pending").await.len(), 0);
    let d = t
        .get(
            &format!("/api/dns-services/{sid}/domains/{did}/"),
            t.admin(),
        )
        .await
        .ok();
    assert!(d["push_error"].is_null() && d["pending"] == 0, "{d}");
    assert_eq!(
        t.get(
            &format!("/api/dns-services/{sid}/domains/{did}/drift/"),
            t.admin()
        )
        .await
        .ok(),
        json!([])
    );
    // Nothing left to push; the push jobs are done, none failed.
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    assert_eq!(
        app::entities::dns_outbox::Entity::find()
            .count(&t.ctx.db)
            .await
            .unwrap(),
        0
    );
    let failed = app::entities::job::Entity::find()
        .filter(app::entities::job::Column::Kind.eq("dns_push"))
        .filter(app::entities::job::Column::Status.ne("done"))
        .count(&t.ctx.db)
        .await
        .unwrap();
    assert_eq!(failed, 0);
}

both! {
    async fn server_down_changes_wait_and_arrive_once(t: TestApp) {
        let mut p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-down").await;
        let z = "down.example.test";
        let did = zone(&t, sid, z).await;
        let port = p.dns_port;
        down_then_up(&t, sid, did, z, &mut |up| if up { p.start_again() } else { p.stop() }, &|n, ty| dig_port(port, n, ty)).await;

        let zb = "down.bind.test";
        let mut b = Bind::start(&[zb]);
        let sidb = bind_service(&t, &b, "bind-down").await;
        let didb = zone(&t, sidb, zb).await;
        let port = b.addr.port();
        down_then_up(&t, sidb, didb, zb, &mut |up| if up { b.start_again() } else { b.stop() }, &|n, ty| dig_port(port, n, ty)).await;
    }
}

both! {
    async fn drift_shows_changes_behind_our_back_and_resolves_them(t: TestApp) {
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-drift").await;
        let z = "drift.example.test";
        let did = zone(&t, sid, z).await;
        add(&t, sid, did, json!([{"name": "ours", "type": "A", "value": "10.3.0.1"}, {"name": "both", "type": "A", "value": "10.3.0.2"}])).await;
        run_jobs_now(&t).await;
        let drift = format!("/api/dns-services/{sid}/domains/{did}/drift/");
        assert_eq!(t.get(&drift, t.admin()).await.ok(), json!([]));
        // Behind Opsdeck's back: a new record, and a changed one.
        p.conn().apply(z, &[
            RRSet { name: format!("theirs.{z}"), rtype: "TXT".into(), ttl: 60, contents: vec!["\"hand made\"".into()] },
            RRSet { name: format!("both.{z}"), rtype: "A".into(), ttl: 600, contents: vec!["10.3.0.2".into(), "10.3.0.99".into()] },
        ]).await.unwrap();
        let d = t.get(&drift, t.admin()).await.ok();
        assert_eq!(d.as_array().unwrap().len(), 2, "{d}");
        assert_eq!(d[0], json!({"name": format!("both.{z}"), "type": "A", "ours": ["10.3.0.2"], "theirs": ["10.3.0.2", "10.3.0.99"], "ours_ttl": 600, "theirs_ttl": 600, "pending": false}));
        assert_eq!(d[1]["theirs"], json!(["\"hand made\""]));
        assert_eq!(d[1]["ours"], json!([]));
        let resolve = format!("/api/dns-services/{sid}/domains/{did}/drift/actions/resolve/");
        // Adopt theirs: the record becomes Opsdeck's, synced.
        t.post(&resolve, t.admin(), json!({"name": format!("theirs.{z}"), "type": "TXT", "action": "adopt"})).await.ok();
        let theirs = records(&t, sid, did, "name=theirs").await;
        assert_eq!(theirs.len(), 1);
        assert_eq!((theirs[0]["value"].as_str(), theirs[0]["ttl"].as_i64(), theirs[0]["state"].as_str()), (Some("\"hand made\""), Some(60), Some("synced")));
        // Push ours: the server loses the extra record.
        t.post(&resolve, t.admin(), json!({"name": "both", "type": "A", "action": "push"})).await.ok();
        assert_eq!(t.get(&drift, t.admin()).await.ok()[0]["pending"], true);
        run_jobs_now(&t).await;
        assert_eq!(p.dig(&format!("both.{z}"), "A"), ["10.3.0.2"]);
        assert_eq!(t.get(&drift, t.admin()).await.ok(), json!([]));
        // A record deleted behind our back, adopted: Opsdeck drops it too.
        p.conn().apply(z, &[RRSet { name: format!("ours.{z}"), rtype: "A".into(), ttl: 600, contents: vec![] }]).await.unwrap();
        let d = t.get(&drift, t.admin()).await.ok();
        assert_eq!(d[0]["theirs"], json!([]));
        t.post(&resolve, t.admin(), json!({"name": "ours", "type": "A", "action": "adopt"})).await.ok();
        assert_eq!(records(&t, sid, did, "name=ours").await.len(), 0);
        assert_eq!(t.get(&drift, t.admin()).await.ok(), json!([]));
        t.post(&resolve, t.admin(), json!({"name": "x", "type": "A", "action": "merge"})).await.err(400, 40000);
        let ops = t.get("/api/audit/dns-operations/?op_detail=drift%3A", t.admin()).await.ok();
        assert_eq!(ops["count"], 3, "{ops}");
    }
}

both! {
    async fn adopting_an_existing_powerdns_zone_imports_it(t: TestApp) {
        let p = PowerDns::start();
        let z = "adopt.example.test";
        p.conn().create_zone(z, &[]).await.unwrap();
        p.conn().apply(z, &[
            RRSet { name: format!("old.{z}"), rtype: "A".into(), ttl: 900, contents: vec!["10.4.0.1".into(), "10.4.0.2".into()] },
            RRSet { name: z.into(), rtype: "MX".into(), ttl: 900, contents: vec![format!("5 mx.{z}.")] },
        ]).await.unwrap();
        let sid = pdns_service(&t, &p, "pdns-adopt").await;
        let e = t.post(&format!("/api/dns-services/{sid}/domains/"), t.admin(), json!({"name": z})).await.err(409, 40900);
        assert!(e["message"].as_str().unwrap().contains("adopt"), "{e}");
        let d = t.post(&format!("/api/dns-services/{sid}/domains/"), t.admin(), json!({"name": z, "adopt": true})).await;
        assert_eq!(d.status, 201, "{}", d.json);
        let did = d.json["id"].as_i64().unwrap();
        let rs = records(&t, sid, did, "").await;
        assert_eq!(rs.len(), 4, "{rs:?}");
        let mx = records(&t, sid, did, "type=MX").await;
        assert_eq!((mx[0]["priority"].as_i64(), mx[0]["value"].as_str()), (Some(5), Some(format!("mx.{z}").as_str())));
        assert_eq!(t.get(&format!("/api/dns-services/{sid}/domains/{did}/drift/"), t.admin()).await.ok(), json!([]));
        // Server-side paging, sorted by name.
        let page = t.get(&format!("{}?page_size=2&page=2", rec_path(sid, did)), t.admin()).await.ok();
        assert_eq!(page["count"], 4);
        assert_eq!(page["results"][0]["name"], format!("old.{z}"));
        assert!(page["prev"].as_str().unwrap().contains("page=1"));
        assert_eq!(records(&t, sid, did, "value=10.4.0").await.len(), 2);
        // Filtered pages: the count is of the matches, whatever page is asked for.
        let f = t.get(&format!("{}?value=10.4.0&page_size=1&page=2", rec_path(sid, did)), t.admin()).await.ok();
        assert_eq!((f["count"].as_i64(), f["results"].as_array().map(Vec::len)), (Some(2), Some(1)), "{f}");
        assert_eq!(f["results"][0]["value"], "10.4.0.2");
        let past = t.get(&format!("{}?value=10.4.0&page_size=1&page=3", rec_path(sid, did)), t.admin()).await.ok();
        assert_eq!((past["count"].as_i64(), past["results"].as_array().map(Vec::len)), (Some(2), Some(0)), "{past}");
        let none = t.get(&format!("{}?name=nothing-like-this", rec_path(sid, did)), t.admin()).await.ok();
        assert_eq!((none["count"].as_i64(), none["results"].as_array().map(Vec::len)), (Some(0), Some(0)));
        let named = t.get(&format!("{}?name=old&page_size=10", rec_path(sid, did)), t.admin()).await.ok();
        assert_eq!(named["count"], 2, "{named}");
    }
}

both! {
    async fn permissions_per_zone(t: TestApp) {
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-perm").await;
        let did = zone(&t, sid, "perm.example.test").await;
        let other = zone(&t, sid, "other.example.test").await;
        let rid = add(&t, sid, did, json!({"name": "www", "type": "A", "value": "10.5.0.1"})).await["id"].as_i64().unwrap();
        let (uid, token) = t.user("zoe").await;
        let u = Auth::Token(&token);
        let d = format!("/api/dns-services/{sid}/domains/{did}");
        let r = format!("{d}/records/");
        let writes: Vec<(Method, String, Value)> = vec![
            (Method::POST, r.clone(), json!({"name": "x", "type": "A", "value": "10.5.0.9"})),
            (Method::PATCH, format!("{r}{rid}/"), json!({"value": "10.5.0.2"})),
            (Method::PATCH, r.clone(), json!({"id": rid, "value": "10.5.0.2"})),
            (Method::DELETE, format!("{r}{rid}/"), json!(null)),
            (Method::POST, format!("{r}actions/disable/"), json!([{"id": rid}])),
            (Method::POST, format!("{r}actions/enable/"), json!([{"id": rid}])),
            (Method::POST, format!("{d}/drift/actions/resolve/"), json!({"name": "www", "type": "A", "action": "push"})),
        ];
        let reads: Vec<String> = vec![r.clone(), format!("{r}{rid}/"), format!("{d}/"), format!("{d}/drift/")];
        let manage: Vec<(Method, String, Value)> = vec![
            (Method::POST, "/api/dns-services/".into(), json!({"name": "n", "type": "powerdns", "api_endpoint": p.api_url, "api_key": "k"})),
            (Method::PATCH, format!("/api/dns-services/{sid}/"), json!({"description": "x"})),
            (Method::DELETE, format!("/api/dns-services/{sid}/"), json!(null)),
            (Method::POST, format!("/api/dns-services/{sid}/actions/test/"), json!({})),
            (Method::POST, format!("/api/dns-services/{sid}/domains/"), json!({"name": "new.example.test"})),
            (Method::PATCH, format!("{d}/"), json!({"name": "perm.example.test"})),
            (Method::DELETE, format!("{d}/"), json!(null)),
            (Method::DELETE, format!("/api/dns-services/{sid}/domains/?id={did}"), json!(null)),
        ];
        async fn call(t: &TestApp, m: &Method, path: &str, body: &Value, auth: Auth<'_>) -> Resp {
            t.call(m.clone(), path, auth, (!body.is_null()).then(|| body.clone())).await
        }
        // Without the module: refused everywhere, lists included.
        for path in reads.iter().chain([format!("/api/dns-services/"), format!("/api/dns-services/{sid}/"), format!("/api/dns-services/{sid}/domains/")].iter()) {
            t.get(path, u).await.err(403, 40300);
        }
        for (m, path, body) in writes.iter().chain(manage.iter()) {
            call(&t, m, path, body, u).await.err(403, 40300);
        }
        // The module, no zone: services listed, no zones, zones refused.
        t.grant("user", uid, "dns", &["enable_dns_mgmt"]).await;
        assert_eq!(t.get("/api/dns-services/", u).await.ok()["count"], 1);
        assert_eq!(t.get(&format!("/api/dns-services/{sid}/domains/"), u).await.ok()["count"], 0);
        for path in &reads {
            t.get(path, u).await.err(403, 40300);
        }
        // view_domain on one zone: reads it, cannot write; the other zone stays hidden.
        t.post(&format!("/api/users/{uid}/dns_domain/perms/"), t.admin(), json!({"authorizations": [{"id": did, "permission": {"view_domain": true}}]})).await.ok();
        assert!(app::perms::service::holds_resource(&t.ctx, uid, app::perms::types::ResourceType::DnsDomain, did, "view_domain").await);
        let listed = t.get(&format!("/api/dns-services/{sid}/domains/"), u).await.ok();
        assert_eq!(listed["count"], 1);
        assert_eq!(listed["results"][0]["id"], did);
        assert_eq!(listed["results"][0]["available_actions"], json!({"view_domain": true, "edit_domain": false}));
        for path in &reads {
            t.get(path, u).await.ok();
        }
        t.get(&format!("/api/dns-services/{sid}/domains/{other}/records/"), u).await.err(403, 40300);
        for (m, path, body) in writes.iter().chain(manage.iter()) {
            call(&t, m, path, body, u).await.err(403, 40300);
        }
        let mine = t.get(&format!("/api/users/{uid}/dns_domain/perms/"), t.admin()).await.ok();
        assert_eq!(mine["results"][0]["name"], "perm.example.test");
        // edit_domain: writes work; managing still refused.
        t.post(&format!("/api/users/{uid}/dns_domain/perms/"), t.admin(), json!({"authorizations": [{"id": did, "permission": {"edit_domain": true}}]})).await.ok();
        for (m, path, body) in &writes {
            let r = call(&t, m, path, body, u).await;
            assert!(r.status.is_success() || r.status == 404, "{m} {path}: {} {}", r.status, r.json);
        }
        for (m, path, body) in &manage {
            call(&t, m, path, body, u).await.err(403, 40300);
        }
        // A wrong service id in the path is a 404, not a way around the check.
        t.get(&format!("/api/dns-services/{}/domains/{did}/records/", sid + 1000), u).await.err(404, 40400);
        // Managers hold every zone; the grants go with a deleted zone.
        t.grant("user", uid, "dns", &["manage_dns_server"]).await;
        t.get(&format!("/api/dns-services/{sid}/domains/{other}/records/"), u).await.ok();
        t.call(Method::DELETE, &format!("{d}/"), u, None).await.ok();
        assert_eq!(t.get(&format!("/api/users/{uid}/dns_domain/perms/"), t.admin()).await.ok()["count"], 0);
        // The operations log needs view_audit.
        t.get("/api/audit/dns-operations/", u).await.err(403, 40300);
    }
}

both! {
    async fn requested_records_land_in_the_longest_zone(t: TestApp) {
        use app::dns::service::requested;
        use app::dns::types::RecordInput;
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-req").await;
        let parent = zone(&t, sid, "req.example.test").await;
        let child = zone(&t, sid, "sub.req.example.test").await;
        add(&t, sid, parent, json!({"name": "taken", "type": "A", "value": "10.6.0.1"})).await;
        run_jobs_now(&t).await;
        let rec = |n: &str, ty: &str, v: &str| RecordInput { name: n.into(), rtype: ty.into(), value: v.into(), ..Default::default() };
        let input = vec![rec("app.req.example.test", "A", "10.6.0.2"), rec("api.sub.req.example.test.", "CNAME", "app.req.example.test")];
        let resolved = requested::check(&t.ctx.db, &input).await.unwrap();
        assert_eq!((resolved[0].domain_id, resolved[1].domain_id), (parent, child));
        for (bad, field) in [
            (vec![rec("app.nowhere.test", "A", "10.6.0.2")], "records[0].name"),
            (vec![rec("x.req.example.test", "A", "10.6.0.3"), rec("taken.req.example.test", "CNAME", "x.req.example.test")], "records[1].name"),
            (vec![rec("y.req.example.test", "A", "10.6.0.3"), rec("y.req.example.test", "A", "10.6.0.3")], "records[1].value"),
            (vec![rec("z.req.example.test", "MX", "mail.example.test")], "records[0].priority"),
        ] {
            let e = requested::check(&t.ctx.db, &bad).await.unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{e:?}");
        }
        let actor = app::ctx::Actor { id: t.admin_id, username: "admin".into(), ..Default::default() };
        let txn = app::db::begin(&t.ctx.db).await.unwrap();
        let zones = requested::insert(&txn, &actor, 4242, &resolved).await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(zones, vec![parent, child]);
        assert!(!requested::request_synced(&t.ctx.db, 4242).await.unwrap());
        requested::push_zone(&t.ctx, parent).await.unwrap();
        requested::push_zone(&t.ctx, child).await.unwrap();
        assert!(requested::request_synced(&t.ctx.db, 4242).await.unwrap());
        assert_eq!(p.dig("app.req.example.test", "A"), ["10.6.0.2"]);
        assert_eq!(p.dig("api.sub.req.example.test", "CNAME"), ["app.req.example.test."]);
        let rows = records(&t, sid, child, "").await;
        assert!(rows.iter().any(|r| r["request_id"] == 4242 && r["state"] == "synced"), "{rows:?}");
        // Checked again (as at approval), the same records now clash with themselves.
        let e = requested::check(&t.ctx.db, &input).await.unwrap_err();
        assert_eq!(e.field.as_deref(), Some("records[0].value"));
    }
}

both! {
    async fn concurrent_writers_of_one_zone_keep_its_rules(t: TestApp) {
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-race").await;
        let z = "race.example.test";
        let did = zone(&t, sid, z).await;
        let t = std::sync::Arc::new(t);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..16usize {
            let t = t.clone();
            tasks.spawn(async move {
                let body = if i % 2 == 0 {
                    json!({"name": "race", "type": "CNAME", "value": format!("t{i}.example.net")})
                } else {
                    json!({"name": "race", "type": "A", "value": format!("10.7.0.{i}")})
                };
                let r = t.post(&rec_path(sid, did), t.admin(), body).await;
                if i % 4 == 1 {
                    // Pushes run beside the writers.
                    app::dns::service::push_zone(&t.ctx, did).await.unwrap();
                }
                (r.status.as_u16(), r.json)
            });
        }
        let mut ok = 0;
        while let Some(r) = tasks.join_next().await {
            let (status, body) = r.unwrap();
            assert!(status == 201 || (status == 400 && body["field"] == "name"), "{status} {body}");
            ok += usize::from(status == 201);
        }
        let rows = records(&t, sid, did, "name=race.race").await;
        assert_eq!(rows.len(), ok);
        let cnames = rows.iter().filter(|r| r["type"] == "CNAME").count();
        assert!(cnames == 0 || rows.len() == 1, "a CNAME beside other records: {rows:?}");
        let (a, b) = tokio::join!(app::dns::service::push_zone(&t.ctx, did), app::dns::service::push_zone(&t.ctx, did));
        a.unwrap();
        b.unwrap();
        run_jobs_now(&t).await;
        assert_eq!(records(&t, sid, did, "state=pending").await.len(), 0);
        assert_eq!(t.get(&format!("/api/dns-services/{sid}/domains/{did}/drift/"), t.admin()).await.ok(), json!([]));
        let served = if cnames == 1 { p.dig(&format!("race.{z}"), "CNAME") } else { p.dig(&format!("race.{z}"), "A") };
        assert_eq!(served.len(), rows.len(), "{served:?} {rows:?}");
    }
}

// Record validation shared with the UI (no database, no server).
mod validation {
    use app::dns::types::*;

    fn rec(name: &str, t: &str, v: &str) -> RecordInput {
        RecordInput {
            name: name.into(),
            rtype: t.into(),
            value: v.into(),
            ..Default::default()
        }
    }

    #[test]
    fn names_and_values() {
        let z = "example.test";
        let n = validate_record(z, &rec("www", "a", "10.0.0.1")).unwrap();
        assert_eq!(
            (n.name.as_str(), n.rtype.as_str(), n.content.as_str()),
            ("www.example.test", "A", "10.0.0.1")
        );
        assert_eq!(
            validate_record(z, &rec("@", "NS", "NS1.Example.Test."))
                .unwrap()
                .content,
            "ns1.example.test."
        );
        assert_eq!(
            validate_record(z, &rec("WWW.example.test.", "AAAA", "2001:DB8:0::1"))
                .unwrap()
                .value,
            "2001:db8::1"
        );
        assert_eq!(
            validate_record(z, &rec("mail", "MX", "10 mx.example.test"))
                .unwrap()
                .content,
            "10 mx.example.test."
        );
        let srv =
            validate_record(z, &rec("_sip._tcp", "SRV", "10 5 5060 sip.example.test.")).unwrap();
        assert_eq!(
            (srv.priority, srv.value.as_str()),
            (Some(10), "5 5060 sip.example.test")
        );
        assert_eq!(
            validate_record(z, &rec("*", "A", "10.0.0.2")).unwrap().name,
            "*.example.test"
        );
        let t = validate_record(z, &rec("t", "TXT", "v=spf1 \"x\" -all")).unwrap();
        assert_eq!(t.content, r#""v=spf1 \"x\" -all""#);
        assert_eq!(txt_canonical(&t.content).unwrap(), t.content);
        let long = "a".repeat(300);
        assert_eq!(
            txt_canonical(&long).unwrap(),
            format!("\"{}\" \"{}\"", "a".repeat(255), "a".repeat(45))
        );
        assert_eq!(
            txt_canonical("\"h\\195\\169\" \"b\"").unwrap(),
            "\"h\\195\\169\" \"b\""
        );
        assert_eq!(txt_canonical("hé").unwrap(), "\"h\\195\\169\"");
        assert_eq!(
            caa_canonical("0 ISSUE letsencrypt.org").unwrap(),
            "0 issue \"letsencrypt.org\""
        );
        assert_eq!(
            parse_content("MX", "10 mx.example.test.").unwrap(),
            ("mx.example.test".into(), Some(10))
        );
        assert_eq!(
            parse_content("SRV", "1 2 3 t.example.test.").unwrap(),
            ("2 3 t.example.test".into(), Some(1))
        );
    }

    #[test]
    fn contents_are_the_drivers_canonical_form() {
        let z = "example.test";
        for (t, v) in [
            ("A", "10.0.0.1"),
            ("AAAA", "2001:DB8::0:1"),
            ("CNAME", "X.example.test"),
            ("MX", "10 Mx.example.test."),
            ("SRV", "1 2 3 sip.example.test"),
            ("TXT", "hé \\ \"q\""),
            ("TXT", &"b".repeat(600)),
            ("NS", "ns1.example.net"),
            ("PTR", "host.example.test."),
            ("CAA", "128 issuewild \"ca.example; x=1\""),
        ] {
            let n = validate_record(z, &rec("x", t, v)).unwrap();
            assert_eq!(
                app::dns::driver::canonical_content(t, &n.content).unwrap(),
                n.content,
                "{t} {v}"
            );
            assert_eq!(
                parse_content(t, &n.content).unwrap(),
                (n.value.clone(), n.priority),
                "{t} {v}"
            );
        }
    }

    #[test]
    fn refusals_name_their_field() {
        let z = "example.test";
        let f = |r: RecordInput| {
            validate_record(z, &r)
                .unwrap_err()
                .into_iter()
                .map(|(f, _)| f)
                .collect::<Vec<_>>()
        };
        assert_eq!(f(rec("www", "A", "10.0.0.300")), ["value"]);
        assert_eq!(f(rec("www.other.test.", "A", "10.0.0.1")), ["name"]);
        assert_eq!(f(rec("", "A", "10.0.0.1")), ["name"]);
        assert_eq!(f(rec("a..b", "A", "10.0.0.1")), ["name"]);
        assert_eq!(f(rec(&"x".repeat(64), "A", "10.0.0.1")), ["name"]);
        assert_eq!(f(rec("www", "XX", "1")), ["type"]);
        assert_eq!(f(rec("@", "CNAME", "x.example.test")), ["name"]);
        assert_eq!(f(rec("m", "MX", "mx.example.test")), ["priority"]);
        assert_eq!(
            f(RecordInput {
                priority: Some(70000),
                ..rec("m", "MX", "mx.example.test")
            }),
            ["priority"]
        );
        assert_eq!(
            f(RecordInput {
                priority: Some(1),
                ..rec("m", "A", "10.0.0.1")
            }),
            ["priority"]
        );
        assert_eq!(
            f(RecordInput {
                ttl: Some(0),
                ..rec("m", "A", "10.0.0.1")
            }),
            ["ttl"]
        );
        assert_eq!(f(rec("s", "SRV", "10 5 sip.example.test")), ["priority"]);
        assert_eq!(f(rec("t", "TXT", &"a".repeat(4001))), ["value"]);
        assert_eq!(f(rec("t", "TXT", "\"open")), ["value"]);
        assert_eq!(f(rec("c", "CAA", "300 issue x")), ["value"]);
        assert_eq!(f(rec("c", "CNAME", "bad name")), ["value"]);
    }
}
