//! Resource requests through the approval engine: permissions, separation of duties, races,
//! quorum, the timeline, host and SSL fulfilment, and the mail each step sends.
mod common;
use axum::http::Method;
use common::*;
use serde_json::{json, Value};

/// A requester (enable + create) and an approver of every kind (enable + the three flags).
async fn people(t: &TestApp) -> ((i64, String), (i64, String)) {
    let req = t.user_with("req", "resource_request", REQUESTER).await;
    (req, t.user_with("appr", "resource_request", APPROVER).await)
}

fn host_request() -> Value {
    json!({
        "purpose": "scale out",
        "expect_delivery_days": "7",
        "expiration": "never",
        "login_users": [],
        "shiped_packackages": [{"id": 3}],
        "required_hosts": [
            {"name": "req-host-a", "specs": {"cpu_core": 4, "mem": 8192, "storage": 100000}, "os": "debian-12", "type": "TECENT_CVM"},
            {"name": "req-host-b", "specs": {"cpu_core": 2, "mem": 4096, "storage": 50000}, "os": "debian-12", "type": "TECENT_CVM"}
        ]
    })
}

/// Mails written to the test's mail directory (no SMTP configured), as "To: …\n<subject>\n<text>\n<html>".
fn mails(t: &TestApp) -> Vec<String> {
    decoded_mails(&t.dir.join("mail"))
        .into_iter()
        .map(|m| {
            format!(
                "To: {}\n{}\n{}\n{}",
                m["to"].as_str().unwrap_or(""),
                m["subject"].as_str().unwrap_or(""),
                m["text"].as_str().unwrap_or(""),
                m["html"].as_str().unwrap_or("")
            )
        })
        .collect()
}

both!(
    async fn refused_without_the_module(t: TestApp) {
        let (_, tok) = t.user("nobody").await;
        let a = Auth::Token(&tok);
        let (req, _) = people(&t).await;
        let id = t
            .post(
                "/api/resource-request/hosts/",
                Auth::Token(&req.1),
                host_request(),
            )
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        for kind in ["hosts", "domains", "ssl-certificates"] {
            let base = format!("/api/resource-request/{kind}");
            t.get(&format!("{base}/"), a).await.err(403, 40300);
            t.post(&format!("{base}/"), a, json!({}))
                .await
                .err(403, 40300);
            t.get(&format!("{base}/{id}/"), a).await.err(403, 40300);
            t.call(
                Method::PATCH,
                &format!("{base}/{id}/"),
                a,
                Some(json!({"purpose": "x"})),
            )
            .await
            .err(403, 40300);
            for action in ["approve", "reject", "close"] {
                t.post(&format!("{base}/{id}/actions/{action}/"), a, json!({}))
                    .await
                    .err(403, 40300);
            }
        }
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/deliver/"),
            a,
            json!({}),
        )
        .await
        .err(403, 40300);
        t.post(
            &format!("/api/resource-request/ssl-certificates/{id}/actions/upload/"),
            a,
            json!({"cert_pem": "x"}),
        )
        .await
        .err(403, 40300);
        t.get("/api/resource-request/settings/", a)
            .await
            .err(403, 40300);
        assert_eq!(
            t.get("/api/resource-request/inbox/", a).await.ok()["total"],
            0
        );
        t.get("/api/resource-request/hosts/", Auth::None)
            .await
            .err(401, 40100);
        // Enabled but without create: may list (its own: none) but not file.
        let (only, otok) = t.user("only-enabled").await;
        t.grant("user", only, "resource_request", &["enable_resource_req"])
            .await;
        assert_eq!(
            t.get("/api/resource-request/hosts/", Auth::Token(&otok))
                .await
                .ok()["count"],
            0
        );
        t.post(
            "/api/resource-request/hosts/",
            Auth::Token(&otok),
            host_request(),
        )
        .await
        .err(403, 40300);
        // Someone else's request reads as missing, approving needs the kind's flag.
        t.get(
            &format!("/api/resource-request/hosts/{id}/"),
            Auth::Token(&otok),
        )
        .await
        .err(404, 40400);
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/approve/"),
            Auth::Token(&otok),
            json!({}),
        )
        .await
        .err(403, 40300);
        // An approver of domains only may not approve a host request.
        let (dom, dtok) = t.user("dom-approver").await;
        t.grant(
            "user",
            dom,
            "resource_request",
            &["enable_resource_req", "approve_domain_req"],
        )
        .await;
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/approve/"),
            Auth::Token(&dtok),
            json!({}),
        )
        .await
        .err(403, 40300);
        assert_eq!(
            t.get("/api/resource-request/hosts/", Auth::Token(&dtok))
                .await
                .ok()["count"],
            0
        );
    }
);

