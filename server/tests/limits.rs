//! Resource limits and hostile input (issue 8, review findings 1, 3, 7, 12): import caps (rows,
//! listed errors, addresses per host, names per `required_apps` cell), the job runner's give-up
//! and one-import-at-a-time rules, get-by-users' dedupe and cap, NUL characters, anonymous
//! imports refused before their body is read. Both databases.
mod common;
use axum::http::Method;
use common::*;
use leptos::server_fn::ServerFn;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{json, Value};

/// Queues an import as admin; answers its id (the job is not run).
async fn queue_import(t: &TestApp, kind: &str, csv: &str, all_or_nothing: bool) -> i64 {
    let r = t
        .post(
            "/api/imports/",
            t.admin(),
            json!({"kind": kind, "csv": csv, "all_or_nothing": all_or_nothing}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    r.json["id"].as_i64().unwrap()
}

async fn import_of(t: &TestApp, id: i64) -> Value {
    t.get(&format!("/api/imports/{id}/"), t.admin()).await.ok()
}

/// Queues an import, runs the jobs, answers the finished import.
async fn run_import(t: &TestApp, kind: &str, csv: &str, all_or_nothing: bool) -> Value {
    let id = queue_import(t, kind, csv, all_or_nothing).await;
    app::jobs::run_due(&t.ctx).await.unwrap();
    import_of(t, id).await
}

/// The job row of an import.
async fn job_of_import(t: &TestApp, import_id: i64) -> app::entities::job::Model {
    app::entities::job::Entity::find()
        .all(&t.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .find(|j| {
            serde_json::from_str::<Value>(&j.payload).unwrap()["import_id"].as_i64()
                == Some(import_id)
        })
        .expect("the import's job")
}

/// Sets a job `running` with `attempts`, its lock ending `lock_secs` from now (negative: lapsed,
/// as when its runner died).
async fn set_running(t: &TestApp, j: app::entities::job::Model, attempts: i32, lock_secs: i64) {
    let mut am: app::entities::job::ActiveModel = j.into();
    am.status = Set("running".into());
    am.attempts = Set(attempts);
    am.locked_until = Set(Some(
        app::time::now() + chrono::Duration::seconds(lock_secs),
    ));
    am.update(&t.ctx.db).await.unwrap();
}

fn ips(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"address": format!("10.9.{}.{}", i / 200, i % 200 + 1), "netmask": "16"}))
            .collect(),
    )
}

// ---- finding 12: anonymous imports ----------------------------------------------------------

both! {
    async fn anonymous_imports_are_refused_before_the_body_is_read(t: TestApp) {
        let mut csv = String::from("name,description\n");
        for i in 0..3000 {
            csv.push_str(&format!("anon-{i},{}\n", "d".repeat(1000)));
        }
        assert!(csv.len() > 3_000_000);
        let rpc = <app::bulk::api::StartImport as ServerFn>::PATH;
        for path in ["/api/imports/", rpc] {
            t.post(path, Auth::None, json!({"kind": "hosts", "csv": csv}))
                .await
                .err(401, 40100);
            // Refused before the body is looked at: neither its declared size nor its text
            // (unreadable JSON) matters to an anonymous caller.
            t.call_with(Method::POST, path, Auth::None, Some(json!({"x": 1})), &[("content-length", "30000000")])
                .await
                .err(401, 40100);
            let r = t
                .call_with(Method::POST, path, Auth::None, Some(Value::String(csv.clone())), &[])
                .await;
            r.err(401, 40100);
        }
        // A signed-in caller's oversized import is still 413.
        t.call_with(Method::POST, "/api/imports/", t.admin(), Some(json!({"x": 1})), &[("content-length", "30000000")])
            .await
            .err(413, 41300);
    }
}

// ---- finding 7: NUL characters --------------------------------------------------------------

