//! The execution engine against real OpenSSH hosts in network namespaces: SSH credentials and
//! host access through the API, tasks with per-host results, host key pinning and changes,
//! timeouts and cancel that kill the remote processes, stop-at-first-failure, live output over
//! WebSocket, interrupted runs, and who may do what.
mod common;
use app::ctx::Actor;
use app::entities::{run, run_output, run_target};
use app::exec::runner::{self, NewRun, NewTarget, Step};
use common::ssh_hosts::{SshHosts, PW_PASS, PW_USER};
use common::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use std::time::Duration;

/// A test app whose SSH connections open in the hosts' network.
async fn app_for(b: Backend, h: &SshHosts) -> TestApp {
    let ns = h.netns_path().display().to_string();
    TestApp::with_config(b, move |c| {
        c.ssh_netns = Some(ns);
        c.ssh_connect_timeout = 3;
    })
    .await
}

/// Registers host `i` of `h` (or an address nobody owns) with a credential; answers its id.
async fn add_host(t: &TestApp, name: &str, address: &str, credential: i64) -> i64 {
    let id = t
        .post(
            "/api/hosts/",
            t.admin(),
            json!({"name": name, "ip_address": [{
                "address": address.split('/').next().unwrap(),
                "netmask": address.split('/').nth(1).unwrap_or("24"),
                "owner": "HOST",
            }]}),
        )
        .await
        .ok()["id"]
        .as_i64()
        .unwrap();
    t.call(
        axum::http::Method::PUT,
        &format!("/api/hosts/{id}/access/"),
        t.admin(),
        Some(json!({"credential_id": credential})),
    )
    .await
    .ok();
    id
}

async fn key_credential(t: &TestApp, h: &SshHosts) -> i64 {
    let c = t
        .post(
            "/api/hosts/ssh-credentials/",
            t.admin(),
            json!({"name": "root-key", "username": "root", "kind": "private_key", "private_key": h.client_key}),
        )
        .await
        .ok();
    assert_eq!(c["secret"], "******");
    assert!(c["public_key"]
        .as_str()
        .unwrap()
        .starts_with("ssh-ed25519 "));
    assert!(!c.to_string().contains("PRIVATE KEY"), "{c}");
    c["id"].as_i64().unwrap()
}

fn admin(t: &TestApp) -> Actor {
    Actor {
        id: t.admin_id,
        username: "admin".into(),
        ..Default::default()
    }
}

/// Creates a run of `steps` on hosts (as the admin), straight through the engine.
async fn start(
    t: &TestApp,
    hosts: &[(i64, &str)],
    steps: Vec<Step>,
    concurrency: i32,
    stop: bool,
) -> i64 {
    let txn = app::db::begin(&t.ctx.db).await.unwrap();
    let r = runner::create(
        &txn,
        &admin(t),
        NewRun {
            kind: "ssh_check".into(),
            subject: None,
            steps,
            targets: hosts
                .iter()
                .map(|(id, name)| NewTarget {
                    host_id: *id,
                    host_name: name.to_string(),
                    instance_id: None,
                })
                .collect(),
            concurrency,
            stop_on_failure: stop,
            timeout_secs: 60,
            extra: json!({}),
        },
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    r.id
}

fn step(name: &str, script: &str) -> Step {
    Step {
        name: name.into(),
        script: script.into(),
        timeout_secs: None,
    }
}

async fn task(t: &TestApp, id: i64) -> Value {
    t.get(&format!("/api/tasks/{id}/"), t.admin()).await.ok()
}

async fn output_of(t: &TestApp, id: i64, target: i64) -> String {
    let rows = run_output::Entity::find()
        .filter(run_output::Column::RunId.eq(id))
        .filter(run_output::Column::TargetId.eq(target))
        .order_by_asc(run_output::Column::Id)
        .all(&t.ctx.db)
        .await
        .unwrap();
    rows.iter()
        .map(|r| String::from_utf8_lossy(&r.data).into_owned())
        .collect()
}

/// The task as stored, for failure messages.
fn task_now(t: &TestApp, id: i64) -> String {
    let db = t.ctx.db.clone();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let r = run::Entity::find_by_id(id).one(&db).await.unwrap();
                let ts = run_target::Entity::find()
                    .filter(run_target::Column::RunId.eq(id))
                    .all(&db)
                    .await
                    .unwrap();
                let jobs = app::entities::job::Entity::find().all(&db).await.unwrap();
                format!("{r:?}\n{ts:?}\n{jobs:?}")
            })
    })
    .join()
    .unwrap()
}

fn pid_alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{}", pid.trim())).exists()
}