both!(
    async fn host_request_flow(t: TestApp) {
        let (req, appr) = people(&t).await;
        let (login, _) = t.user("login-user").await;
        let (r, a) = (Auth::Token(&req.1), Auth::Token(&appr.1));
        let mut body = host_request();
        body["users_with_log_perm"] = json!([{"id": login}]);
        body.as_object_mut().unwrap().remove("login_users");
        let created = t.post("/api/resource-request/hosts/", r, body).await;
        assert_eq!(created.status.as_u16(), 201, "{}", created.json);
        let c = created.json;
        let id = c["id"].as_i64().unwrap();
        assert_eq!(c["status"], "wait_review");
        assert_eq!(c["creator"], "req");
        assert_eq!(c["shipped_packages"], json!([{"id": 3}]));
        assert_eq!(c["login_users"][0]["id"], login);
        assert_eq!(c["available_actions"], json!(["edit", "close"]));

        // The approver's inbox and mail.
        assert_eq!(
            t.get("/api/resource-request/inbox/", a).await.ok()["host"],
            1
        );
        assert_eq!(
            t.get("/api/resource-request/hosts/?view=inbox", a)
                .await
                .ok()["count"],
            1
        );
        assert_eq!(
            t.get("/api/resource-request/inbox/", r).await.ok()["total"],
            0
        );
        app::jobs::run_due(&t.ctx).await.unwrap();
        let m = mails(&t);
        assert!(
            m.iter().any(|m| m.contains("To: appr@example.test")
                && m.contains(&format!("/requests/hosts/{id}"))),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|m| m.contains("<a href=\"http://opsdeck.test/requests/hosts/")),
            "an HTML part is sent"
        );

        // Edits by the requester while waiting; not by others; the seed's spellings work.
        let e = t
            .call(
                Method::PATCH,
                &format!("/api/resource-request/hosts/{id}/"),
                r,
                Some(json!({"purpose": "bigger scale out", "expect_delivery_days": 3})),
            )
            .await
            .ok();
        assert_eq!(e["purpose"], "bigger scale out");
        assert_eq!(e["expect_delivery_days"], "3");
        // An edit of one field keeps the others (no defaults creep back in).
        let e = t
            .call(
                Method::PATCH,
                &format!("/api/resource-request/hosts/{id}/"),
                r,
                Some(json!({"purpose": "bigger scale out"})),
            )
            .await
            .ok();
        assert_eq!(e["expect_delivery_days"], "3");
        // Login users' names: for approvers; a requester without view_users sees ids.
        assert!(e["login_users"][0]["username"].is_null(), "{e}");
        let seen = t
            .get(&format!("/api/resource-request/hosts/{id}/"), a)
            .await
            .ok();
        assert_eq!(seen["login_users"][0]["username"], "login-user");
        t.call(
            Method::PATCH,
            &format!("/api/resource-request/hosts/{id}/"),
            a,
            Some(json!({"purpose": "mine now"})),
        )
        .await
        .err(403, 40300);
        t.call(
            Method::PATCH,
            &format!("/api/resource-request/hosts/{id}/"),
            r,
            Some(json!({"required_hosts": [{"name": "bad name!"}]})),
        )
        .await
        .err(400, 40000);

        // Nobody approves their own request: not even a superuser.
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/approve/"),
            r,
            json!({}),
        )
        .await
        .err(403, 40300);
        let mine = t
            .post(
                "/api/resource-request/hosts/",
                t.admin(),
                json!({"purpose": "admin's own", "required_hosts": [{"name": "admin-host"}]}),
            )
            .await
            .ok();
        t.post(
            &format!(
                "/api/resource-request/hosts/{}/actions/approve/",
                mine["id"]
            ),
            t.admin(),
            json!({}),
        )
        .await
        .err(403, 40300);
        t.post(
            &format!("/api/resource-request/hosts/{}/actions/reject/", mine["id"]),
            t.admin(),
            json!({}),
        )
        .await
        .err(403, 40300);

        // Approve; then every further transition is refused with the seed's codes.
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/approve/"),
            a,
            json!({}),
        )
        .await
        .ok();
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/approve/"),
            t.admin(),
            json!({}),
        )
        .await
        .err(409, 30001);
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/reject/"),
            t.admin(),
            json!({}),
        )
        .await
        .err(409, 30001);
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/close/"),
            r,
            json!({}),
        )
        .await
        .err(409, 30001);
        t.call(
            Method::PATCH,
            &format!("/api/resource-request/hosts/{id}/"),
            r,
            Some(json!({"purpose": "late"})),
        )
        .await
        .err(409, 30001);

        // Fulfilment registers the hosts (raw) and grants them.
        app::jobs::run_due(&t.ctx).await.unwrap();
        let d = t
            .get(&format!("/api/resource-request/hosts/{id}/"), r)
            .await
            .ok();
        assert_eq!(d["status"], "approved");
        let hosts = d["host_ids"].as_array().unwrap().clone();
        assert_eq!(hosts.len(), 2);
        let h = t.get(&format!("/api/hosts/{}/", hosts[0]), r).await.ok();
        assert_eq!(h["name"], "req-host-a");
        assert_eq!(h["status"], "raw");
        let login_tok = t.user("login-check").await; // unrelated user: sees nothing
        t.get(
            &format!("/api/hosts/{}/", hosts[0]),
            Auth::Token(&login_tok.1),
        )
        .await
        .err(403, 40300);
        assert!(
            app::perms::service::holds_resource(
                &t.ctx,
                login,
                app::perms::types::ResourceType::Host,
                hosts[1].as_i64().unwrap(),
                "login_host"
            )
            .await
        );
        assert!(
            !app::perms::service::holds_resource(
                &t.ctx,
                login,
                app::perms::types::ResourceType::Host,
                hosts[1].as_i64().unwrap(),
                "delete_host"
            )
            .await
        );
        assert!(
            d["available_actions"].as_array().unwrap().is_empty(),
            "the requester may not deliver"
        );
        let ad = t
            .get(&format!("/api/resource-request/hosts/{id}/"), a)
            .await
            .ok();
        assert_eq!(ad["available_actions"], json!(["cancel", "deliver"]));

        // The requester cannot deliver; the approver does, which finishes it.
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/deliver/"),
            r,
            json!({}),
        )
        .await
        .err(403, 40300);
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/deliver/"),
            a,
            json!({}),
        )
        .await
        .ok();
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/deliver/"),
            a,
            json!({}),
        )
        .await
        .err(409, 30002);
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/approve/"),
            t.admin(),
            json!({}),
        )
        .await
        .err(409, 30002);
        let d = t
            .get(&format!("/api/resource-request/hosts/{id}/"), r)
            .await
            .ok();
        assert_eq!(d["status"], "finished");
        let events: Vec<&str> = d["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            events,
            [
                "filed",
                "edited",
                "edited",
                "approved",
                "fulfilled",
                "finished"
            ]
        );
        assert_eq!(d["decisions"][0]["approver"], "appr");
        app::jobs::run_due(&t.ctx).await.unwrap();
        let m = mails(&t);
        assert!(
            m.iter()
                .any(|m| m.contains("To: req@example.test") && m.contains("was approved")),
            "approval mail"
        );
        assert!(
            m.iter()
                .any(|m| m.contains("To: req@example.test") && m.contains("is done")),
            "done mail"
        );

        // Audit: one record per transition.
        let audit = t.audit("request").await;
        let ops: Vec<&str> = audit
            .iter()
            .map(|r| r["op_type"].as_str().unwrap())
            .collect();
        for (op, n) in [
            ("add", 2),
            ("update", 2),
            ("approve", 1),
            ("deliver", 1),
            ("finish", 1),
        ] {
            assert_eq!(ops.iter().filter(|o| **o == op).count(), n, "{op}: {ops:?}");
        }
        // The grants fulfilment made are audited: the login user's two on each host.
        let grants = t.audit("resource_perm").await;
        assert_eq!(
            grants
                .iter()
                .filter(|g| g["detail"]["authorized_target"] == "user:login-user")
                .count(),
            4,
            "{grants:?}"
        );

        // Filters.
        assert_eq!(
            t.get("/api/resource-request/hosts/?status=finished", a)
                .await
                .ok()["count"],
            1
        );
        assert_eq!(
            t.get("/api/resource-request/hosts/?creator=req", a)
                .await
                .ok()["count"],
            1
        );
        assert_eq!(
            t.get(
                "/api/resource-request/hosts/?time__gt=2100-01-01T00:00:00Z",
                a
            )
            .await
            .ok()["count"],
            0
        );
        t.get("/api/resource-request/hosts/?status=bogus", a)
            .await
            .err(400, 40000);
        // The requester sees their own only.
        assert_eq!(
            t.get("/api/resource-request/hosts/", r).await.ok()["count"],
            1
        );
        t.get(&format!("/api/resource-request/hosts/{}/", mine["id"]), r)
            .await
            .err(404, 40400);
        // A host name that exists is not revealed to the requester when filing; the approval
        // that would register it is refused, and changes nothing.
        let again = t
            .post(
                "/api/resource-request/hosts/",
                r,
                json!({"purpose": "again", "required_hosts": [{"name": "req-host-a"}]}),
            )
            .await
            .ok();
        let e = t
            .post(
                &format!(
                    "/api/resource-request/hosts/{}/actions/approve/",
                    again["id"]
                ),
                a,
                json!({}),
            )
            .await
            .err(400, 40000);
        assert_eq!(e["field"], "required_hosts[0].name");
        assert_eq!(
            t.get(&format!("/api/resource-request/hosts/{}/", again["id"]), a)
                .await
                .ok()["status"],
            "wait_review"
        );
    }
);

