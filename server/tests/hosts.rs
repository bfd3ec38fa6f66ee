//! Hosts: IP validation, filters, sorting, visibility, instances, operation audits. Both databases.
mod common;
use app::perms::types::{ResourceType, HOST_PERMS};
use axum::http::Method;
use common::*;
use serde_json::{json, Value};

async fn host(t: &TestApp, body: Value) -> i64 {
    let r = t.post("/api/hosts/", t.admin(), body).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().unwrap()
}

both! {
    async fn hosts_with_validated_ip_addresses(t: TestApp) {
        let h = t.post("/api/hosts/", t.admin(), json!({
            "name": "web-01", "host_type": "ALI_ECS", "status": "inited", "os_status": "running", "location": "hangzhou",
            "ip_adress": [
                {"address": "10.1.2.3", "netmask": "255.255.0.0", "zabbix_groups": ["web"], "zabbix_temlates": ["linux"]},
                {"address": "47.96.1.2", "netmask": "24", "network": "47.96.1.0", "owner": "LB", "is_virtual": true}
            ]
        })).await.ok();
        assert_eq!(h["name"], "web-01");
        assert_eq!(h["ip_address"][0]["network"], "10.1.0.0");
        assert_eq!(h["ip_address"][0]["addr_type"], "PRIVATE");
        assert_eq!(h["ip_address"][0]["zabbix_templates"], json!(["linux"]));
        assert_eq!(h["ip_address"][1]["netmask"], "255.255.255.0");
        assert_eq!(h["ip_address"][1]["addr_type"], "PUBLIC");
        let id = h["id"].as_i64().unwrap();
        // The list builds addresses in its page query: the same as the single host's.
        let listed = t.get("/api/hosts/?name=web-01", t.admin()).await.ok();
        assert_eq!(listed["results"][0]["ip_address"], h["ip_address"]);
        assert_eq!(listed["results"][0]["ip_address"][1]["owner"], "LB");
        assert_eq!(listed["results"][0]["ip_address"][1]["is_virtual"], true);
        assert_eq!(listed["results"][0]["ip_address"][0]["is_virtual"], false);
        // Bad addresses are refused with the field and change nothing.
        for bad in [
            json!({"address": "10.1.2.300", "netmask": "24"}),
            json!({"address": "10.1.2.3", "netmask": "255.0.255.0"}),
            json!({"address": "10.1.2.3", "netmask": "255.255.0.0", "network": "10.1.2.0"}),
            json!({"address": "10.9.2.3", "netmask": "255.255.0.0", "network": "10.1.0.0"}),
            json!({"address": "10.1.2.3", "netmask": "24", "owner": "ROUTER"}),
        ] {
            let e = t.post("/api/hosts/", t.admin(), json!({"name": "bad", "ip_address": [bad]})).await.err(400, 40000);
            assert_eq!(e["field"], "ip_address", "{e}");
        }
        assert_eq!(t.get("/api/hosts/?name=bad", t.admin()).await.ok()["count"], 0);
        // The same address on the same network is taken; on another network it is fine.
        let e = t.post("/api/hosts/", t.admin(), json!({"name": "web-02", "ip_address": [{"address": "10.1.2.3", "netmask": "255.255.0.0"}]})).await.err(400, 40000);
        assert!(e["message"].as_str().unwrap().contains("web-01"), "{e}");
        host(&t, json!({"name": "web-02", "ip_address": [{"address": "10.1.2.3", "netmask": "255.255.255.0"}]})).await;
        t.post("/api/hosts/", t.admin(), json!({"name": "web-01"})).await.err(409, 40900);
        t.post("/api/hosts/", t.admin(), json!({"name": "x", "host_type": "VM"})).await.err(400, 40000);
        t.post("/api/hosts/", t.admin(), json!({"name": "x", "status": "gone"})).await.err(400, 40000);
        // PATCH replaces the addresses; the audit keeps before and after.
        let u = t.call(Method::PATCH, &format!("/api/hosts/{id}/"), t.admin(), Some(json!({"ip_address": [{"address": "192.168.0.10", "netmask": "24"}], "status": "attached"}))).await.ok();
        assert_eq!(u["ip_address"].as_array().unwrap().len(), 1);
        assert_eq!(u["status"], "attached");
        let ops = t.get("/api/audit/host-operations/?hostname=web-01&op_type=update", t.admin()).await.ok();
        assert_eq!(ops["count"], 1);
        assert!(ops["results"][0]["op_detail"].as_str().unwrap().contains("47.96.1.2"));
    }
}