both!(
    async fn tasks_run_on_real_hosts_and_one_unreachable_host_fails_alone(b: Backend) {
        let h = SshHosts::start(3);
        let t = app_for(b, &h).await;
        let cred = key_credential(&t, &h).await;
        let mut hosts = vec![];
        for i in 0..3 {
            let name = format!("web{i}");
            hosts.push((add_host(&t, &name, &h.hosts[i].address, cred).await, name));
        }
        // Nobody answers at .99: its connection times out.
        hosts.push((
            add_host(&t, "ghost", "10.200.0.99", cred).await,
            "ghost".into(),
        ));
        let list: Vec<(i64, &str)> = hosts.iter().map(|(i, n)| (*i, n.as_str())).collect();
        let id = start(
            &t,
            &list,
            vec![
                step("who", "hostname; id -un"),
                step(
                    "colour",
                    "printf '\\033[32mgreen\\033[0m\\n'; echo oops >&2",
                ),
            ],
            4,
            false,
        )
        .await;
        run_jobs_now(&t).await;
        let v = task(&t, id).await;
        assert_eq!(v["status"], "failed", "{v}");
        assert_eq!(v["progress"], json!({"total": 4, "done": 3, "failed": 1}));
        let results = v["results"].as_array().unwrap();
        for (i, r) in results.iter().enumerate().take(3) {
            assert_eq!(r["status"], "finished", "{r}");
            assert_eq!(r["step"], 2);
            assert_eq!(r["steps_total"], 2);
            let out = output_of(&t, id, r["id"].as_i64().unwrap()).await;
            assert!(out.contains(&format!("host{i}\nroot\n")), "{out}");
            assert!(
                out.contains("\u{1b}[32mgreen\u{1b}[0m"),
                "ANSI kept: {out:?}"
            );
            assert!(out.contains("oops"), "{out}");
            assert!(out.contains("pinned the host key SHA256:"), "{out}");
        }
        let ghost = &results[3];
        assert_eq!(ghost["status"], "failed");
        assert_eq!(ghost["error_code"], 30001);
        assert!(
            ghost["error"]
                .as_str()
                .unwrap()
                .contains("10.200.0.99:22 unreachable"),
            "{ghost}"
        );
        // The keys were pinned on first contact, as the hosts have them.
        let access = t
            .get(&format!("/api/hosts/{}/access/", hosts[1].0), t.admin())
            .await
            .ok();
        assert_eq!(access["effective_address"], h.hosts[1].address);
        assert_eq!(access["credential"]["name"], "root-key");
        let keys = access["host_keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert!(h
            .host_key(1)
            .starts_with(keys[0]["algorithm"].as_str().unwrap()));
        // Every host result and the task are audited; the stored output is paged.
        let audit = t.audit("task").await;
        assert_eq!(
            audit
                .iter()
                .filter(|a| a["op_type"] == "target_end")
                .count(),
            4
        );
        assert!(audit.iter().any(|a| a["op_type"] == "end"));
        let page = t
            .get(&format!("/api/tasks/{id}/output/?limit=2"), t.admin())
            .await
            .ok();
        assert_eq!(page["chunks"].as_array().unwrap().len(), 2);
        let after = page["next_after"].as_i64().unwrap();
        let rest = t
            .get(
                &format!("/api/tasks/{id}/output/?after={after}&limit=1000"),
                t.admin(),
            )
            .await
            .ok();
        assert!(rest["chunks"][0]["id"].as_i64().unwrap() > after);
        assert_eq!(rest["status"], "failed");
    }
);

