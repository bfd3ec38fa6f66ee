//! The counts lists answer without scanning (migration m20261202_000004, docs/benchmarks.md):
//! requests per kind and status and the approver inbox, and records per zone, kept by triggers,
//! must equal what a `COUNT(*)` of the rows gives after every kind of change. The record name
//! filter goes through the trigram index and still matches substrings. Both databases.
mod common;
use app::entities::{approval, dns_record, resource_request as rr};
use axum::http::Method;
use common::dns_servers::PowerDns;
use common::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

const KINDS: [(&str, &str); 3] = [
    ("host", "hosts"),
    ("domain", "domains"),
    ("ssl", "ssl-certificates"),
];
const STATUSES: [&str; 5] = ["wait_review", "approved", "finished", "rejected", "closed"];

fn host_request(name: &str) -> Value {
    json!({
        "purpose": "counts",
        "expect_delivery_days": "7",
        "required_hosts": [{"name": name, "specs": {"cpu_core": 2, "mem": 2048, "storage": 1000}, "os": "debian-12", "type": "TECENT_CVM"}]
    })
}

fn ssl_request(domain: &str) -> Value {
    json!({"purpose": "counts", "expect_delivery_days": "7", "domain": domain, "certificate_type": "normal"})
}

/// What `COUNT(*)` says: requests of `kind` (in `status`).
async fn truth(t: &TestApp, kind: &str, status: Option<&str>) -> u64 {
    let mut q = rr::Entity::find().filter(rr::Column::Kind.eq(kind));
    if let Some(s) = status {
        q = q.filter(rr::Column::Status.eq(s));
    }
    q.count(&t.ctx.db).await.unwrap()
}

/// What `COUNT(*)` says the inbox of `user` holds for `kind`.
async fn inbox_truth(t: &TestApp, kind: &str, user: i64) -> u64 {
    let mine = Query::select()
        .expr(Expr::val(1))
        .from(approval::Entity)
        .and_where(
            Expr::col((approval::Entity, approval::Column::SubjectType)).eq("resource_request"),
        )
        .and_where(
            Expr::col((approval::Entity, approval::Column::SubjectId))
                .equals((Alias::new("resource_requests"), Alias::new("id"))),
        )
        .and_where(Expr::col((approval::Entity, approval::Column::ApproverId)).eq(user))
        .to_owned();
    rr::Entity::find()
        .filter(rr::Column::Kind.eq(kind))
        .filter(rr::Column::Status.eq("wait_review"))
        .filter(rr::Column::CreatorId.ne(user))
        .filter(Condition::all().add(Expr::exists(mine).not()))
        .count(&t.ctx.db)
        .await
        .unwrap()
}

/// Every count an approver sees equals `COUNT(*)` and the rows listed.
async fn check(t: &TestApp, who: &str, id: i64, tok: &str) {
    let a = Auth::Token(tok);
    let badge = t.get("/api/resource-request/inbox/", a).await.ok();
    let mut total = 0;
    for (kind, seg) in KINDS {
        let base = format!("/api/resource-request/{seg}/?page_size=100");
        let all = t.get(&base, a).await.ok();
        assert_eq!(
            all["count"],
            truth(t, kind, None).await,
            "{who}: {kind} list"
        );
        assert_eq!(
            all["count"],
            all["results"].as_array().unwrap().len() as u64,
            "{who}: {kind} rows"
        );
        for s in STATUSES {
            let l = t.get(&format!("{base}&status={s}"), a).await.ok();
            assert_eq!(
                l["count"],
                truth(t, kind, Some(s)).await,
                "{who}: {kind} {s}"
            );
            assert_eq!(
                l["count"],
                l["results"].as_array().unwrap().len() as u64,
                "{who}: {kind} {s} rows"
            );
        }
        let want = inbox_truth(t, kind, id).await;
        let inbox = t.get(&format!("{base}&view=inbox"), a).await.ok();
        assert_eq!(inbox["count"], want, "{who}: {kind} inbox");
        assert_eq!(
            inbox["results"].as_array().unwrap().len() as u64,
            want,
            "{who}: {kind} inbox rows"
        );
        let waiting = t
            .get(&format!("{base}&view=inbox&status=wait_review"), a)
            .await
            .ok();
        assert_eq!(waiting["count"], want, "{who}: {kind} inbox, wait_review");
        let none = t
            .get(&format!("{base}&view=inbox&status=finished"), a)
            .await
            .ok();
        assert_eq!(none["count"], 0, "{who}: {kind} inbox, finished");
        assert_eq!(badge[kind], want, "{who}: {kind} badge {badge}");
        total += want;
    }
    assert_eq!(badge["total"], total, "{who}: badge total");
}

