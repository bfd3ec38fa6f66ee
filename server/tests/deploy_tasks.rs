//! Deploy tasks against real hosts (OpenSSH servers in network namespaces): a task is filed,
//! approved by two reviewers (level A), started, and deployed to two instances (package over
//! SFTP, hooks as the running user, `current` switched, the application restarted and
//! health-checked), then upgraded from a URL, pruned to `keep_backups`, reverted; the instance
//! log is read over SSH; who may not is refused at every step.
mod common;
use axum::body::Body;
use axum::http::{Method, Request};
use common::ssh_hosts::SshHosts;
use common::*;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::path::Path;
use tower::ServiceExt;

/// A `.tar.gz` of an application printing its version every 0.2 s.
fn package(dir: &Path, version: &str) -> Vec<u8> {
    let src = dir.join(format!("src-{version}"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("VERSION"), version).unwrap();
    std::fs::write(
        src.join("run.sh"),
        "#!/bin/sh\ni=0\nwhile [ $i -lt 600 ]; do echo \"tick $(cat VERSION)\"; sleep 0.2; i=$((i+1)); done\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(src.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.join(format!("shop-{version}.tgz"));
    let st = std::process::Command::new("tar")
        .args([
            "-czf",
            out.to_str().unwrap(),
            "-C",
            src.to_str().unwrap(),
            ".",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read(out).unwrap()
}

async fn upload(t: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/application/artifacts/?filename={name}"))
        .header("host", "opsdeck.test")
        .header("authorization", format!("token {token}"))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    let res = t.router.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let b = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

/// Serves `bytes` at `http://127.0.0.1:<port>/pkg/<name>` (answers the URL).
async fn serve_file(name: &str, bytes: Vec<u8>) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let path = format!("/pkg/{name}");
    let router = axum::Router::new().route(
        &path,
        axum::routing::get(move || {
            let b = bytes.clone();
            async move { b }
        }),
    );
    tokio::spawn(async move { axum::serve(l, router).await.unwrap() });
    format!("http://127.0.0.1:{port}{path}")
}

async fn wait_task(t: &TestApp, tid: &str) -> Value {
    run_jobs_now(t).await;
    let task = t.get(&format!("/api/tasks/{tid}/"), t.admin()).await.ok();
    assert_ne!(task["status"], "running", "{task}");
    task
}

fn current(h: &SshHosts, i: usize) -> String {
    std::fs::read_link(h.path(i, "/srv/shop/current"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn alive(h: &SshHosts, i: usize) -> bool {
    let pid = std::fs::read_to_string(h.path(i, "/srv/shop/current/app.pid")).unwrap_or_default();
    let pid = pid.trim();
    !pid.is_empty() && Path::new(&format!("/proc/{pid}")).exists()
}

/// The application `shop` (runs as `deploy`, a user every test host has; writes a pid file)
/// with an instance on each host, the hosts reachable (their keys pinned by a check).
async fn estate(t: &TestApp, h: &SshHosts) -> (i64, Vec<i64>) {
    let a = t.admin();
    let shop = t
        .post(
            "/api/applications/",
            a,
            json!({"name": "shop", "run_user": "deploy",
        "startup_cmd": "nohup ./run.sh >> /srv/shop/shared/out.log 2>&1 & echo $! > app.pid",
        "stop_cmd": "kill $(cat app.pid) 2>/dev/null; true", "pid_path": "app.pid",
        "stdout_path": "/srv/shop/shared/out.log"}),
        )
        .await
        .ok()["id"]
        .as_i64()
        .unwrap();
    let cred = t
        .post(
            "/api/hosts/ssh-credentials/",
            a,
            json!({"name": "root-key", "username": "root",
        "kind": "private_key", "private_key": h.client_key}),
        )
        .await
        .ok()["id"]
        .as_i64()
        .unwrap();
    let mut iids = vec![];
    for (i, host) in h.hosts.iter().enumerate() {
        let hid = t
            .post("/api/hosts/", a, json!({"name": format!("web-{i}")}))
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        t.call(
            Method::PUT,
            &format!("/api/hosts/{hid}/access/"),
            a,
            Some(json!({"credential_id": cred, "address": host.address})),
        )
        .await
        .ok();
        // A host manager checks the host first (its key is pinned then).
        let c = t
            .post(
                &format!("/api/hosts/{hid}/actions/check-ssh/"),
                a,
                json!({}),
            )
            .await
            .ok();
        assert_eq!(
            wait_task(&t, c["task_id"].as_str().unwrap()).await["status"],
            "finished"
        );
        let inst = t
            .post(
                &format!("/api/application/{shop}/instances/"),
                a,
                json!([{"hostid": hid}]),
            )
            .await
            .ok();
        iids.push(
            inst.as_array()
                .map(|x| x[0]["id"].clone())
                .unwrap_or(inst["results"][0]["id"].clone())
                .as_i64()
                .unwrap(),
        );
    }
    (shop, iids)
}

/// Uploads version `v` as the developer `dev`, files a level C task for it, has `approver`
/// approve it, starts it and upgrades `instance`; answers (task id, sub-task id).
async fn deploy_version(
    t: &TestApp,
    dev: &str,
    approver: Auth<'_>,
    shop: i64,
    v: &str,
    instance: i64,
) -> (i64, String) {
    let (_, art) = upload(t, dev, &format!("shop-{v}.tgz"), package(&t.dir, v)).await;
    let path = "/api/application/deploy-tasks/";
    let d = Auth::Token(dev);
    let body = json!({"application_id": shop, "version": v, "description": format!("release {v}"),
        "level": "C", "package_source": art["source"], "planned_exec_time": 0});
    let id = t.post(path, d, body).await.ok()["id"].as_i64().unwrap();
    t.post(&format!("{path}{id}/actions/approve/"), approver, json!({}))
        .await
        .ok();
    t.post(&format!("{path}{id}/actions/start/"), d, json!({}))
        .await
        .ok();
    let sub = t
        .post(
            &format!("{path}{id}/sub-upgrade-tasks/"),
            d,
            json!({"instances": [{"id": instance}]}),
        )
        .await
        .ok();
    (id, sub["task_id"].as_str().unwrap().to_string())
}

both!(
    async fn a_deploy_task_is_approved_deployed_upgraded_and_reverted(b: Backend) {
        let h = SshHosts::start(2);
        let ns = h.netns_path().display().to_string();
        let t = TestApp::with_config(b, move |c| {
            c.ssh_netns = Some(ns);
            c.ssh_connect_timeout = 3;
            c.deploy_users = vec!["deploy".into()];
            c.package_allowed_hosts = vec!["127.0.0.1".into()];
        })
        .await;
        let a = t.admin();
        let (shop, iids) = estate(&t, &h).await;
        // Deploy settings with hooks (a manager's scripts).
        let script = |name: &str, language: &str, content: &str| {
            let (t, name, language, content) = (
                &t,
                name.to_string(),
                language.to_string(),
                content.to_string(),
            );
            async move {
                t.post(
                    "/api/application/deploy-scripts/",
                    t.admin(),
                    json!({"name": name, "language": language, "content": content}),
                )
                .await
                .ok()["id"]
                    .as_i64()
                    .unwrap()
            }
        };
        let gpre = script(
            "gpre",
            "bash",
            "echo global-pre {{ version }} >> {{ deploy.path }}/global.txt",
        )
        .await;
        let pre = script("pre", "bash", "echo \"pre {{ version | raw }} on {{ host.name | raw }} as $(id -un)\" | tee {{ deploy.path }}/pre.txt").await;
        let post = script(
            "post",
            "python",
            "open({{ deploy.path ~ '/post.txt' }}, 'w').write({{ version }})",
        )
        .await;
        let gpost = script(
            "gpost",
            "bash",
            "echo global-post {{ task.sub_task_id | raw }} >> {{ deploy.path }}/global.txt",
        )
        .await;
        t.call(Method::PATCH, &format!("/api/application/{shop}/deploy-settings/"), a, Some(json!({
            "enabled": true, "deploy_path": "/srv/shop", "script_running_user": "deploy", "keep_backups": 1,
            "repository": {"type": "GIT", "url": "https://git.example.test/shop.git"},
            "lifecycle_hooks": {"running_user": "deploy",
                "global_pre_exec": {"script": {"id": gpre}}, "pre_exec": {"script": {"id": pre}},
                "post_exec": {"script": {"id": post}}, "global_post_exec": {"script": {"id": gpost}}}}))).await.ok();

        // Only the running users the configuration allows.
        let e = t
            .call(
                Method::PATCH,
                &format!("/api/application/{shop}/deploy-settings/"),
                a,
                Some(json!({"script_running_user": "work"})),
            )
            .await
            .err(400, 40000);
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("OPSDECK_DEPLOY_USERS"),
            "{e}"
        );

        // People: a developer who deploys, two reviewers, a viewer, an outsider.
        let app_perms = |u: i64, perms: Value| {
            let t = &t;
            async move {
                t.post(
                    &format!("/api/users/{u}/application/perms/"),
                    t.admin(),
                    json!({"authorizations": [{"id": shop, "permission": perms}]}),
                )
                .await
                .ok();
            }
        };
        let (dev, dev_tok) = t.user("dev").await;
        app_perms(
            dev,
            json!({"view_app": true, "deploy_app": true, "view_app_log": true}),
        )
        .await;
        let (dev2, dev2_tok) = t.user("dev2").await;
        app_perms(dev2, json!({"view_app": true, "deploy_app": true})).await;
        let (r1, r1_tok) = t.user("rev1").await;
        app_perms(
            r1,
            json!({"view_app": true, "review_app_deploy_task": true}),
        )
        .await;
        let (r2, r2_tok) = t.user("rev2").await;
        app_perms(
            r2,
            json!({"view_app": true, "review_app_deploy_task": true, "deploy_app": true}),
        )
        .await;
        let (viewer, viewer_tok) = t.user("viewer").await;
        app_perms(viewer, json!({"view_app": true})).await;
        let (_, out_tok) = t.user("outsider").await;
        let (d, d2, rv1, rv2, v, o) = (
            Auth::Token(&dev_tok),
            Auth::Token(&dev2_tok),
            Auth::Token(&r1_tok),
            Auth::Token(&r2_tok),
            Auth::Token(&viewer_tok),
            Auth::Token(&out_tok),
        );

        // Packages: uploaded by those who may deploy.
        let (st, _) = upload(&t, &out_tok, "shop-1.0.tgz", package(&t.dir, "1.0")).await;
        assert_eq!(st, 403);
        let anon = Request::builder()
            .method(Method::POST)
            .uri("/api/application/artifacts/?filename=a.tgz")
            .header("host", "opsdeck.test")
            .body(Body::from(vec![1u8; 10]))
            .unwrap();
        assert_eq!(
            t.router
                .clone()
                .oneshot(anon)
                .await
                .unwrap()
                .status()
                .as_u16(),
            401
        );
        let (st, e) = upload(&t, &dev_tok, "../x.tgz", vec![1, 2, 3]).await;
        assert_eq!((st, e["field"].as_str()), (400, Some("filename")), "{e}");
        let (st, art) = upload(&t, &dev_tok, "shop-1.0.tgz", package(&t.dir, "1.0")).await;
        assert_eq!(st, 201, "{art}");
        assert_eq!(art["sha256"].as_str().unwrap().len(), 64);
        let source = art["source"].as_str().unwrap().to_string();

        // Filing: the seed's fields (deploy_source, unix time); bad input is named.
        let base = json!({"application_id": shop, "version": "1.0", "description": "first release", "level": "A",
            "deploy_source": source, "planned_exec_time": chrono::Utc::now().timestamp() - 60,
            "upgrade_checklist": "check logs", "upgrade_steps": "deploy", "rollback_steps": "revert"});
        let path = "/api/application/deploy-tasks/";
        t.post(path, o, base.clone()).await.err(403, 40300);
        t.post(path, v, base.clone()).await.err(403, 40300);
        for (field, bad) in [
            ("level", json!("Z")),
            ("version", json!("../1")),
            ("package_source", json!("/data/app/root.war")),
            ("planned_exec_time", json!("soon")),
            ("package_source", json!("artifact:99999")),
        ] {
            let mut body = base.clone();
            body.as_object_mut().unwrap().remove("deploy_source");
            body[field] = bad;
            if field != "package_source" {
                body["package_source"] = json!(source);
            }
            let e = t.post(path, d, body).await.err(400, 40000);
            assert_eq!(e["field"], field, "{e}");
        }
        let created = t.post(path, d, base.clone()).await;
        assert_eq!(created.status.as_u16(), 201, "{}", created.json);
        assert_eq!(created.json["message"], "success");
        let tid = created.json["id"].as_i64().unwrap();
        let task = format!("{path}{tid}/");
        // Both reviewers were mailed; the outsider sees nothing of it.
        run_jobs_now(&t).await;
        let mails = decoded_mails(&t.dir.join("mail"));
        for who in ["rev1@example.test", "rev2@example.test"] {
            assert!(
                mails
                    .iter()
                    .any(|m| m["to"].as_str().unwrap_or_default().contains(who)
                        && m["subject"]
                            .as_str()
                            .unwrap_or_default()
                            .contains(&format!("#{tid}"))),
                "{who}: {mails:?}"
            );
        }
        t.get(&task, o).await.err(404, 40400);
        assert_eq!(t.get(path, o).await.ok()["count"], 0);
        assert_eq!(t.get(path, v).await.ok()["count"], 1);
        assert_eq!(
            t.get(&format!("{path}?view=inbox"), rv1).await.ok()["count"],
            1
        );
        assert_eq!(
            t.get(&format!("{path}?view=inbox"), d).await.ok()["count"],
            0
        );

        // Approval: not by oneself, not by a viewer; level A needs two different reviewers.
        t.post(&format!("{task}actions/approve/"), d, json!({}))
            .await
            .err(403, 40300);
        t.post(
            &format!("{task}actions/reject/"),
            d,
            json!({"reason": "mine"}),
        )
        .await
        .err(403, 40300);
        t.post(&format!("{task}actions/approve/"), v, json!({}))
            .await
            .err(403, 40300);
        t.post(&format!("{task}actions/start/"), d, json!({}))
            .await
            .err(409, 40900);
        t.post(&format!("{task}actions/approve/"), rv1, json!({}))
            .await
            .ok();
        t.post(&format!("{task}actions/approve/"), rv1, json!({}))
            .await
            .err(409, 40900);
        let got = t.get(&task, d).await.ok();
        assert_eq!(
            (
                got["task"]["status"].as_str(),
                got["task"]["approvals_count"].as_i64()
            ),
            (Some("wait_review"), Some(1)),
            "{got}"
        );
        t.post(&format!("{task}actions/approve/"), rv2, json!({}))
            .await
            .ok();
        assert_eq!(t.get(&task, d).await.ok()["task"]["status"], "approved");
        // Start: by the creator (or delegate) only; delegation only to someone who may deploy.
        t.post(&format!("{task}actions/start/"), rv1, json!({}))
            .await
            .err(403, 40300);
        t.post(
            &format!("{task}actions/delegate/"),
            d,
            json!({"user_id": viewer}),
        )
        .await
        .err(400, 40000);
        t.post(
            &format!("{task}actions/delegate/"),
            rv1,
            json!({"user_id": dev2}),
        )
        .await
        .err(403, 40300);
        t.post(
            &format!("{task}sub-upgrade-tasks/"),
            d,
            json!({"instances": [{"id": iids[0]}]}),
        )
        .await
        .err(409, 40900);
        t.post(
            &format!("{task}actions/delegate/"),
            d,
            json!({"user_id": dev2}),
        )
        .await
        .ok();
        t.post(&format!("{task}actions/start/"), d2, json!({}))
            .await
            .ok();
        let got = t.get(&task, d).await.ok();
        assert_eq!(
            (
                got["task"]["status"].as_str(),
                got["task"]["delegate"].as_str()
            ),
            (Some("deploying"), Some("dev2")),
            "{got}"
        );

        // Sub-upgrade on both instances.
        t.post(
            &format!("{task}sub-upgrade-tasks/"),
            v,
            json!({"instances": [{"id": iids[0]}]}),
        )
        .await
        .err(403, 40300);
        t.post(
            &format!("{task}sub-upgrade-tasks/"),
            d,
            json!({"instances": [{"id": 999999}]}),
        )
        .await
        .err(400, 40000);
        let sub = t
            .post(
                &format!("{task}sub-upgrade-tasks/"),
                d,
                json!({"instances": [{"id": iids[0]}, {"id": iids[1]}]}),
            )
            .await;
        assert_eq!(sub.status.as_u16(), 201, "{}", sub.json);
        let sub_id = sub.json["task_id"].as_str().unwrap().to_string();
        assert_eq!(
            sub.json["task_output"],
            format!("ws://opsdeck.test/channel/{sub_id}")
        );
        // While it is queued, the instances are taken.
        t.post(
            &format!("{task}sub-upgrade-tasks/"),
            d,
            json!({"instances": [{"id": iids[0]}]}),
        )
        .await
        .err(409, 40900);
        let done = wait_task(&t, &sub_id).await;
        let out = t
            .get(&format!("/api/tasks/{sub_id}/output/?limit=1000"), d)
            .await
            .ok()
            .to_string();
        assert_eq!(done["status"], "finished", "{done}\n{out}");
        for i in 0..2 {
            assert_eq!(current(&h, i), "releases/1.0");
            assert_eq!(
                std::fs::read_to_string(h.path(i, "/srv/shop/current/VERSION")).unwrap(),
                "1.0"
            );
            assert!(
                alive(&h, i),
                "host {i}: the application runs: {:?} {:?}\n{out}",
                std::fs::read_to_string(h.path(i, "/srv/shop/current/app.pid")),
                std::fs::read_to_string(h.path(i, "/srv/shop/shared/out.log"))
                    .map(|s| s.chars().take(300).collect::<String>())
            );
            let pre_txt = std::fs::read_to_string(h.path(i, "/srv/shop/pre.txt")).unwrap();
            assert_eq!(pre_txt.trim(), format!("pre 1.0 on web-{i} as deploy"));
            assert_eq!(
                std::fs::read_to_string(h.path(i, "/srv/shop/post.txt")).unwrap(),
                "1.0"
            );
        }
        // The global hooks ran once each.
        let global: String = (0..2)
            .map(|i| std::fs::read_to_string(h.path(i, "/srv/shop/global.txt")).unwrap_or_default())
            .collect();
        assert_eq!(global.matches("global-pre 1.0").count(), 1, "{global}");
        assert_eq!(
            global.matches(&format!("global-post {sub_id}")).count(),
            1,
            "{global}"
        );
        assert!(
            out.contains("copied shop-1.0.tgz") && out.contains("current -> releases/1.0"),
            "{out}"
        );
        let got = t.get(&task, v).await.ok();
        for i in got["instances"].as_array().unwrap() {
            assert_eq!(
                (i["status"].as_str(), i["version"].as_str()),
                (Some("running"), Some("1.0")),
                "{got}"
            );
        }
        assert_eq!(got["sub_tasks"][0]["version"], "1.0");
        // The outsider sees neither the sub-task nor its output.
        t.get(&format!("/api/tasks/{sub_id}/"), o)
            .await
            .err(404, 40400);
        t.get(&format!("/api/tasks/{sub_id}/output/"), o)
            .await
            .err(404, 40400);

        // The instance log, read over SSH as the application's user.
        std::thread::sleep(std::time::Duration::from_millis(600));
        let log = format!("/api/application/{shop}/instance/{}/log/", iids[0]);
        let l = t
            .get(&format!("{log}?mode=lines&latest_lines=3"), d)
            .await
            .ok();
        assert!(l["content"].as_str().unwrap().contains("tick 1.0"), "{l}");
        assert_eq!(l["lines"], 3);
        let l = t.get(&format!("{log}?block_size=5"), d).await.ok();
        assert_eq!(
            (
                l["content"].as_str(),
                l["length"].as_i64(),
                l["position"].as_i64()
            ),
            (Some("tick "), Some(5), Some(5)),
            "{l}"
        );
        assert!(l["total_length"].as_i64().unwrap() >= 9);
        t.get(&log, v).await.err(403, 40300);
        t.get(&format!("{log}?mode=words"), d).await.err(400, 40000);
        // Followed over a WebSocket: the last lines, then what the application writes next.
        let addr = serve(&t).await;
        let follow = format!(
            "/api/application/{shop}/instance/{}/log/follow/?latest_lines=2",
            iids[0]
        );
        let tok = |x: &str| [("authorization", format!("token {x}"))];
        assert_eq!(
            ws_open(addr, &follow, &tok(&viewer_tok)).await.err(),
            Some(403)
        );
        assert_eq!(
            ws_open(addr, &follow, &tok(&out_tok)).await.err(),
            Some(403)
        );
        let mut ws = ws_open(addr, &follow, &tok(&dev_tok)).await.unwrap();
        let mut seen = String::new();
        {
            use futures_util::StreamExt;
            let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
            while seen.matches("tick 1.0").count() < 6 && std::time::Instant::now() < until {
                if let Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(m)))) =
                    tokio::time::timeout(std::time::Duration::from_secs(5), ws.next()).await
                {
                    let v: Value = serde_json::from_str(&m).unwrap();
                    seen.push_str(v["data"].as_str().unwrap_or_default());
                }
            }
        }
        assert!(
            seen.matches("tick 1.0").count() >= 6,
            "lines keep coming: {seen}"
        );
        drop(ws);

        // Version 2.0 comes from a URL.
        let url = serve_file("shop-2.0.tgz", package(&t.dir, "2.0")).await;
        let t2 = t.post(path, d, json!({"application_id": shop, "version": "2.0", "description": "second", "level": "C",
            "package_source": url, "planned_exec_time": chrono::Utc::now().to_rfc3339()})).await.ok()["id"].as_i64().unwrap();
        let task2 = format!("{path}{t2}/");
        t.post(&format!("{task2}actions/approve/"), rv1, json!({}))
            .await
            .ok();
        t.post(&format!("{task2}actions/start/"), d, json!({}))
            .await
            .ok();
        let s2 = t
            .post(
                &format!("{task2}sub-upgrade-tasks/"),
                d,
                json!({"instances": [{"id": iids[0]}, {"id": iids[1]}], "concurrency": 1}),
            )
            .await
            .ok();
        let s2 = s2["task_id"].as_str().unwrap().to_string();
        let done = wait_task(&t, &s2).await;
        assert_eq!(done["status"], "finished", "{done}");
        for i in 0..2 {
            assert_eq!(current(&h, i), "releases/2.0");
            assert!(alive(&h, i));
            assert!(
                h.path(i, "/srv/shop/releases/1.0").exists(),
                "1.0 is kept (keep_backups 1)"
            );
        }
        let got = t.get(&task2, d).await.ok();
        assert_eq!(got["instances"][0]["kept"], json!(["1.0"]), "{got}");

        // What was approved is what deploys; then the task is closed.
        t.post(
            &format!("{task2}sub-upgrade-tasks/"),
            d,
            json!({"instances": [{"id": iids[0]}], "version": "9.9"}),
        )
        .await
        .err(400, 40000);
        t.post(
            &format!("{task2}sub-upgrade-tasks/"),
            d,
            json!({"instances": [{"id": iids[0]}], "update_source": "artifact:1"}),
        )
        .await
        .err(400, 40000);
        t.post(&format!("{task2}actions/close/"), v, json!({}))
            .await
            .err(403, 40300);
        t.post(&format!("{task2}actions/close/"), d, json!({}))
            .await
            .ok();
        assert_eq!(t.get(&task2, d).await.ok()["task"]["status"], "finished");
        t.post(
            &format!("{task2}sub-revert-tasks/"),
            d,
            json!({"instances": [{"id": iids[0]}], "version": "1.0"}),
        )
        .await
        .err(409, 30002);

        // 3.0 on instance 0: 1.0 is pruned there (one backup kept: 2.0).
        let (_, art3) = upload(&t, &dev_tok, "shop-3.0.tgz", package(&t.dir, "3.0")).await;
        // Someone else's package, and a host packages may not come from, are refused.
        let mut other = json!({"application_id": shop, "version": "3.0", "description": "third", "level": "C",
            "package_source": art3["source"], "planned_exec_time": 0});
        t.post(path, d2, other.clone()).await.err(400, 40000);
        other["package_source"] = json!("http://10.9.9.9/shop.tgz");
        t.post(path, d, other.clone()).await.err(400, 40000);
        other["package_source"] = art3["source"].clone();
        let t3 = t.post(path, d, other).await.ok()["id"].as_i64().unwrap();
        let task3 = format!("{path}{t3}/");
        t.post(&format!("{task3}actions/approve/"), rv1, json!({}))
            .await
            .ok();
        t.post(&format!("{task3}actions/start/"), d, json!({}))
            .await
            .ok();
        let s3 = t
            .post(
                &format!("{task3}sub-upgrade-tasks/"),
                d,
                json!({"instances": [{"id": iids[0]}]}),
            )
            .await
            .ok()["task_id"]
            .as_str()
            .unwrap()
            .to_string();
        let done = wait_task(&t, &s3).await;
        assert_eq!(done["status"], "finished", "{done}");
        assert_eq!(current(&h, 0), "releases/3.0");
        assert!(!h.path(0, "/srv/shop/releases/1.0").exists(), "pruned");
        assert!(h.path(0, "/srv/shop/releases/2.0").exists());

        // Revert instance 0 to 2.0; 1.0 is not kept there any more.
        t.post(
            &format!("{task3}sub-revert-tasks/"),
            d,
            json!({"instances": [{"id": iids[0]}], "version": "1.0"}),
        )
        .await
        .err(400, 40000);
        t.post(
            &format!("{task3}sub-revert-tasks/"),
            v,
            json!({"instances": [{"id": iids[0]}], "version": "2.0"}),
        )
        .await
        .err(403, 40300);
        let rv = t
            .post(
                &format!("{task3}sub-revert-tasks/"),
                d,
                json!({"instances": [{"id": iids[0]}], "version": "2.0"}),
            )
            .await
            .ok();
        let rv = rv["task_id"].as_str().unwrap().to_string();
        assert_eq!(wait_task(&t, &rv).await["status"], "finished");
        assert_eq!(current(&h, 0), "releases/2.0");
        assert!(alive(&h, 0));
        let got = t.get(&task3, d).await.ok();
        assert_eq!(
            (
                got["instances"][0]["version"].as_str(),
                got["instances"][0]["status"].as_str()
            ),
            (Some("2.0"), Some("running")),
            "{got}"
        );
        assert_eq!(got["instances"][0]["kept"], json!(["3.0"]), "{got}");
        t.post(&format!("{task3}actions/close/"), d, json!({}))
            .await
            .ok();

        // A task planned for later does not start early; a rejected one never starts.
        let later = t.post(path, d, json!({"application_id": shop, "version": "4.0", "description": "later", "level": "B",
            "package_source": source, "planned_exec_time": chrono::Utc::now().timestamp() + 3600})).await.ok()["id"].as_i64().unwrap();
        // Its delegate does not approve it.
        t.post(
            &format!("{path}{later}/actions/delegate/"),
            d,
            json!({"user_id": r2}),
        )
        .await
        .ok();
        t.post(&format!("{path}{later}/actions/approve/"), rv2, json!({}))
            .await
            .err(403, 40300);
        t.post(&format!("{path}{later}/actions/approve/"), rv1, json!({}))
            .await
            .ok();
        let e = t
            .post(&format!("{path}{later}/actions/start/"), d, json!({}))
            .await
            .err(409, 40900);
        assert!(e["message"].as_str().unwrap().contains("planned"), "{e}");
        let rej = t
            .post(
                path,
                d,
                json!({"application_id": shop, "version": "5.0", "description": "no", "level": "B",
            "package_source": source, "planned_exec_time": 0}),
            )
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        t.post(
            &format!("{path}{rej}/actions/reject/"),
            rv2,
            json!({"reason": "not now"}),
        )
        .await
        .ok();
        t.post(&format!("{path}{rej}/actions/start/"), d, json!({}))
            .await
            .err(409, 30002);
        assert_eq!(
            t.get(&format!("{path}?status=rejected"), v).await.ok()["count"],
            1
        );
        // On the host, a deploy path under a directory the running user owns is refused (it
        // could swap it for a link while root makes the path).
        let passwd = std::fs::read_to_string(h.path(0, "/etc/passwd")).unwrap();
        let uid: u32 = passwd
            .lines()
            .find(|l| l.starts_with("deploy:"))
            .unwrap()
            .split(':')
            .nth(2)
            .unwrap()
            .parse()
            .unwrap();
        std::fs::create_dir_all(h.path(0, "/srv/own")).unwrap();
        std::os::unix::fs::chown(h.path(0, "/srv/own"), Some(uid), Some(uid)).unwrap();
        t.call(
            Method::PATCH,
            &format!("/api/application/{shop}/deploy-settings/"),
            a,
            Some(json!({"deploy_path": "/srv/own/shop"})),
        )
        .await
        .ok();
        let (t6, s6) = deploy_version(&t, &dev_tok, rv1, shop, "6.0", iids[0]).await;
        let done = wait_task(&t, &s6).await;
        assert_eq!(done["status"], "failed", "{done}");
        assert!(
            done["results"][0]["error"]
                .as_str()
                .unwrap()
                .contains("prepare"),
            "{done}"
        );
        let out = t
            .get(&format!("/api/tasks/{s6}/output/?limit=1000"), d)
            .await
            .ok()
            .to_string();
        assert!(
            out.contains("/srv/own does not belong to root: refused"),
            "{out}"
        );
        assert!(!h.path(0, "/srv/own/shop").exists());
        let got = t.get(&format!("{path}{t6}/"), d).await.ok();
        assert_eq!(
            (
                got["instances"][0]["status"].as_str(),
                got["instances"][0]["version"].as_str()
            ),
            (Some("running"), Some("2.0")),
            "{got}"
        );
        // What approvers approved is what runs: settings changed since refuse the next sub-task.
        t.call(
            Method::PATCH,
            &format!("/api/application/{shop}/deploy-settings/"),
            a,
            Some(json!({"deploy_path": "/srv/shop"})),
        )
        .await
        .ok();
        let e = t
            .post(
                &format!("{path}{t6}/sub-upgrade-tasks/"),
                d,
                json!({"instances": [{"id": iids[0]}]}),
            )
            .await
            .err(409, 40900);
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("changed after the task was approved"),
            "{e}"
        );

        // Every change is audited.
        let audit = t.audit("deploy").await;
        for action in [
            "create_task",
            "approve_task",
            "reject_task",
            "start_task",
            "delegate_task",
            "close_task",
            "upload_artifact",
        ] {
            assert!(audit.iter().any(|r| r["op_type"] == action), "{action}");
        }
        for i in 0..2 {
            let pid =
                std::fs::read_to_string(h.path(i, "/srv/shop/current/app.pid")).unwrap_or_default();
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
);

both!(
    async fn kill_9_mid_deploy_then_restart_fails_it_as_interrupted(b: Backend) {
        use app::entities::{instance, run_output};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let h = SshHosts::start(1);
        let ns = h.netns_path().display().to_string();
        let t = TestApp::with_config(b, move |c| {
            c.ssh_netns = Some(ns);
            c.ssh_connect_timeout = 3;
        })
        .await;
        let a = t.admin();
        let (shop, iids) = estate(&t, &h).await;
        let slow = t
            .post(
                "/api/application/deploy-scripts/",
                a,
                json!({"name": "slow", "language": "bash",
            "content": "echo marker-before-kill; sleep 60; echo never"}),
            )
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        t.call(
            Method::PATCH,
            &format!("/api/application/{shop}/deploy-settings/"),
            a,
            Some(json!({
            "enabled": true, "deploy_path": "/srv/shop", "script_running_user": "deploy",
            "lifecycle_hooks": {"running_user": "deploy", "pre_exec": {"script": {"id": slow}}}})),
        )
        .await
        .ok();
        let (dev, dev_tok) = t.user("dev").await;
        t.post(&format!("/api/users/{dev}/application/perms/"), a,
            json!({"authorizations": [{"id": shop, "permission": {"view_app": true, "deploy_app": true}}]})).await.ok();
        let d = Auth::Token(&dev_tok);
        let path = "/api/application/deploy-tasks/";
        let (id, sub) = deploy_version(&t, &dev_tok, a, shop, "1.0", iids[0]).await;
        let run: i64 = sub.parse().unwrap();

        // The queued sub-task is run by an Opsdeck process, killed once the hook printed.
        let log = t.dir.join("server.log");
        let ns_path = h.netns_path().display().to_string();
        let env = [
            ("OPSDECK_SSH_NETNS", ns_path),
            ("OPSDECK_DEPLOY_USERS", "work,deploy".to_string()),
        ];
        let spawn = || spawn_server(&t, &log, &env);
        let marker = || async {
            run_output::Entity::find()
                .filter(run_output::Column::RunId.eq(run))
                .all(&t.ctx.db)
                .await
                .unwrap()
                .iter()
                .map(|r| String::from_utf8_lossy(&r.data).into_owned())
                .collect::<String>()
        };
        let mut first = spawn();
        let mut seen = false;
        for _ in 0..300 {
            if marker().await.contains("marker-before-kill") {
                seen = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            seen,
            "the hook never ran: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        first.kill().unwrap(); // SIGKILL
        first.wait().unwrap();
        let inst = || async {
            instance::Entity::find_by_id(iids[0])
                .one(&t.ctx.db)
                .await
                .unwrap()
                .unwrap()
        };
        assert_eq!(inst().await.status, "updating");
        let mut second = spawn();
        let mut v = Value::Null;
        for _ in 0..300 {
            v = t.get(&format!("/api/tasks/{run}/"), a).await.ok();
            if v["status"] != "running" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = second.kill();
        let _ = second.wait();
        assert_eq!(
            (v["status"].as_str(), v["error"].as_str()),
            (Some("failed"), Some("interrupted")),
            "{v}"
        );
        let out = marker().await;
        assert!(
            out.contains("marker-before-kill")
                && out.contains("interrupted")
                && !out.contains("never"),
            "{out}"
        );
        assert_eq!(
            inst().await.status,
            "unknown",
            "an interrupted instance's state is unknown"
        );
        nothing_left_running(&t).await;
        // The task page says so; nothing stays running.
        let got = t.get(&format!("{path}{id}/"), d).await.ok();
        assert_eq!(got["sub_tasks"][0]["status"], "failed");
        assert_eq!(got["instances"][0]["status"], "unknown");
    }
);
