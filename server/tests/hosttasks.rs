//! Host tasks: power through CloudStack and Tencent Cloud (local fakes that check signatures
//! the providers' way), the `ssh` provider on a real OpenSSH host, batches with per-host
//! results, task lists with filters and visibility, status changes, cloud accounts, and who
//! may do what.
mod common;
use axum::http::Method;
use common::cloud_fakes::*;
use common::ssh_hosts::SshHosts;
use common::*;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use std::time::Duration;

async fn account(t: &TestApp, name: &str, provider: &str, endpoint: &str, secret: &str) -> i64 {
    let (id, s) = if provider == "cloudstack" {
        (CS_KEY, secret)
    } else {
        (TC_ID, secret)
    };
    let a = t
        .post(
            "/api/hosts/cloud-accounts/",
            t.admin(),
            json!({"name": name, "provider": provider, "endpoint": endpoint,
                   "region": "ap-guangzhou", "secret_id": id, "secret": s}),
        )
        .await
        .ok();
    assert_eq!(a["secret"], "******");
    assert!(!a.to_string().contains(s), "{a}");
    a["id"].as_i64().unwrap()
}

/// A host of `host_type` powered through `account` as `instance`.
async fn cloud_host(t: &TestApp, name: &str, host_type: &str, account: i64, instance: &str) -> i64 {
    let id = t
        .post(
            "/api/hosts/",
            t.admin(),
            json!({"name": name, "host_type": host_type}),
        )
        .await
        .ok()["id"]
        .as_i64()
        .unwrap();
    let a = t
        .call(
            Method::PUT,
            &format!("/api/hosts/{id}/access/"),
            t.admin(),
            Some(json!({"cloud_account_id": account, "cloud_instance_id": instance})),
        )
        .await
        .ok();
    assert_eq!(a["cloud_account"]["id"], account, "{a}");
    assert_eq!(a["cloud_instance_id"], instance);
    id
}

async fn power(t: &TestApp, host: i64, action: &str, body: Value) -> common::Resp {
    t.post(
        &format!("/api/hosts/{host}/actions/{action}/"),
        t.admin(),
        body,
    )
    .await
}

