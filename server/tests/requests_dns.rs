//! Domain requests fulfilled into real DNS servers: records checked when filed and at approval,
//! written at approval and pushed by the zone's outbox, answered by the server itself; a server
//! that is down keeps the request `approved` with "fulfilment pending" until it is back.
mod common;
use common::dns_servers::{Bind, PowerDns};
use common::*;
use serde_json::{json, Value};

async fn setup(t: &TestApp) -> ((i64, String), (i64, String)) {
    let req = t.user_with("req", "resource_request", REQUESTER).await;
    let flags = &["enable_resource_req", "approve_domain_req"];
    (req, t.user_with("appr", "resource_request", flags).await)
}

async fn service_and_zone(t: &TestApp, body: Value, zone: &str) -> (i64, i64) {
    let s = t.post("/api/dns-services/", t.admin(), body).await.ok();
    let sid = s["id"].as_i64().unwrap();
    let z = t
        .post(
            &format!("/api/dns-services/{sid}/domains/"),
            t.admin(),
            json!({"name": zone}),
        )
        .await
        .ok();
    (sid, z["id"].as_i64().unwrap())
}

fn mails_to(t: &TestApp, to: &str) -> Vec<Value> {
    decoded_mails(&t.dir.join("mail"))
        .into_iter()
        .filter(|m| m["to"].as_str() == Some(to))
        .collect()
}