both!(
    async fn passwords_are_pinned_first_masked_everywhere_and_wrong_ones_are_clear(b: Backend) {
        let h = SshHosts::start(1);
        let t = app_for(b, &h).await;
        let c = t
            .post(
                "/api/hosts/ssh-credentials/",
                t.admin(),
                json!({"name": "deploy-pw", "username": PW_USER, "kind": "password", "password": PW_PASS}),
            )
            .await
            .ok();
        assert_eq!(c["secret"], "******");
        let cid = c["id"].as_i64().unwrap();
        let host = add_host(&t, "pw0", &h.hosts[0].address, cid).await;
        // The script prints the password: the output shows the mask.
        let id = start(
            &t,
            &[(host, "pw0")],
            vec![step("echo", &format!("id -un; echo 'pw={PW_PASS}'"))],
            1,
            true,
        )
        .await;
        run_jobs_now(&t).await;
        let v = task(&t, id).await;
        assert_eq!(v["status"], "finished", "{v}");
        let target = v["results"][0]["id"].as_i64().unwrap();
        let out = output_of(&t, id, target).await;
        assert!(out.contains(&format!("{PW_USER}\npw=******\n")), "{out}");
        assert!(!out.contains(PW_PASS));
        // A wrong password: a clear error, and the secret nowhere.
        t.call(
            axum::http::Method::PATCH,
            &format!("/api/hosts/ssh-credentials/{cid}/"),
            t.admin(),
            Some(json!({"password": "not-the-password"})),
        )
        .await
        .ok();
        let id = start(&t, &[(host, "pw0")], vec![step("x", "true")], 1, true).await;
        run_jobs_now(&t).await;
        let v = task(&t, id).await;
        assert_eq!(v["status"], "failed");
        let e = v["results"][0]["error"].as_str().unwrap();
        assert!(
            e.contains(&format!("refused the login of {PW_USER}")),
            "{e}"
        );
        for text in [
            v.to_string(),
            t.get("/api/hosts/ssh-credentials/", t.admin())
                .await
                .ok()
                .to_string(),
            t.get("/api/audit/logs/?page_size=100", t.admin())
                .await
                .ok()
                .to_string(),
        ] {
            assert!(
                !text.contains(PW_PASS) && !text.contains("not-the-password"),
                "{text}"
            );
        }
    }
);

/// Starts an SSH check of a host through the API, runs it, answers the task.
async fn check(t: &TestApp, host: i64) -> Value {
    let s = t
        .post(
            &format!("/api/hosts/{host}/actions/check-ssh/"),
            t.admin(),
            json!({}),
        )
        .await
        .ok();
    let id = s["task_id"].as_str().unwrap();
    assert_eq!(s["task_output"], format!("ws://opsdeck.test/channel/{id}"));
    run_jobs_now(t).await;
    task(t, id.parse().unwrap()).await
}

