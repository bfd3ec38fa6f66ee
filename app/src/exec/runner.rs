//! Runs: durable executions of steps on hosts.
//!
//! A run is created with its targets (one per host, or per instance) and its steps in one
//! transaction with its audit record and a `run` job (`create`). The job executes it once
//! (`execute`): it takes the run (owner, lease), fans out over the targets with the run's
//! concurrency, runs each target's steps over one SSH connection, streams their output
//! (`output`), and writes each target's result with its audit record. A run is `running` until
//! every target ended; then `finished` if all finished, else `failed`.
//!
//! Each remote step runs as `timeout -k 10 <T> bash -c <script>` after writing its process
//! group to a pid file, so the remote side stops at its deadline even if Opsdeck died, and a
//! cancel or a timeout seen here kills the whole group over a second channel.
//!
//! Nothing stays `running`: the lease is renewed every 10 s while the run executes, and runs
//! whose lease lapsed (their process died) or whose process is gone (a restart) are failed as
//! `interrupted` with the output kept (`recover`).
use super::hub::Frame;
use super::output::{event_frame, Out, Redactor};
use super::ssh::{self, SshError, Stream};
use crate::audit::service::{record, Entry};
use crate::ctx::{Actor, Ctx};
use crate::entities::{run, run_target};
use crate::error::{AppError, AppResult};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Run kind: an SSH check of a host (`credentials::service::check_ssh`).
pub const SSH_CHECK: &str = "ssh_check";

/// The job kind that executes runs.
pub const JOB: &str = "run";
/// How long a run's owner holds it without renewing.
const LEASE: Duration = Duration::from_secs(30);
/// How often the owner renews its lease and looks for a cancel.
const TICK: Duration = Duration::from_secs(2);
/// Error code of a target that failed on the executor's side (seed 003: 30001).
pub const EXEC_FAILED: i32 = 30001;
/// Error code of a target whose host key changed.
pub const HOST_KEY_CHANGED: i32 = 40910;
/// What interrupted runs and targets say.
pub const INTERRUPTED: &str = "interrupted";

/// A remote step: a script run by bash on the host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    pub name: String,
    pub script: String,
    /// Seconds; default the run's timeout.
    #[serde(default)]
    pub timeout_secs: Option<u32>,
}

/// A host (and instance) a run acts on.
#[derive(Debug, Clone)]
pub struct NewTarget {
    pub host_id: i64,
    pub host_name: String,
    pub instance_id: Option<i64>,
}

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub kind: String,
    pub subject: Option<(String, i64)>,
    pub steps: Vec<Step>,
    pub targets: Vec<NewTarget>,
    /// Targets at once (1–200).
    pub concurrency: i32,
    /// Stop starting targets after the first failure (else go on).
    pub stop_on_failure: bool,
    pub timeout_secs: i32,
    /// More of what the kind needs, kept in `runs.opts` next to `steps`.
    pub extra: Value,
}

/// The steps and extras of a run, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Opts {
    #[serde(default)]
    pub steps: Vec<Step>,
    #[serde(default)]
    pub extra: Value,
}

/// Creates a run on `txn` with its targets, audit record and job; the caller (a service fn
/// that authorized the work) commits, then calls `ctx.jobs_notify.notify_one()`.
pub async fn create<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    r: NewRun,
) -> AppResult<run::Model> {
    insert(txn, actor, r, false).await
}

/// Records work that was done in the caller's transaction (a status change) as a finished run
/// with finished targets, so it is listed and answered like any task; no job.
pub async fn create_done<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    r: NewRun,
) -> AppResult<run::Model> {
    insert(txn, actor, r, true).await
}