both!(
    async fn reject_close_and_reasons(t: TestApp) {
        let (req, appr) = people(&t).await;
        let (r, a) = (Auth::Token(&req.1), Auth::Token(&appr.1));
        let one = t
            .post("/api/resource-request/hosts/", r, host_request())
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        // The seed sends no body; a reason is optional in the API.
        let res = t
            .call(
                Method::POST,
                &format!("/api/resource-request/hosts/{one}/actions/reject/"),
                a,
                None,
            )
            .await;
        assert!(res.status.is_success(), "{}", res.json);
        t.post(
            &format!("/api/resource-request/hosts/{one}/actions/close/"),
            r,
            json!({}),
        )
        .await
        .err(409, 30002);
        let mut b = host_request();
        b["required_hosts"][0]["name"] = json!("other-a");
        b["required_hosts"][1]["name"] = json!("other-b");
        let two = t.post("/api/resource-request/hosts/", r, b).await.ok()["id"]
            .as_i64()
            .unwrap();
        t.post(
            &format!("/api/resource-request/hosts/{two}/actions/reject/"),
            a,
            json!({"reason": "no budget this quarter"}),
        )
        .await
        .ok();
        let d = t
            .get(&format!("/api/resource-request/hosts/{two}/"), r)
            .await
            .ok();
        assert_eq!(d["status"], "rejected");
        assert_eq!(d["decisions"][0]["reason"], "no budget this quarter");
        app::jobs::run_due(&t.ctx).await.unwrap();
        assert!(mails(&t)
            .iter()
            .any(|m| m.contains("To: req@example.test") && m.contains("no budget this quarter")));
        // Close: only the requester, only while waiting.
        let mut b = host_request();
        b["required_hosts"][0]["name"] = json!("third-a");
        b["required_hosts"][1]["name"] = json!("third-b");
        let three = t.post("/api/resource-request/hosts/", r, b).await.ok()["id"]
            .as_i64()
            .unwrap();
        t.post(
            &format!("/api/resource-request/hosts/{three}/actions/close/"),
            a,
            json!({}),
        )
        .await
        .err(403, 40300);
        t.post(
            &format!("/api/resource-request/hosts/{three}/actions/close/"),
            r,
            json!({}),
        )
        .await
        .ok();
        t.post(
            &format!("/api/resource-request/hosts/{three}/actions/approve/"),
            a,
            json!({}),
        )
        .await
        .err(409, 30002);
        t.post(
            &format!("/api/resource-request/hosts/{three}/actions/close/"),
            r,
            json!({}),
        )
        .await
        .err(409, 30002);
        // A reason longer than the limit is bad input.
        let mut b = host_request();
        b["required_hosts"][0]["name"] = json!("fourth-a");
        b["required_hosts"][1]["name"] = json!("fourth-b");
        let four = t.post("/api/resource-request/hosts/", r, b).await.ok()["id"]
            .as_i64()
            .unwrap();
        t.post(
            &format!("/api/resource-request/hosts/{four}/actions/reject/"),
            a,
            json!({"reason": "x".repeat(3000)}),
        )
        .await
        .err(400, 40000);
        // A host type the CMDB does not know would never register: refused when filed.
        let e = t
            .post(
                "/api/resource-request/hosts/",
                r,
                json!({"purpose": "p", "required_hosts": [{"name": "mf-1", "type": "MAINFRAME"}]}),
            )
            .await
            .err(400, 40000);
        assert_eq!(e["field"], "required_hosts[0].type");
        // Unknown kinds are 404; a host request id under another kind is 404.
        t.get("/api/resource-request/printers/", a)
            .await
            .err(404, 40400);
        t.get(&format!("/api/resource-request/domains/{four}/"), a)
            .await
            .err(404, 40400);
    }
);

