//! The resource requests of the issue 9 benchmark (docs/benchmarks.md): ~1,000 requesters, five
//! approvers, and `n` requests of the three kinds over two years, with their decisions and
//! timelines, written in bulk like the rest of the seed.
use super::{chunks, Rng};
use app::entities::{
    approval, perm_grant, request_event as ev, resource_request as rr, role, user, user_role,
};
use app::requests::types::{HostSpecs, RequestInput, RequestKind, RequestedHost, RequestedRecord};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};

/// Requesters besides `bench-req`.
const REQUESTERS: usize = 999;
/// Approvers of every kind: `bench-approver` and four colleagues.
const APPROVERS: usize = 5;

async fn role_with(
    db: &sea_orm::DatabaseConnection,
    name: &str,
    perms: &[&str],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<i64, String> {
    let r = role::ActiveModel {
        name: Set(name.into()),
        description: Set(String::new()),
        creator: Set("bench".into()),
        builtin: Set(false),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| e.to_string())?;
    chunks(
        db,
        perms
            .iter()
            .map(|p| perm_grant::ActiveModel {
                subject_type: Set("role".into()),
                subject_id: Set(r.id),
                resource_type: Set("module".into()),
                resource_key: Set("resource_request".into()),
                resource_id: Set(None),
                perm: Set(p.to_string()),
                granted_by: Set(None),
                created_at: Set(now),
                ..Default::default()
            })
            .collect(),
    )
    .await?;
    Ok(r.id)
}

/// What a request of `kind` number `i` asked for.
fn input(kind: RequestKind, i: usize, rng: &mut Rng, login: i64) -> RequestInput {
    match kind {
        RequestKind::Host => RequestInput {
            purpose: Some(format!("capacity for service svc{:04}", i % 5000)),
            expect_delivery_days: Some(["3", "7", "14"][i % 3].into()),
            expiration: Some("never".into()),
            login_users: Some(vec![app::common::IdRef { id: login }]),
            shipped_packages: Some(vec![]),
            required_hosts: Some(
                (0..1 + rng.below(3))
                    .map(|k| RequestedHost {
                        name: format!("rq{i:06}-{k}"),
                        specs: HostSpecs {
                            cpu_core: [2, 4, 8][k % 3],
                            mem: [4096, 8192, 16384][k % 3],
                            storage: 100_000,
                        },
                        os: "debian-12".into(),
                        host_type: "TECENT_CVM".into(),
                    })
                    .collect(),
            ),
            ..Default::default()
        },
        RequestKind::Domain => RequestInput {
            records: Some(
                (0..1 + rng.below(3))
                    .map(|k| RequestedRecord {
                        record: format!("svc{i:06}-{k}.corp.test"),
                        rtype: "A".into(),
                        value: format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff),
                        ttl: Some(600),
                        priority: None,
                    })
                    .collect(),
            ),
            associated_app: Some(vec![]),
            ..Default::default()
        },
        RequestKind::Ssl => RequestInput {
            purpose: Some("public endpoint".into()),
            expect_delivery_days: Some("7".into()),
            associated_app: Some(vec![]),
            domain: Some(format!("svc{i:06}.example.com")),
            certificate_type: Some(if i % 4 == 0 { "wizard" } else { "normal" }.into()),
            ..Default::default()
        },
    }
}