both! {
    async fn nul_characters_are_refused_with_400(t: TestApp) {
        // Anonymous login.
        let r = t
            .post("/api/auth/login/", Auth::None, json!({"username": "a\u{0}", "password": "x"}))
            .await;
        assert!(r.json["message"].as_str().unwrap().contains("NUL"), "{}", r.json);
        r.err(400, 40000);
        // A list's ?q=.
        t.get("/api/hosts/?q=web%00", t.admin()).await.err(400, 40000);
        t.get("/api/applications/?name=%00", t.admin()).await.err(400, 40000);
        // A PATCH body.
        let h = t.post("/api/hosts/", t.admin(), json!({"name": "nul-1"})).await.ok();
        let path = format!("/api/hosts/{}/", h["id"]);
        t.call(Method::PATCH, &path, t.admin(), Some(json!({"description": "a\u{0}b"})))
            .await
            .err(400, 40000);
        // A path.
        t.get("/api/hosts/1%00/", t.admin()).await.err(400, 40000);
        // A server function.
        let create = <app::productions::api::CreateProduction as ServerFn>::PATH;
        let r = t.post(create, t.admin(), json!({"input": {"name": "line\u{0}"}})).await;
        assert_eq!(r.status, 400, "{}", r.json);
        assert_eq!(r.json["error_code"], 40000, "{}", r.json);
        // An import's file.
        t.post("/api/imports/", t.admin(), json!({"kind": "hosts", "csv": "name\nx\u{0}y\n"}))
            .await
            .err(400, 40000);
        // Nothing was written; a written-out `\u0000` (backslash and text) is plain text.
        let l = t.get("/api/productions/", t.admin()).await.ok();
        assert_eq!(l["count"], 0);
        let r = t
            .call(Method::PATCH, &path, t.admin(), Some(json!({"description": "C:\\u0000"})))
            .await
            .ok();
        assert_eq!(r["description"], "C:\\u0000");
    }
}

both! {
    async fn nul_reaching_the_database_is_a_validation_error(b: Backend) {
        // The backstop behind the extractors: text with a NUL that reaches PostgreSQL is a 400,
        // not a 500 (SQLite stores it).
        let t = TestApp::new(b).await;
        use sea_orm::{ColumnTrait, QueryFilter};
        let r: Result<_, app::error::AppError> = app::entities::user::Entity::find()
            .filter(app::entities::user::Column::Username.eq("a\u{0}b"))
            .one(&t.ctx.db)
            .await
            .map_err(Into::into);
        match b {
            Backend::Sqlite => assert!(r.is_ok(), "{:?}", r.err()),
            Backend::Postgres => {
                let e = r.err().expect("PostgreSQL refuses NUL in text");
                assert_eq!(e.code, app::error::ErrorCode::Validation, "{e:?}");
                assert!(e.message.contains("NUL"), "{e:?}");
            }
        }
    }
}

// ---- finding 3: get-by-users ----------------------------------------------------------------

both! {
    async fn get_by_users_dedupes_and_caps_the_list(t: TestApp) {
        let (uid, token) = t.user("many").await;
        // Thousands of copies of your own id (no view_users needed) are one question.
        let mine: Vec<Value> = (0..3000).map(|_| json!({"id": uid})).collect();
        let r = t.post("/api/applications/get-by-users/", Auth::Token(&token), Value::Array(mine)).await.ok();
        assert_eq!(r.as_array().unwrap().len(), 1, "{r}");
        assert_eq!(r[0]["user_id"], uid);
        // At most 50 distinct users.
        let many: Vec<Value> = (0..51).map(|i| json!({"id": 100_000 + i})).collect();
        let e = t
            .post("/api/applications/get-by-users/", t.admin(), Value::Array(many))
            .await
            .err(400, 40000);
        assert_eq!(e["field"], "users", "{e}");
        let ok: Vec<Value> = (0..50).map(|_| json!({"id": t.admin_id})).chain([json!({"id": uid})]).collect();
        let r = t.post("/api/applications/get-by-users/", t.admin(), Value::Array(ok)).await.ok();
        assert_eq!(r.as_array().unwrap().len(), 2, "{r}");
    }
}

// ---- finding 1: imports ---------------------------------------------------------------------

both! {
    async fn imports_cap_rows_and_listed_errors(t: TestApp) {
        // More than 50,000 rows: refused when queued, nothing stored.
        let mut csv = String::from("name\n");
        for i in 0..50_001 {
            csv.push_str(&format!("h{i}\n"));
        }
        let e = t
            .post("/api/imports/", t.admin(), json!({"kind": "hosts", "csv": csv}))
            .await
            .err(400, 40000);
        assert_eq!(e["field"], "csv", "{e}");
        assert!(e["message"].as_str().unwrap().contains("50000"), "{e}");
        assert_eq!(t.get("/api/imports/", t.admin()).await.ok()["count"], 0);

        // 1,100 refused rows: the first 1,000 are listed, the message counts them all.
        let mut csv = String::from("name,cpu\n");
        for i in 0..1100 {
            csv.push_str(&format!("bad-{i},many\n"));
        }
        let r = run_import(&t, "hosts", &csv, false).await;
        assert_eq!(r["status"], "done", "{r}");
        assert_eq!(r["errors"].as_array().unwrap().len(), 1000);
        assert_eq!(r["errors"][999]["line"], 1001);
        assert!(r["message"].as_str().unwrap().contains("1100 rows were refused"), "{}", r["message"]);
        let r = run_import(&t, "hosts", &csv, true).await;
        assert_eq!(r["errors"].as_array().unwrap().len(), 1000);
        let m = r["message"].as_str().unwrap();
        assert!(m.contains("nothing imported") && m.contains("1100 rows were refused"), "{m}");
        // A file without refusals has no message.
        let r = run_import(&t, "hosts", "name\nfine-1\n", false).await;
        assert_eq!((r["created"].as_u64(), r["message"].as_str()), (Some(1), None), "{r}");
    }
}

