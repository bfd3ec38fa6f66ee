//! Host init and Zabbix against real systems: OpenSSH hosts in network namespaces and a real
//! Zabbix 6.0 API. A host request is approved, its hosts registered, inited (name, running
//! user, the login user's SSH key, the agent's configuration, Zabbix enrolment) and the
//! request finishes; change-zabbix-opts changes the Zabbix host and refuses missing groups and
//! templates without changing anything; who may not is refused.
mod common;
use axum::http::Method;
use common::ssh_hosts::SshHosts;
use common::zabbix::Zabbix;
use common::*;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};

fn host_request(a: &str, b: &str, login: i64) -> Value {
    json!({
        "purpose": "init test", "expect_delivery_days": "7", "expiration": "never",
        "users_with_log_perm": [{"id": login}],
        "required_hosts": [
            {"name": a, "specs": {"cpu_core": 2, "mem": 4096, "storage": 50000}, "os": "debian-12", "type": "PHY_HOST"},
            {"name": b, "specs": {"cpu_core": 2, "mem": 4096, "storage": 50000}, "os": "debian-12", "type": "PHY_HOST"}
        ]
    })
}

/// Inits one host; answers the task's output once it finished.
async fn init_one(t: &TestApp, id: i64) -> String {
    let r = t
        .post(
            "/api/hosts/init-tasks/",
            t.admin(),
            json!({"hosts": [{"id": id}]}),
        )
        .await
        .ok();
    run_jobs_now(t).await;
    let tid = r["id"].as_i64().unwrap();
    let task = t.get(&format!("/api/tasks/{tid}/"), t.admin()).await.ok();
    assert_eq!(task["status"], "finished", "{task}");
    t.get(&format!("/api/tasks/{tid}/output/?limit=1000"), t.admin())
        .await
        .ok()
        .to_string()
}