both!(
    async fn fifty_parallel_approvals_make_one(t: TestApp) {
        let (req, _) = people(&t).await;
        let mut approvers = vec![];
        for n in 0..10 {
            let (id, tok) = t.user(&format!("ap{n}")).await;
            t.grant(
                "user",
                id,
                "resource_request",
                &["enable_resource_req", "approve_host_req"],
            )
            .await;
            approvers.push(tok);
        }
        let id = t
            .post(
                "/api/resource-request/hosts/",
                Auth::Token(&req.1),
                host_request(),
            )
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        let mut tasks = vec![];
        for n in 0..50 {
            let tok = approvers[n % 10].clone();
            let router = t.router.clone();
            tasks.push(tokio::spawn(async move {
                use tower::ServiceExt;
                let req = axum::http::Request::builder()
                    .method("POST")
                    .uri(format!("/api/resource-request/hosts/{id}/actions/approve/"))
                    .header("host", "opsdeck.test")
                    .header("authorization", format!("token {tok}"))
                    .body(axum::body::Body::empty())
                    .unwrap();
                router.oneshot(req).await.unwrap().status().as_u16()
            }));
        }
        let mut codes = vec![];
        for task in tasks {
            codes.push(task.await.unwrap());
        }
        assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
        assert!(codes.iter().all(|c| *c == 200 || *c == 409), "{codes:?}");
        let audit = t.audit("request").await;
        assert_eq!(
            audit.iter().filter(|r| r["op_type"] == "approve").count(),
            1
        );
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let jobs = app::entities::job::Entity::find()
            .filter(app::entities::job::Column::Kind.eq("fulfil"))
            .count(&t.ctx.db)
            .await
            .unwrap();
        assert_eq!(jobs, 1, "one fulfilment");
        let d = t
            .get(&format!("/api/resource-request/hosts/{id}/"), t.admin())
            .await
            .ok();
        assert_eq!(d["decisions"].as_array().unwrap().len(), 1);
        assert_eq!(d["approvals_count"], 1);
    }
);

