//! DNS robustness against real PowerDNS and BIND servers: an RRset the server refuses fails
//! alone (the rest of the outbox is pushed); records the servers would refuse are refused up
//! front (host-name rules, set caps, targets that keep their address); one live push job per
//! zone that never waits for the zone's lock; domain requests learn nothing about records they
//! cannot see; child zones keep their names; adopt holds the push lock; requests whose records
//! are gone are not "finished"; audit of TTL follow-ons and of grants dropped with a zone; one
//! drift read per zone; the zone row is not held across network calls. Both databases.
mod common;
use axum::http::Method;
use common::dns_api::*;
use common::dns_servers::{Bind, PowerDns};
use common::*;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn domain(t: &TestApp, sid: i64, did: i64) -> Value {
    t.get(
        &format!("/api/dns-services/{sid}/domains/{did}/"),
        t.admin(),
    )
    .await
    .ok()
}

/// A record stored as an older Opsdeck (or a hand-made import) could have stored it, past the
/// validation of today, with its outbox row: what the server then refuses.
async fn stored_unchecked(t: &TestApp, did: i64, name: &str, rtype: &str, value: &str) {
    use app::entities::{dns_outbox, dns_record};
    let now = app::time::now();
    let o = dns_outbox::ActiveModel {
        domain_id: Set(did),
        name: Set(name.into()),
        rtype: Set(rtype.into()),
        attempts: Set(0),
        last_error: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&t.ctx.db)
    .await
    .unwrap();
    dns_record::ActiveModel {
        domain_id: Set(did),
        name: Set(name.into()),
        rtype: Set(rtype.into()),
        value: Set(value.into()),
        ttl: Set(600),
        priority: Set(None),
        disabled: Set(false),
        state: Set("pending".into()),
        push_seq: Set(o.id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&t.ctx.db)
    .await
    .unwrap();
}

/// `dns_push` jobs of zone `did` by status.
async fn push_jobs(t: &TestApp, did: i64) -> Vec<app::entities::job::Model> {
    use app::entities::job;
    job::Entity::find()
        .filter(job::Column::Kind.eq("dns_push"))
        .filter(job::Column::Payload.eq(json!({"domain_id": did}).to_string()))
        .all(&t.ctx.db)
        .await
        .unwrap()
}

async fn outbox_len(t: &TestApp, did: i64) -> u64 {
    use app::entities::dns_outbox;
    dns_outbox::Entity::find()
        .filter(dns_outbox::Column::DomainId.eq(did))
        .count(&t.ctx.db)
        .await
        .unwrap()
}

/// The pid of the PowerDNS server of `p` (looked up by its own config dir; the test started it).
fn pdns_pid(p: &PowerDns) -> String {
    let out = std::process::Command::new("pgrep")
        .arg("-f")
        .arg(format!("config-dir={}", p.dir.display()))
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    assert!(
        !pid.is_empty(),
        "pdns_server of {} not found",
        p.dir.display()
    );
    pid
}

/// SIGSTOP / SIGCONT to the server: frozen, it accepts connections and answers nothing.
fn freeze(pid: &str, on: bool) {
    let sig = if on { "-STOP" } else { "-CONT" };
    assert!(std::process::Command::new("kill")
        .args([sig, pid])
        .status()
        .unwrap()
        .success());
}

/// Finding A on one server: the refused set is `failed` with the server's words, leaves the
/// outbox, the rest is served; a later change of the set queues it again.
async fn refused_set_fails_alone(
    t: &TestApp,
    sid: i64,
    did: i64,
    z: &str,
    bad: (&str, &str, &str),
    fix: Value,
    dig: &dyn Fn(&str, &str) -> Vec<String>,
) {
    add(t, sid, did, json!([{"name": "ok1", "type": "A", "value": "10.20.0.1"}, {"name": "ok2", "type": "TXT", "value": "fine"}])).await;
    stored_unchecked(t, did, bad.0, bad.1, bad.2).await;
    add(
        t,
        sid,
        did,
        json!({"name": "ok3", "type": "A", "value": "10.20.0.3"}),
    )
    .await;
    run_jobs_now(t).await;
    assert_eq!(dig(&format!("ok1.{z}"), "A"), ["10.20.0.1"]);
    assert_eq!(dig(&format!("ok2.{z}"), "TXT"), ["\"fine\""]);
    assert_eq!(dig(&format!("ok3.{z}"), "A"), ["10.20.0.3"]);
    let failed = records(t, sid, did, "state=failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        (failed[0]["name"].as_str(), failed[0]["type"].as_str()),
        (Some(bad.0), Some(bad.1))
    );
    assert!(
        failed[0]["push_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{failed:?}"
    );
    assert_eq!(records(t, sid, did, "state=pending").await.len(), 0);
    assert_eq!(
        outbox_len(t, did).await,
        0,
        "the refused set left the queue"
    );
    let d = domain(t, sid, did).await;
    assert_eq!(
        (d["failed"].as_u64(), d["pending"].as_u64()),
        (Some(1), Some(0)),
        "{d}"
    );
    assert!(d["push_error"].is_null(), "{d}");
    let jobs = push_jobs(t, did).await;
    assert!(
        jobs.iter().all(|j| j.status == "done"),
        "no push job retries the refused set: {jobs:?}"
    );
    // Later writes of other sets are pushed (the zone is not held up).
    add(
        t,
        sid,
        did,
        json!({"name": "ok4", "type": "A", "value": "10.20.0.4"}),
    )
    .await;
    run_jobs_now(t).await;
    assert_eq!(dig(&format!("ok4.{z}"), "A"), ["10.20.0.4"]);
    assert_eq!(records(t, sid, did, "state=failed").await.len(), 1);
    // Changing the refused record queues its set again; fixed, it is served.
    let id = failed[0]["id"].as_i64().unwrap();
    let e = t
        .call(
            Method::PATCH,
            &format!("{}{id}/", rec_path(sid, did)),
            t.admin(),
            Some(fix),
        )
        .await
        .ok();
    assert_eq!(e["state"], "pending", "{e}");
    run_jobs_now(t).await;
    assert_eq!(records(t, sid, did, "state=failed").await.len(), 0);
    assert_eq!(records(t, sid, did, "state=pending").await.len(), 0);
    assert_eq!(domain(t, sid, did).await["failed"], 0);
}

both! {
    async fn a_refused_rrset_fails_alone_and_the_rest_is_pushed(t: TestApp) {
        // PowerDNS refuses a CNAME beside other data at its name (422).
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-refuse").await;
        let z = "refuse.example.test";
        let did = zone(&t, sid, z).await;
        add(&t, sid, did, json!({"name": "clash", "type": "A", "value": "10.20.9.9"})).await;
        run_jobs_now(&t).await;
        refused_set_fails_alone(&t, sid, did, z, (&format!("clash.{z}"), "CNAME", "elsewhere.example.net"), json!({"name": "alias", "ttl": 300}), &|n, ty| p.dig(n, ty)).await;
        assert_eq!(p.dig(&format!("alias.{z}"), "CNAME"), ["elsewhere.example.net."]);
        assert_eq!(p.dig(&format!("clash.{z}"), "A"), ["10.20.9.9"], "the server kept what it had");

        // BIND refuses an address record whose owner is no host name (check-names).
        let zb = "refuse.bind.test";
        let b = Bind::start(&[zb]);
        let sidb = bind_service(&t, &b, "bind-refuse").await;
        let didb = zone(&t, sidb, zb).await;
        refused_set_fails_alone(&t, sidb, didb, zb, (&format!("bad_host.{zb}"), "A", "10.20.0.9"), json!({"name": "goodhost"}), &|n, ty| b.dig(n, ty)).await;
        assert_eq!(b.dig(&format!("goodhost.{zb}"), "A"), ["10.20.0.9"]);
    }
}

both! {
    async fn b_records_the_servers_would_refuse_are_refused_up_front(t: TestApp) {
        let b = Bind::start(&["upfront.bind.test"]);
        let sid = bind_service(&t, &b, "bind-upfront").await;
        let z = "upfront.bind.test";
        let did = zone(&t, sid, z).await;
        for (body, field) in [
            (json!({"name": "bad_host", "type": "A", "value": "10.30.0.1"}), "name"),
            (json!({"name": "_x", "type": "MX", "value": "10 mx.example.net"}), "name"),
            (json!({"name": "-lead", "type": "A", "value": "10.30.0.1"}), "name"),
            (json!({"name": "m", "type": "MX", "value": "10 mail_1.example.net"}), "value"),
            (json!({"name": "m", "type": "MX", "value": "10 -mail.example.net"}), "value"),
            (json!({"name": "n", "type": "NS", "value": "ns_1.example.net"}), "value"),
            (json!({"name": "s", "type": "SRV", "value": "1 1 80 web-.example.net"}), "value"),
            (json!({"name": "p", "type": "PTR", "value": "host_a.example.net"}), "value"),
            (json!({"name": "c", "type": "CNAME", "value": "x-.example.net"}), "value"),
        ] {
            let e = t.post(&rec_path(sid, did), t.admin(), body.clone()).await.err(400, 40000);
            assert_eq!(e["field"], field, "{body} → {e}");
        }
        // `_` where the servers take it: SRV and TXT owners, CNAME owners and targets (DKIM).
        add(&t, sid, did, json!([
            {"name": "sip", "type": "A", "value": "10.30.0.5"},
            {"name": "_sip._tcp", "type": "SRV", "value": format!("10 5 5060 sip.{z}")},
            {"name": "_dmarc", "type": "TXT", "value": "v=DMARC1; p=none"},
            {"name": "selector1._domainkey", "type": "CNAME", "value": "selector1-x._domainkey.provider.example.net"}
        ])).await;
        run_jobs_now(&t).await;
        assert_eq!(b.dig(&format!("_sip._tcp.{z}"), "SRV"), [format!("10 5 5060 sip.{z}.")]);
        assert_eq!(b.dig(&format!("selector1._domainkey.{z}"), "CNAME"), ["selector1-x._domainkey.provider.example.net."]);
        assert_eq!(records(&t, sid, did, "state=failed").await.len(), 0);

        // At most 100 records and 16 KB of data per name and type.
        let many: Vec<Value> = (0..101).map(|i| json!({"name": "big", "type": "A", "value": format!("10.31.{}.{}", i / 200, i % 200 + 1)})).collect();
        let e = t.post(&rec_path(sid, did), t.admin(), json!(many)).await.err(400, 40000);
        assert!(e["message"].as_str().unwrap().contains("at most 100"), "{e}");
        add(&t, sid, did, json!(many[..100].to_vec())).await;
        let e = t.post(&rec_path(sid, did), t.admin(), many[100].clone()).await.err(400, 40000);
        assert_eq!(e["field"], "value", "{e}");
        let txts: Vec<Value> = (0..5).map(|i| json!({"name": "fat", "type": "TXT", "value": format!("{i}{}", "t".repeat(3990))})).collect();
        let e = t.post(&rec_path(sid, did), t.admin(), json!(txts)).await.err(400, 40000);
        assert_eq!(e["field"], "[4].value", "{e}");
        run_jobs_now(&t).await;
        assert_eq!(b.dig(&format!("big.{z}"), "A").len(), 100);

        // A host that an MX, SRV or NS record points at keeps an address: deleting, disabling
        // or renaming its last A/AAAA record is refused, naming the record that points at it.
        let mail = add(&t, sid, did, json!([{"name": "mail", "type": "A", "value": "10.32.0.1"}, {"name": "@", "type": "MX", "value": format!("10 mail.{z}")}])).await;
        run_jobs_now(&t).await;
        let a = mail[0]["id"].as_i64().unwrap();
        let e = t.call(Method::DELETE, &format!("{}{a}/", rec_path(sid, did)), t.admin(), None).await.err(400, 40000);
        assert_eq!(e["field"], "id");
        assert!(e["message"].as_str().unwrap().contains(&format!("{z} MX")), "{e}");
        let e = t.post(&format!("{}actions/disable/", rec_path(sid, did)), t.admin(), json!([{"id": a}])).await.err(400, 40000);
        assert_eq!(e["field"], "[0].id", "{e}");
        let e = t.call(Method::PATCH, &format!("{}{a}/", rec_path(sid, did)), t.admin(), Some(json!({"name": "mail2"}))).await.err(400, 40000);
        assert_eq!(e["field"], "name", "{e}");
        // The SRV target too.
        let sip = records(&t, sid, did, "name=sip&type=A").await;
        let e = t.call(Method::DELETE, &format!("{}{}/", rec_path(sid, did), sip[0]["id"]), t.admin(), None).await.err(400, 40000);
        assert!(e["message"].as_str().unwrap().contains("SRV"), "{e}");
        // With a second address, or the MX gone first, it may go.
        let v6 = add(&t, sid, did, json!({"name": "mail", "type": "AAAA", "value": "2001:db8::25"})).await;
        t.call(Method::DELETE, &format!("{}{a}/", rec_path(sid, did)), t.admin(), None).await.ok();
        let mx = mail[1]["id"].as_i64().unwrap();
        t.call(Method::DELETE, &format!("{}{mx}/", rec_path(sid, did)), t.admin(), None).await.ok();
        t.call(Method::DELETE, &format!("{}{}/", rec_path(sid, did), v6["id"]), t.admin(), None).await.ok();
        run_jobs_now(&t).await;
        assert_eq!(b.dig(z, "MX"), Vec::<String>::new());
        assert_eq!(records(&t, sid, did, "state=failed").await.len(), 0);
        assert_eq!(records(&t, sid, did, "state=pending").await.len(), 0);
    }
}

both! {
    async fn c_one_live_push_job_per_zone_that_never_waits_for_the_lock(t: TestApp) {
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-jobs").await;
        let z = "jobs.example.test";
        let did = zone(&t, sid, z).await;
        // Writes while a push job waits: still one job.
        for i in 0..3 {
            add(&t, sid, did, json!({"name": format!("w{i}"), "type": "A", "value": "10.40.0.1"})).await;
        }
        assert_eq!(push_jobs(&t, did).await.len(), 1);
        run_jobs_now(&t).await;

        // A push that hangs (the server frozen) while a write comes: the failed attempt does not
        // requeue beside the job that write queued.
        let pid = pdns_pid(&p);
        add(&t, sid, did, json!({"name": "x1", "type": "A", "value": "10.40.0.2"})).await;
        freeze(&pid, true);
        let runner = {
            let ctx = t.ctx.clone();
            tokio::spawn(async move { app::jobs::run_due(&ctx).await.unwrap() })
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        while !push_jobs(&t, did).await.iter().any(|j| j.status == "running") {
            assert!(Instant::now() < deadline, "the push job never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        add(&t, sid, did, json!({"name": "x2", "type": "A", "value": "10.40.0.3"})).await;
        add(&t, sid, did, json!({"name": "x3", "type": "A", "value": "10.40.0.4"})).await;
        runner.await.unwrap();
        let live: Vec<_> = push_jobs(&t, did).await.into_iter().filter(|j| j.status == "queued" || j.status == "running").collect();
        assert_eq!(live.len(), 1, "{live:?}");
        assert!(live[0].last_error.is_some() && live[0].run_after > app::time::now(), "in backoff: {live:?}");
        // A write does not cut the backoff of a failed push short.
        let before = live[0].run_after;
        add(&t, sid, did, json!({"name": "x4", "type": "A", "value": "10.40.0.5"})).await;
        let live: Vec<_> = push_jobs(&t, did).await.into_iter().filter(|j| j.status == "queued").collect();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].run_after, before);
        freeze(&pid, false);
        run_jobs_now(&t).await;
        assert_eq!(p.dig(&format!("x4.{z}"), "A"), ["10.40.0.5"]);
        assert_eq!(records(&t, sid, did, "state=pending").await.len(), 0);

        // A push job that finds the zone's lock taken ends at once and comes back shortly.
        add(&t, sid, did, json!({"name": "y1", "type": "A", "value": "10.40.1.1"})).await;
        let held = app::dns::service::hold_push_lock(&t.ctx, did, Duration::ZERO).await.unwrap().expect("the lock is free");
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(10), app::jobs::run_due(&t.ctx)).await.expect("the job waited for the lock").unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        let jobs = push_jobs(&t, did).await;
        let queued: Vec<_> = jobs.iter().filter(|j| j.status == "queued").collect();
        assert_eq!(queued.len(), 1, "{jobs:?}");
        assert!(queued[0].run_after > app::time::now() && queued[0].run_after < app::time::now() + chrono::Duration::seconds(10));
        assert!(jobs.iter().all(|j| j.status != "running" && j.status != "failed"), "{jobs:?}");
        held.release().await.unwrap();
        run_jobs_now(&t).await;
        assert_eq!(p.dig(&format!("y1.{z}"), "A"), ["10.40.1.1"]);
        assert_eq!(outbox_len(&t, did).await, 0);
    }
}

async fn requester(t: &TestApp) -> (i64, String) {
    t.user_with("req", "resource_request", REQUESTER).await
}

async fn approver(t: &TestApp) -> (i64, String) {
    let flags = &["enable_resource_req", "approve_domain_req"];
    t.user_with("appr", "resource_request", flags).await
}

both! {
    async fn d_domain_requests_learn_nothing_of_records_they_cannot_see(t: TestApp) {
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-probe").await;
        let z = "probe.example.test";
        let did = zone(&t, sid, z).await;
        add(&t, sid, did, json!([
            {"name": "secret", "type": "CNAME", "value": "hidden-target.example.net"},
            {"name": "t", "type": "A", "value": "10.50.0.9", "ttl": 1234},
            {"name": "u", "type": "TXT", "value": "secret-value"}
        ])).await;
        let req = requester(&t).await;
        let r = Auth::Token(&req.1);
        for (rec, field) in [
            (json!({"record": format!("secret.{z}"), "type": "A", "value": "10.50.0.1"}), "records[0].name"),
            (json!({"record": format!("t.{z}"), "type": "CNAME", "value": "x.example.net"}), "records[0].name"),
            (json!({"record": format!("t.{z}"), "type": "A", "value": "10.50.0.8", "ttl": 60}), "records[0].ttl"),
            (json!({"record": format!("u.{z}"), "type": "TXT", "value": "secret-value"}), "records[0].value"),
        ] {
            let e = t.post("/api/resource-request/domains/", r, json!({"records": [rec]})).await.err(400, 40000);
            assert_eq!(e["field"], field, "{e}");
            let m = e["message"].as_str().unwrap();
            for secret in ["hidden-target", "1234", "secret-value", "10.50.0.9", "CNAME"] {
                assert!(!m.contains(secret), "{secret} revealed: {m}");
            }
        }
        // Outside every zone: the membership message stays.
        let e = t.post("/api/resource-request/domains/", r, json!({"records": [{"record": "a.nowhere.test", "type": "A", "value": "10.50.0.1"}]})).await.err(400, 40000);
        assert!(e["message"].as_str().unwrap().contains("no DNS zone managed by Opsdeck"), "{e}");
        // The record API (view_domain holders) keeps the details.
        let e = t.post(&rec_path(sid, did), t.admin(), json!({"name": "t", "type": "A", "value": "10.50.0.8", "ttl": 60})).await.err(400, 40000);
        assert!(e["message"].as_str().unwrap().contains("1234"), "{e}");
        // A clash within the request itself may be told in full (the requester wrote both).
        let e = t.post("/api/resource-request/domains/", r, json!({"records": [
            {"record": format!("own.{z}"), "type": "A", "value": "10.50.1.1"},
            {"record": format!("own.{z}"), "type": "A", "value": "10.50.1.1"}
        ]})).await.err(400, 40000);
        assert_eq!(e["field"], "records[1].value");
    }
}

both! {
    async fn e_names_of_a_child_zone_are_written_there(t: TestApp) {
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-child").await;
        let parent = zone(&t, sid, "corp.example.test").await;
        let child = zone(&t, sid, "prod.corp.example.test").await;
        let (uid, token) = t.user("editor").await;
        let u = Auth::Token(&token);
        t.grant("user", uid, "dns", &["enable_dns_mgmt"]).await;
        t.post(&format!("/api/users/{uid}/dns_domain/perms/"), t.admin(), json!({"authorizations": [{"id": parent, "permission": {"view_domain": true, "edit_domain": true}}]})).await.ok();
        for body in [
            json!({"name": "prod", "type": "NS", "value": "ns1.attacker.example.net"}),
            json!({"name": "www.prod", "type": "A", "value": "10.60.0.1"}),
            json!({"name": "*.prod", "type": "A", "value": "10.60.0.1"}),
        ] {
            let e = t.post(&rec_path(sid, parent), u, body.clone()).await.err(400, 40000);
            assert_eq!(e["field"], "name", "{body} → {e}");
            assert!(!e["message"].as_str().unwrap().contains("prod.corp"), "the child is not named to who cannot see it: {e}");
        }
        let e = t.post(&rec_path(sid, parent), t.admin(), json!({"name": "prod", "type": "NS", "value": "ns1.example.net"})).await.err(400, 40000);
        assert!(e["message"].as_str().unwrap().contains("prod.corp.example.test"), "{e}");
        // Renaming into the child is refused too; names beside it are fine.
        let ok = t.post(&rec_path(sid, parent), u, json!({"name": "production", "type": "A", "value": "10.60.0.2"})).await.ok();
        let id = ok["id"].as_i64().unwrap();
        let e = t.call(Method::PATCH, &format!("{}{id}/", rec_path(sid, parent)), u, Some(json!({"name": "db.prod"}))).await.err(400, 40000);
        assert_eq!(e["field"], "name");
        run_jobs_now(&t).await;
        assert_eq!(p.dig("production.corp.example.test", "A"), ["10.60.0.2"]);
        assert_eq!(records(&t, sid, parent, "name=prod.corp").await.len(), 0);
        // The child's own editors write there.
        add(&t, sid, child, json!({"name": "www", "type": "A", "value": "10.60.0.3"})).await;
    }
}

both! {
    async fn f_adopt_holds_the_push_lock(t: TestApp) {
        use app::dns::driver::RRSet;
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-adopt").await;
        let z = "adoptlock.example.test";
        let did = zone(&t, sid, z).await;
        p.conn().apply(z, &[RRSet { name: format!("theirs.{z}"), rtype: "A".into(), ttl: 60, contents: vec!["10.70.0.1".into()] }]).await.unwrap();
        let resolve = format!("/api/dns-services/{sid}/domains/{did}/drift/actions/resolve/");
        let body = json!({"name": format!("theirs.{z}"), "type": "A", "action": "adopt"});
        let held = app::dns::service::hold_push_lock(&t.ctx, did, Duration::ZERO).await.unwrap().unwrap();
        let e = t.post(&resolve, t.admin(), body.clone()).await.err(409, 40900);
        assert!(e["message"].as_str().unwrap().contains("push"), "{e}");
        assert_eq!(records(&t, sid, did, "name=theirs").await.len(), 0, "nothing adopted while a push holds the zone");
        held.release().await.unwrap();
        t.post(&resolve, t.admin(), body).await.ok();
        let rows = records(&t, sid, did, "name=theirs").await;
        assert_eq!((rows.len(), rows[0]["state"].as_str()), (1, Some("synced")));
        assert_eq!(t.get(&format!("/api/dns-services/{sid}/domains/{did}/drift/"), t.admin()).await.ok(), json!([]));
    }
}

both! {
    async fn g_a_request_whose_records_are_gone_is_not_finished(t: TestApp) {
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-gone").await;
        let did = zone(&t, sid, "gone.example.test").await;
        let other = zone(&t, sid, "other.example.test").await;
        let (req, appr) = (requester(&t).await, approver(&t).await);
        let (r, a) = (Auth::Token(&req.1), Auth::Token(&appr.1));
        // One of two records deleted before the push.
        let c = t.post("/api/resource-request/domains/", r, json!({"records": [
            {"record": "one.gone.example.test", "type": "A", "value": "10.80.0.1"},
            {"record": "two.gone.example.test", "type": "A", "value": "10.80.0.2"}
        ]})).await.ok();
        let id = c["id"].as_i64().unwrap();
        t.post(&format!("/api/resource-request/domains/{id}/actions/approve/"), a, json!({})).await.ok();
        let two = records(&t, sid, did, "name=two").await;
        t.call(Method::DELETE, &format!("{}{}/", rec_path(sid, did), two[0]["id"]), t.admin(), None).await.ok();
        run_jobs_now(&t).await;
        let d = t.get(&format!("/api/resource-request/domains/{id}/"), r).await.ok();
        assert_eq!(d["status"], "approved", "{d}");
        assert!(d["fulfilment_note"].as_str().unwrap().starts_with("fulfilment failed:"), "{d}");
        // The zone removed before the push.
        let c = t.post("/api/resource-request/domains/", r, json!({"records": [{"record": "x.other.example.test", "type": "A", "value": "10.80.1.1"}]})).await.ok();
        let id2 = c["id"].as_i64().unwrap();
        t.post(&format!("/api/resource-request/domains/{id2}/actions/approve/"), a, json!({})).await.ok();
        t.call(Method::DELETE, &format!("/api/dns-services/{sid}/domains/{other}/"), t.admin(), None).await.ok();
        run_jobs_now(&t).await;
        let d = t.get(&format!("/api/resource-request/domains/{id2}/"), r).await.ok();
        assert_eq!(d["status"], "approved", "{d}");
        assert!(d["fulfilment_note"].as_str().unwrap().starts_with("fulfilment failed:"), "{d}");
        // An untouched request still finishes.
        let c = t.post("/api/resource-request/domains/", r, json!({"records": [{"record": "three.gone.example.test", "type": "A", "value": "10.80.0.3"}]})).await.ok();
        let id3 = c["id"].as_i64().unwrap();
        t.post(&format!("/api/resource-request/domains/{id3}/actions/approve/"), a, json!({})).await.ok();
        run_jobs_now(&t).await;
        assert_eq!(t.get(&format!("/api/resource-request/domains/{id3}/"), r).await.ok()["status"], "finished");
        assert_eq!(p.dig("three.gone.example.test", "A"), ["10.80.0.3"]);
    }
}

both! {
    async fn h_ttl_follow_ons_and_grants_dropped_with_a_zone_are_audited(t: TestApp) {
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-audit").await;
        let did = zone(&t, sid, "audit.example.test").await;
        let rows = add(&t, sid, did, json!([
            {"name": "w", "type": "A", "value": "10.90.0.1"},
            {"name": "w", "type": "A", "value": "10.90.0.2"},
            {"name": "w", "type": "A", "value": "10.90.0.3"}
        ])).await;
        let ids: Vec<i64> = rows.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
        t.call(Method::PATCH, &format!("{}{}/", rec_path(sid, did), ids[0]), t.admin(), Some(json!({"ttl": 90}))).await.ok();
        let log = t.audit("dns").await;
        let follow = log.iter().find(|e| e["detail"]["records"].is_array()).unwrap_or_else(|| panic!("no entry for the set's other records: {log:?}"));
        let mut listed: Vec<i64> = follow["detail"]["records"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        listed.sort();
        assert_eq!(listed, ids[1..].to_vec());
        assert_eq!(follow["detail"]["ttl"], 90);
        run_jobs_now(&t).await;
        // Grants dropped with the zone are revokes in the log.
        let (uid, _) = t.user("viewer").await;
        t.post(&format!("/api/users/{uid}/dns_domain/perms/"), t.admin(), json!({"authorizations": [{"id": did, "permission": {"view_domain": true, "edit_domain": true}}]})).await.ok();
        t.call(Method::DELETE, &format!("/api/dns-services/{sid}/domains/{did}/"), t.admin(), None).await.ok();
        let revokes: Vec<Value> = t.audit("resource_perm").await.into_iter()
            .filter(|e| e["op_type"] == "revoke" && e["target_id"] == did)
            .collect();
        assert_eq!(revokes.len(), 2, "{revokes:?}");
        let ops = t.get("/api/audit/authorize-operations/resources/?resource_type=dns_domain&action=disable&page_size=50", t.admin()).await.ok();
        let mut perms: Vec<String> = ops["results"].as_array().unwrap().iter()
            .filter(|o| o["authorized_target_name"] == "viewer")
            .map(|o| o["perm_name"].as_str().unwrap().to_string())
            .collect();
        perms.sort();
        assert_eq!(perms, ["edit_domain", "view_domain"], "{ops}");
    }
}

both! {
    async fn i_one_drift_read_per_zone_at_a_time(t: TestApp) {
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-drift1").await;
        let did = zone(&t, sid, "drift1.example.test").await;
        let other = zone(&t, sid, "drift2.example.test").await;
        let (uid, token) = t.user("looker").await;
        t.grant("user", uid, "dns", &["enable_dns_mgmt"]).await;
        t.post(&format!("/api/users/{uid}/dns_domain/perms/"), t.admin(), json!({"authorizations": [{"id": did, "permission": {"view_domain": true}}]})).await.ok();
        let path = format!("/api/dns-services/{sid}/domains/{did}/drift/");
        let pid = pdns_pid(&p);
        freeze(&pid, true);
        let t = std::sync::Arc::new(t);
        let first = {
            let (t, path, token) = (t.clone(), path.clone(), token.clone());
            tokio::spawn(async move { t.get(&path, Auth::Token(&token)).await.status.as_u16() })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let e = t.get(&path, Auth::Token(&token)).await.err(429, 42900);
        assert!(e["message"].as_str().unwrap().contains("drift check"), "{e}");
        freeze(&pid, false);
        assert_eq!(first.await.unwrap(), 200);
        // Free again afterwards; other zones were never held.
        t.get(&path, Auth::Token(&token)).await.ok();
        t.get(&format!("/api/dns-services/{sid}/domains/{other}/drift/"), t.admin()).await.ok();
    }
}

both! {
    async fn j_writers_are_not_held_by_a_push_across_network_calls(t: TestApp) {
        use app::entities::{dns_outbox, dns_record};
        let p = PowerDns::start();
        let sid = pdns_service(&t, &p, "pdns-rowlock").await;
        let z = "rowlock.example.test";
        let did = zone(&t, sid, z).await;
        // Three batches of the outbox (2,000 sets each).
        let now = app::time::now();
        let n = 6000usize;
        for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
            dns_outbox::Entity::insert_many(chunk.iter().map(|i| dns_outbox::ActiveModel {
                domain_id: Set(did), name: Set(format!("h{i}.{z}")), rtype: Set("A".into()),
                attempts: Set(0), last_error: Set(None), created_at: Set(now), ..Default::default()
            })).exec(&t.ctx.db).await.unwrap();
            dns_record::Entity::insert_many(chunk.iter().map(|i| dns_record::ActiveModel {
                domain_id: Set(did), name: Set(format!("h{i}.{z}")), rtype: Set("A".into()),
                value: Set(format!("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256)), ttl: Set(600),
                priority: Set(None), disabled: Set(false), state: Set("pending".into()), push_seq: Set(0),
                created_at: Set(now), updated_at: Set(now), ..Default::default()
            })).exec(&t.ctx.db).await.unwrap();
        }
        let pid = pdns_pid(&p);
        let pusher = {
            let ctx = t.ctx.clone();
            tokio::spawn(async move { app::dns::service::push_zone(&ctx, did).await })
        };
        // The first batch is on the server: freeze it, so a later batch hangs in its request.
        let deadline = Instant::now() + Duration::from_secs(60);
        while p.dig(&format!("h0.{z}"), "A").is_empty() {
            assert!(Instant::now() < deadline, "the first batch never arrived");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        freeze(&pid, true);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let w = t.post(&rec_path(sid, did), t.admin(), json!({"name": "writer", "type": "A", "value": "10.99.0.1"})).await;
        let took = started.elapsed();
        freeze(&pid, false);
        assert_eq!(w.status, 201, "{}", w.json);
        assert!(took < Duration::from_secs(2), "a writer waited {took:?} for a push's network call");
        let _ = pusher.await.unwrap();
        run_jobs_now(&t).await;
        assert_eq!(p.dig(&format!("writer.{z}"), "A"), ["10.99.0.1"]);
        assert_eq!(p.dig(&format!("h{}.{z}", n - 1), "A").len(), 1);
        assert_eq!(records(&t, sid, did, "state=pending").await.len(), 0);
    }
}