both!(
    async fn a_requested_host_is_inited_and_enrolled_in_zabbix(b: Backend) {
        let h = SshHosts::start(2);
        let z = Zabbix::start().await;
        let ns = h.netns_path().display().to_string();
        let zc = z.config("10.200.0.1");
        let t = TestApp::with_config(b, move |c| {
            c.ssh_netns = Some(ns);
            c.ssh_connect_timeout = 3;
            c.zabbix = Some(zc);
        })
        .await;
        let tag = format!(
            "{}{}",
            std::process::id(),
            if matches!(b, Backend::Sqlite) {
                "s"
            } else {
                "p"
            }
        );
        let (na, nb) = (format!("init-a-{tag}"), format!("init-b-{tag}"));
        // Groups and (empty, so linking is quick) templates of this test's own.
        let (g1, g2, t1, t2) = (
            format!("og1-{tag}"),
            format!("og2-{tag}"),
            format!("ot1-{tag}"),
            format!("ot2-{tag}"),
        );
        for g in [&g1, &g2] {
            z.call("hostgroup.create", json!({"name": g})).await;
        }
        for tp in [&t1, &t2] {
            z.call(
                "template.create",
                json!({"host": tp, "groups": [{"groupid": "1"}]}),
            )
            .await;
        }
        let s = |v: &str| v.to_string();

        // Alice may log in to the requested hosts and has a key; Bob has a key and no rights.
        let (alice, alice_tok) = t.user("alice").await;
        let (_, bob_tok) = t.user("bob").await;
        let alice_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFvHPdtMeAiZZoxFWDnoC9XQLhL0AQJ9WfW1RYFxRL3M alice@laptop";
        let bob_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFqXkzc334hulTCx1wUf9hNNvzKOdjrp5DZrFzW43Pfa bob@laptop";
        let k = t
            .post(
                "/api/account/ssh-keys/",
                Auth::Token(&alice_tok),
                json!({"name": "laptop", "public_key": alice_key}),
            )
            .await
            .ok();
        assert!(
            k["fingerprint"].as_str().unwrap().starts_with("SHA256:"),
            "{k}"
        );
        t.post(
            "/api/account/ssh-keys/",
            Auth::Token(&alice_tok),
            json!({"name": "again", "public_key": alice_key}),
        )
        .await
        .err(409, 40900);
        t.post(
            "/api/account/ssh-keys/",
            Auth::Token(&alice_tok),
            json!({"name": "bad", "public_key": "ssh-ed25519 AAAA\ncommand=\"x\" ssh-rsa"}),
        )
        .await
        .err(400, 40000);
        t.post(
            "/api/account/ssh-keys/",
            Auth::Token(&bob_tok),
            json!({"name": "laptop", "public_key": bob_key}),
        )
        .await
        .ok();
        assert_eq!(
            t.get("/api/account/ssh-keys/", Auth::Token(&bob_tok))
                .await
                .ok()
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // One's keys are one's own.
        let kid = k["id"].as_i64().unwrap();
        t.call(
            Method::DELETE,
            &format!("/api/account/ssh-keys/{kid}/"),
            Auth::Token(&bob_tok),
            None,
        )
        .await
        .err(404, 40400);

        // The request: filed, approved, its hosts registered raw.
        let req = t.user_with("req", "resource_request", REQUESTER).await;
        let appr = t.user_with("appr", "resource_request", APPROVER).await;
        let rid = t
            .post(
                "/api/resource-request/hosts/",
                Auth::Token(&req.1),
                host_request(&na, &nb, alice),
            )
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        t.post(
            &format!("/api/resource-request/hosts/{rid}/actions/approve/"),
            Auth::Token(&appr.1),
            json!({}),
        )
        .await
        .ok();
        run_jobs_now(&t).await;
        let r = t
            .get(&format!("/api/resource-request/hosts/{rid}/"), t.admin())
            .await
            .ok();
        assert_eq!(r["status"], "approved", "{r}");
        let id_of = |name: String| {
            let t = &t;
            async move {
                t.get(&format!("/api/hosts/?name={name}"), t.admin())
                    .await
                    .ok()["results"][0]["id"]
                    .as_i64()
                    .expect("registered host")
            }
        };
        let (ha, hb) = (id_of(na.clone()).await, id_of(nb.clone()).await);
        // Opsdeck reaches them over SSH.
        let cred = t.post("/api/hosts/ssh-credentials/", t.admin(),
            json!({"name": "root-key", "username": "root", "kind": "private_key", "private_key": h.client_key})).await.ok()["id"].as_i64().unwrap();
        // `a` by its CMDB address, `b` by an address set for SSH only.
        t.call(Method::PATCH, &format!("/api/hosts/{ha}/"), t.admin(),
               Some(json!({"ip_address": [{"address": h.hosts[0].address, "netmask": "24", "owner": "HOST"}]}))).await.ok();
        t.call(
            Method::PUT,
            &format!("/api/hosts/{ha}/access/"),
            t.admin(),
            Some(json!({"credential_id": cred})),
        )
        .await
        .ok();
        t.call(
            Method::PUT,
            &format!("/api/hosts/{hb}/access/"),
            t.admin(),
            Some(json!({"credential_id": cred, "address": h.hosts[1].address})),
        )
        .await
        .ok();
        // Alice may log in to `a` only (the request granted both; one grant is taken back).
        t.post(
            &format!("/api/users/{alice}/host/perms/"),
            t.admin(),
            json!({"authorizations": [
            {"id": hb, "permission": {"view_host": true, "login_host": false}}]}),
        )
        .await
        .ok();

        // Missing Zabbix groups or templates are refused before anything is queued.
        let bad = |g: &str, tp: &str| json!({"hosts": [{"id": ha}], "opts": {"zabbix_groups": [g], "zabbix_temlates": [tp]}});
        let e = t
            .post(
                "/api/hosts/init-tasks/",
                t.admin(),
                bad(&g1, "no-such-template"),
            )
            .await
            .err(400, 30002);
        assert_eq!(e["message"], "模板 \"no-such-template\" 不存在");
        t.post(
            "/api/hosts/init-tasks/",
            t.admin(),
            bad("no-such-group", &t1),
        )
        .await
        .err(400, 30003);
        assert_eq!(
            t.get("/api/hosts/init-tasks/", t.admin()).await.ok()["count"],
            0
        );
        // Who may not init is refused.
        let r = t
            .post(
                "/api/hosts/init-tasks/",
                Auth::Token(&bob_tok),
                json!({"hosts": [{"id": ha}]}),
            )
            .await;
        assert!(r.status == 403 || r.status == 404, "{:?}", r.status);

        // Init both.
        let task = t
            .post(
                "/api/hosts/init-tasks/",
                t.admin(),
                json!({
                    "hosts": [{"id": ha}, {"id": hb}],
                    "opts": {"zabbix_groups": [g1], "zabbix_temlates": [t1]},
                }),
            )
            .await;
        assert_eq!(task.status.as_u16(), 201, "{}", task.json);
        let task = task.json;
        assert_eq!(task["status"], "running");
        assert_eq!(
            task["opts"],
            json!({"zabbix_groups": [g1], "zabbix_templates": [t1]})
        );
        let id = task["id"].as_i64().unwrap();
        run_jobs_now(&t).await;
        let task = t.get(&format!("/api/tasks/{id}/"), t.admin()).await.ok();
        assert_eq!(task["status"], "finished", "{task}");
        let out = t
            .get(&format!("/api/tasks/{id}/output/?limit=1000"), t.admin())
            .await
            .ok()
            .to_string();
        assert!(
            out.contains("keys of alice: 1") && out.contains("enrolled in Zabbix"),
            "{out}"
        );

        // On the hosts: their names, the running user, Alice's key on `a` only, the agent.
        for (i, name) in [(0, &na), (1, &nb)] {
            assert_eq!(
                std::fs::read_to_string(h.path(i, "/etc/hostname"))
                    .unwrap()
                    .trim(),
                name.as_str()
            );
            assert!(
                h.path(i, "/home/work").is_dir(),
                "running user's home on host {i}"
            );
            let agent =
                std::fs::read_to_string(h.path(i, "/etc/zabbix/zabbix_agentd.conf")).unwrap();
            assert!(
                agent.contains(&format!("Hostname={name}")) && agent.contains("Server=10.200.0.1"),
                "{agent}"
            );
            assert!(!h.path(i, "/home/bob").exists(), "bob may not log in");
        }
        let keys = std::fs::read_to_string(h.path(0, "/home/alice/.ssh/authorized_keys")).unwrap();
        assert!(
            keys.contains(alice_key) && keys.contains("# opsdeck-managed begin"),
            "{keys}"
        );
        assert!(!h.path(1, "/home/alice").exists());
        // In the CMDB: inited; the request finished by the init.
        for id in [ha, hb] {
            let host = t.get(&format!("/api/hosts/{id}/"), t.admin()).await.ok();
            assert_eq!(host["status"], "inited", "{host}");
        }
        let r = t
            .get(&format!("/api/resource-request/hosts/{rid}/"), t.admin())
            .await
            .ok();
        assert_eq!(r["status"], "finished", "{r}");
        // In Zabbix: both hosts with the group, the template and an agent interface.
        for (i, name) in [(0, &na), (1, &nb)] {
            let (g, tp) = z.names(name).await;
            assert_eq!((g, tp), (vec![s(&g1)], vec![s(&t1)]));
            let zh = z.host(name).await.unwrap();
            assert_eq!(zh["interfaces"][0]["ip"], h.hosts[i].address.as_str());
        }
        // A login user plants a symlink to a root file; an Opsdeck user named like a system
        // account (`daemon`) may log in too. Init again: the root file is untouched, the keys
        // file is a file again with the block once, `daemon` is not given keys.
        let shadow = h.path(0, "/etc/shadow");
        let before = std::fs::read(&shadow).unwrap();
        let ak = h.path(0, "/home/alice/.ssh/authorized_keys");
        std::fs::remove_file(&ak).unwrap();
        std::os::unix::fs::symlink("/etc/shadow", &ak).unwrap();
        let (daemon, daemon_tok) = t.user("daemon").await;
        t.post("/api/account/ssh-keys/", Auth::Token(&daemon_tok), json!({"name": "k", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOk+tQxt6ZRuSn7cBya2I6KvFVBxFZb9P8T8OGLmE0sj daemon@x"})).await.ok();
        t.post(
            &format!("/api/users/{daemon}/host/perms/"),
            t.admin(),
            json!({"authorizations": [
            {"id": ha, "permission": {"view_host": true, "login_host": true}}]}),
        )
        .await
        .ok();
        let out = init_one(&t, ha).await;
        assert_eq!(
            std::fs::read(&shadow).unwrap(),
            before,
            "a root file was written through a symlink"
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&shadow).unwrap().uid(), 0);
        assert!(!std::fs::symlink_metadata(&ak)
            .unwrap()
            .file_type()
            .is_symlink());
        let keys = std::fs::read_to_string(&ak).unwrap();
        assert_eq!(keys.matches("# opsdeck-managed begin").count(), 1, "{keys}");
        assert!(keys.contains(alice_key), "{keys}");
        assert!(
            out.contains("account daemon exists and is not one Opsdeck made"),
            "{out}"
        );
        // Alice may no longer log in: the next init takes her keys away (a line of her own
        // stays) and expires her account.
        let own = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFqXkzc334hulTCx1wUf9hNNvzKOdjrp5DZrFzW43Pfa own-line";
        std::fs::write(&ak, format!("{own}\n{keys}")).unwrap();
        t.post(
            &format!("/api/users/{alice}/host/perms/"),
            t.admin(),
            json!({"authorizations": [
            {"id": ha, "permission": {"view_host": true, "login_host": false}}]}),
        )
        .await
        .ok();
        let out = init_one(&t, ha).await;
        assert!(out.contains("revoked alice"), "{out}");
        let keys = std::fs::read_to_string(&ak).unwrap();
        assert!(!keys.contains(alice_key) && keys.contains(own), "{keys}");
        let entry = std::fs::read_to_string(&shadow)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("alice:"))
            .unwrap()
            .to_string();
        assert_eq!(entry.split(':').nth(7), Some("1"), "{entry}");
        let l = t
            .get(&format!("/api/hosts/init-tasks/?hostname={na}"), t.admin())
            .await
            .ok();
        assert_eq!(l["count"], 3);
        // A Zabbix host of someone else's with this host's name is never taken over.
        let stranger = format!("stranger-{tag}");
        z.call("host.create", json!({"host": stranger, "groups": [{"groupid": "2"}],
            "interfaces": [{"type": 1, "main": 1, "useip": 1, "ip": "10.9.9.9", "dns": "", "port": "10050"}]})).await;
        t.call(
            Method::PATCH,
            &format!("/api/hosts/{ha}/"),
            t.admin(),
            Some(json!({"name": stranger})),
        )
        .await
        .ok();
        t.post(
            &format!("/api/hosts/{ha}/actions/change-zabbix-opts/"),
            t.admin(),
            json!({"zabbix_groups": [g2]}),
        )
        .await
        .err(409, 40900);
        assert_eq!(
            z.names(&stranger).await.0,
            vec!["Linux servers".to_string()]
        );
        t.call(
            Method::PATCH,
            &format!("/api/hosts/{ha}/"),
            t.admin(),
            Some(json!({"name": na})),
        )
        .await
        .ok();

        // change-zabbix-opts: missing ones change nothing; then the templates change.
        let zpath = format!("/api/hosts/{ha}/actions/change-zabbix-opts/");
        let go = |body: Value| t.post(&zpath, t.admin(), body);
        let e = go(json!({"zabbix_templates": [t1, "templateB"]}))
            .await
            .err(400, 30002);
        assert_eq!(e["message"], "模板 \"templateB\" 不存在");
        go(json!({"zabbix_groups": [g1, "nope"]}))
            .await
            .err(400, 30003);
        assert_eq!(z.names(&na).await.1, vec![s(&t1)]);
        let ok = go(json!({"zabbix_groups": [g1, g2], "zabbix_templates": [t2]}))
            .await
            .ok();
        assert_eq!(ok, json!({"message": "success"}));
        let (g, tp) = z.names(&na).await;
        assert_eq!(g, vec![s(&g1), s(&g2)]);
        assert_eq!(tp, vec![s(&t2)]);
        // The CMDB keeps them on the watched address; the change is audited.
        let host = t.get(&format!("/api/hosts/{ha}/"), t.admin()).await.ok();
        assert_eq!(
            host["ip_address"][0]["zabbix_templates"],
            json!([t2]),
            "{host}"
        );
        let audit = t.audit("host").await;
        assert!(
            audit.iter().any(|a| a["op_type"] == "change_zabbix_opts"),
            "{audit:?}"
        );
        // Absent lists are kept.
        go(json!({"zabbix_templates": [t1]})).await.ok();
        assert_eq!(z.names(&na).await.0.len(), 2);
        // Who may not edit the host is refused; Zabbix is untouched.
        let r = t
            .post(
                &format!("/api/hosts/{ha}/actions/change-zabbix-opts/"),
                Auth::Token(&bob_tok),
                json!({"zabbix_templates": []}),
            )
            .await;
        assert!(r.status == 403 || r.status == 404, "{:?}", r.status);
        assert_eq!(z.names(&na).await.1, vec![s(&t1)]);
        let f = <app::hosttasks::api::ChangeZabbixOpts as ServerFn>::PATH;
        let r = t
            .post(
                f,
                Auth::Token(&bob_tok),
                json!({"id": ha, "opts": {"zabbix_templates": []}}),
            )
            .await;
        assert!(
            r.json["error_code"] == 40300 || r.json["error_code"] == 40400,
            "{}",
            r.json
        );
        let f = <app::hosttasks::api::InitHosts as ServerFn>::PATH;
        let r = t
            .post(
                f,
                Auth::Token(&bob_tok),
                json!({"input": {"hosts": [{"id": ha}]}}),
            )
            .await;
        assert!(
            r.json["error_code"] == 40300 || r.json["error_code"] == 40400,
            "{}",
            r.json
        );
        // Bob sees no init task.
        assert_eq!(
            t.get("/api/hosts/init-tasks/", Auth::Token(&bob_tok))
                .await
                .ok()["count"],
            0
        );
    }
);

both! {
    async fn without_zabbix_configured_its_endpoints_say_so(t: TestApp) {
        let id = t.post("/api/hosts/", t.admin(), json!({"name": "z-1", "ip_address": [{"address": "10.9.9.9", "netmask": "24"}]})).await.ok()["id"].as_i64().unwrap();
        let e = t.post(&format!("/api/hosts/{id}/actions/change-zabbix-opts/"), t.admin(), json!({"zabbix_groups": ["x"]})).await.err(503, 50300);
        assert!(e["message"].as_str().unwrap().contains("OPSDECK_ZABBIX_URL"), "{e}");
        // Init without SSH access is refused, with or without Zabbix options.
        t.post("/api/hosts/init-tasks/", t.admin(), json!({"hosts": [{"id": id}]})).await.err(400, 40000);
        t.post("/api/hosts/init-tasks/", t.admin(), json!({"hosts": []})).await.err(400, 40000);
        t.post("/api/hosts/init-tasks/", t.admin(), json!({"hosts": [{"id": id}, {"id": id}]})).await.err(400, 40000);
        t.post("/api/hosts/init-tasks/", t.admin(), json!({"hosts": [{"id": id}], "running_user": "Root!"})).await.err(400, 40000);
        t.get("/api/hosts/init-tasks/", Auth::None).await.err(401, 40100);
        t.get("/api/account/ssh-keys/", Auth::None).await.err(401, 40100);
        t.post("/api/account/ssh-keys/", Auth::None, json!({"name": "k", "public_key": "x"})).await.err(401, 40100);
        for f in [
            <app::credentials::api::MySshKeys as ServerFn>::PATH,
            <app::credentials::api::AddMySshKey as ServerFn>::PATH,
            <app::credentials::api::DeleteMySshKey as ServerFn>::PATH,
        ] {
            let r = t.post(f, Auth::None, json!({"id": 1, "input": {"name": "k", "public_key": "x"}})).await;
            assert_eq!(r.json["error_code"], 40100, "{f}: {}", r.json);
        }
    }
}