both!(
    async fn approve_racing_reject(t: TestApp) {
        let (req, appr) = people(&t).await;
        let (other, otok) = t.user("appr2").await;
        t.grant(
            "user",
            other,
            "resource_request",
            &["enable_resource_req", "approve_host_req"],
        )
        .await;
        for round in 0..5 {
            let mut b = host_request();
            b["required_hosts"][0]["name"] = json!(format!("race{round}-a"));
            b["required_hosts"][1]["name"] = json!(format!("race{round}-b"));
            let id = t
                .post("/api/resource-request/hosts/", Auth::Token(&req.1), b)
                .await
                .ok()["id"]
                .as_i64()
                .unwrap();
            let (t1, t2) = (appr.1.clone(), otok.clone());
            let (r1, r2) = (t.router.clone(), t.router.clone());
            let send = |router: axum::Router, tok: String, action: &'static str| async move {
                use tower::ServiceExt;
                let req = axum::http::Request::builder()
                    .method("POST")
                    .uri(format!(
                        "/api/resource-request/hosts/{id}/actions/{action}/"
                    ))
                    .header("host", "opsdeck.test")
                    .header("authorization", format!("token {tok}"))
                    .body(axum::body::Body::empty())
                    .unwrap();
                router.oneshot(req).await.unwrap().status().as_u16()
            };
            let (a, b) = tokio::join!(send(r1, t1, "approve"), send(r2, t2, "reject"));
            assert_eq!(
                [a, b].iter().filter(|c| **c == 200).count(),
                1,
                "round {round}: {a} {b}"
            );
            let d = t
                .get(&format!("/api/resource-request/hosts/{id}/"), t.admin())
                .await
                .ok();
            let expected = if a == 200 { "approved" } else { "rejected" };
            assert_eq!(d["status"], expected);
            assert_eq!(d["decisions"].as_array().unwrap().len(), 1);
        }
    }
);

both!(
    async fn quorum_of_two_needs_two_people(t: TestApp) {
        let (req, appr) = people(&t).await;
        let (other, otok) = t.user("appr2").await;
        t.grant(
            "user",
            other,
            "resource_request",
            &["enable_resource_req", "approve_host_req"],
        )
        .await;
        t.call(
            Method::PATCH,
            "/api/resource-request/settings/",
            Auth::Token(&appr.1),
            Some(json!({"host_quorum": 2})),
        )
        .await
        .err(403, 40300);
        t.call(
            Method::PATCH,
            "/api/resource-request/settings/",
            t.admin(),
            Some(json!({"host_quorum": 3})),
        )
        .await
        .err(400, 40000);
        let s = t
            .call(
                Method::PATCH,
                "/api/resource-request/settings/",
                t.admin(),
                Some(json!({"host_quorum": 2})),
            )
            .await
            .ok();
        assert_eq!(s["host_quorum"], 2);
        assert_eq!(s["domain_quorum"], 1);
        let id = t
            .post(
                "/api/resource-request/hosts/",
                Auth::Token(&req.1),
                host_request(),
            )
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/approve/"),
            Auth::Token(&appr.1),
            json!({}),
        )
        .await
        .ok();
        let d = t
            .get(
                &format!("/api/resource-request/hosts/{id}/"),
                Auth::Token(&appr.1),
            )
            .await
            .ok();
        assert_eq!(d["status"], "wait_review");
        assert_eq!(d["approvals_count"], 1);
        assert!(
            d["available_actions"].as_array().unwrap().is_empty(),
            "decided already: {d}"
        );
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/approve/"),
            Auth::Token(&appr.1),
            json!({}),
        )
        .await
        .err(409, 40900);
        assert_eq!(
            t.get("/api/resource-request/inbox/", Auth::Token(&appr.1))
                .await
                .ok()["host"],
            0
        );
        assert_eq!(
            t.get("/api/resource-request/inbox/", Auth::Token(&otok))
                .await
                .ok()["host"],
            1
        );
        // An edit drops the approvals given to the earlier content.
        t.call(
            Method::PATCH,
            &format!("/api/resource-request/hosts/{id}/"),
            Auth::Token(&req.1),
            Some(json!({"purpose": "changed"})),
        )
        .await
        .ok();
        let d = t
            .get(
                &format!("/api/resource-request/hosts/{id}/"),
                Auth::Token(&appr.1),
            )
            .await
            .ok();
        assert_eq!(d["approvals_count"], 0);
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/approve/"),
            Auth::Token(&appr.1),
            json!({}),
        )
        .await
        .ok();
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/approve/"),
            Auth::Token(&otok),
            json!({}),
        )
        .await
        .ok();
        let d = t
            .get(
                &format!("/api/resource-request/hosts/{id}/"),
                Auth::Token(&appr.1),
            )
            .await
            .ok();
        assert_eq!(d["status"], "approved");
        assert_eq!(d["approvals_count"], 2);
    }
);