both! {
    async fn filters_sorting_and_visibility(t: TestApp) {
        let mut ids = vec![];
        for (i, (status, ty, loc)) in [("raw", "PHY_HOST", "bj"), ("inited", "ALI_ECS", "hz"), ("attached", "ALI_ECS", "hz"), ("offline", "TECENT_CVM", "sh")].iter().enumerate() {
            ids.push(host(&t, json!({"name": format!("node-{i}"), "status": status, "host_type": ty, "location": loc,
                "description": if i == 3 { "gpu box" } else { "" },
                "ip_address": [{"address": format!("10.20.{i}.5"), "netmask": "255.255.255.0"}, {"address": format!("172.16.{i}.9"), "netmask": "16"}]})).await);
        }
        assert_eq!(t.get("/api/hosts/?host_type=ALI_ECS", t.admin()).await.ok()["count"], 2);
        assert_eq!(t.get("/api/hosts/?status=offline", t.admin()).await.ok()["count"], 1);
        assert_eq!(t.get("/api/hosts/?location=hz&status=inited", t.admin()).await.ok()["count"], 1);
        assert_eq!(t.get("/api/hosts/?ip=10.20.2", t.admin()).await.ok()["results"][0]["name"], "node-2");
        // Addresses match by prefix; names and descriptions anywhere.
        assert_eq!(t.get("/api/hosts/?q=172.16.1", t.admin()).await.ok()["results"][0]["name"], "node-1");
        assert_eq!(t.get("/api/hosts/?q=172.16.1", t.admin()).await.ok()["count"], 1);
        assert_eq!(t.get("/api/hosts/?q=.1.9", t.admin()).await.ok()["count"], 0);
        // A host matching through both addresses and its name counts once.
        assert_eq!(t.get("/api/hosts/?q=1", t.admin()).await.ok()["count"], 4);
        assert_eq!(t.get("/api/hosts/?q=1&page_size=3", t.admin()).await.ok()["results"].as_array().unwrap().len(), 3);
        assert_eq!(t.get("/api/hosts/?q=de-2", t.admin()).await.ok()["results"][0]["name"], "node-2");
        assert_eq!(t.get("/api/hosts/?q=gpu", t.admin()).await.ok()["results"][0]["name"], "node-3");
        let desc = t.get("/api/hosts/?ordering=-name&page_size=2", t.admin()).await.ok();
        assert_eq!(desc["count"], 4);
        assert_eq!(desc["results"][0]["name"], "node-3");
        assert_eq!(desc["next"], "/api/hosts/?page=2&page_size=2&ordering=-name");
        t.get("/api/hosts/?ordering=secret", t.admin()).await.err(400, 40000);
        // Free text is data, never query syntax: FTS operators, quotes and LIKE wildcards.
        for q in ["%22", "%22%22%22", "a%22b", "NEAR(x", "%25_%25", "%5C", "*", "x%20OR%20y", "%E4%B8%BB%E6%9C%BA%E4%B8%BB", "~", "%27"] {
            let r = t.get(&format!("/api/hosts/?q={q}"), t.admin()).await.ok();
            assert_eq!(r["count"], 0, "{q}");
        }
        assert_eq!(t.get("/api/hosts/?q=GPU%20B", t.admin()).await.ok()["count"], 1);
        // A user sees the hosts granted to them (and their counts), with matching actions.
        let (uid, token) = t.user("hugo").await;
        assert_eq!(t.get("/api/hosts/", Auth::Token(&token)).await.ok()["count"], 0);
        t.post(&format!("/api/users/{uid}/host/perms/"), t.admin(), json!({"authorizations": [{"id": ids[1], "permission": {"view_host": true, "login_host": true}}]})).await.ok();
        let mine = t.get("/api/hosts/?status=inited", Auth::Token(&token)).await.ok();
        assert_eq!(mine["count"], 1);
        assert_eq!(t.get("/api/hosts/", Auth::Token(&token)).await.ok()["count"], 1);
        assert_eq!(t.get("/api/hosts/?status=raw", Auth::Token(&token)).await.ok()["count"], 0);
        for perm in HOST_PERMS {
            let casbin = app::perms::service::holds_resource(&t.ctx, uid, ResourceType::Host, ids[1], perm).await;
            assert_eq!(mine["results"][0]["available_actions"][*perm].as_bool(), Some(casbin), "{perm}");
        }
        t.get(&format!("/api/hosts/{}/", ids[0]), Auth::Token(&token)).await.err(403, 40300);
        // Module-wide edit_host shows every host.
        t.grant("user", uid, "host", &["enable_host_mgmt", "edit_host"]).await;
        assert_eq!(t.get("/api/hosts/", Auth::Token(&token)).await.ok()["count"], 4);
        t.call(Method::DELETE, &format!("/api/hosts/{}/", ids[0]), Auth::Token(&token), None).await.err(403, 40300);
        // The unfiltered count comes from the maintained row count: it follows deletes.
        t.call(Method::DELETE, &format!("/api/hosts/{}/", ids[0]), t.admin(), None).await.ok();
        assert_eq!(t.get("/api/hosts/", t.admin()).await.ok()["count"], 3);
        assert_eq!(t.get("/api/hosts/?location=hz", t.admin()).await.ok()["count"], 2);
    }
}

