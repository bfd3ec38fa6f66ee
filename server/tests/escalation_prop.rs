//! A property: no sequence of calls by a user with random partial rights gives anyone a
//! permission they were not granted (random estates and call sequences, proptest with a fixed
//! seed). In its own test binary: it creates many databases and should not compete with the
//! other escalation tests for the two cores.
mod common;
use app::perms::types::{APP_PERMS, PRODUCTION_PERMS};
use axum::http::Method;
use common::*;
use serde_json::json;
use std::collections::BTreeSet;

/// Module flags the attacker may be given (and may try to hand out).
const FLAGS: &[(&str, &str)] = &[
    ("system", "enable_system_mgmt"),
    ("system", "grant_perms"),
    ("system", "manage_roles"),
    ("system", "view_users"),
    ("system", "manage_users"),
    ("application", "enable_app_mgmt"),
    ("application", "create_app"),
    ("application", "edit_app"),
    ("business", "enable_business_mgmt"),
    ("business", "add_business"),
    ("host", "enable_host_mgmt"),
];

/// One call the attacker tries; indices wrap around what exists when it runs.
#[derive(Debug, Clone)]
enum Op {
    Parent(usize, Option<usize>),
    Production(usize, Option<usize>),
    AddChild(usize, usize),
    IntoLine(usize, usize),
    Join(usize, usize),
    Leave(usize, usize),
    GrantFlag(usize, usize),
    GrantApp(usize, usize, usize),
    GrantLine(usize, usize, usize),
    CreateApp(Option<usize>),
    CreateLine,
    ImportLine(usize, usize),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    let i = || 0usize..16;
    prop_oneof![
        (i(), proptest::option::of(i())).prop_map(|(a, p)| Op::Parent(a, p)),
        (i(), proptest::option::of(i())).prop_map(|(a, p)| Op::Production(a, p)),
        (i(), i()).prop_map(|(a, b)| Op::AddChild(a, b)),
        (i(), i()).prop_map(|(a, b)| Op::IntoLine(a, b)),
        (i(), i()).prop_map(|(u, r)| Op::Join(u, r)),
        (i(), i()).prop_map(|(u, r)| Op::Leave(u, r)),
        (i(), i()).prop_map(|(s, f)| Op::GrantFlag(s, f)),
        (i(), i(), i()).prop_map(|(s, a, p)| Op::GrantApp(s, a, p)),
        (i(), i(), i()).prop_map(|(s, a, p)| Op::GrantLine(s, a, p)),
        proptest::option::of(i()).prop_map(Op::CreateApp),
        Just(Op::CreateLine),
        (i(), i()).prop_map(|(a, l)| Op::ImportLine(a, l)),
    ]
}

/// The starting estate: who holds what before the attacker acts.
#[derive(Debug, Clone)]
struct Estate {
    parents: Vec<Option<usize>>,
    lines: Vec<Option<usize>>,
    attacker_flags: Vec<usize>,
    grants: Vec<(usize, bool, usize, usize)>,
    members: Vec<(usize, usize)>,
}

fn estate() -> impl proptest::strategy::Strategy<Value = Estate> {
    use proptest::prelude::*;
    (
        proptest::collection::vec(proptest::option::of(0usize..6), 6),
        proptest::collection::vec(proptest::option::of(0usize..2), 6),
        proptest::collection::vec(0..FLAGS.len(), 0..8),
        proptest::collection::vec((0usize..5, any::<bool>(), 0usize..6, 0usize..11), 0..10),
        proptest::collection::vec((0usize..3, 0usize..2), 0..3),
    )
        .prop_map(|(parents, lines, attacker_flags, grants, members)| Estate {
            parents,
            lines,
            attacker_flags,
            grants,
            members,
        })
}