both!(
    async fn ssl_request_is_issued_by_opsdecks_ca(t: TestApp) {
        let (req, appr) = people(&t).await;
        let (r, a) = (Auth::Token(&req.1), Auth::Token(&appr.1));
        t.post(
            "/api/resource-request/ssl-certificates/",
            r,
            json!({"domain": "bad domain", "certificate_type": "wizard"}),
        )
        .await
        .err(400, 40000);
        t.post(
            "/api/resource-request/ssl-certificates/",
            r,
            json!({"domain": "shop.example.test", "certificate_type": "star"}),
        )
        .await
        .err(400, 40000);
        let c = t.post("/api/resource-request/ssl-certificates/", r, json!({"domain": "Shop.Example.test", "certificate_type": "wizard", "expect_delivery_days": "7", "purpose": "shop"})).await.ok();
        let id = c["id"].as_i64().unwrap();
        assert_eq!(c["domain"], "shop.example.test");
        assert_eq!(c["certificate_type"], "wizard");
        assert_eq!(
            t.get(
                "/api/resource-request/ssl-certificates/?domain=shop&certificate_type=wizard",
                a
            )
            .await
            .ok()["count"],
            1
        );
        assert_eq!(
            t.get(
                "/api/resource-request/ssl-certificates/?certificate_type=normal",
                a
            )
            .await
            .ok()["count"],
            0
        );
        t.post(
            &format!("/api/resource-request/ssl-certificates/{id}/actions/approve/"),
            a,
            json!({}),
        )
        .await
        .ok();
        app::jobs::run_due(&t.ctx).await.unwrap();
        let d = t
            .get(&format!("/api/resource-request/ssl-certificates/{id}/"), r)
            .await
            .ok();
        assert_eq!(d["status"], "finished", "{d}");
        let cert = d["certificate_id"].as_i64().unwrap();
        let pem = t
            .get(&format!("/api/certificates/{cert}/download/cert/"), r)
            .await;
        assert_eq!(pem.status.as_u16(), 200);
        let text = pem.json.as_str().unwrap_or_default().to_string();
        assert!(text.contains("BEGIN CERTIFICATE"), "{text}");
        // Ask openssl what it holds: both names.
        let path = t.dir.join("cert.pem");
        std::fs::write(&path, &text).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        let san = String::from_utf8_lossy(&out.stdout);
        assert!(
            san.contains("DNS:*.shop.example.test") && san.contains("DNS:shop.example.test"),
            "{san}"
        );
        // Upload is for approved requests only.
        t.post(
            &format!("/api/resource-request/ssl-certificates/{id}/actions/upload/"),
            a,
            json!({"cert_pem": text}),
        )
        .await
        .err(409, 30002);
    }
);

both!(
    async fn approval_is_of_the_content_seen_and_cancel_ends_it(t: TestApp) {
        let (req, appr) = people(&t).await;
        let (r, a) = (Auth::Token(&req.1), Auth::Token(&appr.1));
        let c = t
            .post(
                "/api/resource-request/ssl-certificates/",
                r,
                json!({"domain": "ok.example.test", "certificate_type": "normal"}),
            )
            .await
            .ok();
        let id = c["id"].as_i64().unwrap();
        let shown = c["content_version"].as_str().unwrap().to_string();
        // The requester swaps the domain after the approver opened it.
        t.call(
            Method::PATCH,
            &format!("/api/resource-request/ssl-certificates/{id}/"),
            r,
            Some(json!({"domain": "corp.example.test", "certificate_type": "wizard"})),
        )
        .await
        .ok();
        t.post(
            &format!("/api/resource-request/ssl-certificates/{id}/actions/approve/"),
            a,
            json!({"content_version": shown}),
        )
        .await
        .err(409, 40900);
        let now = t
            .get(&format!("/api/resource-request/ssl-certificates/{id}/"), a)
            .await
            .ok();
        assert_eq!(now["status"], "wait_review");
        assert_eq!(now["approvals_count"], 0);
        assert_ne!(now["content_version"], shown.as_str());
        t.post(
            &format!("/api/resource-request/ssl-certificates/{id}/actions/approve/"),
            a,
            json!({"content_version": now["content_version"]}),
        )
        .await
        .ok();

        // Two approved host requests may not promise the same name; cancel gives one up.
        let h1 = t
            .post(
                "/api/resource-request/hosts/",
                r,
                json!({"purpose": "p", "required_hosts": [{"name": "twin"}]}),
            )
            .await
            .ok();
        let h2 = t
            .post(
                "/api/resource-request/hosts/",
                r,
                json!({"purpose": "p", "required_hosts": [{"name": "twin"}]}),
            )
            .await
            .ok();
        t.post(
            &format!("/api/resource-request/hosts/{}/actions/approve/", h1["id"]),
            a,
            json!({}),
        )
        .await
        .ok();
        let e = t
            .post(
                &format!("/api/resource-request/hosts/{}/actions/approve/", h2["id"]),
                a,
                json!({}),
            )
            .await
            .err(400, 40000);
        assert!(e["message"].as_str().unwrap().contains("promised"), "{e}");
        // A host of that name appears before fulfilment: the job stops with a note, it does not loop.
        t.post("/api/hosts/", t.admin(), json!({"name": "twin"}))
            .await
            .ok();
        run_jobs_now(&t).await;
        let d = t
            .get(&format!("/api/resource-request/hosts/{}/", h1["id"]), a)
            .await
            .ok();
        assert_eq!(d["status"], "approved");
        assert!(
            d["fulfilment_note"]
                .as_str()
                .unwrap()
                .starts_with("fulfilment failed:"),
            "{d}"
        );
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let queued = app::entities::job::Entity::find()
            .filter(app::entities::job::Column::Kind.eq("fulfil"))
            .filter(app::entities::job::Column::Status.ne("done"))
            .all(&t.ctx.db)
            .await
            .unwrap();
        assert!(queued.is_empty(), "no retry loop: {queued:?}");
        t.post(
            &format!("/api/resource-request/hosts/{}/actions/cancel/", h1["id"]),
            r,
            json!({}),
        )
        .await
        .err(403, 40300);
        t.post(
            &format!("/api/resource-request/hosts/{}/actions/cancel/", h1["id"]),
            a,
            json!({"reason": "name taken"}),
        )
        .await
        .ok();
        let d = t
            .get(&format!("/api/resource-request/hosts/{}/", h1["id"]), r)
            .await
            .ok();
        assert_eq!(d["status"], "closed");
        assert_eq!(
            d["timeline"].as_array().unwrap().last().unwrap()["event"],
            "cancelled"
        );
        t.post(
            &format!("/api/resource-request/hosts/{}/actions/cancel/", h1["id"]),
            a,
            json!({}),
        )
        .await
        .err(409, 30002);
        t.post(
            &format!("/api/resource-request/hosts/{}/actions/cancel/", h2["id"]),
            a,
            json!({}),
        )
        .await
        .err(409, 40900);
    }
);

