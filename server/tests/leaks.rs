//! Answers show only what the caller may see (issue 8, items 4, 5, 6 and parts of 12):
//! get-by-users, a subject's grants, refusal and row-error messages, `?user=`/`?role=`, CSV
//! formula neutralization, `_` in name filters. Both databases.
mod common;
use axum::http::Method;
use common::*;
use serde_json::{json, Value};

async fn app(t: &TestApp, body: Value) -> i64 {
    let r = t.post("/api/applications/", t.admin(), body).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().unwrap()
}

async fn host(t: &TestApp, body: Value) -> i64 {
    let r = t.post("/api/hosts/", t.admin(), body).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().unwrap()
}

/// Grants `perms` on one resource (`application`, `host`, `business`) to a user, as admin.
async fn grant_on(t: &TestApp, uid: i64, kind: &str, id: i64, perms: &[&str]) {
    let flags: serde_json::Map<String, Value> = perms
        .iter()
        .map(|p| (p.to_string(), Value::Bool(true)))
        .collect();
    t.post(
        &format!("/api/users/{uid}/{kind}/perms/"),
        t.admin(),
        json!({"authorizations": [{"id": id, "permission": flags}]}),
    )
    .await
    .ok();
}

fn msg(v: &Value) -> String {
    v["message"].as_str().unwrap_or_default().to_string()
}

