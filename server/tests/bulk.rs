//! Bulk CSV export and import of hosts and applications: round trips, per-row errors,
//! all-or-nothing, permissions, one audit record per import, re-runs. Both databases.
mod common;
use common::*;
use serde_json::{json, Value};

async fn host(t: &TestApp, body: Value) -> i64 {
    let r = t.post("/api/hosts/", t.admin(), body).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().unwrap()
}

/// Queues an import as `auth`, runs the job, answers the finished import.
async fn import(t: &TestApp, auth: Auth<'_>, kind: &str, csv: &str, all_or_nothing: bool) -> Value {
    let r = t
        .post(
            "/api/imports/",
            auth,
            json!({"kind": kind, "csv": csv, "all_or_nothing": all_or_nothing, "filename": "edit.csv"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let id = r.json["id"].as_i64().unwrap();
    assert_eq!(r.json["status"], "queued");
    app::jobs::run_due(&t.ctx).await.unwrap();
    let done = t.get(&format!("/api/imports/{id}/"), auth).await.ok();
    assert_eq!(done["status"], "done", "{done}");
    done
}

fn csv_text(r: Resp) -> String {
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    r.json.as_str().unwrap().to_string()
}

both! {
    async fn hosts_export_edit_and_import_back(t: TestApp) {
        let web1 = host(&t, json!({"name": "web-1", "status": "inited", "location": "hz", "description": "front, \"main\"",
            "ip_address": [{"address": "10.0.0.1", "netmask": "255.255.0.0", "zabbix_groups": ["web"]}, {"address": "47.1.1.1", "netmask": "24", "owner": "LB", "is_virtual": true}]})).await;
        host(&t, json!({"name": "db-1", "status": "raw", "ip_address": [{"address": "10.0.0.2", "netmask": "16"}]})).await;
        // The export follows the list filter and carries the addresses.
        let all = csv_text(t.get("/api/hosts/export.csv", t.admin()).await);
        let lines: Vec<&str> = all.lines().collect();
        assert_eq!(lines[0], "name,host_type,status,os_status,os_type,cpu,memory,location,description,ip_addresses");
        assert_eq!(lines.len(), 3);
        assert!(lines[2].contains("10.0.0.1/255.255.0.0 PRIVATE; 47.1.1.1/255.255.255.0 PUBLIC LB virtual"), "{all}");
        assert!(lines[2].contains("\"front, \"\"main\"\"\""), "{all}");
        let only = csv_text(t.get("/api/hosts/export.csv?status=raw", t.admin()).await);
        assert_eq!(only.lines().count(), 2);
        t.get("/api/hosts/export.csv", Auth::None).await.err(401, 40100);

        // Re-importing the export untouched changes nothing and writes no audit record.
        let same = import(&t, t.admin(), "hosts", &all, false).await;
        assert_eq!((same["created"].as_u64(), same["updated"].as_u64(), same["unchanged"].as_u64()), (Some(0), Some(0), Some(2)));
        assert_eq!(same["processed"], 2);
        assert!(t.audit("host").await.iter().all(|a| a["op_type"] != "import"));

        // Edited in a spreadsheet: one change, one new host, three bad rows.
        let edited = all.replace("web-1,PHY_HOST,inited", "web-1,PHY_HOST,attached")
            + "app-9,ALI_ECS,raw,stopped,,4,8192,bj,new,10.0.0.9/16\n"
            + "bad-ip,ALI_ECS,raw,stopped,,4,8192,bj,,10.0.0.300/16\n"
            + "bad-type,VM,raw,stopped,,4,8192,bj,,\n"
            + "taken,ALI_ECS,raw,stopped,,4,8192,bj,,10.0.0.2/16\n";
        let r = import(&t, t.admin(), "hosts", &edited, false).await;
        assert_eq!(r["created"], 1, "{r}");
        assert_eq!(r["updated"], 1, "{r}");
        assert_eq!(r["unchanged"], 1, "{r}");
        let errors = r["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 3, "{r}");
        assert_eq!(errors[0]["line"], 5);
        assert_eq!(errors[0]["field"], "ip_address");
        assert_eq!(errors[1]["line"], 6);
        assert_eq!(errors[1]["field"], "host_type");
        assert!(errors[2]["message"].as_str().unwrap().contains("db-1"), "{r}");
        let w = t.get(&format!("/api/hosts/{web1}/"), t.admin()).await.ok();
        assert_eq!(w["status"], "attached");
        // Zabbix settings of kept addresses survive (the CSV does not carry them).
        assert_eq!(w["ip_address"][0]["zabbix_groups"], json!(["web"]));
        assert_eq!(w["ip_address"][1]["is_virtual"], true);
        let found = t.get("/api/hosts/?q=10.0.0.9", t.admin()).await.ok();
        assert_eq!(found["results"][0]["name"], "app-9");
        assert_eq!(t.get("/api/hosts/?name=bad", t.admin()).await.ok()["count"], 0);
        // One audit record for the batch, with before and after.
        let audits: Vec<Value> = t.audit("host").await.into_iter().filter(|a| a["op_type"] == "import").collect();
        assert_eq!(audits.len(), 1);
        let detail = audits[0]["detail"].clone();
        assert_eq!(detail["created"][0]["name"], "app-9", "{detail}");
        assert_eq!(detail["updated"][0]["before"]["status"], "inited");
        assert_eq!(detail["updated"][0]["after"]["status"], "attached");
        assert_eq!(detail["refused"], 3);
        let ops = t.get("/api/audit/host-operations/?op_type=import", t.admin()).await.ok();
        assert_eq!(ops["count"], 1, "{ops}");
    }
}

both! {
    async fn all_or_nothing_and_bad_files(t: TestApp) {
        let csv = "name,status,ip_addresses\nok-1,raw,10.1.0.1/16\nok-2,gone,\n";
        let r = import(&t, t.admin(), "hosts", csv, true).await;
        assert_eq!(r["created"], 0);
        assert_eq!(r["errors"][0]["line"], 3);
        assert!(r["message"].as_str().unwrap().contains("nothing imported"), "{r}");
        assert_eq!(t.get("/api/hosts/", t.admin()).await.ok()["count"], 0);
        // Without all-or-nothing the valid row lands.
        let r = import(&t, t.admin(), "hosts", csv, false).await;
        assert_eq!(r["created"], 1);
        // A file that is not what it claims is refused before anything is queued.
        for (csv, kind) in [
            ("name,colour\nx,red\n", "hosts"),
            ("status\nraw\n", "hosts"),
            ("name\n", "hosts"),
            ("", "hosts"),
            ("name\nx\n", "routers"),
            ("name,status\nx\n", "hosts"),
        ] {
            let e = t.post("/api/imports/", t.admin(), json!({"kind": kind, "csv": csv})).await.err(400, 40000);
            assert!(e["field"] == "csv" || e["field"] == "kind", "{e}");
        }
        t.post("/api/imports/", t.admin(), json!({"kind": "hosts"})).await.err(400, 40000);
        // Files past axum's default 2 MB body limit are taken (up to 20 MB); larger ones are 4xx.
        let mut big = String::from("name,description\n");
        while big.len() < 3 << 20 {
            big.push_str(&format!("big-{},{}\n", big.len(), "x".repeat(200)));
        }
        let r = t.post("/api/imports/", t.admin(), json!({"kind": "hosts", "csv": big, "all_or_nothing": true})).await;
        assert_eq!(r.status, 202, "{}", r.json);
        let huge = "x".repeat(22 << 20);
        let r = t.post("/api/imports/", t.admin(), json!({"kind": "hosts", "csv": huge})).await;
        assert!(r.status.is_client_error(), "{}", r.status);
        // Finished imports are not re-run (a re-delivered job is harmless): the second import
        // created ok-1; with ok-1 deleted since, a re-run would create it again.
        let ok1 = t.get("/api/hosts/?name=ok-1", t.admin()).await.ok()["results"][0]["id"].as_i64().unwrap();
        t.call(axum::http::Method::DELETE, &format!("/api/hosts/{ok1}/"), t.admin(), None).await.ok();
        assert_eq!(app::bulk::service::run(&t.ctx, 2).await, Ok(()));
        assert_eq!(t.get("/api/hosts/?name=ok-1", t.admin()).await.ok()["count"], 0);
    }
}

both! {
    async fn imports_check_permissions_per_row(t: TestApp) {
        let mine = host(&t, json!({"name": "mine", "status": "raw"})).await;
        host(&t, json!({"name": "theirs", "status": "raw"})).await;
        let (uid, token) = t.user("ivy").await;
        let csv = "name,status\nmine,offline\n";
        // No host rights at all: refused up front.
        t.post("/api/imports/", Auth::Token(&token), json!({"kind": "hosts", "csv": csv})).await.err(403, 40300);
        t.post("/api/imports/", Auth::None, json!({"kind": "hosts", "csv": csv})).await.err(401, 40100);
        t.get("/api/imports/", Auth::None).await.err(401, 40100);
        t.get("/api/imports/1/", Auth::None).await.err(401, 40100);
        // Edit rights on one host: that row lands, the others are refused row by row.
        t.post(&format!("/api/users/{uid}/host/perms/"), t.admin(),
            json!({"authorizations": [{"id": mine, "permission": {"view_host": true, "edit_host": true}}]})).await.ok();
        let r = import(&t, Auth::Token(&token), "hosts", "name,status\nmine,inited\ntheirs,inited\nnew-one,raw\n", false).await;
        assert_eq!(r["updated"], 1, "{r}");
        assert_eq!(r["errors"].as_array().unwrap().len(), 2, "{r}");
        assert_eq!(r["created_by"], "ivy");
        assert_eq!(t.get("/api/hosts/?name=theirs", t.admin()).await.ok()["results"][0]["status"], "raw");
        // Taking a host offline needs deactivate_host, by import as by change-status.
        let r = import(&t, Auth::Token(&token), "hosts", "name,status\nmine,offline\n", false).await;
        assert_eq!((r["updated"].clone(), r["errors"].as_array().unwrap().len()), (json!(0), 1), "{r}");
        assert_eq!(t.get("/api/hosts/?name=mine", t.admin()).await.ok()["results"][0]["status"], "inited");
        // The export only holds what ivy may see.
        let csv = csv_text(t.get("/api/hosts/export.csv", Auth::Token(&token)).await);
        assert_eq!(csv.lines().count(), 2);
        assert!(csv.contains("mine,"));
        // Imports are private to their uploader (and audit administrators).
        let id = r["id"].as_i64().unwrap();
        assert_eq!(t.get("/api/imports/", Auth::Token(&token)).await.ok()["count"], 2);
        assert_eq!(t.get("/api/imports/", t.admin()).await.ok()["count"], 0);
        t.get(&format!("/api/imports/{id}/"), t.admin()).await.ok();
        let (_, other) = t.user("olaf").await;
        t.get(&format!("/api/imports/{id}/"), Auth::Token(&other)).await.err(404, 40400);
    }
}

both! {
    async fn applications_round_trip_with_tree_and_dependencies(t: TestApp) {
        t.post("/api/productions/", t.admin(), json!({"name": "retail"})).await.ok();
        // Children before parents in the file: the import orders them.
        let csv = "full_name,production,application_type,description,required_apps\n\
                   shop.api.worker,,process,jobs,\n\
                   shop,retail,process,the shop,\n\
                   shop.api,,process,,shop.db\n\
                   shop.db,,container,,\n\
                   lost.child,,process,,\n";
        let r = import(&t, t.admin(), "applications", csv, false).await;
        assert_eq!(r["created"], 4, "{r}");
        assert_eq!(r["errors"][0]["line"], 6, "{r}");
        assert!(r["errors"][0]["message"].as_str().unwrap().contains("lost"), "{r}");
        let api = t.get("/api/applications/?full_path=shop.api&has_parent=1", t.admin()).await.ok();
        let api_id = api["results"].as_array().unwrap().iter().find(|a| a["full_name"] == "shop.api").unwrap()["id"].as_i64().unwrap();
        let req = t.get(&format!("/api/applications/{api_id}/required-apps/"), t.admin()).await.ok();
        assert_eq!(req["results"][0]["full_name"], "shop.db");
        // Export, and re-import unchanged: nothing changes.
        let out = csv_text(t.get("/api/applications/export.csv", t.admin()).await);
        assert_eq!(out.lines().count(), 5, "{out}");
        assert!(out.contains("shop,retail,process,the shop"), "{out}");
        assert!(out.contains("shop.api,,process,,,,,,,,,shop.db"), "{out}");
        let same = import(&t, t.admin(), "applications", &out, false).await;
        assert_eq!((same["created"].as_u64(), same["updated"].as_u64()), (Some(0), Some(0)), "{same}");
        // A dependency cycle in the file is refused on its row.
        let cyc = "full_name,required_apps\nshop.db,shop.api\n";
        let r = import(&t, t.admin(), "applications", cyc, false).await;
        assert_eq!(r["errors"][0]["field"], "required_apps", "{r}");
        assert!(r["errors"][0]["message"].as_str().unwrap().contains("cycle"), "{r}");
        // A user with no application rights cannot import, and exports only the header.
        let (_, token) = t.user("zed").await;
        let none = csv_text(t.get("/api/applications/export.csv", Auth::Token(&token)).await);
        assert_eq!(none.lines().count(), 1, "{none}");
        t.post("/api/imports/", Auth::Token(&token), json!({"kind": "applications", "csv": csv})).await.err(403, 40300);
    }
}