both!(
    async fn open_requests_per_user_are_capped(t: TestApp) {
        let (req, _) = people(&t).await;
        let r = Auth::Token(&req.1);
        for n in 0..50 {
            t.post(
                "/api/resource-request/ssl-certificates/",
                r,
                json!({"domain": format!("d{n}.example.test"), "certificate_type": "normal"}),
            )
            .await
            .ok();
        }
        t.post(
            "/api/resource-request/ssl-certificates/",
            r,
            json!({"domain": "one-more.example.test", "certificate_type": "normal"}),
        )
        .await
        .err(429, 42900);
    }
);

both!(
    async fn requesters_name_login_users_without_listing_users(t: TestApp) {
        use leptos::server_fn::ServerFn;
        let path = <app::requests::api::RequestLoginUser as ServerFn>::PATH;
        let (req, appr) = people(&t).await;
        t.user("colleague").await;
        let req_s = t.login("req", "user-pass-123").await;
        // The requester may not list users …
        t.get("/api/users/?q=coll", Auth::Token(&req.1))
            .await
            .err(403, 40300);
        // … but resolves an exact name to its id for a host request.
        let r = t
            .call(
                Method::POST,
                path,
                Auth::Cookie(&req_s),
                Some(json!({"username": " colleague "})),
            )
            .await
            .ok();
        assert_eq!(r["username"], "colleague", "{r}");
        assert!(r["id"].as_i64().unwrap() > 0);
        // No partial matches, and an unknown name is a plain 404.
        // Server functions answer with the error code's status, like the REST API.
        t.call(
            Method::POST,
            path,
            Auth::Cookie(&req_s),
            Some(json!({"username": "coll"})),
        )
        .await
        .err(404, 40400);
        // Without create_resource_req (an approver only approves): refused.
        let appr_s = t.login("appr", "user-pass-123").await;
        let _ = appr;
        t.call(
            Method::POST,
            path,
            Auth::Cookie(&appr_s),
            Some(json!({"username": "colleague"})),
        )
        .await
        .err(403, 40300);
    }
);

both!(
    async fn login_user_lookups_are_limited_audited_and_need_filing_rights(t: TestApp) {
        use leptos::server_fn::ServerFn;
        let path = <app::requests::api::RequestLoginUser as ServerFn>::PATH;
        let _ = people(&t).await;
        t.user("colleague").await;
        // Create without enable: may not file, so may not look up either.
        t.user_with("halfway", "resource_request", &["create_resource_req"])
            .await;
        let half = t.login("halfway", "user-pass-123").await;
        t.call(
            Method::POST,
            path,
            Auth::Cookie(&half),
            Some(json!({"username": "colleague"})),
        )
        .await
        .err(403, 40300);
        // Anonymous.
        t.call(
            Method::POST,
            path,
            Auth::None,
            Some(json!({"username": "colleague"})),
        )
        .await
        .err(401, 40100);
        let s = t.login("req", "user-pass-123").await;
        // Not a valid username: no query, a plain 404.
        t.call(
            Method::POST,
            path,
            Auth::Cookie(&s),
            Some(json!({"username": "x".repeat(5000)})),
        )
        .await
        .err(404, 40400);
        // A disabled account is not offered.
        let (c, _) = t.user("colleague2").await;
        t.post(
            &format!("/api/users/{c}/actions/disable/"),
            t.admin(),
            json!({}),
        )
        .await
        .ok();
        t.call(
            Method::POST,
            path,
            Auth::Cookie(&s),
            Some(json!({"username": "colleague2"})),
        )
        .await
        .err(404, 40400);
        // Every lookup is audited; 30 a minute, then 429.
        let mut ok = 0;
        let mut limited = false;
        for _ in 0..35 {
            let r = t
                .call(
                    Method::POST,
                    path,
                    Auth::Cookie(&s),
                    Some(json!({"username": "colleague"})),
                )
                .await;
            match r.status.as_u16() {
                200 => ok += 1,
                429 => {
                    assert_eq!(r.json["error_code"], 42900, "{}", r.json);
                    limited = true;
                    break;
                }
                other => panic!("unexpected {other}: {}", r.json),
            }
        }
        assert!(limited, "no limit after {ok} lookups");
        // 30 in the minute: the disabled account's lookup counts (audited), the invalid name not.
        assert_eq!(ok, 29);
        let log = t
            .get(
                "/api/audit/logs/?op_type=lookup_user&page_size=1",
                t.admin(),
            )
            .await
            .ok();
        assert_eq!(log["count"], 30, "{log}");
    }
);