both!(
    async fn request_counts_follow_every_transition(t: TestApp) {
        let req = t.user_with("req", "resource_request", REQUESTER).await;
        let appr = t.user_with("appr", "resource_request", APPROVER).await;
        // A second approver who also files requests (never in their own inbox).
        let appr2 = t.user("appr2").await;
        t.grant(
            "user",
            appr2.0,
            "resource_request",
            &[
                "enable_resource_req",
                "create_resource_req",
                "approve_host_req",
                "approve_ssl_cert_req",
            ],
        )
        .await;
        t.call(
            Method::PATCH,
            "/api/resource-request/settings/",
            t.admin(),
            Some(json!({"host_quorum": 2})),
        )
        .await
        .ok();
        let (r, a, a2) = (
            Auth::Token(&req.1),
            Auth::Token(&appr.1),
            Auth::Token(&appr2.1),
        );
        let file = |auth, seg: &'static str, body: Value| {
            let t = &t;
            async move {
                t.post(&format!("/api/resource-request/{seg}/"), auth, body)
                    .await
                    .ok()["id"]
                    .as_i64()
                    .unwrap()
            }
        };
        let mut hosts = vec![];
        for k in 0..4 {
            hosts.push(file(r, "hosts", host_request(&format!("counted-{k}"))).await);
        }
        let theirs = file(a2, "hosts", host_request("counted-theirs")).await;
        let ssl = [
            file(r, "ssl-certificates", ssl_request("a.count.example.test")).await,
            file(r, "ssl-certificates", ssl_request("b.count.example.test")).await,
        ];
        check(&t, "appr", appr.0, &appr.1).await;
        check(&t, "appr2", appr2.0, &appr2.1).await;

        let act = |auth, seg: &'static str, id: i64, action: &'static str| {
            let t = &t;
            async move {
                t.post(
                    &format!("/api/resource-request/{seg}/{id}/actions/{action}/"),
                    auth,
                    json!({"reason": "no"}),
                )
                .await
                .ok();
            }
        };
        // One of two approvals: still waiting, out of appr's inbox only.
        act(a, "hosts", hosts[0], "approve").await;
        act(a, "hosts", hosts[1], "reject").await;
        act(r, "hosts", hosts[2], "close").await;
        act(a, "ssl-certificates", ssl[0], "approve").await;
        act(a, "hosts", theirs, "approve").await;
        assert_eq!(
            t.get("/api/resource-request/inbox/", a).await.ok()["host"],
            1
        );
        assert_eq!(
            t.get("/api/resource-request/inbox/", a2).await.ok()["host"],
            2
        );
        check(&t, "appr", appr.0, &appr.1).await;
        check(&t, "appr2", appr2.0, &appr2.1).await;

        // An edit drops the approval: back in appr's inbox.
        t.call(
            Method::PATCH,
            &format!("/api/resource-request/hosts/{}/", hosts[0]),
            r,
            Some(json!({"purpose": "edited"})),
        )
        .await
        .ok();
        assert_eq!(
            t.get("/api/resource-request/inbox/", a).await.ok()["host"],
            2
        );
        check(&t, "appr", appr.0, &appr.1).await;
        // Two approvals: approved; the SSL fulfilment finishes its request.
        act(a2, "hosts", hosts[0], "approve").await;
        act(a, "hosts", hosts[0], "approve").await;
        run_jobs_now(&t).await;
        assert_eq!(truth(&t, "ssl", Some("finished")).await, 1);
        assert_eq!(truth(&t, "host", Some("approved")).await, 1);
        check(&t, "appr", appr.0, &appr.1).await;
        check(&t, "appr2", appr2.0, &appr2.1).await;
        // The requester's own lists are counted as before.
        let own = t
            .get("/api/resource-request/hosts/?page_size=100", r)
            .await
            .ok();
        assert_eq!(own["count"], 4);
        assert_eq!(
            t.get("/api/resource-request/hosts/?status=closed", r)
                .await
                .ok()["count"],
            1
        );
    }
);

async fn zone_count_row(t: &TestApp, did: i64) -> Option<i64> {
    use sea_orm::ConnectionTrait;
    let q = Query::select()
        .column(Alias::new("n"))
        .from(Alias::new("dns_record_counts"))
        .and_where(Expr::col(Alias::new("domain_id")).eq(did))
        .to_owned();
    t.ctx
        .db
        .query_one(&q)
        .await
        .unwrap()
        .map(|r| r.try_get::<i64>("", "n").unwrap())
}

/// The zone's list count (unfiltered) equals `COUNT(*)` of its rows.
async fn zone_checked(t: &TestApp, sid: i64, did: i64) -> u64 {
    let n = dns_record::Entity::find()
        .filter(dns_record::Column::DomainId.eq(did))
        .count(&t.ctx.db)
        .await
        .unwrap();
    let l = t
        .get(
            &format!("/api/dns-services/{sid}/domains/{did}/records/?page_size=100"),
            t.admin(),
        )
        .await
        .ok();
    assert_eq!(l["count"], n, "{l}");
    assert_eq!(l["results"].as_array().unwrap().len() as u64, n);
    n
}