both! {
    async fn instances_link_applications_and_hosts(t: TestApp) {
        let h1 = host(&t, json!({"name": "app-01"})).await;
        let h2 = host(&t, json!({"name": "app-02"})).await;
        let a = t.post("/api/applications/", t.admin(), json!({"name": "billing"})).await.ok()["id"].as_i64().unwrap();
        let added = t.post(&format!("/api/application/{a}/instances/"), t.admin(), json!([{"hostid": h1}, {"hostid": h2}])).await.ok();
        assert_eq!(added.as_array().unwrap().len(), 2);
        assert_eq!(added[0]["hostname"], "app-01");
        assert_eq!(added[0]["status"], "stopped");
        t.post(&format!("/api/applications/{a}/instances/"), t.admin(), json!([{"hostid": h1}])).await.err(409, 40900);
        let e = t.post(&format!("/api/applications/{a}/instances/"), t.admin(), json!([{"hostid": 999999}])).await.err(400, 40000);
        assert_eq!(e["field"], "hostid");
        assert_eq!(t.get(&format!("/api/applications/{a}/instances/"), t.admin()).await.ok()["count"], 2);
        assert_eq!(t.get(&format!("/api/hosts/{h1}/applications/"), t.admin()).await.ok()["results"][0]["name"], "billing");
        // Deletes are refused while instances exist, naming them.
        let e = t.call(Method::DELETE, &format!("/api/hosts/{h1}/"), t.admin(), None).await.err(409, 40900);
        assert!(e["message"].as_str().unwrap().contains("billing"));
        let e = t.call(Method::DELETE, &format!("/api/applications/{a}/"), t.admin(), None).await.err(409, 40900);
        assert!(e["message"].as_str().unwrap().contains("app-02"));
        let inst = added[1]["id"].as_i64().unwrap();
        t.call(Method::DELETE, &format!("/api/applications/{a}/instances/"), t.admin(), Some(json!([{"id": inst}]))).await.ok();
        t.call(Method::DELETE, &format!("/api/hosts/{h1}/?force=true"), t.admin(), None).await.ok();
        assert_eq!(t.get(&format!("/api/applications/{a}/instances/"), t.admin()).await.ok()["count"], 0);
        // Attach and detach are recorded on both sides; the seed's "deatach" spelling filters too.
        assert_eq!(t.get("/api/audit/app-operations/?app_name=billing&op_type=attach_host", t.admin()).await.ok()["count"], 2);
        assert_eq!(t.get("/api/audit/app-operations/?op_type=deatach_host", t.admin()).await.ok()["count"], 1);
        assert_eq!(t.get("/api/audit/host-operations/?hostname=app-02&op_type=detach_app", t.admin()).await.ok()["count"], 1);
        let del = t.get("/api/audit/host-operations/?op_type=delete", t.admin()).await.ok();
        assert!(del["results"][0]["op_detail"].as_str().unwrap().contains("billing"));
        assert_eq!(t.get("/api/audit/app-operations/?operator=admin&op_time__gt=2000-01-01", t.admin()).await.ok()["count"], 4);
    }
}