async fn insert<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    r: NewRun,
    done: bool,
) -> AppResult<run::Model> {
    let now = crate::time::now();
    let (status, target_status, ended) = if done {
        ("finished", "finished", Some(now))
    } else {
        ("running", "pending", None)
    };
    let opts = Opts {
        steps: r.steps.clone(),
        extra: r.extra.clone(),
    };
    let row = run::ActiveModel {
        kind: Set(r.kind.clone()),
        status: Set(status.into()),
        creator_id: Set((actor.id > 0).then_some(actor.id)),
        subject_type: Set(r.subject.as_ref().map(|s| s.0.clone())),
        subject_id: Set(r.subject.as_ref().map(|s| s.1)),
        opts: Set(serde_json::to_string(&opts).map_err(AppError::internal)?),
        concurrency: Set(r.concurrency.clamp(1, 200)),
        on_failure: Set(if r.stop_on_failure {
            "stop"
        } else {
            "continue"
        }
        .into()),
        timeout_secs: Set(r.timeout_secs.clamp(1, 86_400)),
        cancel_requested: Set(false),
        cancelled_by: Set(None),
        error: Set(None),
        owner: Set(None),
        lease_until: Set(None),
        total: Set(r.targets.len() as i32),
        done: Set(if done { r.targets.len() as i32 } else { 0 }),
        failed: Set(0),
        created_at: Set(now),
        started_at: Set(ended),
        finished_at: Set(ended),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let steps_total = r.steps.len() as i32;
    for (seq, t) in r.targets.iter().enumerate() {
        run_target::ActiveModel {
            run_id: Set(row.id),
            seq: Set(seq as i32),
            host_id: Set(t.host_id),
            host_name: Set(t.host_name.clone()),
            instance_id: Set(t.instance_id),
            status: Set(target_status.into()),
            step: Set(if done { steps_total } else { 0 }),
            steps_total: Set(steps_total),
            exit_code: Set(None),
            error_code: Set(None),
            error: Set(None),
            step_name: Set(if done {
                r.steps.first().map(|s| s.name.clone()).unwrap_or_default()
            } else {
                String::new()
            }),
            started_at: Set(ended),
            finished_at: Set(ended),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    record(
        txn,
        actor,
        Entry::new("task", "create")
            .target("task", Some(row.id), &r.kind)
            .detail(json!({
                "kind": r.kind,
                "hosts": r.targets.iter().map(|t| &t.host_name).collect::<Vec<_>>(),
                "steps": r.steps.iter().map(|s| &s.name).collect::<Vec<_>>(),
                "subject": r.subject.as_ref().map(|s| json!({"type": s.0, "id": s.1})),
            })),
    )
    .await?;
    if !done {
        crate::jobs::enqueue(txn, JOB, &json!({"run_id": row.id})).await?;
    }
    Ok(row)
}

/// `host/pid/instance` of this process, as runs record their owner.
pub fn owner_of(ctx: &Ctx) -> String {
    format!("{}/{}/{}", hostname(), std::process::id(), ctx.instance)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Shell-quotes a word (single quotes).
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// What one target's steps came to.
pub(super) struct Outcome {
    pub ok: bool,
    pub exit_code: Option<i32>,
    pub error_code: Option<i32>,
    pub error: Option<String>,
}

impl Outcome {
    pub(super) fn success() -> Self {
        Outcome {
            ok: true,
            exit_code: None,
            error_code: None,
            error: None,
        }
    }
    pub(super) fn failed(code: i32, error: impl Into<String>) -> Self {
        Outcome {
            ok: false,
            exit_code: None,
            error_code: Some(code),
            error: Some(error.into()),
        }
    }
}

/// Everything a target's execution shares with the others of its run.
pub(super) struct Exec {
    pub ctx: Ctx,
    pub run: run::Model,
    steps: Vec<Step>,
    /// What the run's kind keeps next to its steps (`runs.opts`).
    pub extra: Value,
    pub out: Out,
    pub cancel: watch::Receiver<Option<String>>,
    /// Set after a failure of a stop-on-failure run, or a cancel: pending targets are skipped.
    halt: AtomicBool,
    /// This process, as the run's owner.
    me: String,
    /// Whether this run may trust a host key on first contact (`may_pin_first`).
    may_pin_first: bool,
    /// Work done once per run by whichever target gets there first (a deploy's package).
    pub once: tokio::sync::OnceCell<Result<String, String>>,
    /// A second such piece of work (a deploy's `global_pre_exec`).
    pub once_more: tokio::sync::OnceCell<Result<(), String>>,
    /// Targets whose own steps succeeded so far.
    pub succeeded: std::sync::atomic::AtomicUsize,
}

/// Ends what `execute` started when it returns early or panics: the lease keeper stops and
/// the run's live channel closes, so followers fall back to the database.
struct Started {
    ctx: Ctx,
    run_id: i64,
    keeper: tokio::task::JoinHandle<()>,
}

impl Drop for Started {
    fn drop(&mut self) {
        self.keeper.abort();
        self.ctx.hub.close(self.run_id);
    }
}

/// Executes a run (the `run` job). Answers an error only when the run could not be recorded.
pub async fn execute(ctx: &Ctx, run_id: i64) -> Result<(), String> {
    let now = crate::time::now();
    let me = owner_of(ctx);
    // Take the run: only one process executes it, once.
    let took = run::Entity::update_many()
        .col_expr(run::Column::Owner, Expr::value(me.clone()))
        .col_expr(run::Column::StartedAt, Expr::value(now))
        .col_expr(
            run::Column::LeaseUntil,
            Expr::value(now + chrono::Duration::from_std(LEASE).unwrap_or_default()),
        )
        .filter(run::Column::Id.eq(run_id))
        .filter(run::Column::Status.eq("running"))
        .filter(run::Column::Owner.is_null())
        .exec(&ctx.db)
        .await
        .map_err(|e| e.to_string())?;
    if took.rows_affected != 1 {
        return Ok(());
    }
    let r = run::Entity::find_by_id(run_id)
        .one(&ctx.db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("run vanished")?;
    // Steps that do not read are not "no steps": the run fails (interrupted) instead.
    let opts: Opts = serde_json::from_str(&r.opts)
        .map_err(|e| format!("run {run_id}: unreadable steps: {e}"))?;
    let targets = run_target::Entity::find()
        .filter(run_target::Column::RunId.eq(run_id))
        .order_by_asc(run_target::Column::Seq)
        .all(&ctx.db)
        .await
        .map_err(|e| e.to_string())?;
    let may_pin_first = crate::credentials::service::may_pin_first(ctx, r.creator_id).await;
    let live = ctx.hub.open(run_id);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let writer = tokio::spawn(super::output::writer(ctx.clone(), run_id, rx, live.clone()));
    let (cancel_tx, cancel_rx) = watch::channel(None);
    let ex = Arc::new(Exec {
        ctx: ctx.clone(),
        run: r.clone(),
        steps: opts.steps,
        extra: opts.extra,
        out: Out { tx },
        cancel: cancel_rx,
        halt: AtomicBool::new(false),
        me: me.clone(),
        may_pin_first,
        once: Default::default(),
        once_more: Default::default(),
        succeeded: Default::default(),
    });
    let started = Started {
        ctx: ctx.clone(),
        run_id,
        keeper: tokio::spawn(keep_lease(ctx.clone(), run_id, me.clone(), cancel_tx)),
    };
    let slots = Arc::new(Semaphore::new(r.concurrency.clamp(1, 200) as usize));
    let mut set = tokio::task::JoinSet::new();
    // Targets start in their order: each waits for a slot before the next one is looked at.
    for t in targets {
        let slot = slots.clone().acquire_owned().await;
        let ex = ex.clone();
        set.spawn(async move {
            let _slot = slot;
            target(&ex, t).await;
        });
    }
    while let Some(j) = set.join_next().await {
        if let Err(e) = j {
            tracing::error!(run = run_id, error = %e, "run target task");
        }
    }
    started.keeper.abort();
    let cancelled = ex.cancel.borrow().clone();
    let out = ex.out.clone();
    drop(ex);
    drop(out);
    let _ = writer.await;
    let end = finish_run(ctx, run_id, &me, cancelled).await;
    match end {
        Ok(Some(f)) => {
            let _ = live.send(f);
        }
        Ok(None) => {}
        Err(e) => tracing::error!(run = run_id, error = %e, "recording a run's end"),
    }
    drop(started);
    Ok(())
}

/// Renews the run's lease and watches for a cancel until aborted.
async fn keep_lease(ctx: Ctx, run_id: i64, me: String, cancel: watch::Sender<Option<String>>) {
    let mut since_renew = Duration::ZERO;
    loop {
        tokio::time::sleep(TICK).await;
        since_renew += TICK;
        if since_renew >= Duration::from_secs(10) {
            since_renew = Duration::ZERO;
            let until = crate::time::now() + chrono::Duration::from_std(LEASE).unwrap_or_default();
            let r = run::Entity::update_many()
                .col_expr(run::Column::LeaseUntil, Expr::value(until))
                .filter(run::Column::Id.eq(run_id))
                .filter(run::Column::Owner.eq(me.clone()))
                .filter(run::Column::Status.eq("running"))
                .exec(&ctx.db)
                .await;
            match r {
                // Failed meanwhile (its lease lapsed and it was recovered as interrupted):
                // stop, so nothing more runs on hosts for a task that shows failed.
                Ok(r) if r.rows_affected == 0 => {
                    tracing::error!(
                        run = run_id,
                        "run lost its lease while executing; stopping it"
                    );
                    let _ = cancel.send(Some(INTERRUPTED.into()));
                    return;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(run = run_id, error = %e, "renewing a run's lease"),
            }
        }
        if cancel.borrow().is_some() {
            continue;
        }
        match run::Entity::find_by_id(run_id).one(&ctx.db).await {
            Ok(Some(r)) if r.cancel_requested => {
                let by = ctx
                    .names
                    .name_of(&ctx.db, r.cancelled_by)
                    .await
                    .unwrap_or_default();
                let _ = cancel.send(Some(format!("cancelled by {by}")));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(run = run_id, error = %e, "reading a run"),
        }
    }
}

/// The frame of a target's state.
pub fn target_frame(t: &run_target::Model) -> Frame {
    event_frame(
        "target",
        Some(t.id),
        json!({
            "type": "target",
            "target_id": t.id,
            "host": {"id": t.host_id, "name": t.host_name},
            "instance_id": t.instance_id,
            "status": t.status,
            "step": t.step,
            "steps_total": t.steps_total,
            "step_name": t.step_name,
            "exit_code": t.exit_code,
            "error_code": t.error_code,
            "error": t.error,
        }),
    )
}

async fn set_target(ex: &Exec, t: &mut run_target::Model, f: impl FnOnce(&mut run_target::Model)) {
    f(t);
    let am: run_target::ActiveModel = t.clone().into();
    let am = am.reset_all();
    if let Err(e) = am.update(&ex.ctx.db).await {
        tracing::error!(run = ex.run.id, target = t.id, error = %e, "recording a target's progress");
    }
    ex.out.frame(target_frame(t));
}

/// Runs one target: skipped when the run halted, else connect and run every step.
async fn target(ex: &Exec, mut t: run_target::Model) {
    if ex.halt.load(Ordering::SeqCst) || ex.cancel.borrow().is_some() {
        let why = ex
            .cancel
            .borrow()
            .clone()
            .unwrap_or_else(|| "skipped after an earlier failure".into());
        end_target(ex, &mut t, "skipped", Outcome::failed(EXEC_FAILED, why)).await;
        return;
    }
    let now = crate::time::now();
    set_target(ex, &mut t, |t| {
        t.status = "running".into();
        t.started_at = Some(now);
    })
    .await;
    let outcome = match super::power::of(ex) {
        Some(p) => super::power::target(ex, &mut t, p).await,
        None if ex.run.kind == super::init::HOST_INIT => super::init::target(ex, &mut t).await,
        None if super::deploy::is_deploy(&ex.run.kind) => super::deploy::target(ex, &mut t).await,
        None => steps(ex, &mut t, &ex.steps).await,
    };
    if !outcome.ok && ex.run.on_failure == "stop" {
        ex.halt.store(true, Ordering::SeqCst);
    }
    let status = if outcome.ok { "finished" } else { "failed" };
    if let Some(e) = &outcome.error {
        ex.out.system(t.id, e);
    }
    end_target(ex, &mut t, status, outcome).await;
}

/// Connects (pinning the host key on first contact) and runs the steps.
pub(super) async fn steps(ex: &Exec, t: &mut run_target::Model, steps: &[Step]) -> Outcome {
    let (session, secrets) = match open(ex, t).await {
        Ok(s) => s,
        Err(o) => return o,
    };
    let mut outcome = Outcome::success();
    for (i, s) in steps.iter().enumerate() {
        let o = step(ex, t, &session, i, s, &secrets).await;
        outcome.exit_code = o.exit_code;
        if !o.ok {
            outcome = o;
            break;
        }
    }
    session.close().await;
    outcome
}

/// Connects to a target's host (pinning its key on first contact); answers the session and the
/// secrets its output must not show.
pub(super) async fn open(
    ex: &Exec,
    t: &run_target::Model,
) -> Result<(ssh::Session, Vec<String>), Outcome> {
    let ctx = &ex.ctx;
    let resolved = crate::credentials::service::resolve(ctx, t.host_id)
        .await
        .map_err(|e| Outcome::failed(EXEC_FAILED, e))?;
    let opts = ssh::Options::of(&ctx.config);
    let endpoint = resolved.target.endpoint();
    ex.out.system(
        t.id,
        &format!("connecting to {endpoint} as {}", resolved.target.username),
    );
    let session = connect(ex, t, &opts, &resolved.target, &endpoint).await?;
    Ok((session, resolved.secrets))
}

/// Runs step number `i` (0-based) of a target on its session, showing it as the target's
/// progress; a cancel seen before it starts fails it.
pub(super) async fn step(
    ex: &Exec,
    t: &mut run_target::Model,
    session: &ssh::Session,
    i: usize,
    step: &Step,
    secrets: &[String],
) -> Outcome {
    if let Some(why) = ex.cancel.borrow().clone() {
        return Outcome::failed(EXEC_FAILED, why);
    }
    set_progress(ex, t, i, &step.name).await;
    let secs = step
        .timeout_secs
        .map_or(Ord::max(ex.run.timeout_secs, 1) as u32, |s| Ord::max(s, 1));
    run_step(ex, t.id, session, step, secs, secrets).await
}

/// Shows step number `i` (0-based) as the target's progress.
pub(super) async fn set_progress(ex: &Exec, t: &mut run_target::Model, i: usize, name: &str) {
    set_target(ex, t, |t| {
        t.step = i as i32 + 1;
        t.step_name = name.to_string();
    })
    .await;
}

async fn connect(
    ex: &Exec,
    t: &run_target::Model,
    opts: &ssh::Options,
    target: &ssh::Target,
    endpoint: &str,
) -> Result<ssh::Session, Outcome> {
    let ctx = &ex.ctx;
    let internal = |e: AppError| Outcome::failed(EXEC_FAILED, e.message);
    let mut pinned = crate::credentials::service::pinned(ctx, t.host_id, endpoint)
        .await
        .map_err(internal)?;
    if pinned.is_none() && !ex.may_pin_first {
        return Err(Outcome::failed(
            EXEC_FAILED,
            format!(
                "no host key is pinned for host {} yet: a host manager must check its SSH access first",
                t.host_name
            ),
        ));
    }
    if pinned.is_none() && matches!(target.login, ssh::Login::Password(_)) {
        // First contact with a password: pin the key the host offers before sending it.
        let key = ssh::fetch_host_key(opts, &target.address, target.port)
            .await
            .map_err(ssh_failed)?;
        pinned = Some(
            crate::credentials::service::pin(ctx, t.host_id, endpoint, &key)
                .await
                .map_err(internal)?,
        );
        ex.out.system(
            t.id,
            &format!("pinned the host key {} (first contact)", key.fingerprint),
        );
    }
    match ssh::connect(opts, target, pinned.as_deref()).await {
        Ok(s) => {
            // First contact, or the host's known key at a new address: pin it there.
            crate::credentials::service::pin(ctx, t.host_id, endpoint, &s.host_key)
                .await
                .map_err(internal)?;
            if pinned.is_none() {
                ex.out.system(
                    t.id,
                    &format!(
                        "pinned the host key {} (first contact)",
                        s.host_key.fingerprint
                    ),
                );
            }
            Ok(s)
        }
        Err(e) => {
            if let SshError::HostKeyChanged { offered, .. } = &e {
                let expected = pinned.as_deref().unwrap_or_default();
                if let Err(err) = crate::credentials::service::offered(
                    ctx, t.host_id, endpoint, expected, offered,
                )
                .await
                {
                    tracing::error!(error = %err, "recording an offered host key");
                }
            }
            Err(ssh_failed(e))
        }
    }
}

fn ssh_failed(e: SshError) -> Outcome {
    let code = match e {
        SshError::HostKeyChanged { .. } => HOST_KEY_CHANGED,
        _ => EXEC_FAILED,
    };
    Outcome::failed(code, e.message())
}

/// Runs one step with its deadline; a cancel or a deadline kills its remote process group.
async fn run_step(
    ex: &Exec,
    target_id: i64,
    session: &ssh::Session,
    step: &Step,
    secs: u32,
    secrets: &[String],
) -> Outcome {
    // Named by this process too: another Opsdeck (another database) has the same run ids.
    let pidfile = format!(
        "$HOME/.opsdeck/{}-{}-{}.pid",
        ex.ctx.instance, ex.run.id, target_id
    );
    let command = format!(
        "umask 077 && mkdir -p \"$HOME/.opsdeck\" && echo $$ > \"{pidfile}\" && exec timeout -k 10 {secs} bash -c {}",
        quote(&step.script)
    );
    let mut so = Redactor::new(secrets);
    let mut se = Redactor::new(secrets);
    let out = ex.out.clone();
    let mut cancel = ex.cancel.clone();
    let result = {
        let exec = session.exec(&command, |s, d| match s {
            Stream::Stdout => out.output(target_id, "stdout", so.push(d)),
            Stream::Stderr => out.output(target_id, "stderr", se.push(d)),
        });
        tokio::select! {
            r = exec => Ok(r),
            _ = tokio::time::sleep(Duration::from_secs(secs as u64 + 15)) => {
                Err(format!("step {} timed out after {secs} s", step.name))
            }
            c = cancel.wait_for(|c| c.is_some()) => {
                Err(c.map(|c| c.clone().unwrap_or_default()).unwrap_or_default())
            }
        }
    };
    out.output(target_id, "stdout", so.finish());
    out.output(target_id, "stderr", se.finish());
    if result.is_ok() {
        let _ = session.run(&format!("rm -f \"{pidfile}\"")).await;
    }
    match result {
        Ok(Ok(exit)) if exit.success() => Outcome {
            ok: true,
            exit_code: Some(0),
            error_code: None,
            error: None,
        },
        Ok(Ok(exit)) => {
            let code = exit.code.map(|c| c as i32);
            let error = match (code, &exit.signal) {
                (Some(124), _) | (Some(137), _) => {
                    format!("step {} timed out after {secs} s", step.name)
                }
                (_, Some(sig)) => format!("step {} was killed by signal {sig}", step.name),
                (Some(c), _) => format!("step {} failed with exit code {c}", step.name),
                (None, None) => format!("step {} ended without an exit code", step.name),
            };
            Outcome {
                ok: false,
                exit_code: code,
                error_code: Some(EXEC_FAILED),
                error: Some(error),
            }
        }
        Ok(Err(e)) => ssh_failed(e),
        Err(why) => {
            kill(session, &pidfile).await;
            Outcome::failed(EXEC_FAILED, why)
        }
    }
}

/// Stops a step's remote process group (TERM, then KILL) over a new channel.
async fn kill(session: &ssh::Session, pidfile: &str) {
    // Only a process group number (never 0, 1 or text) is signalled.
    let cmd = format!(
        "p=$(cat \"{pidfile}\" 2>/dev/null); case \"$p\" in ''|*[!0-9]*|0|1) ;; *) kill -TERM -- -$p 2>/dev/null; sleep 2; kill -KILL -- -$p 2>/dev/null;; esac; rm -f \"{pidfile}\"; true"
    );
    let _ = tokio::time::timeout(Duration::from_secs(15), session.run(&cmd)).await;
}

/// Records a target's end with the run's counters and an audit record, in one transaction.
async fn end_target(ex: &Exec, t: &mut run_target::Model, status: &str, o: Outcome) {
    let ctx = &ex.ctx;
    t.status = status.into();
    t.exit_code = o.exit_code;
    t.error_code = if o.ok { None } else { o.error_code };
    t.error = if o.ok { None } else { o.error.clone() };
    t.finished_at = Some(crate::time::now());
    let write = async {
        let txn = crate::db::begin(&ctx.db).await?;
        let counter = if o.ok {
            run::Column::Done
        } else {
            run::Column::Failed
        };
        // Only while this process still owns the running run (not after it was recovered).
        let owned = run::Entity::update_many()
            .col_expr(counter, Expr::col(counter).add(1))
            .filter(run::Column::Id.eq(ex.run.id))
            .filter(run::Column::Status.eq("running"))
            .filter(run::Column::Owner.eq(ex.me.clone()))
            .exec(&txn)
            .await?;
        if owned.rows_affected != 1 {
            return Ok(());
        }
        let am: run_target::ActiveModel = t.clone().into();
        am.reset_all().update(&txn).await?;
        if o.ok {
            super::power::effects(&txn, ex, t).await?;
            super::init::effects(&txn, ex, t).await?;
        }
        super::deploy::effects(&txn, ex, t, o.ok).await?;
        record(
            &txn,
            &Actor::system(),
            Entry::new("task", "target_end")
                .target("task", Some(ex.run.id), &ex.run.kind)
                .detail(json!({
                    "host": {"id": t.host_id, "name": t.host_name},
                    "instance_id": t.instance_id,
                    "status": t.status,
                    "exit_code": t.exit_code,
                    "error": t.error,
                })),
        )
        .await?;
        txn.commit().await?;
        Ok::<_, AppError>(())
    };
    if let Err(e) = write.await {
        tracing::error!(run = ex.run.id, target = t.id, error = %e, "recording a target's end");
    }
    ex.out.frame(target_frame(t));
}

/// Records the run's end (unless it was already ended, by recovery); answers the `end` frame.
async fn finish_run(
    ctx: &Ctx,
    run_id: i64,
    me: &str,
    cancelled: Option<String>,
) -> AppResult<Option<Frame>> {
    let txn = crate::db::begin(&ctx.db).await?;
    let Some(r) = run::Entity::find_by_id(run_id).one(&txn).await? else {
        return Ok(None);
    };
    if r.status != "running" || r.owner.as_deref() != Some(me) {
        return Ok(None);
    }
    let now = crate::time::now();
    // A target whose end could not be recorded (a panic, a failed write) ends here.
    let open = run_target::Entity::find()
        .filter(run_target::Column::RunId.eq(run_id))
        .filter(run_target::Column::Status.is_in(["running", "pending"]))
        .all(&txn)
        .await?;
    super::deploy::interrupted(&txn, &r, &open).await?;
    let left = run_target::Entity::update_many()
        .col_expr(run_target::Column::Status, Expr::value("failed"))
        .col_expr(run_target::Column::ErrorCode, Expr::value(EXEC_FAILED))
        .col_expr(
            run_target::Column::Error,
            Expr::value("did not finish (see the server log)"),
        )
        .col_expr(run_target::Column::FinishedAt, Expr::value(now))
        .filter(run_target::Column::RunId.eq(run_id))
        .filter(run_target::Column::Status.is_in(["running", "pending"]))
        .exec(&txn)
        .await?
        .rows_affected as i32;
    let failed = r.failed + left;
    let ok = r.done == r.total && failed == 0;
    let status = if ok { "finished" } else { "failed" };
    let error = if ok {
        None
    } else {
        Some(cancelled.unwrap_or_else(|| format!("{failed} of {} target(s) failed", r.total)))
    };
    run::Entity::update_many()
        .col_expr(run::Column::Status, Expr::value(status))
        .col_expr(run::Column::Failed, Expr::value(failed))
        .col_expr(run::Column::Error, Expr::value(error.clone()))
        .col_expr(run::Column::FinishedAt, Expr::value(now))
        .col_expr(
            run::Column::LeaseUntil,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(run::Column::Id.eq(run_id))
        .filter(run::Column::Status.eq("running"))
        .exec(&txn)
        .await?;
    record(
        &txn,
        &Actor::system(),
        Entry::new("task", "end")
            .target("task", Some(run_id), &r.kind)
            .detail(json!({"status": status, "error": error, "done": r.done, "failed": failed, "total": r.total})),
    )
    .await?;
    txn.commit().await?;
    Ok(Some(end_frame(status, error.as_deref())))
}

/// The last frame of a run.
pub fn end_frame(status: &str, error: Option<&str>) -> Frame {
    event_frame(
        "end",
        None,
        json!({"type": "end", "status": status, "error": error}),
    )
}

/// Fails runs that will never end by themselves: those whose lease lapsed (the process that
/// executed them died), and at start (`at_start`) those this machine's dead processes owned.
/// Their running and pending targets fail as `interrupted`; their output is kept. Answers how
/// many runs it failed.
pub async fn recover(ctx: &Ctx, at_start: bool) -> AppResult<usize> {
    let now = crate::time::now();
    let lapsed = Condition::all()
        .add(run::Column::Status.eq("running"))
        .add(run::Column::LeaseUntil.lt(now));
    let mut candidates = run::Entity::find().filter(lapsed).all(&ctx.db).await?;
    if at_start {
        let host = format!("{}/", hostname());
        let mine = run::Entity::find()
            .filter(run::Column::Status.eq("running"))
            .filter(run::Column::Owner.starts_with(host.clone()))
            .all(&ctx.db)
            .await?;
        let me = owner_of(ctx);
        for r in mine {
            let owner = r.owner.clone().unwrap_or_default();
            // LIKE matched the prefix; check it exactly (`_` in a host name is a wildcard).
            let Some(rest) = owner.strip_prefix(&host) else {
                continue;
            };
            let pid = rest.split('/').next().unwrap_or_default();
            let alive = owner == me
                || (!pid.is_empty()
                    && pid != std::process::id().to_string()
                    && std::path::Path::new(&format!("/proc/{pid}")).exists());
            if !alive && !candidates.iter().any(|c| c.id == r.id) {
                candidates.push(r);
            }
        }
    }
    let mut n = 0;
    for r in candidates {
        if interrupt(ctx, &r).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// Fails one run as interrupted, if it is still the same running run.
pub async fn interrupt(ctx: &Ctx, r: &run::Model) -> AppResult<bool> {
    let now = crate::time::now();
    let txn = crate::db::begin(&ctx.db).await?;
    let mut q = run::Entity::update_many()
        .col_expr(run::Column::Status, Expr::value("failed"))
        .col_expr(run::Column::Error, Expr::value(INTERRUPTED))
        .col_expr(run::Column::FinishedAt, Expr::value(now))
        .filter(run::Column::Id.eq(r.id))
        .filter(run::Column::Status.eq("running"));
    q = match &r.owner {
        Some(o) => q.filter(run::Column::Owner.eq(o.clone())),
        None => q.filter(run::Column::Owner.is_null()),
    };
    if q.exec(&txn).await?.rows_affected != 1 {
        return Ok(false);
    }
    let open = run_target::Entity::find()
        .filter(run_target::Column::RunId.eq(r.id))
        .filter(run_target::Column::Status.is_in(["running", "pending"]))
        .all(&txn)
        .await?;
    for t in &open {
        run_target::Entity::update_many()
            .col_expr(run_target::Column::Status, Expr::value("failed"))
            .col_expr(run_target::Column::Error, Expr::value(INTERRUPTED))
            .col_expr(run_target::Column::ErrorCode, Expr::value(EXEC_FAILED))
            .col_expr(run_target::Column::FinishedAt, Expr::value(now))
            .filter(run_target::Column::Id.eq(t.id))
            .exec(&txn)
            .await?;
        super::output::system_row(
            &txn,
            r.id,
            t.id,
            "interrupted: Opsdeck stopped while this ran",
        )
        .await?;
    }
    super::deploy::interrupted(&txn, r, &open).await?;
    run::Entity::update_many()
        .col_expr(
            run::Column::Failed,
            Expr::col(run::Column::Failed).add(open.len() as i32),
        )
        .filter(run::Column::Id.eq(r.id))
        .exec(&txn)
        .await?;
    record(
        &txn,
        &Actor::system(),
        Entry::new("task", "interrupted")
            .target("task", Some(r.id), &r.kind)
            .detail(json!({"owner": r.owner, "targets": open.len()})),
    )
    .await?;
    txn.commit().await?;
    tracing::warn!(run = r.id, kind = %r.kind, "run interrupted: its process stopped");
    Ok(true)
}

/// A run job that failed for good before its run was taken: its run fails as interrupted.
pub async fn job_failed(ctx: &Ctx, run_id: i64) -> AppResult<()> {
    if let Some(r) = run::Entity::find_by_id(run_id).one(&ctx.db).await? {
        if r.status == "running" {
            interrupt(ctx, &r).await?;
        }
    }
    Ok(())
}