/// Polls `cond` every 50 ms for up to `secs` seconds.
async fn eventually<F: std::future::Future<Output = bool>>(
    secs: u64,
    mut cond: impl FnMut() -> F,
) -> bool {
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < end {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Runs the queued task and answers it.
async fn finish(t: &TestApp, started: &Value) -> Value {
    let id = started["task_id"].as_str().expect("task_id").to_string();
    assert!(started["task_output"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/channel/{id}")));
    run_jobs_now(t).await;
    t.get(&format!("/api/tasks/{id}/"), t.admin()).await.ok()
}

async fn host_status(t: &TestApp, host: i64) -> String {
    t.get(&format!("/api/hosts/{host}/"), t.admin()).await.ok()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn go(t: &TestApp, host: i64, to: &str) -> common::Resp {
    t.post(
        &format!("/api/hosts/{host}/actions/change-status/"),
        t.admin(),
        json!({"status": to}),
    )
    .await
}

async fn os_status(t: &TestApp, host: i64) -> String {
    t.get(&format!("/api/hosts/{host}/"), t.admin()).await.ok()["os_status"]
        .as_str()
        .unwrap()
        .to_string()
}

both! {
    async fn hosts_are_powered_through_their_clouds(t: TestApp) {
        let f = CloudFakes::start().await;
        let cs = account(&t, "cs", "cloudstack", &f.cloudstack, CS_SECRET).await;
        let cvm = account(&t, "cvm", "tencent_cvm", &f.tencent, TC_SECRET).await;
        let cpm = account(&t, "cpm", "tencent_cpm", &f.tencent, TC_SECRET).await;
        f.set("vm-1", "Running");
        f.set("ins-abc123", "RUNNING");
        f.set("cpm-7", "on");
        let h_cs = cloud_host(&t, "cs-1", "CLOUDSTACK", cs, "vm-1").await;
        let h_cvm = cloud_host(&t, "cvm-1", "TECENT_CVM", cvm, "ins-abc123").await;
        let h_cpm = cloud_host(&t, "cpm-1", "TECENT_CPM", cpm, "cpm-7").await;

        // Half-set access powers nothing: refused.
        t.call(Method::PUT, &format!("/api/hosts/{h_cvm}/access/"), t.admin(),
               Some(json!({"cloud_instance_id": ""}))).await.err(400, 40000);
        // A provider that does not power the host's type is refused.
        t.call(Method::PUT, &format!("/api/hosts/{h_cvm}/access/"), t.admin(),
               Some(json!({"cloud_account_id": cs}))).await.err(400, 40000);

        // CloudStack: starting a running machine is refused (seed 30002), a forced stop goes
        // through the signed API and the task follows the async job.
        let r = power(&t, h_cs, "start", json!({})).await.err(409, 30002);
        assert!(r["message"].as_str().unwrap().contains("cs-1"), "{r}");
        let s = power(&t, h_cs, "stop", json!({"force": true})).await.ok();
        let task = finish(&t, &s).await;
        assert_eq!(task["status"], "finished", "{task}");
        assert_eq!(task["kind"], "host_stop");
        assert_eq!(task["results"][0]["status"], "finished");
        assert_eq!(f.machine("vm-1").as_deref(), Some("Stopped"));
        let stop = f.calls("stopVirtualMachine");
        assert_eq!(stop.len(), 1);
        assert_eq!(stop[0]["forced"], "true");
        assert_eq!(stop[0]["id"], "vm-1");
        assert!(!f.calls("queryAsyncJobResult").is_empty());
        assert_eq!(os_status(&t, h_cs).await, "stopped");
        // Stopped: a second stop without force is refused; start works (no body at all).
        power(&t, h_cs, "stop", json!({})).await.err(409, 40900);
        let r = t.call(Method::POST, &format!("/api/hosts/{h_cs}/actions/start/"), t.admin(), None).await.ok();
        assert_eq!(finish(&t, &r).await["status"], "finished");
        assert_eq!(f.machine("vm-1").as_deref(), Some("Running"));
        assert_eq!(os_status(&t, h_cs).await, "running");

        // Tencent CVM: a restart is a soft RebootInstances, signed with TC3.
        let s = power(&t, h_cvm, "restart", json!({})).await.ok();
        assert_eq!(finish(&t, &s).await["status"], "finished");
        let reboot = f.calls("RebootInstances");
        assert_eq!(reboot, vec![json!({"InstanceIds": ["ins-abc123"], "StopType": "SOFT"})]);
        // It waited for the reboot it saw (REBOOTING, then RUNNING).
        assert!(f.calls("DescribeInstancesStatus").len() >= 3, "{:?}", f.calls("DescribeInstancesStatus"));
        let s = power(&t, h_cvm, "stop", json!({"force": true})).await.ok();
        assert_eq!(finish(&t, &s).await["status"], "finished");
        assert_eq!(f.calls("StopInstances")[0]["StopType"], "HARD");
        assert_eq!(f.machine("ins-abc123").as_deref(), Some("STOPPED"));

        // Tencent CPM: ShutdownDevices, followed through DescribeOperationResult.
        let s = power(&t, h_cpm, "stop", json!({})).await.ok();
        assert_eq!(finish(&t, &s).await["status"], "finished");
        assert_eq!(f.machine("cpm-7").as_deref(), Some("off"));
        assert_eq!(f.calls("ShutdownDevices").len(), 1);
        assert!(f.refused().is_empty(), "{:?}", f.refused());

        // A wrong secret: each provider refuses the signature; Opsdeck answers at once with the
        // seed's code for that provider and the provider's words, and queues nothing.
        let tasks_before = t.get("/api/hosts/restart-tasks/", t.admin()).await.ok()["count"].clone();
        for (acct, host, code, words) in [
            (cs, h_cs, 30002, "unable to verify user credentials"),
            (cvm, h_cvm, 30003, "AuthFailure.SignatureFailure"),
            (cpm, h_cpm, 30004, "AuthFailure.SignatureFailure"),
        ] {
            t.call(Method::PATCH, &format!("/api/hosts/cloud-accounts/{acct}/"), t.admin(),
                   Some(json!({"secret": "not-the-secret"}))).await.ok();
            let e = power(&t, host, "restart", json!({})).await.err(502, code);
            let m = e["message"].as_str().unwrap();
            assert!(m.contains(words), "{m}");
            assert!(!m.contains("not-the-secret"), "{m}");
        }
        // Start failures answer the seed's start code (30003), whatever the provider.
        let e = power(&t, h_cs, "start", json!({})).await.err(502, 30003);
        assert!(e["message"].as_str().unwrap().contains("unable to verify"), "{e}");
        assert_eq!(t.get("/api/hosts/restart-tasks/", t.admin()).await.ok()["count"], tasks_before);
        assert_eq!(f.refused().len(), 4, "{:?}", f.refused());
        // Pointing an account elsewhere needs its secret again.
        t.call(Method::PATCH, &format!("/api/hosts/cloud-accounts/{cvm}/"), t.admin(),
               Some(json!({"endpoint": "http://127.0.0.1:9/"}))).await.err(400, 40000);

        // A batch goes on past a failing host; each host's result carries its provider's code.
        t.call(Method::PATCH, &format!("/api/hosts/cloud-accounts/{cs}/"), t.admin(),
               Some(json!({"secret": CS_SECRET}))).await.ok();
        let s = t.post("/api/hosts/restart-tasks/", t.admin(),
                       json!([{"host_id": h_cs}, {"host_id": h_cvm, "force": true}])).await.ok();
        let task = finish(&t, &s).await;
        assert_eq!(task["status"], "failed", "{task}");
        assert_eq!(task["progress"], json!({"total": 2, "done": 1, "failed": 1}));
        let by_host = |id: i64| task["results"].as_array().unwrap().iter()
            .find(|r| r["host"]["id"] == id).unwrap().clone();
        assert_eq!(by_host(h_cs)["status"], "finished");
        let bad = by_host(h_cvm);
        assert_eq!(bad["status"], "failed");
        assert_eq!(bad["error_code"], 30003);
        assert!(bad["error"].as_str().unwrap().contains("SignatureFailure"), "{bad}");
        assert_eq!(f.calls("rebootVirtualMachine").len(), 1);
        // Bad batches.
        t.post("/api/hosts/stop-tasks/", t.admin(), json!([])).await.err(400, 40000);
        t.post("/api/hosts/stop-tasks/", t.admin(), json!([{"host_id": h_cs}, {"host_id": h_cs}]))
            .await.err(400, 40000);
        t.post("/api/hosts/stop-tasks/", t.admin(), json!([{"host_id": 999999}])).await.err(404, 40400);
        t.post("/api/hosts/stop-tasks/", t.admin(), json!({"host_id": h_cs})).await.err(400, 40000);

        // Lists and their filters.
        let l = t.get("/api/hosts/stop-tasks/", t.admin()).await.ok();
        assert_eq!(l["count"], 3, "{l}");
        assert_eq!(l["results"][0]["hosts"][0]["name"], "cpm-1", "newest first: {l}");
        let q = |s: &str| format!("/api/hosts/restart-tasks/?{s}");
        assert_eq!(t.get(&q("status=failed"), t.admin()).await.ok()["count"], 1);
        assert_eq!(t.get(&q("status=finished"), t.admin()).await.ok()["count"], 1);
        assert_eq!(t.get(&q("creator=admin"), t.admin()).await.ok()["count"], 2);
        assert_eq!(t.get(&q("creator=nobody-such"), t.admin()).await.ok()["count"], 0);
        assert_eq!(t.get(&q("hostname=cvm"), t.admin()).await.ok()["count"], 2);
        assert_eq!(t.get(&q("hostname=cs-1"), t.admin()).await.ok()["count"], 1);
        assert_eq!(t.get(&q("time__gt=2100-01-01T00:00:00Z"), t.admin()).await.ok()["count"], 0);
        assert_eq!(t.get(&q("time__lt=2100-01-01T00:00:00Z"), t.admin()).await.ok()["count"], 2);
        t.get(&q("status=done"), t.admin()).await.err(400, 40000);
        t.get(&q("time__gt=yesterday"), t.admin()).await.err(400, 40000);
        assert_eq!(t.get("/api/hosts/start-tasks/", t.admin()).await.ok()["count"], 1);

        // Accounts: in use, they cannot be deleted or change provider; the secret is nowhere.
        t.call(Method::DELETE, &format!("/api/hosts/cloud-accounts/{cs}/"), t.admin(), None)
            .await.err(409, 40900);
        t.call(Method::PATCH, &format!("/api/hosts/cloud-accounts/{cs}/"), t.admin(),
               Some(json!({"provider": "tencent_cvm"}))).await.err(400, 40000);
        let l = t.get("/api/hosts/cloud-accounts/", t.admin()).await.ok();
        assert_eq!(l["count"], 3);
        assert_eq!(l["results"][0]["hosts"], 1);
        let audit = t.audit("host").await;
        let all = format!("{l} {audit:?}");
        for s in [CS_SECRET, TC_SECRET, "not-the-secret"] {
            assert!(!all.contains(s), "a secret leaked: {s}");
        }
        assert!(audit.iter().any(|a| a["op_type"] == "cloud_account_update"), "{audit:?}");
        let tasks = t.audit("task").await;
        assert!(tasks.iter().any(|a| a["op_type"] == "target_end"), "{tasks:?}");
        // Bad accounts.
        for bad in [
            json!({"name": "x", "provider": "aws", "endpoint": f.tencent, "secret_id": "a", "secret": "b", "region": "r"}),
            json!({"name": "x", "provider": "cloudstack", "endpoint": "ftp://x", "secret_id": "a", "secret": "b"}),
            json!({"name": "x", "provider": "cloudstack", "endpoint": "http://u:p@x/", "secret_id": "a", "secret": "b"}),
            json!({"name": "x", "provider": "tencent_cvm", "endpoint": f.tencent, "secret_id": "a", "secret": "b"}),
            json!({"name": "x", "provider": "cloudstack", "endpoint": f.cloudstack, "secret_id": "a"}),
            json!({"name": "cs", "provider": "cloudstack", "endpoint": f.cloudstack, "secret_id": "a", "secret": "b"}),
        ] {
            let r = t.post("/api/hosts/cloud-accounts/", t.admin(), bad.clone()).await;
            assert!(r.status == 400 || r.status == 409, "{bad}: {:?} {}", r.status, r.json);
        }
    }
}

both! {
    async fn the_ssh_provider_runs_the_hosts_command(b: Backend) {
        let h = SshHosts::start(1);
        let ns = h.netns_path().display().to_string();
        let t = TestApp::with_config(b, move |c| {
            c.ssh_netns = Some(ns);
            c.ssh_connect_timeout = 3;
        })
        .await;
        let cred = t
            .post("/api/hosts/ssh-credentials/", t.admin(),
                  json!({"name": "root-key", "username": "root", "kind": "private_key", "private_key": h.client_key}))
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        let host = t
            .post("/api/hosts/", t.admin(), json!({"name": "phy-1", "host_type": "PHY_HOST",
                  "ip_address": [{"address": h.hosts[0].address, "netmask": "24", "owner": "HOST"}]}))
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        // No way to power it yet.
        power(&t, host, "stop", json!({})).await.err(400, 40000);
        t.call(Method::PUT, &format!("/api/hosts/{host}/access/"), t.admin(), Some(json!({
            "credential_id": cred,
            "stop_cmd": "echo stopped > /srv/power-stop",
            "restart_cmd": "echo restarted > /srv/power-restart",
        }))).await.ok();
        // The ssh provider cannot start a machine.
        let e = power(&t, host, "start", json!({})).await.err(400, 40000);
        assert!(e["message"].as_str().unwrap().contains("cloud account"), "{e}");
        for (action, file, word) in [("stop", "/srv/power-stop", "stopped"), ("restart", "/srv/power-restart", "restarted")] {
            let s = power(&t, host, action, json!({"force": true})).await.ok();
            let task = finish(&t, &s).await;
            assert_eq!(task["status"], "finished", "{task}");
            let id = task["id"].as_i64().unwrap();
            let out = t.get(&format!("/api/tasks/{id}/output/"), t.admin()).await.ok();
            assert!(out.to_string().contains(&format!("{action} requested")), "{out}");
            // The command runs a second after the session ended.
            let path = h.path(0, file);
            assert!(eventually(10, || async { path.exists() }).await, "{action}: {path:?} never appeared");
            assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), word);
        }
        assert_eq!(os_status(&t, host).await, "running");
        // Without commands of its own, the system's: (the harness's stand-ins note the call).
        t.call(Method::PUT, &format!("/api/hosts/{host}/access/"), t.admin(),
               Some(json!({"stop_cmd": "", "restart_cmd": ""}))).await.ok();
        let calls = h.path(0, "/srv/.power");
        for (action, force, said) in [("stop", false, "shutdown -h now"), ("restart", true, "reboot -f")] {
            let s = power(&t, host, action, json!({"force": force})).await.ok();
            assert_eq!(finish(&t, &s).await["status"], "finished");
            assert!(eventually(10, || async { std::fs::read_to_string(&calls).unwrap_or_default().contains(said) }).await,
                    "{action}: {:?}", std::fs::read_to_string(&calls));
        }
        // The stop list: two finished tasks, newest first.
        let l = t.get("/api/hosts/stop-tasks/?status=finished", t.admin()).await.ok();
        assert_eq!(l["count"], 2);
        assert_eq!(l["results"][0]["hosts"], json!([{"id": host, "name": "phy-1"}]));
    }
}

both! {
    async fn host_status_changes_follow_the_allowed_moves(t: TestApp) {
        let host = t.post("/api/hosts/", t.admin(), json!({"name": "s-1"})).await.ok()["id"].as_i64().unwrap();
        assert_eq!(host_status(&t, host).await, "raw");
        go(&t, host, "attached").await.err(400, 40000);
        go(&t, host, "weird").await.err(400, 40000);
        go(&t, host, "raw").await.err(409, 40900);
        let s = go(&t, host, "inited").await.ok();
        let id = s["task_id"].as_str().unwrap();
        let task = t.get(&format!("/api/tasks/{id}/"), t.admin()).await.ok();
        assert_eq!(task["status"], "finished", "{task}");
        assert_eq!(task["kind"], "host_status");
        assert_eq!(task["results"][0]["step_name"], "raw → inited");
        assert_eq!(host_status(&t, host).await, "inited");
        // Attached with an instance on it: it cannot go back to inited.
        go(&t, host, "attached").await.ok();
        let app = t.post("/api/applications/", t.admin(), json!({"name": "svc"})).await.ok()["id"].as_i64().unwrap();
        t.post(&format!("/api/applications/{app}/instances/"), t.admin(), json!([{"hostid": host}])).await.ok();
        let e = go(&t, host, "inited").await.err(409, 40900);
        assert!(e["message"].as_str().unwrap().contains("svc"), "{e}");
        go(&t, host, "offline").await.ok();
        go(&t, host, "inited").await.ok();
        assert_eq!(host_status(&t, host).await, "inited");
        let audit = t.audit("host").await;
        let moves = audit.iter().filter(|a| a["op_type"] == "change_status").count();
        assert_eq!(moves, 4, "{audit:?}");

        // An editor may change the status, but only one who may deactivate takes it offline.
        let (_, editor) = t.user_with("editor", "host", &["enable_host_mgmt", "edit_host"]).await;
        t.post(&format!("/api/hosts/{host}/actions/change-status/"), Auth::Token(&editor), json!({"status": "offline"})).await.err(403, 40300);
        t.post(&format!("/api/hosts/{host}/actions/change-status/"), Auth::Token(&editor), json!({"status": "raw"})).await.ok();
        assert_eq!(host_status(&t, host).await, "raw");
    }
}

both! {
    async fn power_and_status_refuse_who_may_not(t: TestApp) {
        let f = CloudFakes::start().await;
        let cs = account(&t, "cs", "cloudstack", &f.cloudstack, CS_SECRET).await;
        f.set("vm-1", "Stopped");
        f.set("vm-2", "Stopped");
        let mine = cloud_host(&t, "mine", "CLOUDSTACK", cs, "vm-1").await;
        let other = cloud_host(&t, "other", "CLOUDSTACK", cs, "vm-2").await;
        let (uid, viewer) = t.user("viewer").await;
        let (_, nobody) = t.user("nobody").await;
        // The viewer may view and restart `mine` only.
        t.post(&format!("/api/users/{uid}/host/perms/"), t.admin(), json!({"authorizations": [
            {"id": mine, "permission": {"view_host": true, "restart_host": true}}]})).await.ok();

        for who in [&nobody, &viewer] {
            let a = Auth::Token(who);
            for action in ["start", "stop", "restart"] {
                let r = t.post(&format!("/api/hosts/{other}/actions/{action}/"), a, json!({})).await;
                assert!(r.status == 403 || r.status == 404, "{action}: {:?}", r.status);
                let r = t.post(&format!("/api/hosts/{action}-tasks/"), a, json!([{"host_id": other}])).await;
                assert!(r.status == 403 || r.status == 404, "{action} batch: {:?}", r.status);
            }
            let r = t.post(&format!("/api/hosts/{other}/actions/change-status/"), a, json!({"status": "inited"})).await;
            assert!(r.status == 403 || r.status == 404, "{:?}", r.status);
            t.get("/api/hosts/cloud-accounts/", a).await.err(403, 40300);
            t.post("/api/hosts/cloud-accounts/", a, json!({"name": "x"})).await.err(403, 40300);
            t.get(&format!("/api/hosts/cloud-accounts/{cs}/"), a).await.err(403, 40300);
            t.call(Method::PATCH, &format!("/api/hosts/cloud-accounts/{cs}/"), a, Some(json!({"secret": "x"}))).await.err(403, 40300);
            t.call(Method::DELETE, &format!("/api/hosts/cloud-accounts/{cs}/"), a, None).await.err(403, 40300);
            t.call(Method::PUT, &format!("/api/hosts/{mine}/access/"), a, Some(json!({"cloud_account_id": 0}))).await.err(403, 40300);
        }
        t.post(&format!("/api/hosts/{mine}/actions/start/"), Auth::Token(&nobody), json!({})).await.err(403, 40300);
        t.get("/api/hosts/start-tasks/", Auth::None).await.err(401, 40100);
        t.post(&format!("/api/hosts/{mine}/actions/start/"), Auth::None, json!({})).await.err(401, 40100);
        // A batch with one host the viewer may not restart starts nothing.
        let r = t.post("/api/hosts/start-tasks/", Auth::Token(&viewer), json!([{"host_id": mine}, {"host_id": other}])).await;
        assert!(r.status == 403 || r.status == 404);
        assert_eq!(t.get("/api/hosts/start-tasks/", t.admin()).await.ok()["count"], 0);
        assert!(f.calls("startVirtualMachine").is_empty());

        // What the viewer may do, it does; it sees its task and the admin's task on `mine`,
        // not the admin's task on `other` alone; a mixed task shows it only `mine`.
        let s = t.post(&format!("/api/hosts/{mine}/actions/start/"), Auth::Token(&viewer), json!({})).await.ok();
        finish(&t, &s).await;
        let s = power(&t, other, "start", json!({})).await.ok();
        finish(&t, &s).await;
        let mixed = t.post("/api/hosts/stop-tasks/", t.admin(), json!([{"host_id": mine}, {"host_id": other}])).await.ok();
        finish(&t, &mixed).await;
        let l = t.get("/api/hosts/start-tasks/", Auth::Token(&viewer)).await.ok();
        assert_eq!(l["count"], 1, "{l}");
        assert_eq!(l["results"][0]["creator"], "viewer");
        let l = t.get("/api/hosts/stop-tasks/", Auth::Token(&viewer)).await.ok();
        assert_eq!(l["count"], 1, "{l}");
        assert_eq!(l["results"][0]["hosts"], json!([{"id": mine, "name": "mine"}]), "{l}");
        assert_eq!(l["results"][0]["results"].as_array().unwrap().len(), 1);
        // Host-name filters match only hosts the viewer sees: no probing hidden names.
        assert_eq!(t.get("/api/hosts/stop-tasks/?hostname=oth", Auth::Token(&viewer)).await.ok()["count"], 0);
        assert_eq!(t.get("/api/hosts/stop-tasks/?hostname=min", Auth::Token(&viewer)).await.ok()["count"], 1);
        assert_eq!(t.get("/api/hosts/stop-tasks/?hostname=oth", t.admin()).await.ok()["count"], 1);
        let l = t.get("/api/hosts/start-tasks/", Auth::Token(&nobody)).await.ok();
        assert_eq!(l["count"], 0, "{l}");
        assert!(!l.to_string().contains("other"));
        let l = t.get("/api/hosts/start-tasks/", t.admin()).await.ok();
        assert_eq!(l["count"], 2);

        // Server functions refuse the same way.
        let power_fn = <app::hosttasks::api::PowerHosts as ServerFn>::PATH;
        let status_fn = <app::hosttasks::api::ChangeHostStatus as ServerFn>::PATH;
        let list_fn = <app::hosttasks::api::ListPowerTasks as ServerFn>::PATH;
        let r = t.post(power_fn, Auth::Token(&nobody), json!({"action": "stop", "items": [{"host_id": mine}]})).await;
        assert!(r.json["error_code"] == 40300 || r.json["error_code"] == 40400, "{}", r.json);
        let r = t.post(status_fn, Auth::Token(&nobody), json!({"id": mine, "status": "inited"})).await;
        assert!(r.json["error_code"] == 40300 || r.json["error_code"] == 40400, "{}", r.json);
        let r = t.post(list_fn, Auth::Token(&nobody), json!({"action": "start", "filter": {}})).await.ok();
        assert_eq!(r["count"], 0);
        let r = t.post(power_fn, Auth::Token(&viewer), json!({"action": "stop", "items": [{"host_id": mine}]})).await.ok();
        assert!(r["task_id"].is_string(), "{r}");
        let r = t.post(list_fn, t.admin(), json!({"action": "stop", "filter": {}})).await.ok();
        assert_eq!(r["count"], 2);
    }
}
