//! An all-or-nothing import validates without holding SQLite's write lock: other writers go on
//! while it checks the whole file (SQLite only: PostgreSQL's rolled-back validation transaction
//! never blocked other writers).
mod common;
use common::*;
use sea_orm::ConnectionTrait;
use serde_json::json;
use std::time::Duration;

fn progress(t: &TestApp, id: i64) -> u64 {
    t.ctx
        .progress
        .lock()
        .unwrap()
        .get(&id)
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_or_nothing_validation_lets_other_writers_go_on() {
    let t = TestApp::new(Backend::Sqlite).await;
    let mut csv = String::from("name,status\n");
    for i in 0..1500 {
        csv.push_str(&format!("v-{i},raw\n"));
    }
    csv.push_str("bad-row,gone\n");
    let r = t
        .post(
            "/api/imports/",
            t.admin(),
            json!({"kind": "hosts", "csv": csv, "all_or_nothing": true}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let id = r.json["id"].as_i64().unwrap();
    let ctx = t.ctx.clone();
    let job = tokio::spawn(async move { app::jobs::run_due(&ctx).await });
    // Once the validation pass runs, another connection writes, as any request would.
    for _ in 0..1000 {
        if progress(&t, id) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(progress(&t, id) > 0, "the validation pass never started");
    let other = app::db::connect(&t.ctx.config.database_url).await.unwrap();
    let held = tokio::time::timeout(Duration::from_secs(2), async {
        let txn = app::db::begin(&other).await.unwrap();
        txn.execute_unprepared("UPDATE users SET phone = phone WHERE id = 1")
            .await
            .unwrap();
        txn
    })
    .await
    .expect("a write waited for the import's validation pass");
    // And the validation pass goes on meanwhile.
    let at = progress(&t, id);
    let mut moved = false;
    for _ in 0..200 {
        if progress(&t, id) > at + 20 {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    held.commit().await.unwrap();
    assert!(
        moved,
        "the validation pass stopped while another connection wrote (row {at})"
    );
    job.await.unwrap().unwrap();
    let done = t.get(&format!("/api/imports/{id}/"), t.admin()).await.ok();
    assert_eq!(done["created"], 0, "{done}");
    assert!(
        done["message"]
            .as_str()
            .unwrap()
            .contains("nothing imported"),
        "{done}"
    );
    assert_eq!(t.get("/api/hosts/", t.admin()).await.ok()["count"], 0);
}