fn names(l: &Value) -> Vec<String> {
    l["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

both!(
    async fn record_counts_and_the_name_filter(t: TestApp) {
        let p = PowerDns::start();
        let s = t.post("/api/dns-services/", t.admin(), json!({"name": "pdns", "type": "powerdns", "api_endpoint": p.api_url, "api_key": p.api_key})).await.ok();
        let sid = s["id"].as_i64().unwrap();
        let zone = |name: &'static str| {
            let t = &t;
            async move {
                t.post(
                    &format!("/api/dns-services/{sid}/domains/"),
                    t.admin(),
                    json!({"name": name}),
                )
                .await
                .ok()["id"]
                    .as_i64()
                    .unwrap()
            }
        };
        let (d1, d2) = (zone("count.test").await, zone("other.test").await);
        let base = |did: i64| format!("/api/dns-services/{sid}/domains/{did}/records/");
        let start = zone_checked(&t, sid, d1).await;
        assert!(start >= 1, "the imported NS records are counted");
        t.post(
            &base(d1),
            t.admin(),
            json!([
                {"name": "alpha", "type": "A", "value": "10.9.0.1"},
                {"name": "alphabet", "type": "A", "value": "10.9.0.2"},
                {"name": "alphabet", "type": "A", "value": "10.9.0.3"},
                {"name": "beta", "type": "TXT", "value": "beta 100%"},
                {"name": "gam_ma", "type": "TXT", "value": "underscore"}
            ]),
        )
        .await
        .ok();
        t.post(
            &base(d2),
            t.admin(),
            json!([{"name": "alpha", "type": "A", "value": "10.8.0.1"}]),
        )
        .await
        .ok();
        assert_eq!(zone_checked(&t, sid, d1).await, start + 5);
        // Substrings (3+ characters through the trigram index, shorter ones by a scan), in this
        // zone only, any case, wildcards taken literally.
        let by = |q: &'static str| {
            let t = &t;
            let path = format!("{}?page_size=100&name={q}", base(d1));
            async move { t.get(&path, t.admin()).await.ok() }
        };
        let l = by("lphab").await;
        assert_eq!(
            (l["count"].as_u64(), names(&l)),
            (Some(2), vec!["alphabet.count.test".to_string(); 2])
        );
        assert_eq!(by("ALPHA").await["count"], 3);
        // A filtered page is a slice of the matches in list order.
        let page = |n: u32| {
            let t = &t;
            let path = format!("{}?page_size=2&page={n}&name=alpha", base(d1));
            async move { t.get(&path, t.admin()).await.ok() }
        };
        let (p1, p2, p3) = (page(1).await, page(2).await, page(3).await);
        assert_eq!(names(&p1), ["alpha.count.test", "alphabet.count.test"]);
        assert_eq!(
            (p2["count"].as_u64(), names(&p2)),
            (Some(3), vec!["alphabet.count.test".to_string()])
        );
        assert_eq!(p1["results"][1]["value"], "10.9.0.2");
        assert_eq!(p2["results"][0]["value"], "10.9.0.3");
        assert_eq!((p3["count"].as_u64(), names(&p3).len()), (Some(3), 0));
        let typed = t
            .get(
                &format!("{}?type=A&page_size=1&page=3", base(d1)),
                t.admin(),
            )
            .await
            .ok();
        assert_eq!(
            (typed["count"].as_u64(), names(&typed)),
            (Some(3), vec!["alphabet.count.test".to_string()])
        );
        assert_eq!(by("ph").await["count"], 3);
        assert_eq!(by("m_m").await["count"], 1);
        assert_eq!(by("a_p").await["count"], 0);
        assert_eq!(by("a%25a").await["count"], 0);
        assert_eq!(by("nothing").await["count"], 0);
        // A renamed record is found by its new name only.
        let beta = names(&by("beta").await);
        assert_eq!(beta, ["beta.count.test"]);
        let id = by("beta").await["results"][0]["id"].as_i64().unwrap();
        t.call(
            Method::PATCH,
            &format!("{}{id}/", base(d1)),
            t.admin(),
            Some(json!({"name": "delta"})),
        )
        .await
        .ok();
        assert_eq!(by("beta").await["count"], 0);
        assert_eq!(names(&by("elt").await), ["delta.count.test"]);
        // Deletes count down; the other zone kept its own count.
        t.call(
            Method::DELETE,
            &format!("{}{id}/", base(d1)),
            t.admin(),
            None,
        )
        .await
        .ok();
        assert_eq!(zone_checked(&t, sid, d1).await, start + 4);
        let other = zone_checked(&t, sid, d2).await;
        assert_eq!(zone_count_row(&t, d2).await, Some(other as i64));
        // A deleted zone takes its count with it.
        t.call(
            Method::DELETE,
            &format!("/api/dns-services/{sid}/domains/{d1}/"),
            t.admin(),
            None,
        )
        .await
        .ok();
        assert_eq!(zone_count_row(&t, d1).await, None);
        assert_eq!(zone_checked(&t, sid, d2).await, other);
    }
);