both!(
    async fn domain_request_lands_on_powerdns(t: TestApp) {
        let mut pdns = PowerDns::start();
        let (req, appr) = setup(&t).await;
        let (r, a) = (Auth::Token(&req.1), Auth::Token(&appr.1));
        let (sid, did) = service_and_zone(&t, json!({"name": "pdns", "type": "powerdns", "api_endpoint": pdns.api_url, "api_key": pdns.api_key, "description": "test"}), "shop.test").await;

        // Checked when filed: outside every managed zone, a bad address, a CNAME clash.
        t.post("/api/resource-request/domains/", r, json!({"records": [{"record": "www.elsewhere.test", "value": "10.0.0.1", "type": "A"}]})).await.err(400, 40000);
        let e = t.post("/api/resource-request/domains/", r, json!({"records": [{"record": "www.shop.test", "value": "10.0.0.1", "type": "A"}, {"record": "api.shop.test", "value": "not-an-ip", "type": "A"}]})).await.err(400, 40000);
        assert!(
            e["field"].as_str().unwrap().starts_with("records[1]"),
            "{e}"
        );
        t.post("/api/resource-request/domains/", r, json!({"records": [{"record": "www.shop.test", "value": "10.0.0.1", "type": "A"}, {"record": "www.shop.test", "value": "web.shop.test", "type": "CNAME"}]})).await.err(400, 40000);

        let c = t
            .post(
                "/api/resource-request/domains/",
                r,
                json!({"records": [
                    {"record": "www.shop.test", "value": "10.0.0.1", "type": "A"},
                    {"record": "shop.test", "value": "10 mail.shop.test", "type": "MX"},
                    {"record": "mail.shop.test", "value": "10.0.0.25", "type": "A"}
                ]}),
            )
            .await
            .ok();
        let id = c["id"].as_i64().unwrap();
        assert_eq!(c["records"][0]["record"], "www.shop.test");
        assert!(
            pdns.dig("www.shop.test", "A").is_empty(),
            "nothing on the server before approval"
        );

        // Approval writes the records (pending) and the fulfilment pushes them.
        t.post(
            &format!("/api/resource-request/domains/{id}/actions/approve/"),
            a,
            json!({}),
        )
        .await
        .ok();
        let pending = t
            .get(
                &format!("/api/dns-services/{sid}/domains/{did}/records/?name=www"),
                t.admin(),
            )
            .await
            .ok();
        assert_eq!(pending["results"][0]["state"], "pending", "{pending}");
        run_jobs_now(&t).await;
        assert_eq!(pdns.dig("www.shop.test", "A"), vec!["10.0.0.1"]);
        assert_eq!(pdns.dig("shop.test", "MX"), vec!["10 mail.shop.test."]);
        let d = t
            .get(&format!("/api/resource-request/domains/{id}/"), r)
            .await
            .ok();
        assert_eq!(d["status"], "finished", "{d}");
        let events: Vec<&str> = d["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(events, ["filed", "approved", "finished"]);
        run_jobs_now(&t).await;
        let m = mails_to(&t, "req@example.test");
        assert!(
            m.iter()
                .any(|m| m["subject"].as_str().unwrap().contains("is done")),
            "{m:?}"
        );
        assert!(mails_to(&t, "appr@example.test")
            .iter()
            .any(|m| m["subject"]
                .as_str()
                .unwrap()
                .contains("waits for your approval")));

        // A request that clashed at filing time is refused at approval too: a record was added meanwhile.
        let c2 = t.post("/api/resource-request/domains/", r, json!({"records": [{"record": "blog.shop.test", "value": "10.0.0.7", "type": "A"}]})).await.ok();
        t.post(
            &format!("/api/dns-services/{sid}/domains/{did}/records/"),
            t.admin(),
            json!({"name": "blog.shop.test", "type": "CNAME", "value": "www.shop.test"}),
        )
        .await
        .ok();
        t.post(
            &format!(
                "/api/resource-request/domains/{}/actions/approve/",
                c2["id"]
            ),
            a,
            json!({}),
        )
        .await
        .err(400, 40000);
        let d2 = t
            .get(&format!("/api/resource-request/domains/{}/", c2["id"]), r)
            .await
            .ok();
        assert_eq!(
            d2["status"], "wait_review",
            "a refused approval changes nothing"
        );

        // The server is down during fulfilment: approved with a note, then finished once it is back.
        let c3 = t
            .post(
                "/api/resource-request/domains/",
                r,
                json!({"records": [{"record": "api.shop.test", "value": "10.0.0.9", "type": "A"}]}),
            )
            .await
            .ok();
        let id3 = c3["id"].as_i64().unwrap();
        pdns.stop();
        t.post(
            &format!("/api/resource-request/domains/{id3}/actions/approve/"),
            a,
            json!({}),
        )
        .await
        .ok();
        run_jobs_now(&t).await;
        let d3 = t
            .get(&format!("/api/resource-request/domains/{id3}/"), r)
            .await
            .ok();
        assert_eq!(d3["status"], "approved");
        assert!(
            d3["fulfilment_note"]
                .as_str()
                .unwrap()
                .starts_with("fulfilment pending:"),
            "{d3}"
        );
        run_jobs_now(&t).await; // still down: no second failure event, no second mail
        let d3 = t
            .get(&format!("/api/resource-request/domains/{id3}/"), r)
            .await
            .ok();
        let failures = d3["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "fulfilment_failed")
            .count();
        assert_eq!(failures, 1, "{d3}");
        pdns.start_again();
        run_jobs_now(&t).await;
        assert_eq!(pdns.dig("api.shop.test", "A"), vec!["10.0.0.9"]);
        let d3 = t
            .get(&format!("/api/resource-request/domains/{id3}/"), r)
            .await
            .ok();
        assert_eq!(d3["status"], "finished", "{d3}");
        assert!(d3["fulfilment_note"].is_null());
        let delayed = mails_to(&t, "req@example.test")
            .into_iter()
            .filter(|m| m["subject"].as_str().unwrap().contains("delayed"))
            .count();
        assert_eq!(delayed, 1);
    }
);

both!(
    async fn domain_request_lands_on_bind(t: TestApp) {
        let bind = Bind::start(&["corp.test"]);
        let (req, appr) = setup(&t).await;
        let (r, a) = (Auth::Token(&req.1), Auth::Token(&appr.1));
        service_and_zone(&t, json!({"name": "bind", "type": "bind", "api_endpoint": bind.addr.to_string(), "tsig_key_name": bind.key_name, "tsig_algorithm": bind.algorithm, "tsig_secret": bind.secret}), "corp.test").await;
        let c = t
            .post(
                "/api/resource-request/domains/",
                r,
                json!({"records": [
                    {"record": "intranet.corp.test", "value": "10.1.0.5", "type": "A", "ttl": 300},
                    {"record": "corp.test", "value": "v=spf1 -all", "type": "TXT"}
                ]}),
            )
            .await
            .ok();
        let id = c["id"].as_i64().unwrap();
        t.post(
            &format!("/api/resource-request/domains/{id}/actions/approve/"),
            a,
            json!({}),
        )
        .await
        .ok();
        run_jobs_now(&t).await;
        assert_eq!(bind.dig("intranet.corp.test", "A"), vec!["10.1.0.5"]);
        assert_eq!(bind.dig("corp.test", "TXT"), vec!["\"v=spf1 -all\""]);
        assert_eq!(
            t.get(&format!("/api/resource-request/domains/{id}/"), r)
                .await
                .ok()["status"],
            "finished"
        );
    }
);