/// Inserts the people and `n` requests. Answers the users whose tokens the benchmark needs:
/// `(variable, user id, user name)` for `bench-approver` (approves every kind, not a
/// superuser) and `bench-req` (owns ~300 requests).
pub(super) async fn seed(
    db: &sea_orm::DatabaseConnection,
    password: &str,
    n: usize,
) -> Result<Vec<(&'static str, i64, String)>, String> {
    let now = chrono::Utc::now();
    let mut rng = Rng(0x0a11_0ca7_e5ee_d009);
    let hash = app::security::hash_password(password).map_err(|e| e.message)?;
    let user_row = |name: String| user::ActiveModel {
        username: Set(name.clone()),
        email: Set(format!("{name}@bench.test")),
        phone: Set(String::new()),
        display_name: Set(name),
        password_hash: Set(hash.clone()),
        status: Set("enabled".into()),
        locale: Set("en".into()),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    // Approvers first, then bench-req, then the other requesters: ids follow insertion order.
    let mut names: Vec<String> = (0..APPROVERS)
        .map(|k| {
            if k == 0 {
                "bench-approver".to_string()
            } else {
                format!("approver-{k}")
            }
        })
        .collect();
    names.push("bench-req".into());
    names.extend((0..REQUESTERS).map(|k| format!("req-{k:04}")));
    chunks(db, names.iter().cloned().map(user_row).collect()).await?;
    let first = user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(db)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|u| u.username == "bench-approver")
        .ok_or("no bench-approver")?
        .id;
    let approver = |k: usize| first + k as i64;
    let bench_req = first + APPROVERS as i64;
    let requester = |k: usize| bench_req + 1 + k as i64;

    let approve_role = role_with(
        db,
        "bench-approvers",
        &[
            "enable_resource_req",
            "approve_host_req",
            "approve_domain_req",
            "approve_ssl_cert_req",
        ],
        now,
    )
    .await?;
    let request_role = role_with(
        db,
        "bench-requesters",
        &["enable_resource_req", "create_resource_req"],
        now,
    )
    .await?;
    let mut members: Vec<user_role::ActiveModel> = (0..APPROVERS)
        .map(|k| user_role::ActiveModel {
            user_id: Set(approver(k)),
            role_id: Set(approve_role),
        })
        .collect();
    members.extend((0..=REQUESTERS).map(|k| user_role::ActiveModel {
        user_id: Set(bench_req + k as i64),
        role_id: Set(request_role),
    }));
    chunks(db, members).await?;

    // The requests, oldest first, ~10 minutes apart (100k: two years). Statuses: the newest 5%
    // mostly wait for review; older ones are mostly decided, with a tail of forgotten ones.
    struct Plan {
        kind: RequestKind,
        creator: i64,
        status: &'static str,
        needed: i32,
        approvers: Vec<i64>,
        created: chrono::DateTime<chrono::Utc>,
        payload: String,
    }
    let mut plans = Vec::with_capacity(n);
    for i in 0..n {
        let kind = match i % 20 {
            0..=7 => RequestKind::Host,
            8..=14 => RequestKind::Domain,
            _ => RequestKind::Ssl,
        };
        let creator = if i % 333 == 7 {
            bench_req
        } else {
            requester(rng.below(REQUESTERS))
        };
        let recent = i >= n - n / 20;
        let roll = rng.below(100);
        let status = if recent {
            match roll {
                0..=59 => "wait_review",
                60..=69 => "approved",
                70..=89 => "finished",
                90..=95 => "rejected",
                _ => "closed",
            }
        } else {
            match roll {
                0..=4 => "wait_review",
                5..=6 => "approved",
                7..=74 => "finished",
                75..=89 => "rejected",
                _ => "closed",
            }
        };
        let needed = if rng.below(20) == 0 { 2 } else { 1 };
        let a = rng.below(APPROVERS);
        let b = (a + 1 + rng.below(APPROVERS - 1)) % APPROVERS;
        let approvers: Vec<i64> = match status {
            "approved" | "finished" => [a, b][..needed as usize]
                .iter()
                .map(|k| approver(*k))
                .collect(),
            "rejected" => vec![approver(a)],
            // a third of the two-approval requests waiting have their first approval
            "wait_review" if needed == 2 && rng.below(3) == 0 => vec![approver(a)],
            _ => vec![],
        };
        let created = now - chrono::Duration::minutes(10 * (n - i) as i64);
        let payload = serde_json::to_string(&input(kind, i, &mut rng, requester(i % REQUESTERS)))
            .map_err(|e| e.to_string())?;
        plans.push(Plan {
            kind,
            creator,
            status,
            needed,
            approvers,
            created,
            payload,
        });
    }
    chunks(
        db,
        plans
            .iter()
            .map(|p| {
                let input: RequestInput = serde_json::from_str(&p.payload).unwrap_or_default();
                let done = matches!(p.status, "finished");
                rr::ActiveModel {
                    kind: Set(p.kind.as_str().into()),
                    creator_id: Set(p.creator),
                    status: Set(p.status.into()),
                    payload: Set(p.payload.clone()),
                    domain: Set(input.domain),
                    certificate_type: Set(input.certificate_type),
                    approvals_needed: Set(p.needed),
                    approvals_count: Set(p.approvers.len().min(if p.status == "rejected" {
                        0
                    } else {
                        2
                    }) as i32),
                    fulfilment_note: Set((p.status == "approved")
                        .then(|| "fulfilment pending: the DNS server is down".to_string())
                        .filter(|_| p.kind == RequestKind::Domain)),
                    created_at: Set(p.created),
                    updated_at: Set(p.created + chrono::Duration::hours(2)),
                    finished_at: Set(done.then(|| p.created + chrono::Duration::hours(5))),
                    ..Default::default()
                }
            })
            .collect(),
    )
    .await?;
    let first_request = rr::Entity::find()
        .order_by_asc(rr::Column::Id)
        .one(db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no request")?
        .id;
    let mut approvals = vec![];
    let mut events = vec![];
    let event = |id: i64, e: &str, actor: Option<i64>, detail: &str, at| ev::ActiveModel {
        subject_type: Set("resource_request".into()),
        subject_id: Set(id),
        event: Set(e.into()),
        actor_id: Set(actor),
        actor_name: Set(actor
            .map(|a| names[(a - first) as usize].clone())
            .unwrap_or_else(|| "system".into())),
        detail: Set(detail.into()),
        created_at: Set(at),
        ..Default::default()
    };
    for (i, p) in plans.iter().enumerate() {
        let id = first_request + i as i64;
        events.push(event(id, "filed", Some(p.creator), "", p.created));
        for (k, a) in p.approvers.iter().enumerate() {
            let at = p.created + chrono::Duration::minutes(30 * (k as i64 + 1));
            let reject = p.status == "rejected";
            approvals.push(approval::ActiveModel {
                subject_type: Set("resource_request".into()),
                subject_id: Set(id),
                approver_id: Set(*a),
                decision: Set(if reject { "reject" } else { "approve" }.into()),
                reason: Set(if reject { "not needed" } else { "" }.into()),
                created_at: Set(at),
                ..Default::default()
            });
            let detail = if reject {
                "not needed".to_string()
            } else {
                format!("{}/{}", k + 1, p.needed)
            };
            events.push(event(
                id,
                if reject { "rejected" } else { "approved" },
                Some(*a),
                &detail,
                at,
            ));
        }
        match p.status {
            "finished" => events.push(event(
                id,
                "finished",
                None,
                "fulfilled",
                p.created + chrono::Duration::hours(5),
            )),
            "closed" => events.push(event(
                id,
                "closed",
                Some(p.creator),
                "",
                p.created + chrono::Duration::hours(1),
            )),
            _ => {}
        }
    }
    chunks(db, approvals).await?;
    chunks(db, events).await?;
    Ok(vec![
        ("BENCH_APPROVER_TOKEN", approver(0), "bench-approver".into()),
        ("BENCH_REQ_TOKEN", bench_req, "bench-req".into()),
    ])
}
