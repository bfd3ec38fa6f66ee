//! Deploy configuration: scripts (Jinja checked when saved), repository credentials
//! (write-only), templates linked to applications, application settings (own, or a template's),
//! a script rendered for an instance, and who may do what.
mod common;
use axum::http::Method;
use common::*;
use serde_json::{json, Value};

const MGMT: &[&str] = &["enable_deploy_template_mgmt"];

async fn app(t: &TestApp, name: &str) -> i64 {
    t.post(
        "/api/applications/",
        t.admin(),
        json!({"name": name, "run_user": "work", "startup_cmd": "./start"}),
    )
    .await
    .ok()["id"]
        .as_i64()
        .unwrap()
}

both! {
    async fn scripts_credentials_templates_and_settings(t: TestApp) {
        let (_, mgr) = t.user_with("mgr", "deploy_template", MGMT).await;
        let m = Auth::Token(&mgr);
        // Scripts: the seed's codes, Jinja checked when saved.
        let pre = t.post("/api/application/deploy-scripts/", m, json!({
            "name": "pre", "language": "bash", "creator": "someone-else",
            "content": "echo deploying {{ version }} to {{ deploy.release_path | shell }} on {{ host.name }}",
        })).await;
        assert_eq!(pre.status.as_u16(), 201, "{}", pre.json);
        let pre = pre.json;
        assert_eq!((pre["template_engine"].as_str(), pre["creator"].as_str()), (Some("jinja"), Some("mgr")));
        let post = t.post("/api/applications/deploy-scripts/", m, json!({"name": "post", "language": "python", "content": "print('{{ application.name }}')"})).await.ok();
        t.post("/api/application/deploy-scripts/", m, json!({"name": "pre", "language": "bash", "content": "x"})).await.err(409, 30001);
        t.post("/api/application/deploy-scripts/", m, json!({"name": "x", "language": "perl", "content": "x"})).await.err(400, 30002);
        t.post("/api/application/deploy-scripts/", m, json!({"name": "x", "language": "bash", "content": "x", "template_engine": "mako"})).await.err(400, 30003);
        let e = t.post("/api/application/deploy-scripts/", m, json!({"name": "x", "language": "bash", "content": "echo a\n{% if version %}\necho b"})).await.err(400, 40000);
        assert_eq!(e["field"], "content");
        assert!(e["message"].as_str().unwrap().contains("line"), "{e}");
        let e = t.post("/api/application/deploy-scripts/", m, json!({"name": "x", "language": "bash", "content": "echo {{ secrets.all }}"})).await.err(400, 40000);
        assert!(e["message"].as_str().unwrap().starts_with("line 1"), "{e}");
        let l = t.get("/api/application/deploy-scripts/?language=python", m).await.ok();
        assert_eq!(l["count"], 1);
        assert_eq!(t.get("/api/application/deploy-scripts/?content=deploying&creator=mgr", m).await.ok()["count"], 1);
        let (pre_id, post_id) = (pre["id"].as_i64().unwrap(), post["id"].as_i64().unwrap());
        t.call(Method::PATCH, &format!("/api/application/deploy-scripts/{post_id}/"), m, Some(json!({"name": "pre"}))).await.err(409, 30001);

        // Repository credentials: the password is never answered (the seed echoes it; we don't).
        let c = t.post("/api/application/repository-credentials/password/", m, json!({"name": "git-ro", "username": "ci", "password": "s3cret-pass"})).await;
        assert_eq!(c.status.as_u16(), 201);
        let c = c.json;
        assert_eq!((c["password"].as_str(), c["type"].as_str()), (Some("******"), Some("PASSWORD")));
        let cid = c["id"].as_i64().unwrap();
        // The seed's PATCH has no id in the path: the body carries it.
        let c = t.call(Method::PATCH, "/api/application/repository-credentials/password/", m, Some(json!({"id": cid, "username": "ci2", "password": "n3w-pass"}))).await.ok();
        assert_eq!(c["username"], "ci2");
        t.call(Method::PATCH, "/api/application/repository-credentials/password/", m, Some(json!({"username": "x"}))).await.err(400, 40000);
        assert_eq!(t.get("/api/application/repository-credentials/password/?username=ci", m).await.ok()["count"], 1);

        // A template with hooks, linked to an application (the manager may edit it).
        let shop = app(&t, "shop").await;
        let other = app(&t, "other").await;
        let (mgr_id, _) = (t.get("/api/users/?username=mgr", t.admin()).await.ok()["results"][0]["id"].as_i64().unwrap(), ());
        t.post(&format!("/api/users/{mgr_id}/application/perms/"), t.admin(), json!({"authorizations": [
            {"id": shop, "permission": {"view_app": true, "edit_app": true}}]})).await.ok();
        let body = json!({
            "name": "web", "applictions": [{"id": shop}],
            "repository": {"type": "GIT", "url": "https://git.example.test/shop.git", "branch": "release", "credential": cid},
            "deploy_path": "/srv/shop", "timeout": 300, "keep_backups": 3,
            "lifecycle_hooks": {"running_user": "work", "global_pre_exec": null,
                "pre_exec": {"script": {"id": pre_id}}, "post_exec": {"script": {"id": post_id}, "running_user": "deploy"},
                "glboal_post_exec": null},
        });
        let tpl = t.post("/api/application/deploy-templates/", m, body.clone()).await;
        assert_eq!(tpl.status.as_u16(), 201, "{}", tpl.json);
        let tpl = tpl.json;
        assert_eq!(tpl["applications"], json!([{"id": shop}]));
        assert_eq!(tpl["repository"]["credential"]["password"], "******");
        assert_eq!(tpl["lifecycle_hooks"]["pre_exec"]["script"]["language"], "bash");
        assert_eq!(tpl["lifecycle_hooks"]["post_exec"]["running_user"], "deploy");
        assert_eq!(tpl["lifecycle_hooks"]["global_post_exec"], Value::Null);
        let tid = tpl["id"].as_i64().unwrap();
        // Linking an application the manager may not edit is refused; nothing is created.
        let mut b2 = body.clone();
        b2["name"] = json!("web2");
        b2["applications"] = json!([{"id": other}]);
        b2.as_object_mut().unwrap().remove("applictions");
        t.post("/api/application/deploy-templates/", m, b2).await.err(403, 40300);
        assert_eq!(t.get("/api/application/deploy-templates/", m).await.ok()["count"], 1);
        for (bad, field) in [
            (json!({"name": "t", "repository": {"url": "https://x/y"}}), "deploy_path"),
            (json!({"name": "t", "deploy_path": "/srv/x"}), "repository.url"),
            (json!({"name": "t", "deploy_path": "../etc", "repository": {"url": "https://x/y"}}), "deploy_path"),
            (json!({"name": "t", "deploy_path": "/srv/x", "repository": {"url": "https://x/y", "type": "SVN"}}), "repository.type"),
            (json!({"name": "t", "deploy_path": "/srv/x", "repository": {"url": "https://x/y"}, "timeout": 0}), "timeout"),
            (json!({"name": "t", "deploy_path": "/srv/x", "repository": {"url": "https://x/y"}, "lifecycle_hooks": {"pre_exec": {"script": {"id": 99999}}}}), "lifecycle_hooks.pre_exec"),
            (json!({"name": "t", "deploy_path": "/srv/x", "repository": {"url": "https://x/y"}, "lifecycle_hooks": {"running_user": "Root Me"}}), "lifecycle_hooks.running_user"),
        ] {
            let e = t.post("/api/application/deploy-templates/", m, bad.clone()).await.err(400, 40000);
            assert_eq!(e["field"], field, "{bad}: {e}");
        }
        // Used scripts and credentials stay; the script's applications list shop.
        t.call(Method::DELETE, &format!("/api/application/deploy-scripts/{pre_id}/"), m, None).await.err(409, 40900);
        t.call(Method::DELETE, &format!("/api/application/repository-credentials/password/{cid}/"), m, None).await.err(409, 40900);
        let apps = t.get(&format!("/api/application/deploy-scripts/{pre_id}/applications/"), m).await.ok();
        assert_eq!(apps["count"], 1);
        assert_eq!(apps["results"][0]["name"], "shop");
        t.call(Method::DELETE, &format!("/api/application/deploy-templates/{tid}/"), m, None).await.err(409, 40900);

        // Settings: shop deploys with the template's configuration while linked.
        let st = t.get(&format!("/api/application/{shop}/deploy-settings/"), t.admin()).await.ok();
        assert_eq!(st["template"], json!({"id": tid, "name": "web"}));
        assert_eq!((st["deploy_path"].as_str(), st["timeout"].as_i64(), st["application"].as_i64()), (Some("/srv/shop"), Some(300), Some(shop)));
        assert_eq!(st["lifecycle_hooks"]["pre_exec"]["script"]["name"], "pre");
        t.call(Method::PATCH, &format!("/api/application/{shop}/deploy-settings/"), t.admin(), Some(json!({"deploy_path": "/srv/x"}))).await.err(409, 40900);
        // Unlinked (kept): a copy of the template's configuration; then its own edits.
        t.call(Method::DELETE, &format!("/api/application/{shop}/deploy-settings/template/"), t.admin(), Some(json!({"id": tid}))).await.ok();
        let st = t.get(&format!("/api/application/{shop}/deploy-settings/"), t.admin()).await.ok();
        assert_eq!((st["template"].clone(), st["deploy_path"].as_str()), (Value::Null, Some("/srv/shop")));
        let st = t.call(Method::PATCH, &format!("/api/applications/{shop}/deploy-settings/"), t.admin(),
            Some(json!({"deploy_path": "/srv/shop2", "lifecyle_hooks": {"pre_exec": null}}))).await.ok();
        assert_eq!((st["deploy_path"].as_str(), st["lifecycle_hooks"]["pre_exec"].clone()), (Some("/srv/shop2"), Value::Null));
        assert_eq!(st["lifecycle_hooks"]["post_exec"]["script"]["name"], "post");
        // The template now runs `pre` for nobody: it can go once the template lets go of it.
        t.call(Method::PATCH, &format!("/api/application/deploy-templates/{tid}/"), m, Some(json!({"lifecycle_hooks": {"pre_exec": null}}))).await.ok();
        t.call(Method::DELETE, &format!("/api/application/deploy-scripts/{pre_id}/"), m, None).await.ok();
        // Link again, then unlink clean: the configuration is forgotten.
        t.post(&format!("/api/application/{shop}/deploy-settings/template/"), t.admin(), json!({"id": tid})).await.ok();
        t.call(Method::DELETE, &format!("/api/application/{shop}/deploy-settings/template/"), t.admin(), Some(json!({"id": tid, "clean": true}))).await.ok();
        let st = t.get(&format!("/api/application/{shop}/deploy-settings/"), t.admin()).await.ok();
        assert_eq!((st["deploy_path"].as_str(), st["timeout"].as_i64(), st["repository"]["credential"].clone()), (Some(""), Some(120), Value::Null));
        t.call(Method::DELETE, &format!("/api/application/{shop}/deploy-settings/template/"), t.admin(), Some(json!({"id": tid}))).await.err(400, 40000);
        t.call(Method::DELETE, &format!("/api/application/deploy-templates/{tid}/"), m, None).await.ok();
        t.call(Method::DELETE, &format!("/api/application/repository-credentials/password/{cid}/"), m, None).await.ok();

        // Secrets are in no answer or audit record.
        let audit = t.audit("deploy").await;
        assert!(audit.iter().any(|a| a["op_type"] == "template_create"), "{audit:?}");
        let all = format!("{audit:?}");
        assert!(!all.contains("s3cret-pass") && !all.contains("n3w-pass"));
    }
}