both! {
    async fn hosts_carry_at_most_64_addresses(t: TestApp) {
        // API: 65 refused, 64 taken.
        let e = t
            .post("/api/hosts/", t.admin(), json!({"name": "wide-1", "ip_address": ips(65)}))
            .await
            .err(400, 40000);
        assert_eq!(e["field"], "ip_address", "{e}");
        assert!(e["message"].as_str().unwrap().contains("64"), "{e}");
        let h = t.post("/api/hosts/", t.admin(), json!({"name": "wide-2", "ip_address": ips(64)})).await.ok();
        assert_eq!(h["ip_address"].as_array().unwrap().len(), 64);
        // Duplicates are still found (by network and address).
        let mut dup = ips(3);
        dup.as_array_mut().unwrap().push(json!({"address": "10.9.0.2", "netmask": "16"}));
        let e = t
            .post("/api/hosts/", t.admin(), json!({"name": "dup-1", "ip_address": dup}))
            .await
            .err(400, 40000);
        assert!(e["message"].as_str().unwrap().contains("listed twice"), "{e}");
        // CSV: a cell of 65 entries refuses its row.
        let cell: Vec<String> = (0..65).map(|i| format!("10.8.0.{}/16", i + 1)).collect();
        let csv = format!("name,ip_addresses\nwide-3,{}\nnarrow-1,10.7.0.1/16\n", cell.join("; "));
        let r = run_import(&t, "hosts", &csv, false).await;
        assert_eq!(r["created"], 1, "{r}");
        assert_eq!(r["errors"][0]["line"], 2, "{r}");
        assert_eq!(r["errors"][0]["field"], "ip_addresses", "{r}");
        assert!(r["errors"][0]["message"].as_str().unwrap().contains("at most 64"), "{r}");
    }
}

both! {
    async fn required_apps_cells_hold_at_most_64_names(t: TestApp) {
        let names: Vec<String> = (0..65).map(|i| format!("dep{i}")).collect();
        let mut csv = String::from("full_name,required_apps\n");
        for n in &names {
            csv.push_str(&format!("{n},\n"));
        }
        csv.push_str(&format!("top,{}\n", names.join(";")));
        csv.push_str(&format!("fine,{}\n", names[..64].join(";")));
        let r = run_import(&t, "applications", &csv, false).await;
        assert_eq!(r["created"], 67, "{r}");
        let errors = r["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{r}");
        assert_eq!(errors[0]["line"], 67);
        assert_eq!(errors[0]["field"], "required_apps");
        assert!(errors[0]["message"].as_str().unwrap().contains("at most 64"), "{r}");
    }
}

both! {
    async fn a_job_whose_runner_died_on_its_last_attempt_is_failed_not_rerun(t: TestApp) {
        // An import that took its process down on both attempts (lock lapsed, attempts used).
        let id = queue_import(&t, "hosts", "name\ncrash-1\n", false).await;
        let j = job_of_import(&t, id).await;
        assert_eq!(j.max_attempts, 2, "an import is re-run once");
        let mut am: app::entities::import::ActiveModel = app::entities::import::Entity::find_by_id(id)
            .one(&t.ctx.db).await.unwrap().unwrap().into();
        am.status = Set("running".into());
        am.update(&t.ctx.db).await.unwrap();
        set_running(&t, j.clone(), 2, -60).await;
        // A mail job likewise, after its 5 attempts.
        let mail = app::jobs::enqueue(&t.ctx.db, "mail", &app::mail::Mail {
            to: "someone@example.test".into(), subject: "lost".into(), body: "secret-body".into(), html: None,
        }).await.unwrap();
        let m = job(&t, mail).await;
        assert_eq!(m.max_attempts, 5);
        set_running(&t, m, 5, -60).await;

        assert_eq!(app::jobs::run_due(&t.ctx).await.unwrap(), 0, "nothing is claimed again");
        let j = job(&t, j.id).await;
        assert_eq!((j.status.as_str(), j.attempts), ("failed", 2));
        assert!(j.last_error.unwrap().contains("not retried"));
        let m = job(&t, mail).await;
        assert_eq!((m.status.as_str(), m.attempts), ("failed", 5));
        assert!(!m.payload.contains("secret-body"), "{}", m.payload);
        let r = import_of(&t, id).await;
        assert_eq!(r["status"], "failed", "{r}");
        assert!(r["message"].as_str().unwrap().contains("stopped"), "{r}");
        assert_eq!(t.get("/api/hosts/?name=crash", t.admin()).await.ok()["count"], 0);
    }
}

