//! DNS set-up through the JSON API as admin: services on the test servers, zones, records.
use super::dns_servers::{Bind, PowerDns};
use super::TestApp;
use serde_json::{json, Value};

/// A PowerDNS service on `p`; answers its id.
pub async fn pdns_service(t: &TestApp, p: &PowerDns, name: &str) -> i64 {
    let body = json!({"name": name, "type": "powerdns", "api_endpoint": p.api_url, "api_key": p.api_key, "description": "test pdns"});
    created_id(t, "/api/dns-services/", body).await
}

/// A BIND service on `b` (TSIG key of the test server); answers its id.
pub async fn bind_service(t: &TestApp, b: &Bind, name: &str) -> i64 {
    let body = json!({"name": name, "type": "bind", "api_endpoint": b.addr.to_string(), "tsig_key_name": b.key_name, "tsig_algorithm": b.algorithm, "tsig_secret": b.secret});
    created_id(t, "/api/dns-services/", body).await
}

/// A zone of service `sid`; answers its id.
pub async fn zone(t: &TestApp, sid: i64, name: &str) -> i64 {
    created_id(
        t,
        &format!("/api/dns-services/{sid}/domains/"),
        json!({"name": name}),
    )
    .await
}

async fn created_id(t: &TestApp, path: &str, body: Value) -> i64 {
    let r = t.post(path, t.admin(), body).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().unwrap()
}

pub fn rec_path(sid: i64, did: i64) -> String {
    format!("/api/dns-services/{sid}/domains/{did}/records/")
}

/// Adds a record (or an array of them) as admin; answers the created body.
pub async fn add(t: &TestApp, sid: i64, did: i64, body: Value) -> Value {
    let r = t.post(&rec_path(sid, did), t.admin(), body).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json
}

/// The zone's records (up to 500) matching `query`, as admin.
pub async fn records(t: &TestApp, sid: i64, did: i64, query: &str) -> Vec<Value> {
    t.get(
        &format!("{}?page_size=500&{query}", rec_path(sid, did)),
        t.admin(),
    )
    .await
    .ok()["results"]
        .as_array()
        .unwrap()
        .clone()
}