/// Queues an import as `auth`, runs the job, answers the finished import.
async fn import(t: &TestApp, auth: Auth<'_>, kind: &str, csv: &str) -> Value {
    let r = t
        .post(
            "/api/imports/",
            auth,
            json!({"kind": kind, "csv": csv, "filename": "leaks.csv"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let id = r.json["id"].as_i64().unwrap();
    app::jobs::run_due(&t.ctx).await.unwrap();
    let done = t.get(&format!("/api/imports/{id}/"), auth).await.ok();
    assert_eq!(done["status"], "done", "{done}");
    done
}

fn csv_of(r: Resp) -> String {
    assert_eq!(r.status, 200, "{}", r.json);
    r.json.as_str().unwrap().to_string()
}

both! {
    async fn get_by_users_answers_only_what_the_caller_may_view(t: TestApp) {
        let shared = app(&t, json!({"name": "shared"})).await;
        let secret = app(&t, json!({"name": "secret-svc", "startup_cmd": "/opt/secret/run", "directory": "/opt/secret"})).await;
        let (tid, _) = t.user("tara").await;
        grant_on(&t, tid, "application", shared, &["view_app"]).await;
        grant_on(&t, tid, "application", secret, &["view_app", "deploy_app"]).await;
        let (cid, ctok) = t.user("carl").await;
        t.grant("user", cid, "system", &["enable_system_mgmt", "view_users"]).await;
        grant_on(&t, cid, "application", shared, &["view_app"]).await;
        // view_users shows what tara sees, within what carl sees.
        let by = t.post("/api/applications/get-by-users/", Auth::Token(&ctok), json!([{"id": tid}])).await.ok();
        let apps = by[0]["applications"].as_array().unwrap();
        assert_eq!(apps.len(), 1, "{by}");
        assert_eq!(apps[0]["full_name"], "shared");
        assert!(!by.to_string().contains("secret"), "{by}");
        // The admin sees both of tara's.
        let all = t.post("/api/applications/get-by-users/", t.admin(), json!([{"id": tid}])).await.ok();
        assert_eq!(all[0]["applications"].as_array().unwrap().len(), 2);
    }
}

both! {
    async fn a_subjects_grants_name_only_what_the_caller_may_view(t: TestApp) {
        let shared = app(&t, json!({"name": "shared"})).await;
        let secret = app(&t, json!({"name": "secret-svc"})).await;
        let h1 = host(&t, json!({"name": "web-pub"})).await;
        let h2 = host(&t, json!({"name": "secret-db"})).await;
        let (tid, ttok) = t.user("tara").await;
        for a in [shared, secret] {
            grant_on(&t, tid, "application", a, &["view_app"]).await;
        }
        for h in [h1, h2] {
            grant_on(&t, tid, "host", h, &["view_host"]).await;
        }
        let (cid, ctok) = t.user("carl").await;
        t.grant("user", cid, "system", &["enable_system_mgmt", "view_users"]).await;
        grant_on(&t, cid, "application", shared, &["view_app"]).await;
        grant_on(&t, cid, "host", h1, &["view_host"]).await;
        // The rows and the count agree, and the hidden objects are not named.
        let apps = t.get(&format!("/api/users/{tid}/application/perms/"), Auth::Token(&ctok)).await.ok();
        assert_eq!(apps["count"], 1, "{apps}");
        assert_eq!(apps["results"].as_array().unwrap().len(), 1);
        assert_eq!(apps["results"][0]["app_name"], "shared");
        let hosts = t.get(&format!("/api/users/{tid}/host/perms/"), Auth::Token(&ctok)).await.ok();
        assert_eq!(hosts["count"], 1, "{hosts}");
        assert!(!hosts.to_string().contains("secret-db"), "{hosts}");
        // The admin, and tara herself, see both.
        assert_eq!(t.get(&format!("/api/users/{tid}/host/perms/"), t.admin()).await.ok()["count"], 2);
        assert_eq!(t.get(&format!("/api/users/{tid}/application/perms/"), Auth::Token(&ttok)).await.ok()["count"], 2);
        // Who holds what on a resource: only on one carl may view; a hidden one reads like a missing one.
        t.get(&format!("/api/applications/{shared}/authorization/users/"), Auth::Token(&ctok)).await.ok();
        let hidden = t.get(&format!("/api/applications/{secret}/authorization/users/"), Auth::Token(&ctok)).await;
        let missing = t.get("/api/applications/999999/authorization/users/", Auth::Token(&ctok)).await;
        assert_eq!(hidden.status, 403, "{}", hidden.json);
        assert_eq!(missing.status, 403, "{}", missing.json);
        assert_eq!(msg(&hidden.json).replace(&secret.to_string(), "N"), msg(&missing.json).replace("999999", "N"));
    }
}

both! {
    async fn refusals_name_only_what_the_caller_may_view(t: TestApp) {
        let (cid, ctok) = t.user("carl").await;
        let me = Auth::Token(&ctok);
        t.grant("user", cid, "application", &["enable_app_mgmt", "create_app"]).await;
        t.grant("user", cid, "host", &["enable_host_mgmt", "add_host"]).await;
        let secret_host = host(&t, json!({"name": "secret-db", "ip_address": [{"address": "10.9.9.9", "netmask": "24"}]})).await;
        let secret_app = app(&t, json!({"name": "secret-svc"})).await;
        // An address clash names the other host only for those who may view it.
        let clash = json!({"name": "mine-h", "ip_address": [{"address": "10.9.9.9", "netmask": "24"}]});
        let e = t.post("/api/hosts/", me, clash.clone()).await.err(400, 40000);
        assert_eq!(e["field"], "ip_address");
        assert!(!msg(&e).contains("secret-db"), "{e}");
        let e = t.post("/api/hosts/", t.admin(), clash).await.err(400, 40000);
        assert!(msg(&e).contains("secret-db"), "{e}");
        // carl's own application, required by a hidden one and running on a hidden host.
        let mine = t.post("/api/applications/", me, json!({"name": "mine-app"})).await.ok()["id"].as_i64().unwrap();
        t.post(&format!("/api/applications/{secret_app}/required-apps/"), t.admin(), json!([{"id": mine}])).await.ok();
        t.post(&format!("/api/applications/{mine}/instances/"), t.admin(), json!([{"hostid": secret_host}])).await.ok();
        let e = t.call(Method::DELETE, &format!("/api/applications/{mine}/"), me, None).await.err(409, 40900);
        assert!(!msg(&e).contains("secret-svc"), "{e}");
        let e = t.call(Method::DELETE, &format!("/api/applications/{secret_app}/required-apps/"), t.admin(), Some(json!([{"id": mine}]))).await.ok();
        let _ = e;
        let e = t.call(Method::DELETE, &format!("/api/applications/{mine}/"), me, None).await.err(409, 40900);
        assert!(!msg(&e).contains("secret-db"), "{e}");
        // The admin sees the names.
        let e = t.call(Method::DELETE, &format!("/api/applications/{mine}/"), t.admin(), None).await.err(409, 40900);
        assert!(msg(&e).contains("secret-db"), "{e}");
        // carl's own host, running the hidden application.
        let mine_host = t.post("/api/hosts/", me, json!({"name": "mine-host"})).await.ok()["id"].as_i64().unwrap();
        t.post(&format!("/api/applications/{secret_app}/instances/"), t.admin(), json!([{"hostid": mine_host}])).await.ok();
        let e = t.call(Method::DELETE, &format!("/api/hosts/{mine_host}/"), me, None).await.err(409, 40900);
        assert!(!msg(&e).contains("secret-svc"), "{e}");
        // Removing a "child" that is hidden reads like removing one that does not exist.
        let hidden = t.call(Method::DELETE, &format!("/api/applications/{mine}/child-apps/"), me, Some(json!([{"id": secret_app}]))).await;
        let missing = t.call(Method::DELETE, &format!("/api/applications/{mine}/child-apps/"), me, Some(json!([{"id": 999999}]))).await;
        assert_eq!(hidden.status, missing.status, "{} / {}", hidden.json, missing.json);
        assert!(!msg(&hidden.json).contains("secret-svc"), "{}", hidden.json);
        assert_eq!(msg(&hidden.json).replace(&secret_app.to_string(), "N"), msg(&missing.json).replace("999999", "N"));
        // Depending on a hidden application reads like depending on a missing one (here it would
        // also be a cycle, whose message named it).
        t.post(&format!("/api/applications/{secret_app}/required-apps/"), t.admin(), json!([{"id": mine}])).await.ok();
        let hidden = t.post(&format!("/api/applications/{mine}/required-apps/"), me, json!([{"id": secret_app}])).await;
        let missing = t.post(&format!("/api/applications/{mine}/required-apps/"), me, json!([{"id": 999999}])).await;
        assert_eq!(hidden.status, 400, "{}", hidden.json);
        assert_eq!(missing.status, 400, "{}", missing.json);
        assert!(!msg(&hidden.json).contains("secret-svc"), "{}", hidden.json);
        assert_eq!(msg(&hidden.json).replace(&secret_app.to_string(), "N"), msg(&missing.json).replace("999999", "N"));
    }
}

both! {
    async fn user_and_role_filters_are_checked_before_any_lookup(t: TestApp) {
        let (_, ctok) = t.user("carl").await;
        let me = Auth::Token(&ctok);
        t.post("/api/roles/", t.admin(), json!({"name": "ops"})).await.ok();
        // Without view_users, a name that exists and one that does not are refused alike.
        for q in ["user=nosuch", "user=admin", "role=nosuch", "role=ops", "role=superuser"] {
            let r = t.get(&format!("/api/applications/?{q}"), me).await;
            assert_eq!(r.status, 403, "{q}: {}", r.json);
            let r = t.get(&format!("/api/applications/export.csv?{q}"), me).await;
            assert_eq!(r.status, 403, "export {q}: {}", r.json);
        }
        // One's own name needs nothing; the admin may ask about anyone.
        t.get("/api/applications/?user=carl", me).await.ok();
        t.get("/api/applications/?role=ops", t.admin()).await.ok();
        t.get("/api/applications/?user=nosuch", t.admin()).await.err(400, 40000);
    }
}

both! {
    async fn import_row_errors_read_the_same_for_hidden_and_missing(t: TestApp) {
        let (cid, ctok) = t.user("carl").await;
        let me = Auth::Token(&ctok);
        t.grant("user", cid, "application", &["enable_app_mgmt", "create_app"]).await;
        t.grant("user", cid, "host", &["enable_host_mgmt", "add_host"]).await;
        let secret = app(&t, json!({"name": "secret-svc"})).await;
        t.post("/api/productions/", t.admin(), json!({"name": "secret-line"})).await.ok();
        host(&t, json!({"name": "secret-db", "ip_address": [{"address": "10.9.9.9", "netmask": "24"}]})).await;
        let csv = "full_name,production,required_apps\n\
                   secret-svc.kid,,\n\
                   nosuch.kid,,\n\
                   mine-a,secret-line,\n\
                   mine-b,nosuch-line,\n\
                   mine-c,,secret-svc\n\
                   mine-d,,nosuch-svc\n\
                   secret-svc,,\n";
        let r = import(&t, me, "applications", csv).await;
        let errors: Vec<(u64, String, String)> = r["errors"].as_array().unwrap().iter()
            .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap_or_default().to_string(), msg(e)))
            .collect();
        let at = |line: u64| errors.iter().find(|e| e.0 == line).cloned().unwrap_or_else(|| panic!("no error on line {line}: {r}"));
        let same = |hidden: u64, missing: u64, name: &str, other: &str| {
            let (h, m) = (at(hidden), at(missing));
            assert_eq!(h.1, m.1, "{r}");
            assert_eq!(h.2.replace(name, "X"), m.2.replace(other, "X"), "{r}");
        };
        same(2, 3, "secret-svc", "nosuch");
        same(4, 5, "secret-line", "nosuch-line");
        same(6, 7, "secret-svc", "nosuch-svc");
        // An existing application carl may not see: no id, no detail.
        let (_, _, m) = at(8);
        assert!(!m.contains(&format!("application {secret}")), "{r}");
        assert!(m.contains("not found or not permitted"), "{r}");
        assert_eq!(r["created"], 2, "{r}");
        // The hidden application got no dependant.
        let by = t.get(&format!("/api/applications/{secret}/required-by-apps/"), t.admin()).await.ok();
        assert_eq!(by["count"], 0, "{by}");
        // Hosts: an address clash with a hidden host does not name it.
        let r = import(&t, me, "hosts", "name,ip_addresses\nmine-h,10.9.9.9/24\n").await;
        assert_eq!(r["errors"].as_array().unwrap().len(), 1, "{r}");
        assert!(!r.to_string().contains("secret-db"), "{r}");
    }
}

/// The cells of a simple CSV line (no commas inside cells; double quotes around a cell dropped).
fn cells(line: &str) -> Vec<String> {
    line.split(',')
        .map(|c| {
            c.strip_prefix('"')
                .and_then(|c| c.strip_suffix('"'))
                .unwrap_or(c)
                .to_string()
        })
        .collect()
}

both! {
    async fn csv_export_neutralizes_formulas_and_imports_them_back(t: TestApp) {
        let h = host(&t, json!({"name": "-cmd", "description": "+SUM(A1:A9)", "location": "@evil", "os_type": "=2+3",
            "cpu": 4, "ip_address": [{"address": "10.0.0.5", "netmask": "24"}]})).await;
        host(&t, json!({"name": "plain", "description": "'=quoted", "location": "\tx", "os_type": "'ok"})).await;
        let csv = csv_of(t.get("/api/hosts/export.csv", t.admin()).await);
        let rows: Vec<Vec<String>> = csv.lines().skip(1).map(cells).collect();
        // name,host_type,status,os_status,os_type,cpu,memory,location,description,ip_addresses
        let cmd = rows.iter().find(|r| r[0].contains("cmd")).unwrap();
        assert_eq!(cmd[0], "'-cmd", "{csv}");
        assert_eq!(cmd[4], "'=2+3");
        assert_eq!(cmd[5], "4");
        assert_eq!(cmd[7], "'@evil");
        assert_eq!(cmd[8], "'+SUM(A1:A9)");
        assert_eq!(cmd[9], "10.0.0.5/255.255.255.0 PRIVATE");
        let plain = rows.iter().find(|r| r[0] == "plain").unwrap();
        assert_eq!(plain[7], "'\tx", "{csv}");
        assert_eq!(plain[8], "''=quoted");
        assert_eq!(plain[4], "'ok");
        for row in &rows {
            for cell in row {
                assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?} in {csv}");
            }
        }
        // The file imports back unchanged: the quote is taken off again.
        let same = import(&t, t.admin(), "hosts", &csv).await;
        assert_eq!((same["created"].as_u64(), same["updated"].as_u64(), same["unchanged"].as_u64()), (Some(0), Some(0), Some(2)), "{same}");
        // And into an empty inventory, with the same values.
        t.call(Method::DELETE, &format!("/api/hosts/{h}/"), t.admin(), None).await.ok();
        let back = import(&t, t.admin(), "hosts", &csv).await;
        assert_eq!(back["created"], 1, "{back}");
        let got = t.get("/api/hosts/?name=cmd", t.admin()).await.ok();
        assert_eq!(got["results"][0]["name"], "-cmd");
        assert_eq!(got["results"][0]["description"], "+SUM(A1:A9)");
        assert_eq!(got["results"][0]["os_type"], "=2+3");
        assert_eq!(got["results"][0]["location"], "@evil");
        assert_eq!(got["results"][0]["cpu"], 4);
        assert_eq!(csv_of(t.get("/api/hosts/export.csv", t.admin()).await), csv);
        // Applications too: commands are the usual formula carriers.
        app(&t, json!({"name": "svc", "startup_cmd": "=HYPERLINK(\"http://x\")", "stop_cmd": "-kill", "description": "@me"})).await;
        let csv = csv_of(t.get("/api/applications/export.csv", t.admin()).await);
        assert!(csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{csv}");
        assert!(csv.contains(",'-kill,") && csv.contains(",'@me,"), "{csv}");
        let same = import(&t, t.admin(), "applications", &csv).await;
        assert_eq!(same["unchanged"], 1, "{same}");
        assert!(same["errors"].as_array().unwrap().is_empty(), "{same}");
    }
}

both! {
    async fn name_filters_on_grants_take_underscores_literally(t: TestApp) {
        let ab = app(&t, json!({"name": "a_b"})).await;
        let axb = app(&t, json!({"name": "axb"})).await;
        let (uid, _) = t.user("tara").await;
        for a in [ab, axb] {
            grant_on(&t, uid, "application", a, &["view_app"]).await;
        }
        let got = t.get(&format!("/api/users/{uid}/application/perms/?app_name=a_b"), t.admin()).await.ok();
        assert_eq!(got["count"], 1, "{got}");
        assert_eq!(got["results"][0]["app_name"], "a_b");
        assert_eq!(t.get(&format!("/api/users/{uid}/application/perms/?app_name=A_"), t.admin()).await.ok()["count"], 1);
        assert_eq!(t.get(&format!("/api/users/{uid}/application/perms/?app_name=%25"), t.admin()).await.ok()["count"], 0);
        assert_eq!(t.get(&format!("/api/users/{uid}/application/perms/?app_name=b"), t.admin()).await.ok()["count"], 2);
    }
}

/// Creates an application as `auth`; answers its id.
async fn app_as(t: &TestApp, auth: Auth<'_>, body: Value) -> i64 {
    let r = t.post("/api/applications/", auth, body).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().unwrap()
}

/// A product line created by the admin; answers its id.
async fn line(t: &TestApp, name: &str) -> i64 {
    t.post("/api/productions/", t.admin(), json!({"name": name}))
        .await
        .ok()["id"]
        .as_i64()
        .unwrap()
}

both! {
    async fn owners_show_contacts_and_take_ids_only_with_view_users(t: TestApp) {
        let (tid, _) = t.user("tara").await;
        t.call(Method::PATCH, &format!("/api/users/{tid}/"), t.admin(), Some(json!({"phone": "+86 138-0000"}))).await.ok();
        let (cid, ctok) = t.user("carl").await;
        let me = Auth::Token(&ctok);
        t.grant("user", cid, "application", &["enable_app_mgmt", "create_app"]).await;
        let mine = app_as(&t, me, json!({"name": "mine"})).await;
        let path = format!("/api/applications/{mine}/response-person/");
        // Another user's id, and a missing one, read alike: no name, no e-mail, no phone.
        let other = t.post(&path, me, json!([{"id": tid, "type": "ops"}])).await.err(400, 40000);
        let missing = t.post(&path, me, json!([{"id": 999999, "type": "ops"}])).await.err(400, 40000);
        assert_eq!(other["field"], "id");
        assert_eq!(msg(&other).replace(&tid.to_string(), "N"), msg(&missing).replace("999999", "N"));
        assert!(msg(&other).contains("not found or not permitted"), "{other}");
        assert!(!other.to_string().contains("tara"), "{other}");
        // Oneself needs nothing; one's own contacts are shown.
        let r = t.post(&path, me, json!([{"id": cid, "type": "dev"}])).await.ok();
        assert_eq!(r["results"][0]["email"], "carl@example.test", "{r}");
        // tara, added by the admin: carl sees her name, not her e-mail or phone.
        t.post(&path, t.admin(), json!([{"id": tid, "type": "ops"}])).await.ok();
        let list = t.get(&path, me).await.ok();
        assert_eq!(list["count"], 2, "{list}");
        let tara = list["results"].as_array().unwrap().iter().find(|o| o["id"] == tid).unwrap().clone();
        assert_eq!(tara["username"], "tara");
        assert_eq!((tara["email"].as_str(), tara["mobile"].as_str()), (Some(""), Some("")), "{list}");
        assert!(!list.to_string().contains("tara@example.test") && !list.to_string().contains("138"), "{list}");
        // With view_users: contacts shown, and others may be added by id.
        let admin_list = t.get(&path, t.admin()).await.ok();
        assert!(admin_list.to_string().contains("tara@example.test") && admin_list.to_string().contains("+86 138-0000"), "{admin_list}");
        t.grant("user", cid, "system", &["enable_system_mgmt", "view_users"]).await;
        let list = t.get(&path, me).await.ok();
        assert!(list.to_string().contains("tara@example.test") && list.to_string().contains("+86 138-0000"), "{list}");
        t.post(&path, me, json!([{"id": tid, "type": "qa"}])).await.ok();
        let e = t.post(&path, me, json!([{"id": 999999, "type": "qa"}])).await.err(400, 40000);
        assert_eq!(msg(&e), msg(&missing));
    }
}

both! {
    async fn product_line_names_and_counts_follow_view_business(t: TestApp) {
        let secret = line(&t, "secret-line").await;
        let open = line(&t, "open-line").await;
        let a1 = app(&t, json!({"name": "a1", "production": secret})).await;
        app(&t, json!({"name": "a2", "production": secret})).await;
        let a3 = app(&t, json!({"name": "a3", "production": open})).await;
        app(&t, json!({"name": "a4", "production": open})).await;
        let (cid, ctok) = t.user("carl").await;
        let me = Auth::Token(&ctok);
        for a in [a1, a3] {
            grant_on(&t, cid, "application", a, &["view_app", "edit_app"]).await;
        }
        grant_on(&t, cid, "business", open, &["view_business"]).await;
        // The export names only lines carl may view; a1's line is the stand-in `…`.
        let csv = csv_of(t.get("/api/applications/export.csv", me).await);
        assert!(!csv.contains("secret-line"), "{csv}");
        let rows: Vec<Vec<String>> = csv.lines().skip(1).map(cells).collect();
        assert_eq!(rows.len(), 2, "{csv}");
        let row = |n: &str| rows.iter().find(|r| r[0] == n).unwrap().clone();
        assert_eq!(row("a1")[1], "…", "{csv}");
        assert_eq!(row("a3")[1], "open-line", "{csv}");
        // Imported back, the stand-in keeps the line (an empty cell would take a1 out of it).
        let back = import(&t, me, "applications", &csv).await;
        assert_eq!(back["unchanged"], 2, "{back}");
        assert!(back["errors"].as_array().unwrap().is_empty(), "{back}");
        assert_eq!(t.get(&format!("/api/applications/{a1}/"), t.admin()).await.ok()["production"], secret);
        // A new application cannot go into a line the file does not name.
        t.grant("user", cid, "application", &["enable_app_mgmt", "create_app"]).await;
        let r = import(&t, me, "applications", "full_name,production\nfresh,…\n").await;
        assert_eq!(r["created"], 0, "{r}");
        assert_eq!(r["errors"][0]["field"], "production", "{r}");
        assert!(msg(&r["errors"][0]).contains("not found or not permitted"), "{r}");
        // No product line may take the stand-in's name.
        t.post("/api/productions/", t.admin(), json!({"name": "…"})).await.err(400, 40000);
        // The admin's export names every line.
        let all = csv_of(t.get("/api/applications/export.csv", t.admin()).await);
        assert!(all.contains("a1,secret-line,") && !all.contains('…'), "{all}");
        // Application counts cover only what carl may view.
        let lines = t.get("/api/productions/", me).await.ok();
        assert_eq!(lines["count"], 1, "{lines}");
        assert_eq!(lines["results"][0]["application_count"], 1, "{lines}");
        grant_on(&t, cid, "business", secret, &["view_business"]).await;
        let one = t.get(&format!("/api/productions/{secret}/"), me).await.ok();
        assert_eq!(one["application_count"], 1, "{one}");
        assert_eq!(t.get(&format!("/api/productions/{secret}/"), t.admin()).await.ok()["application_count"], 2);
    }
}

both! {
    async fn taking_hidden_applications_out_of_a_line_reads_like_missing_ones(t: TestApp) {
        let l = line(&t, "line").await;
        let other = line(&t, "other").await;
        let hidden_in = app(&t, json!({"name": "hidden-in", "production": l})).await;
        let hidden_out = app(&t, json!({"name": "hidden-out", "production": other})).await;
        let shown_out = app(&t, json!({"name": "shown-out"})).await;
        let shown_in = app(&t, json!({"name": "shown-in", "production": l})).await;
        let (cid, ctok) = t.user("carl").await;
        let me = Auth::Token(&ctok);
        grant_on(&t, cid, "business", l, &["view_business", "edit_business"]).await;
        for a in [shown_out, shown_in] {
            grant_on(&t, cid, "application", a, &["view_app", "edit_app"]).await;
        }
        let path = format!("/api/productions/{l}/applications/");
        let out = |id: i64| t.call(Method::DELETE, &path, me, Some(json!([{"id": id}])));
        let missing = out(999999).await.err(400, 40000);
        for id in [hidden_in, hidden_out] {
            let e = out(id).await.err(400, 40000);
            assert_eq!(e["field"], missing["field"]);
            assert_eq!(msg(&e).replace(&id.to_string(), "N"), msg(&missing).replace("999999", "N"));
        }
        assert!(msg(&missing).contains("not found or not permitted"), "{missing}");
        // Nothing moved; one carl may view but that is elsewhere is skipped, as before.
        assert_eq!(t.get(&format!("/api/applications/{hidden_in}/"), t.admin()).await.ok()["production"], l);
        assert_eq!(t.get(&format!("/api/applications/{hidden_out}/"), t.admin()).await.ok()["production"], other);
        out(shown_out).await.ok();
        out(shown_in).await.ok();
        assert_eq!(t.get(&format!("/api/applications/{shown_in}/"), t.admin()).await.ok()["production"], Value::Null);
    }
}

both! {
    async fn a_hidden_parent_or_line_reads_like_a_missing_one(t: TestApp) {
        let secret = app(&t, json!({"name": "secret-svc"})).await;
        let shown = app(&t, json!({"name": "shown"})).await;
        let secret_line = line(&t, "secret-line").await;
        let (cid, ctok) = t.user("carl").await;
        let me = Auth::Token(&ctok);
        t.grant("user", cid, "application", &["enable_app_mgmt", "create_app"]).await;
        grant_on(&t, cid, "application", shown, &["view_app"]).await;
        let mine = app_as(&t, me, json!({"name": "mine"})).await;
        let mine_path = format!("/api/applications/{mine}/");
        let patch = |body: Value| t.call(Method::PATCH, &mine_path, me, Some(body));
        let same = |hidden: &Value, missing: &Value, id: i64| {
            assert_eq!(hidden["field"], missing["field"], "{hidden} / {missing}");
            assert_eq!(msg(hidden).replace(&id.to_string(), "N"), msg(missing).replace("999999", "N"));
            assert!(!hidden.to_string().contains("secret"), "{hidden}");
        };
        // A move under a hidden parent, and under a missing one.
        let h = patch(json!({"parent_app": secret})).await.err(400, 40000);
        let m = patch(json!({"parent_app": 999999})).await.err(400, 40000);
        assert_eq!(m["field"], "parent_app");
        same(&h, &m, secret);
        // Creating under them reads alike too.
        let h = t.post("/api/applications/", me, json!({"name": "kid", "parent_app": secret})).await.err(400, 40000);
        let m = t.post("/api/applications/", me, json!({"name": "kid", "parent_app": 999999})).await.err(400, 40000);
        same(&h, &m, secret);
        // Product lines: hidden and missing alike.
        let h = patch(json!({"production": secret_line})).await.err(400, 40000);
        let m = patch(json!({"production": 999999})).await.err(400, 40000);
        assert_eq!(m["field"], "production");
        same(&h, &m, secret_line);
        // A parent carl may view but not edit is a plain refusal.
        patch(json!({"parent_app": shown})).await.err(403, 40300);
        assert_eq!(t.get(&format!("/api/applications/{mine}/"), t.admin()).await.ok()["parent_app"], Value::Null);
    }
}

both! {
    async fn delete_refusals_name_the_application_only_to_those_who_may_view_it(t: TestApp) {
        let parent = app(&t, json!({"name": "secret-parent"})).await;
        app(&t, json!({"name": "kid", "parent_app": parent})).await;
        let needed = app(&t, json!({"name": "secret-needed"})).await;
        let user = app(&t, json!({"name": "user-svc"})).await;
        t.post(&format!("/api/applications/{user}/required-apps/"), t.admin(), json!([{"id": needed}])).await.ok();
        let (cid, ctok) = t.user("carl").await;
        let me = Auth::Token(&ctok);
        // Module-wide delete_app, without view_app.
        t.grant("user", cid, "application", &["enable_app_mgmt", "delete_app"]).await;
        for (id, name) in [(parent, "secret-parent"), (needed, "secret-needed")] {
            let path = format!("/api/applications/{id}/");
            let e = t.call(Method::DELETE, &path, me, None).await.err(409, 40900);
            assert!(!msg(&e).contains(name), "{e}");
            assert!(msg(&e).contains(&format!("application {id}")), "{e}");
            let e = t.call(Method::DELETE, &path, t.admin(), None).await.err(409, 40900);
            assert!(msg(&e).contains(name), "{e}");
        }
        // Who may view it reads its name.
        grant_on(&t, cid, "application", needed, &["view_app"]).await;
        let e = t.call(Method::DELETE, &format!("/api/applications/{needed}/"), me, None).await.err(409, 40900);
        assert!(msg(&e).contains("secret-needed"), "{e}");
        // Product lines alike: module-wide delete_business does not show the line's name.
        let l = line(&t, "secret-line").await;
        app(&t, json!({"name": "in-line", "production": l})).await;
        t.grant("user", cid, "business", &["enable_business_mgmt", "delete_business"]).await;
        let e = t.call(Method::DELETE, &format!("/api/productions/{l}/"), me, None).await.err(409, 40900);
        assert!(!msg(&e).contains("secret-line") && !msg(&e).contains("in-line"), "{e}");
        assert!(msg(&e).contains(&format!("product line {l} ")), "{e}");
        let e = t.call(Method::DELETE, &format!("/api/productions/{l}/"), t.admin(), None).await.err(409, 40900);
        assert!(msg(&e).contains("secret-line") && msg(&e).contains("in-line"), "{e}");
    }
}

both! {
    async fn lookups_by_name_answer_hidden_like_missing(t: TestApp) {
        // The pickers' by-name lookups (product line, role): a product line the caller may not
        // view reads exactly like a missing one; roles need view_users.
        t.post("/api/productions/", t.admin(), json!({"name": "secret-line"})).await.ok();
        t.post("/api/roles/", t.admin(), json!({"name": "secret-role"})).await.ok();
        let (uid, _) = t.user("picker").await;
        let me = app::ctx::Actor { id: uid, username: "picker".into(), ..Default::default() };
        let hidden = app::productions::service::by_name(&t.ctx, &me, "secret-line").await.unwrap_err();
        let missing = app::productions::service::by_name(&t.ctx, &me, "no-such-line").await.unwrap_err();
        assert_eq!((hidden.error_code, hidden.field.clone()), (missing.error_code, missing.field.clone()));
        assert_eq!(hidden.message.replace("secret-line", "X"), missing.message.replace("no-such-line", "X"));
        let e = app::roles::service::by_name(&t.ctx, &me, "secret-role").await.unwrap_err();
        assert_eq!(e.error_code, 40300);
        // With the rights, both are found.
        let admin = app::ctx::Actor { id: t.admin_id, username: "admin".into(), ..Default::default() };
        assert_eq!(app::productions::service::by_name(&t.ctx, &admin, "secret-line").await.unwrap().name, "secret-line");
        assert_eq!(app::roles::service::by_name(&t.ctx, &admin, "secret-role").await.unwrap().name, "secret-role");
    }
}