both! {
    async fn imports_run_one_at_a_time_and_leave_slots_for_mail(t: TestApp) {
        // Import A is running (its runner's lock is live); import B and a mail are queued.
        let a = queue_import(&t, "hosts", "name\nfirst-1\n", false).await;
        let ja = job_of_import(&t, a).await;
        set_running(&t, ja.clone(), 1, 300).await;
        let b = queue_import(&t, "hosts", "name\nsecond-1\n", false).await;
        let mail = app::jobs::enqueue(&t.ctx.db, "mail", &app::mail::Mail {
            to: "someone@example.test".into(), subject: "reset".into(), body: "b".into(), html: None,
        }).await.unwrap();
        assert_eq!(app::jobs::run_due(&t.ctx).await.unwrap(), 1, "only the mail runs");
        assert_eq!(job(&t, mail).await.status, "done");
        assert_eq!(import_of(&t, b).await["status"], "queued");
        // A's runner dies (its lock lapses): A runs again, then B.
        set_running(&t, job(&t, ja.id).await, 1, -1).await;
        assert_eq!(app::jobs::run_due(&t.ctx).await.unwrap(), 2);
        assert_eq!(import_of(&t, a).await["status"], "done");
        assert_eq!(import_of(&t, b).await["status"], "done");
    }
}

both! {
    async fn lists_of_objects_are_capped_per_request(t: TestApp) {
        let a = t.post("/api/applications/", t.admin(), serde_json::json!({"name": "capped"})).await.ok()["id"].as_i64().unwrap();
        let ids: Vec<serde_json::Value> = (0..501).map(|i| serde_json::json!({"id": 100000 + i})).collect();
        for path in [
            format!("/api/applications/{a}/required-apps/"),
            format!("/api/applications/{a}/child-apps/"),
            format!("/api/applications/{a}/response-person/"),
        ] {
            let e = t.post(&path, t.admin(), serde_json::Value::Array(ids.clone())).await.err(400, 40000);
            assert_eq!(e["field"], "items", "{path}: {e}");
        }
        // 500 is still taken (all missing here, so refused for that reason instead).
        let e = t.post(&format!("/api/applications/{a}/required-apps/"), t.admin(), serde_json::Value::Array(ids[..500].to_vec())).await.err(400, 40000);
        assert_ne!(e["field"], "items");
    }
}

both! {
    async fn imports_refuse_repeated_columns_and_long_queues_and_keep_no_files(t: TestApp) {
        use sea_orm::EntityTrait;
        let e = t.post("/api/imports/", t.admin(), serde_json::json!({"kind": "hosts", "csv": "name,cpu,cpu\nx,1,2\n"})).await.err(400, 40000);
        assert_eq!(e["field"], "csv", "{e}");
        // Three imports may wait; a fourth is refused until one finishes.
        for i in 0..3 {
            let r = t.post("/api/imports/", t.admin(), serde_json::json!({"kind": "hosts", "csv": format!("name,status\nq-{i},raw\n"), "all_or_nothing": true})).await;
            assert_eq!(r.status, 202, "{}", r.json);
        }
        t.post("/api/imports/", t.admin(), serde_json::json!({"kind": "hosts", "csv": "name\nq-9\n"})).await.err(429, 42900);
        app::jobs::run_due(&t.ctx).await.unwrap();
        t.post("/api/imports/", t.admin(), serde_json::json!({"kind": "hosts", "csv": "name\nq-9\n"})).await;
        app::jobs::run_due(&t.ctx).await.unwrap();
        // Finished imports keep their result, not their file.
        for m in app::entities::import::Entity::find().all(&t.ctx.db).await.unwrap() {
            assert_eq!(m.status, "done", "{m:?}");
            assert!(m.content.is_empty(), "import {} kept its file", m.id);
        }
        assert_eq!(t.get("/api/hosts/", t.admin()).await.ok()["count"], 4);
        // No copy of the database is left beside it (SQLite validates on a copy).
        let dir = t.dir.clone();
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with(".opsdeck-import-check-")).collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