/// Sets up the estate, lets the attacker (user 0) try the calls, and checks that nobody holds
/// anything on the objects that existed before that they did not hold before, except what the
/// attacker held and handed on; the attacker gains nothing at all.
async fn attack(b: Backend, e: Estate, ops: Vec<Op>) -> Result<(), String> {
    let t = TestApp::new(b).await;
    let mut lines = vec![];
    for i in 0..2 {
        lines.push(
            t.post(
                "/api/productions/",
                t.admin(),
                json!({"name": format!("line{i}")}),
            )
            .await
            .ok()["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut apps: Vec<(i64, String)> = vec![];
    for i in 0..6 {
        let mut body = json!({"name": format!("app{i}")});
        if let Some(p) = e.parents[i].filter(|p| *p < i) {
            body["parent_app"] = json!(apps[p].0);
        }
        if let Some(l) = e.lines[i] {
            body["production"] = json!(lines[l]);
        }
        let r = t.post("/api/applications/", t.admin(), body).await.ok();
        apps.push((
            r["id"].as_i64().unwrap(),
            r["full_name"].as_str().unwrap().to_string(),
        ));
    }
    let mut users = vec![];
    for i in 0..3 {
        users.push(t.user(&format!("user{i}")).await);
    }
    let roles = [
        t.post("/api/roles/", t.admin(), json!({"name": "r0"}))
            .await
            .ok()["id"]
            .as_i64()
            .unwrap(),
        t.post("/api/roles/", t.admin(), json!({"name": "r1"}))
            .await
            .ok()["id"]
            .as_i64()
            .unwrap(),
    ];
    let subject = |s: usize| -> (&'static str, i64) {
        match s % 5 {
            s @ 0..=2 => ("users", users[s].0),
            s => ("roles", roles[s - 3]),
        }
    };
    for f in &e.attacker_flags {
        let (m, flag) = FLAGS[*f];
        t.grant("user", users[0].0, m, &[flag]).await;
    }
    for (s, on_line, o, p) in &e.grants {
        let (st, sid) = subject(*s);
        let (seg, id, perm) = if *on_line {
            (
                "business",
                lines[o % 2],
                PRODUCTION_PERMS[p % PRODUCTION_PERMS.len()],
            )
        } else {
            ("application", apps[o % 6].0, APP_PERMS[p % APP_PERMS.len()])
        };
        t.post(
            &format!("/api/{st}/{sid}/{seg}/perms/"),
            t.admin(),
            json!({"authorizations": [{"id": id, "permission": {perm: true}}]}),
        )
        .await
        .ok();
    }
    for (u, r) in &e.members {
        t.post(
            &format!("/api/roles/{}/users/", roles[*r]),
            t.admin(),
            json!([{"id": users[*u].0}]),
        )
        .await
        .ok();
    }
    let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
    let before = matrix(&t, &ids).await;
    let old_objects: BTreeSet<String> = apps
        .iter()
        .map(|a| format!("application:{}", a.0))
        .chain(lines.iter().map(|l| format!("business:{l}")))
        .chain(FLAGS.iter().map(|(m, _)| format!("module:{m}")))
        .collect();

    let m = Auth::Token(&users[0].1);
    let mut n = 0;
    for o in &ops {
        let app = |i: usize| apps[i % apps.len()].0;
        let line = |i: usize| lines[i % lines.len()];
        let r = match o.clone() {
            Op::Parent(a, p) => {
                t.call(
                    Method::PATCH,
                    &format!("/api/applications/{}/", app(a)),
                    m,
                    Some(json!({"parent_app": p.map(app)})),
                )
                .await
            }
            Op::Production(a, l) => {
                t.call(
                    Method::PATCH,
                    &format!("/api/applications/{}/", app(a)),
                    m,
                    Some(json!({"production": l.map(line)})),
                )
                .await
            }
            Op::AddChild(p, c) => {
                t.post(
                    &format!("/api/applications/{}/child-apps/", app(p)),
                    m,
                    json!([{"id": app(c)}]),
                )
                .await
            }
            Op::IntoLine(l, a) => {
                t.post(
                    &format!("/api/productions/{}/applications/", line(l)),
                    m,
                    json!([{"id": app(a)}]),
                )
                .await
            }
            Op::Join(u, r) => {
                t.post(
                    &format!("/api/roles/{}/users/", roles[r % 2]),
                    m,
                    json!([{"id": users[u % 3].0}]),
                )
                .await
            }
            Op::Leave(u, r) => {
                t.call(
                    Method::DELETE,
                    &format!("/api/roles/{}/users/", roles[r % 2]),
                    m,
                    Some(json!([{"id": users[u % 3].0}])),
                )
                .await
            }
            Op::GrantFlag(s, f) => {
                let (st, sid) = subject(s);
                let (module, flag) = FLAGS[f % FLAGS.len()];
                t.post(
                    &format!("/api/{st}/{sid}/system/perms/"),
                    m,
                    json!({"module_name": module, "permissions": {flag: true}}),
                )
                .await
            }
            Op::GrantApp(s, a, p) => {
                let (st, sid) = subject(s);
                t.post(&format!("/api/{st}/{sid}/application/perms/"), m, json!({"authorizations": [{"id": app(a), "permission": {APP_PERMS[p % APP_PERMS.len()]: true}}]})).await
            }
            Op::GrantLine(s, l, p) => {
                let (st, sid) = subject(s);
                t.post(&format!("/api/{st}/{sid}/business/perms/"), m, json!({"authorizations": [{"id": line(l), "permission": {PRODUCTION_PERMS[p % PRODUCTION_PERMS.len()]: true}}]})).await
            }
            Op::CreateApp(p) => {
                n += 1;
                let r = t
                    .post(
                        "/api/applications/",
                        m,
                        json!({"name": format!("new{n}"), "parent_app": p.map(app)}),
                    )
                    .await;
                if r.status.is_success() {
                    apps.push((
                        r.json["id"].as_i64().unwrap(),
                        r.json["full_name"].as_str().unwrap().to_string(),
                    ));
                }
                r
            }
            Op::CreateLine => {
                n += 1;
                let r = t
                    .post(
                        "/api/productions/",
                        m,
                        json!({"name": format!("newline{n}")}),
                    )
                    .await;
                if r.status.is_success() {
                    lines.push(r.json["id"].as_i64().unwrap());
                }
                r
            }
            Op::ImportLine(a, l) => {
                let name = apps[a % apps.len()].1.clone();
                let line_name = t
                    .get(&format!("/api/productions/{}/", line(l)), t.admin())
                    .await
                    .ok()["name"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let r = t.post("/api/imports/", m, json!({"kind": "applications", "csv": format!("full_name,production\n{name},{line_name}\n")})).await;
                app::jobs::run_due(&t.ctx).await.unwrap();
                r
            }
        };
        if r.status.is_server_error() {
            return Err(format!("{o:?} answered {} {}", r.status, r.json));
        }
    }
    let after = matrix(&t, &ids).await;
    let attacker_had: BTreeSet<(String, String)> = before
        .iter()
        .filter(|(u, _, _)| *u == ids[0])
        .map(|(_, o, p)| (o.clone(), p.clone()))
        .collect();
    for (u, obj, perm) in after.difference(&before) {
        if !old_objects.contains(obj) {
            continue;
        }
        let handed_on = *u != ids[0] && attacker_had.contains(&(obj.clone(), perm.clone()));
        if !handed_on {
            return Err(format!("user {u} gained {perm} on {obj}"));
        }
    }
    Ok(())
}

both! {
    async fn no_sequence_of_calls_gives_anyone_an_ungranted_permission(b: Backend) {
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
        let config = Config { cases: 10, failure_persistence: None, ..Config::default() };
        let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
        let strategy = (estate(), proptest::collection::vec(op(), 1..14));
        let handle = tokio::runtime::Handle::current();
        let result = tokio::task::block_in_place(|| {
            runner.run(&strategy, |(e, ops)| {
                handle
                    .block_on(attack(b, e, ops))
                    .map_err(proptest::test_runner::TestCaseError::fail)
            })
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}