both! {
    async fn host_endpoints_refuse_the_unprivileged(t: TestApp) {
        let h = host(&t, json!({"name": "locked"})).await;
        let a = t.post("/api/applications/", t.admin(), json!({"name": "svc"})).await.ok()["id"].as_i64().unwrap();
        let (uid, token) = t.user("nobody").await;
        let cases: Vec<(Method, String, Option<Value>)> = vec![
            (Method::POST, "/api/hosts/".into(), Some(json!({"name": "n"}))),
            (Method::GET, format!("/api/hosts/{h}/"), None),
            (Method::PATCH, format!("/api/hosts/{h}/"), Some(json!({"location": "x"}))),
            (Method::DELETE, format!("/api/hosts/{h}/"), None),
            (Method::GET, format!("/api/hosts/{h}/applications/"), None),
            (Method::GET, format!("/api/applications/{a}/instances/"), None),
            (Method::POST, format!("/api/applications/{a}/instances/"), Some(json!([{"hostid": h}]))),
            (Method::DELETE, format!("/api/applications/{a}/instances/"), Some(json!([{"id": 1}]))),
            (Method::GET, "/api/audit/app-operations/".into(), None),
            (Method::GET, "/api/audit/host-operations/".into(), None),
        ];
        for (m, path, body) in cases {
            let r = t.call(m.clone(), &path, Auth::Token(&token), body).await;
            assert_eq!(r.status, 403, "{m} {path}: {} {}", r.status, r.json);
        }
        // edit_app on the application is not enough to attach it to a host one cannot edit.
        t.post(&format!("/api/users/{uid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": a, "permission": {"edit_app": true}}]})).await.ok();
        t.post(&format!("/api/applications/{a}/instances/"), Auth::Token(&token), json!([{"hostid": h}])).await.err(403, 40300);
        assert_eq!(t.get(&format!("/api/applications/{a}/instances/"), t.admin()).await.ok()["count"], 0);
    }
}

both! {
    async fn a_non_admin_list_in_name_order_follows_renames_grants_and_deletes(t: TestApp) {
        // A list restricted only by visibility pages through the user's hosts kept in name order;
        // every write to hosts and every grant change must show at once.
        let ids = [host(&t, json!({"name": "m-2"})).await, host(&t, json!({"name": "m-1"})).await, host(&t, json!({"name": "m-3"})).await];
        host(&t, json!({"name": "m-0"})).await;
        let (uid, token) = t.user("nina").await;
        for id in ids {
            t.post(&format!("/api/users/{uid}/host/perms/"), t.admin(), json!({"authorizations": [{"id": id, "permission": {"view_host": true}}]})).await.ok();
        }
        async fn names(t: &TestApp, token: &str, query: &str) -> (i64, Vec<String>) {
            let r = t.get(&format!("/api/hosts/{query}"), Auth::Token(token)).await.ok();
            (r["count"].as_i64().unwrap(), r["results"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap().to_string()).collect())
        }
        assert_eq!(names(&t, &token, "").await, (3, vec!["m-1".into(), "m-2".into(), "m-3".into()]));
        assert_eq!(names(&t, &token, "?page=2&page_size=2").await, (3, vec!["m-3".into()]));
        // A page past the end, however far, is empty (not an overflow), for both list paths.
        assert_eq!(names(&t, &token, "?page=18446744073709551615&page_size=100").await, (3, vec![]));
        let far = t.get("/api/hosts/?page=18446744073709551615&q=m-&page_size=100", t.admin()).await.ok();
        assert_eq!((far["count"].as_i64(), far["results"].as_array().unwrap().len()), (Some(4), 0));
        assert_eq!(t.get("/api/applications/?page=18446744073709551615", t.admin()).await.ok()["count"], 0);
        // Blank filters are no filters.
        assert_eq!(t.get("/api/hosts/?q=&status=&name=", t.admin()).await.ok()["count"], 4);
        assert_eq!(names(&t, &token, "?ordering=-name").await.1, vec!["m-3", "m-2", "m-1"]);
        t.call(Method::PATCH, &format!("/api/hosts/{}/", ids[1]), t.admin(), Some(json!({"name": "m-9"}))).await.ok();
        // (A small page, so a stale order would pick the wrong hosts, not just sort them.)
        assert_eq!(names(&t, &token, "?page_size=2").await.1, vec!["m-2", "m-3"]);
        assert_eq!(names(&t, &token, "").await.1, vec!["m-2", "m-3", "m-9"]);
        t.call(Method::DELETE, &format!("/api/hosts/{}/", ids[0]), t.admin(), None).await.ok();
        assert_eq!(names(&t, &token, "").await, (2, vec!["m-3".into(), "m-9".into()]));
        t.post(&format!("/api/users/{uid}/host/perms/"), t.admin(), json!({"authorizations": [{"id": ids[2], "permission": {"view_host": false}}]})).await.ok();
        assert_eq!(names(&t, &token, "").await, (1, vec!["m-9".into()]));
        // The user's own new host is theirs at once (creator grants), in its place.
        t.grant("user", uid, "host", &["enable_host_mgmt", "add_host"]).await;
        t.post("/api/hosts/", Auth::Token(&token), json!({"name": "m-5"})).await.ok();
        assert_eq!(names(&t, &token, "?page_size=1").await, (2, vec!["m-5".into()]));
    }
}