both! {
    async fn settings_credentials_and_previews_are_guarded(t: TestApp) {
        let (_, mgr) = t.user_with("mgr", "deploy_template", MGMT).await;
        let shop = app(&t, "shop").await;
        let (eid, editor) = t.user("editor").await;
        let (vid, viewer) = t.user("viewer").await;
        let (_, nobody) = t.user("nobody").await;
        for (uid, perm) in [(eid, json!({"view_app": true, "edit_app": true})), (vid, json!({"view_app": true}))] {
            t.post(&format!("/api/users/{uid}/application/perms/"), t.admin(), json!({"authorizations": [{"id": shop, "permission": perm}]})).await.ok();
        }
        let cid = t.post("/api/application/repository-credentials/password/", Auth::Token(&mgr), json!({"name": "c", "username": "u", "password": "p4ss"})).await.ok()["id"].as_i64().unwrap();
        let secret_script = t.post("/api/application/deploy-scripts/", Auth::Token(&mgr), json!({"name": "s", "language": "bash", "content": "echo token=abc"})).await.ok()["id"].as_i64().unwrap();
        let tpl0 = t.post("/api/application/deploy-templates/", Auth::Token(&mgr), json!({"name": "plain",
            "repository": {"url": "https://git.example.test/p.git"}, "deploy_path": "/srv/t0"})).await.ok()["id"].as_i64().unwrap();
        let path = format!("/api/application/{shop}/deploy-settings/");
        // The module endpoints: only managers.
        for who in [&editor, &viewer, &nobody] {
            let a = Auth::Token(who);
            for p in ["/api/application/deploy-scripts/", "/api/application/deploy-templates/", "/api/application/repository-credentials/password/"] {
                t.get(p, a).await.err(403, 40300);
                t.post(p, a, json!({"name": "x"})).await.err(403, 40300);
            }
            t.get(&format!("/api/application/deploy-scripts/{secret_script}/"), a).await.err(403, 40300);
            t.get(&format!("/api/application/deploy-scripts/{secret_script}/applications/"), a).await.err(403, 40300);
            t.call(Method::DELETE, &format!("/api/application/repository-credentials/password/{cid}/"), a, None).await.err(403, 40300);
            t.get(&format!("/api/application/repository-credentials/password/{cid}/"), a).await.err(403, 40300);
            t.call(Method::PATCH, &format!("/api/application/repository-credentials/password/{cid}/"), a, Some(json!({"password": "x"}))).await.err(403, 40300);
            t.call(Method::PATCH, "/api/application/repository-credentials/password/", a, Some(json!({"id": cid, "password": "x"}))).await.err(403, 40300);
            t.call(Method::PATCH, &format!("/api/application/deploy-scripts/{secret_script}/"), a, Some(json!({"content": "x"}))).await.err(403, 40300);
            t.call(Method::DELETE, &format!("/api/application/deploy-scripts/{secret_script}/"), a, None).await.err(403, 40300);
            t.get(&format!("/api/application/deploy-templates/{tpl0}/"), a).await.err(403, 40300);
            t.call(Method::PATCH, &format!("/api/application/deploy-templates/{tpl0}/"), a, Some(json!({"deploy_path": "/srv/z"}))).await.err(403, 40300);
            t.call(Method::DELETE, &format!("/api/application/deploy-templates/{tpl0}/"), a, None).await.err(403, 40300);
        }
        // Unlinking needs edit_app on the application too.
        t.call(Method::DELETE, &format!("/api/application/{shop}/deploy-settings/template/"), Auth::Token(&viewer), Some(json!({"id": tpl0}))).await.err(403, 40300);
        // The credential and script are as they were.
        assert_eq!(t.get(&format!("/api/application/deploy-scripts/{secret_script}/"), Auth::Token(&mgr)).await.ok()["content"], "echo token=abc");
        assert_eq!(t.get(&format!("/api/application/deploy-templates/{tpl0}/"), Auth::Token(&mgr)).await.ok()["deploy_path"], "/srv/t0");
        t.get("/api/application/deploy-scripts/", Auth::None).await.err(401, 40100);
        // Settings: viewers read, editors write, others are refused.
        t.get(&path, Auth::Token(&viewer)).await.ok();
        let r = t.get(&path, Auth::Token(&nobody)).await;
        assert!(r.status == 403 || r.status == 404, "{:?}", r.status);
        t.call(Method::PATCH, &path, Auth::Token(&viewer), Some(json!({"deploy_path": "/srv/a"}))).await.err(403, 40300);
        t.call(Method::PATCH, &path, Auth::Token(&editor), Some(json!({"deploy_path": "/srv/a", "repository": {"url": "https://git.example.test/a.git"}}))).await.ok();
        // An editor may not attach a stored credential (it would go wherever they point the
        // repository), nor move a repository that has one.
        t.call(Method::PATCH, &path, Auth::Token(&editor), Some(json!({"repository": {"credential": cid}}))).await.err(403, 40300);
        t.call(Method::PATCH, &path, t.admin(), Some(json!({"repository": {"credential": cid}}))).await.ok();
        t.call(Method::PATCH, &path, Auth::Token(&editor), Some(json!({"repository": {"url": "https://evil.example.test/x.git"}}))).await.err(403, 40300);
        let st = t.get(&path, Auth::Token(&editor)).await.ok();
        assert_eq!(st["repository"]["url"], "https://git.example.test/a.git");
        assert!(!st.to_string().contains("p4ss"));
        t.post(&format!("/api/application/{shop}/deploy-settings/template/"), Auth::Token(&viewer), json!({"id": 1})).await.err(403, 40300);

        // Only deploy managers choose hook scripts, and nobody runs them as root.
        let who = t.post("/api/application/deploy-scripts/", Auth::Token(&mgr), json!({"name": "who", "language": "bash", "content": "echo {{ host.name }}"})).await.ok()["id"].as_i64().unwrap();
        let hook = json!({"lifecycle_hooks": {"pre_exec": {"script": {"id": secret_script}}, "post_exec": {"script": {"id": who}}}});
        t.call(Method::PATCH, &path, Auth::Token(&editor), Some(hook.clone())).await.err(403, 40300);
        t.call(Method::PATCH, &path, t.admin(), Some(json!({"script_running_user": "root"}))).await.err(400, 40000);
        // Running users are the deploy managers' choice (an editor could run as another app's).
        let e = t.call(Method::PATCH, &path, Auth::Token(&editor), Some(json!({"script_running_user": "deploy"}))).await.err(403, 40300);
        assert!(e["message"].as_str().unwrap().contains("running users"), "{e}");
        t.call(Method::PATCH, &path, Auth::Token(&editor), Some(json!({"lifecycle_hooks": {"running_user": "deploy"}}))).await.err(403, 40300);
        t.call(Method::PATCH, &path, t.admin(), Some(json!({"lifecycle_hooks": {"running_user": "root"}}))).await.err(400, 40000);
        t.call(Method::PATCH, &path, t.admin(), Some(json!({"deploy_path": "/etc/cron.d"}))).await.err(400, 40000);
        // A template carrying a credential is linked by deploy managers only.
        let tpl = t.post("/api/application/deploy-templates/", Auth::Token(&mgr), json!({"name": "with-cred",
            "repository": {"url": "https://git.example.test/t.git", "credential": cid}, "deploy_path": "/srv/t"})).await.ok()["id"].as_i64().unwrap();
        t.post(&format!("/api/application/{shop}/deploy-settings/template/"), Auth::Token(&editor), json!({"id": tpl})).await.err(403, 40300);
        // Preview: rendered for a real instance; values quoted for the shell; hosts the reader
        // may not view are shown as #id.
        t.call(Method::PATCH, &path, t.admin(), Some(hook)).await.ok();
        let host = t.post("/api/hosts/", t.admin(), json!({"name": "web-9", "ip_address": [{"address": "10.0.9.9", "netmask": "24", "owner": "HOST"}]})).await.ok()["id"].as_i64().unwrap();
        let inst = t.post(&format!("/api/application/{shop}/instances/"), t.admin(), json!([{"hostid": host}])).await.ok();
        let iid = inst.as_array().map(|a| a[0]["id"].clone()).unwrap_or(inst["results"][0]["id"].clone()).as_i64().unwrap();
        let pv = format!("/api/application/{shop}/deploy-settings/preview/");
        let r = t.post(&pv, t.admin(), json!({"content": "cd {{ deploy.release_path }} && echo {{ host.name }} {{ host.address }} {{ version | raw }}", "instance_id": iid, "version": "2.0"})).await.ok();
        assert_eq!(r["content"], "cd '/srv/a/releases/2.0' && echo 'web-9' '10.0.9.9' 2.0");
        let r = t.post(&pv, Auth::Token(&editor), json!({"script_id": secret_script, "instance_id": iid})).await.ok();
        assert_eq!(r["content"], "echo token=abc");
        let r = t.post(&pv, Auth::Token(&editor), json!({"script_id": who, "instance_id": iid})).await.ok();
        assert_eq!(r["content"], format!("echo '#{host}'"), "a host the editor may not view is not named");
        let r = t.post(&pv, t.admin(), json!({"script_id": who, "instance_id": iid})).await.ok();
        assert_eq!(r["content"], "echo 'web-9'");
        let r = t.post(&pv, Auth::Token(&editor), json!({"content": "echo {{ host.name }}", "instance_id": iid})).await.err(403, 40300);
        assert!(r["message"].as_str().unwrap().contains("deploy template management"), "{r}");
        t.post(&pv, Auth::Token(&viewer), json!({"content": "x", "instance_id": iid})).await.err(403, 40300);
        t.post(&pv, t.admin(), json!({"content": "x", "instance_id": 99999})).await.err(400, 40000);
        t.post(&pv, t.admin(), json!({"content": "x", "instance_id": iid, "version": "../../etc"})).await.err(400, 40000);
        let e = t.post(&pv, t.admin(), json!({"content": "{{ nope }}", "instance_id": iid})).await.err(400, 40000);
        assert!(e["message"].as_str().unwrap().contains("line 1"), "{e}");
        // Server functions refuse alike.
        use leptos::server_fn::ServerFn;
        let f = <app::deploy::api::GetDeploySettings as ServerFn>::PATH;
        let r = t.post(f, Auth::Token(&nobody), json!({"app": shop})).await;
        assert!(r.json["error_code"] == 40300 || r.json["error_code"] == 40400, "{}", r.json);
        let f = <app::deploy::api::PreviewDeployScript as ServerFn>::PATH;
        let r = t.post(f, Auth::Token(&viewer), json!({"app": shop, "input": {"content": "x", "instance_id": iid}})).await;
        assert_eq!(r.json["error_code"], 40300, "{}", r.json);
    }
}
