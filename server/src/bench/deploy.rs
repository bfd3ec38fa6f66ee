//! The deploy tasks of the issue 10 benchmark (docs/benchmarks.md): `n` tasks over the
//! applications and two years, in the statuses a year of deploys leaves behind.
use super::{chunks, Rng};
use app::entities::deploy_task as dt;
use sea_orm::Set;

/// Writes `n` deploy tasks of applications `first_app ..= first_app + apps - 1`.
pub async fn seed(
    db: &sea_orm::DatabaseConnection,
    first_app: i64,
    apps: usize,
    creator: i64,
    n: usize,
) -> Result<(), String> {
    let mut rng = Rng(0xdec0_de00_5eed_0001);
    let start = chrono::Utc::now() - chrono::Duration::days(730);
    // Out of 100: what a deploy task becomes.
    let status = |r: usize| match r {
        0..=69 => "finished",
        70..=77 => "rejected",
        78..=84 => "closed",
        85..=92 => "wait_review",
        93..=97 => "approved",
        _ => "deploying",
    };
    let rows: Vec<dt::ActiveModel> = (0..n)
        .map(|i| {
            let at = start + chrono::Duration::seconds((i as i64) * 730 * 86_400 / n.max(1) as i64);
            let st = status(rng.below(100));
            let level = ["S", "A", "B", "C", "I"][rng.below(5)];
            dt::ActiveModel {
                app_id: Set(first_app + rng.below(apps) as i64),
                creator_id: Set(creator),
                delegate_id: Set(None),
                status: Set(st.into()),
                approvals_needed: Set(if matches!(level, "S" | "A") { 2 } else { 1 }),
                approvals_count: Set(if st == "wait_review" { 0 } else { 1 }),
                version: Set(format!("2026.{}.{}", i / 1000, i % 1000)),
                description: Set(format!("release {i}")),
                level: Set(level.into()),
                package_source: Set(format!("artifact:{}", 1 + i % 50)),
                planned_exec_time: Set(at),
                upgrade_checklist: Set(String::new()),
                upgrade_steps: Set(String::new()),
                rollback_steps: Set(String::new()),
                started_at: Set(None),
                started_by: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                finished_at: Set(None),
                ..Default::default()
            }
        })
        .collect();
    chunks(db, rows).await
}