both!(
    async fn the_upload_server_function_is_for_ssl_approvers_only(t: TestApp) {
        use leptos::server_fn::ServerFn;
        let path = <app::requests::api::UploadRequestCertificate as ServerFn>::PATH;
        let (req, appr) = people(&t).await;
        let id = t
            .post(
                "/api/resource-request/ssl-certificates/",
                Auth::Token(&req.1),
                json!({"domain": "fn.example.test", "certificate_type": "normal", "purpose": "x", "expect_delivery_days": 3}),
            )
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        // Approved (its fulfilment not run): an upload would finish it now.
        t.post(
            &format!("/api/resource-request/ssl-certificates/{id}/actions/approve/"),
            Auth::Token(&appr.1),
            json!({}),
        )
        .await
        .ok();
        let (key, cert) = (t.dir.join("fn.key"), t.dir.join("fn.crt"));
        let made = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
            ])
            .args([
                "-subj",
                "/CN=fn.example.test",
                "-addext",
                "subjectAltName=DNS:fn.example.test",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let input = json!({"id": id, "input": {
            "cert_pem": std::fs::read_to_string(&cert).unwrap(),
            "key_pem": std::fs::read_to_string(&key).unwrap(),
        }});
        // The requester (no approve_ssl_cert_req) is refused, with the status of the error.
        let s = t.login("req", "user-pass-123").await;
        t.call(Method::POST, path, Auth::Cookie(&s), Some(input.clone()))
            .await
            .err(403, 40300);
        // Nothing changed: still approved, no certificate.
        let detail = format!("/api/resource-request/ssl-certificates/{id}/");
        assert_eq!(t.get(&detail, t.admin()).await.ok()["status"], "approved");
        assert_eq!(
            t.get("/api/certificates/", t.admin()).await.ok()["count"],
            0
        );
        // The same call by an approver finishes it: the refusal was the permission's.
        let a = t.login("appr", "user-pass-123").await;
        t.call(Method::POST, path, Auth::Cookie(&a), Some(input))
            .await
            .ok();
        assert_eq!(t.get(&detail, t.admin()).await.ok()["status"], "finished");
        assert_eq!(
            t.get("/api/certificates/", t.admin()).await.ok()["count"],
            1
        );
    }
);

both!(
    async fn a_disabled_account_cannot_be_named_a_login_user(t: TestApp) {
        let (req, appr) = people(&t).await;
        let (gone, _) = t.user("gone").await;
        let (kept, _) = t.user("kept").await;
        let mut body = host_request();
        body["login_users"] = json!([{"id": kept}, {"id": gone}]);
        let id = t
            .post(
                "/api/resource-request/hosts/",
                Auth::Token(&req.1),
                body.clone(),
            )
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        t.post(
            &format!("/api/users/{gone}/actions/disable/"),
            t.admin(),
            json!({}),
        )
        .await
        .ok();
        // Not when filing, not when editing, and not when approving what was filed before.
        let e = t
            .post(
                "/api/resource-request/hosts/",
                Auth::Token(&req.1),
                body.clone(),
            )
            .await
            .err(400, 40000);
        assert_eq!(e["field"], "login_users[1]", "{e}");
        t.call(
            Method::PATCH,
            &format!("/api/resource-request/hosts/{id}/"),
            Auth::Token(&req.1),
            Some(json!({"login_users": [{"id": gone}]})),
        )
        .await
        .err(400, 40000);
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/approve/"),
            Auth::Token(&appr.1),
            json!({}),
        )
        .await
        .err(400, 40000);
        // Enabled again, it may be named.
        t.post(
            &format!("/api/users/{gone}/actions/enable/"),
            t.admin(),
            json!({}),
        )
        .await
        .ok();
        t.post(
            &format!("/api/resource-request/hosts/{id}/actions/approve/"),
            Auth::Token(&appr.1),
            json!({}),
        )
        .await
        .ok();
    }
);

both!(
    async fn parallel_login_user_lookups_stay_under_the_cap(t: TestApp) {
        use leptos::server_fn::ServerFn;
        let path = <app::requests::api::RequestLoginUser as ServerFn>::PATH;
        people(&t).await;
        t.user("colleague").await;
        let s = t.login("req", "user-pass-123").await;
        let calls = (0..40).map(|_| {
            t.call(
                Method::POST,
                path,
                Auth::Cookie(&s),
                Some(json!({"username": "colleague"})),
            )
        });
        let answers = futures_util::future::join_all(calls).await;
        let ok = answers.iter().filter(|r| r.status.is_success()).count();
        let limited = answers.iter().filter(|r| r.status.as_u16() == 429).count();
        assert_eq!((ok, limited), (30, 10));
        let log = t
            .get(
                "/api/audit/logs/?op_type=lookup_user&page_size=1",
                t.admin(),
            )
            .await
            .ok();
        assert_eq!(log["count"], 30, "{log}");
    }
);