both!(
    async fn a_changed_host_key_is_refused_until_accepted(b: Backend) {
        let mut h = SshHosts::start(1);
        let t = app_for(b, &h).await;
        let cred = key_credential(&t, &h).await;
        let host = add_host(&t, "k0", &h.hosts[0].address, cred).await;
        let v = check(&t, host).await;
        assert_eq!(v["status"], "finished", "{v}");
        h.change_host_key(0);
        let v = check(&t, host).await;
        assert_eq!(v["status"], "failed");
        assert_eq!(v["results"][0]["error_code"], 40910);
        let access = t
            .get(&format!("/api/hosts/{host}/access/"), t.admin())
            .await
            .ok();
        let offered = access["host_keys"][0]["offered_fingerprint"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(v["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains(&offered));
        // Accepting needs the offered fingerprint, quoted exactly.
        t.post(
            &format!("/api/hosts/{host}/host-key/actions/accept/"),
            t.admin(),
            json!({"fingerprint": "SHA256:not-it"}),
        )
        .await
        .err(400, 40000);
        let a = t
            .post(
                &format!("/api/hosts/{host}/host-key/actions/accept/"),
                t.admin(),
                json!({"fingerprint": offered}),
            )
            .await
            .ok();
        assert_eq!(a["host_keys"][0]["fingerprint"], offered.as_str());
        assert!(a["host_keys"][0]["offered_fingerprint"].is_null());
        assert!(t
            .audit("host")
            .await
            .iter()
            .any(|e| e["op_type"] == "host_key_accept"));
        let v = check(&t, host).await;
        assert_eq!(v["status"], "finished", "{v}");
    }
);

both!(
    async fn timeouts_and_cancel_kill_the_remote_processes(b: Backend) {
        let h = SshHosts::start(2);
        let t = app_for(b, &h).await;
        let cred = key_credential(&t, &h).await;
        let a = add_host(&t, "t0", &h.hosts[0].address, cred).await;
        let c = add_host(&t, "t1", &h.hosts[1].address, cred).await;
        // A step past its deadline: failed, and its process is gone from the host.
        let id = start(
            &t,
            &[(a, "t0")],
            vec![Step {
                name: "slow".into(),
                script: "echo $$ > /srv/slow.pid; sleep 300".into(),
                timeout_secs: Some(2),
            }],
            1,
            true,
        )
        .await;
        run_jobs_now(&t).await;
        let v = task(&t, id).await;
        assert_eq!(v["status"], "failed");
        assert!(
            v["results"][0]["error"]
                .as_str()
                .unwrap()
                .contains("timed out after 2 s"),
            "{v}"
        );
        let pid = std::fs::read_to_string(h.path(0, "/srv/slow.pid")).unwrap();
        assert!(!pid_alive(&pid), "the remote step still runs");
        // Cancel while the first of two hosts runs (one at a time): killed, the other skipped.
        let id = start(
            &t,
            &[(c, "t1"), (a, "t0")],
            vec![step(
                "long",
                "echo $$ > /srv/long.pid; echo started; sleep 300",
            )],
            1,
            false,
        )
        .await;
        let ctx = t.ctx.clone();
        let jobs = tokio::spawn(async move { app::jobs::run_due(&ctx).await.unwrap() });
        let path = h.path(1, "/srv/long.pid");
        for _ in 0..100 {
            if path.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let pid =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}: {}", task_now(&t, id)));
        assert!(pid_alive(&pid));
        t.post(
            &format!("/api/tasks/{id}/actions/cancel/"),
            t.admin(),
            json!({}),
        )
        .await
        .ok();
        tokio::time::timeout(Duration::from_secs(30), jobs)
            .await
            .unwrap()
            .unwrap();
        let v = task(&t, id).await;
        assert_eq!(v["status"], "failed");
        assert_eq!(v["error"], "cancelled by admin");
        assert_eq!(v["results"][0]["status"], "failed");
        assert_eq!(v["results"][0]["error"], "cancelled by admin");
        assert_eq!(v["results"][1]["status"], "skipped");
        assert!(!pid_alive(&pid), "the cancelled step still runs");
        t.post(
            &format!("/api/tasks/{id}/actions/cancel/"),
            t.admin(),
            json!({}),
        )
        .await
        .err(409, 40900);
    }
);

both!(
    async fn stop_at_first_failure_skips_the_rest_continue_runs_them(b: Backend) {
        let h = SshHosts::start(3);
        let t = app_for(b, &h).await;
        let cred = key_credential(&t, &h).await;
        let mut list = vec![];
        for i in 0..3 {
            list.push((
                add_host(&t, &format!("s{i}"), &h.hosts[i].address, cred).await,
                format!("s{i}"),
            ));
        }
        let hosts: Vec<(i64, &str)> = list.iter().map(|(i, n)| (*i, n.as_str())).collect();
        let script = "[ \"$(hostname)\" != host0 ] || exit 3; touch /srv/ran";
        for (stop, expect) in [
            (true, ["failed", "skipped", "skipped"]),
            (false, ["failed", "finished", "finished"]),
        ] {
            let id = start(&t, &hosts, vec![step("s", script)], 1, stop).await;
            run_jobs_now(&t).await;
            let v = task(&t, id).await;
            let got: Vec<&str> = v["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["status"].as_str().unwrap())
                .collect();
            assert_eq!(got, expect, "{v}");
            assert_eq!(v["results"][0]["exit_code"], 3);
            assert!(v["results"][0]["error"]
                .as_str()
                .unwrap()
                .contains("exit code 3"));
        }
        assert!(!h.path(0, "/srv/ran").exists());
        assert!(h.path(2, "/srv/ran").exists());
    }
);

both!(
    async fn runs_left_running_by_a_dead_process_fail_as_interrupted(t: TestApp) {
        use sea_orm::{ActiveModelTrait, Set};
        let host = t
            .post("/api/hosts/", t.admin(), json!({"name": "i0"}))
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        let id = start(&t, &[(host, "i0")], vec![step("x", "true")], 1, true).await;
        // As a process that took it, wrote some output and died would leave it.
        let r = run::Entity::find_by_id(id)
            .one(&t.ctx.db)
            .await
            .unwrap()
            .unwrap();
        let mut am: run::ActiveModel = r.into();
        am.owner = Set(Some("elsewhere/1/x".into()));
        am.lease_until = Set(Some(app::time::now() - chrono::Duration::seconds(1)));
        am.update(&t.ctx.db).await.unwrap();
        let target = run_target::Entity::find()
            .filter(run_target::Column::RunId.eq(id))
            .one(&t.ctx.db)
            .await
            .unwrap()
            .unwrap();
        app::exec::output::system_row(&t.ctx.db, id, target.id, "before the crash")
            .await
            .unwrap();
        assert_eq!(runner::recover(&t.ctx, false).await.unwrap(), 1);
        let v = task(&t, id).await;
        assert_eq!(v["status"], "failed");
        assert_eq!(v["error"], "interrupted");
        assert_eq!(v["results"][0]["status"], "failed");
        assert_eq!(v["results"][0]["error"], "interrupted");
        let out = output_of(&t, id, target.id).await;
        assert!(
            out.contains("before the crash") && out.contains("interrupted"),
            "{out}"
        );
        // The job that would have executed it finds it over and does nothing.
        run_jobs_now(&t).await;
        assert_eq!(task(&t, id).await["error"], "interrupted");
        assert_eq!(runner::recover(&t.ctx, true).await.unwrap(), 0);
    }
);

both!(
    async fn who_may_do_what(t: TestApp) {
        let host = t
            .post("/api/hosts/", t.admin(), json!({"name": "p0"}))
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        let c = t
            .post(
                "/api/hosts/ssh-credentials/",
                t.admin(),
                json!({"name": "c", "username": "root", "kind": "password", "password": "pw-123456"}),
            )
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        let (_, nobody) = t.user("nobody").await;
        let (_, editor) = t
            .user_with("editor", "host", &["enable_host_mgmt", "edit_host"])
            .await;
        let (_, manager) = t
            .user_with("manager", "host", &["enable_host_mgmt", "manage_host"])
            .await;
        let put = axum::http::Method::PUT;
        let patch = axum::http::Method::PATCH;
        let del = axum::http::Method::DELETE;
        for who in [&nobody, &editor] {
            let a = Auth::Token(who);
            t.get("/api/hosts/ssh-credentials/", a)
                .await
                .err(403, 40300);
            t.post(
                "/api/hosts/ssh-credentials/",
                a,
                json!({"name": "x", "username": "root", "password": "p"}),
            )
            .await
            .err(403, 40300);
            t.get(&format!("/api/hosts/ssh-credentials/{c}/"), a)
                .await
                .err(403, 40300);
            t.call(
                patch.clone(),
                &format!("/api/hosts/ssh-credentials/{c}/"),
                a,
                Some(json!({"name": "y"})),
            )
            .await
            .err(403, 40300);
            t.call(
                del.clone(),
                &format!("/api/hosts/ssh-credentials/{c}/"),
                a,
                None,
            )
            .await
            .err(403, 40300);
            t.call(
                put.clone(),
                &format!("/api/hosts/{host}/access/"),
                a,
                Some(json!({"credential_id": c})),
            )
            .await
            .err(403, 40300);
            t.post(
                &format!("/api/hosts/{host}/host-key/actions/accept/"),
                a,
                json!({"fingerprint": "x"}),
            )
            .await
            .err(403, 40300);
        }
        t.get(&format!("/api/hosts/{host}/access/"), Auth::Token(&nobody))
            .await
            .err(403, 40300);
        t.post(
            &format!("/api/hosts/{host}/actions/check-ssh/"),
            Auth::Token(&nobody),
            json!({}),
        )
        .await
        .err(403, 40300);
        // The editor may check (edit_host covers every host), and see the task; nobody may not.
        let s = t
            .post(
                &format!("/api/hosts/{host}/actions/check-ssh/"),
                Auth::Token(&editor),
                json!({}),
            )
            .await
            .ok();
        let id = s["task_id"].as_str().unwrap().to_string();
        t.get(&format!("/api/tasks/{id}/"), Auth::Token(&editor))
            .await
            .ok();
        t.get(&format!("/api/tasks/{id}/"), Auth::Token(&nobody))
            .await
            .err(404, 40400);
        t.get(&format!("/api/tasks/{id}/output/"), Auth::Token(&nobody))
            .await
            .err(404, 40400);
        t.post(
            &format!("/api/tasks/{id}/actions/cancel/"),
            Auth::Token(&nobody),
            json!({}),
        )
        .await
        .err(404, 40400);
        t.get(&format!("/api/tasks/{id}/"), Auth::None)
            .await
            .err(401, 40100);
        // Someone else's task: the editor sees it (it views every host) but may not cancel it.
        let other = t
            .post("/api/hosts/", t.admin(), json!({"name": "p1"}))
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        let s = t
            .post(
                &format!("/api/hosts/{other}/actions/check-ssh/"),
                t.admin(),
                json!({}),
            )
            .await
            .ok();
        let theirs = s["task_id"].as_str().unwrap().to_string();
        t.get(&format!("/api/tasks/{theirs}/"), Auth::Token(&editor))
            .await
            .ok();
        t.post(
            &format!("/api/tasks/{theirs}/actions/cancel/"),
            Auth::Token(&editor),
            json!({}),
        )
        .await
        .err(403, 40300);
        assert_eq!(
            task(&t, theirs.parse().unwrap()).await["cancel_requested"],
            false
        );
        // The manager does all of it; a credential in use is not deleted.
        let m = Auth::Token(&manager);
        t.call(
            put.clone(),
            &format!("/api/hosts/{host}/access/"),
            m,
            Some(json!({"credential_id": c, "port": 2222})),
        )
        .await
        .ok();
        t.call(
            del.clone(),
            &format!("/api/hosts/ssh-credentials/{c}/"),
            m,
            None,
        )
        .await
        .err(409, 40900);
        t.call(
            put.clone(),
            &format!("/api/hosts/{host}/access/"),
            m,
            Some(json!({"port": 70000})),
        )
        .await
        .err(400, 40000);
        t.post("/api/hosts/ssh-credentials/", m, json!({"name": "k", "username": "root", "kind": "private_key", "private_key": "not a key"})).await.err(400, 40000);
        t.post(
            "/api/hosts/ssh-credentials/",
            m,
            json!({"name": "c", "username": "root", "password": "p"}),
        )
        .await
        .err(409, 40900);
        t.post(
            "/api/hosts/ssh-credentials/",
            m,
            json!({"name": "u", "username": "-oProxyCommand", "password": "p"}),
        )
        .await
        .err(400, 40000);
        t.call(
            put,
            &format!("/api/hosts/{host}/access/"),
            m,
            Some(json!({"credential_id": 0})),
        )
        .await
        .ok();
        t.call(del, &format!("/api/hosts/ssh-credentials/{c}/"), m, None)
            .await
            .ok();
        // The secret was never answered nor audited.
        let audit = t
            .get("/api/audit/logs/?page_size=100", t.admin())
            .await
            .ok()
            .to_string();
        assert!(!audit.contains("pw-123456"));
    }
);

/// Reads frames until `end` (or the socket closes); answers them as JSON.
async fn frames(
    mut ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Vec<Value> {
    use futures_util::StreamExt;
    let mut out = vec![];
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
        match m.unwrap() {
            tokio_tungstenite::tungstenite::Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                let end = v["type"] == "end";
                out.push(v);
                if end {
                    break;
                }
            }
            tokio_tungstenite::tungstenite::Message::Close(_) => break,
            _ => {}
        }
    }
    out
}

fn text_of(frames: &[Value]) -> String {
    frames
        .iter()
        .filter(|f| f["type"] == "output")
        .map(|f| f["data"].as_str().unwrap())
        .collect()
}

both!(
    async fn live_output_replays_then_follows_over_websocket(b: Backend) {
        let h = SshHosts::start(1);
        let t = app_for(b, &h).await;
        let cred = key_credential(&t, &h).await;
        let host = add_host(&t, "live0", &h.hosts[0].address, cred).await;
        let addr = serve(&t).await;
        let id = start(
            &t,
            &[(host, "live0")],
            vec![step(
                "count",
                "for i in 1 2 3 4 5 6; do echo line$i; sleep 0.3; done",
            )],
            1,
            true,
        )
        .await;
        let path = format!("/channel/{id}");
        let token = ("authorization", format!("token {}", t.admin_token));
        // Refused before any upgrade: anonymous 401, a user who may not see the task 404,
        // a session cookie from another site 403.
        assert_eq!(ws_open(addr, &path, &[]).await.err(), Some(401));
        let (_, nobody) = t.user("nobody").await;
        assert_eq!(
            ws_open(addr, &path, &[("authorization", format!("token {nobody}"))])
                .await
                .err(),
            Some(404)
        );
        let cookie = t.login("admin", ADMIN_PW).await;
        assert_eq!(
            ws_open(
                addr,
                &path,
                &[
                    ("cookie", cookie.clone()),
                    ("origin", "http://evil.example".into())
                ]
            )
            .await
            .err(),
            Some(403)
        );
        // Subscribed before the run starts: everything arrives live, in order, then `end`.
        let ws = ws_open(addr, &path, &[token.clone()]).await.unwrap();
        let ctx = t.ctx.clone();
        let jobs = tokio::spawn(async move { app::jobs::run_due(&ctx).await.unwrap() });
        let live = frames(ws).await;
        jobs.await.unwrap();
        assert_eq!(live[0]["type"], "hello");
        assert_eq!(live[0]["task_id"], id.to_string());
        let text = text_of(&live);
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("line")).collect();
        assert_eq!(
            lines,
            ["line1", "line2", "line3", "line4", "line5", "line6"],
            "{text}"
        );
        assert!(live
            .iter()
            .any(|f| f["type"] == "target" && f["status"] == "running"));
        assert!(live
            .iter()
            .any(|f| f["type"] == "target" && f["status"] == "finished"));
        let end = live.last().unwrap();
        assert_eq!(end["type"], "end");
        assert_eq!(end["status"], "finished");
        // Ids only grow: a reconnect resumes after the last one it saw.
        let ids: Vec<i64> = live
            .iter()
            .filter(|f| f["type"] == "output")
            .map(|f| f["id"].as_i64().unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        // After the end, from the database: same-site session cookies work; `after` resumes.
        let same_site = [("cookie", cookie), ("origin", format!("http://{addr}"))];
        let replay = frames(ws_open(addr, &path, &same_site).await.unwrap()).await;
        assert_eq!(text_of(&replay), text);
        assert_eq!(replay.last().unwrap()["status"], "finished");
        let resumed = frames(
            ws_open(addr, &format!("{path}?after={}", ids[1]), &[token.clone()])
                .await
                .unwrap(),
        )
        .await;
        let first = resumed.iter().find(|f| f["type"] == "output").unwrap();
        assert_eq!(first["id"].as_i64(), Some(ids[2]));
        // The seed's alias address answers the same.
        let alias = frames(
            ws_open(addr, &format!("/api/channel/{id}/"), &[token])
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(text_of(&alias), text);
    }
);

both!(
    async fn kill_9_mid_task_then_restart_fails_it_as_interrupted_with_its_output(b: Backend) {
        let h = SshHosts::start(1);
        let t = app_for(b, &h).await;
        let c = t
            .post(
                "/api/hosts/ssh-credentials/",
                t.admin(),
                json!({"name": "pw", "username": PW_USER, "kind": "password", "password": PW_PASS}),
            )
            .await
            .ok();
        let host = add_host(&t, "k9", &h.hosts[0].address, c["id"].as_i64().unwrap()).await;
        let id = start(
            &t,
            &[(host, "k9")],
            vec![step(
                "slow",
                "echo marker-before-kill; sleep 60; echo never",
            )],
            1,
            true,
        )
        .await;
        let log = t.dir.join("server.log");
        let env = [
            ("OPSDECK_SSH_NETNS", h.netns_path().display().to_string()),
            ("RUST_LOG", "debug".to_string()),
        ];
        let spawn = || spawn_server(&t, &log, &env);
        let mut first = spawn();
        let mut seen = false;
        for _ in 0..300 {
            let rows = run_output::Entity::find()
                .filter(run_output::Column::RunId.eq(id))
                .all(&t.ctx.db)
                .await
                .unwrap();
            if rows
                .iter()
                .any(|r| String::from_utf8_lossy(&r.data).contains("marker-before-kill"))
            {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            seen,
            "the step never started: {}\n{}",
            task_now(&t, id),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        first.kill().unwrap(); // SIGKILL
        first.wait().unwrap();
        assert_eq!(task(&t, id).await["status"], "running");
        let mut second = spawn();
        let mut v = Value::Null;
        for _ in 0..300 {
            v = task(&t, id).await;
            if v["status"] != "running" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = second.kill();
        let _ = second.wait();
        assert_eq!(v["status"], "failed", "{v}");
        assert_eq!(v["error"], "interrupted");
        assert_eq!(v["results"][0]["status"], "failed");
        assert_eq!(v["results"][0]["error"], "interrupted");
        let target = v["results"][0]["id"].as_i64().unwrap();
        let out = output_of(&t, id, target).await;
        assert!(
            out.contains("marker-before-kill")
                && out.contains("interrupted")
                && !out.contains("never"),
            "{out}"
        );
        nothing_left_running(&t).await;
        let server_log = std::fs::read_to_string(&log).unwrap();
        assert!(server_log.contains("run interrupted"), "{server_log}");
        assert!(
            !server_log.contains(PW_PASS),
            "the password is in the server log"
        );
    }
);

both!(
    async fn an_editor_cannot_point_a_credential_at_another_server(b: Backend) {
        let h = SshHosts::start(2);
        let t = app_for(b, &h).await;
        let c = t
            .post(
                "/api/hosts/ssh-credentials/",
                t.admin(),
                json!({"name": "pw", "username": PW_USER, "kind": "password", "password": PW_PASS}),
            )
            .await
            .ok();
        let cid = c["id"].as_i64().unwrap();
        let a = add_host(&t, "a0", &h.hosts[0].address, cid).await;
        let fresh = add_host(&t, "fresh", "10.200.0.12/32", cid).await;
        assert_eq!(check(&t, a).await["status"], "finished");
        let (_, editor) = t
            .user_with("editor", "host", &["enable_host_mgmt", "edit_host"])
            .await;
        let ed = Auth::Token(&editor);
        let check_as = |host: i64| {
            let path = format!("/api/hosts/{host}/actions/check-ssh/");
            let t = &t;
            async move {
                let s = t.post(&path, ed, json!({})).await.ok();
                run_jobs_now(t).await;
                task(t, s["task_id"].as_str().unwrap().parse().unwrap()).await
            }
        };
        // A host nobody checked yet: an editor's task does not trust whatever answers.
        let v = check_as(fresh).await;
        assert_eq!(v["status"], "failed");
        assert!(
            v["results"][0]["error"]
                .as_str()
                .unwrap()
                .contains("a host manager must check"),
            "{v}"
        );
        // The editor moves a checked host to another server's address: its key is not the
        // host's, so the password is not sent; a manager sees the offered key.
        t.call(
            axum::http::Method::PATCH,
            &format!("/api/hosts/{a}/"),
            ed,
            Some(json!({"ip_address": [{"address": h.hosts[1].address, "netmask": "24", "owner": "HOST"}]})),
        )
        .await
        .ok();
        let v = check_as(a).await;
        assert_eq!(v["status"], "failed");
        assert_eq!(v["results"][0]["error_code"], 40910, "{v}");
        let access = t
            .get(&format!("/api/hosts/{a}/access/"), t.admin())
            .await
            .ok();
        let moved = access["host_keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["endpoint"] == format!("{}:22", h.hosts[1].address))
            .cloned()
            .unwrap();
        assert!(moved["offered_fingerprint"].is_string(), "{access}");
        // A second check while one runs is refused.
        let path = format!("/api/hosts/{a}/actions/check-ssh/");
        t.post(&path, t.admin(), json!({})).await.ok();
        t.post(&path, t.admin(), json!({})).await.err(409, 40900);
        run_jobs_now(&t).await;
    }
);

both!(
    async fn server_functions_refuse_the_unprivileged(t: TestApp) {
        use app::credentials::api::*;
        use app::exec::api::*;
        use leptos::server_fn::ServerFn;
        let host = t
            .post("/api/hosts/", t.admin(), json!({"name": "sf0"}))
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        let c = t
            .post(
                "/api/hosts/ssh-credentials/",
                t.admin(),
                json!({"name": "c", "username": "root", "password": "pw-123456"}),
            )
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        let task_id = t
            .post(
                &format!("/api/hosts/{host}/actions/check-ssh/"),
                t.admin(),
                json!({}),
            )
            .await
            .ok()["task_id"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap();
        t.user("nobody").await;
        let cookie = t.login("nobody", "user-pass-123").await;
        let calls: Vec<(&str, Value, u16)> = vec![
            (
                <ListSshCredentials as ServerFn>::PATH,
                json!({"filter": {}}),
                403,
            ),
            (
                <CreateSshCredential as ServerFn>::PATH,
                json!({"input": {"name": "x", "username": "root", "password": "p"}}),
                403,
            ),
            (
                <UpdateSshCredential as ServerFn>::PATH,
                json!({"id": c, "input": {"name": "y"}}),
                403,
            ),
            (
                <DeleteSshCredential as ServerFn>::PATH,
                json!({"id": c}),
                403,
            ),
            (
                <GetHostAccess as ServerFn>::PATH,
                json!({"host_id": host}),
                403,
            ),
            (
                <SetHostAccess as ServerFn>::PATH,
                json!({"host_id": host, "input": {"credential_id": c}}),
                403,
            ),
            (
                <AcceptOfferedHostKey as ServerFn>::PATH,
                json!({"host_id": host, "input": {"fingerprint": "x"}}),
                403,
            ),
            (
                <CheckHostSsh as ServerFn>::PATH,
                json!({"host_id": host}),
                403,
            ),
            (<GetTask as ServerFn>::PATH, json!({"id": task_id}), 404),
            (
                <TaskOutput as ServerFn>::PATH,
                json!({"id": task_id, "query": {}}),
                404,
            ),
            (<CancelTask as ServerFn>::PATH, json!({"id": task_id}), 404),
        ];
        for (path, body, status) in calls {
            let r = t
                .call(
                    axum::http::Method::POST,
                    path,
                    Auth::Cookie(&cookie),
                    Some(body),
                )
                .await;
            assert_eq!(r.status.as_u16(), status, "{path}: {}", r.json);
        }
        // Nothing changed.
        let cred = t
            .get(&format!("/api/hosts/ssh-credentials/{c}/"), t.admin())
            .await
            .ok();
        assert_eq!(cred["name"], "c");
        let access = t
            .get(&format!("/api/hosts/{host}/access/"), t.admin())
            .await
            .ok();
        assert!(access["credential"].is_null());
        assert_eq!(task(&t, task_id).await["cancel_requested"], false);
        // The same session with the permission gets through (the refusals were not the transport).
        t.grant(
            "user",
            user_id(&t.ctx, "nobody").await,
            "host",
            &["enable_host_mgmt", "manage_host"],
        )
        .await;
        let r = t
            .call(
                axum::http::Method::POST,
                <ListSshCredentials as ServerFn>::PATH,
                Auth::Cookie(&cookie),
                Some(json!({"filter": {}})),
            )
            .await
            .ok();
        assert_eq!(r["count"], 1);
    }
);
