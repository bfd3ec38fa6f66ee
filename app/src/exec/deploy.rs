//! Deploy sub-tasks (`deploy_upgrade`, `deploy_revert`): one target per instance.
//!
//! Upgrade, on each instance: prepare the release directory `<deploy_path>/releases/<version>`,
//! copy the package there over SFTP (checked with sha256sum), unpack it as the running user,
//! `pre_exec`, stop the application, switch `current` to the release atomically (a new symlink
//! renamed over the old one), start it, check its health, `post_exec`, and remove releases
//! beyond `keep_backups`. `global_pre_exec` runs once, on the first instance to get there, after
//! its release directory was made and before any package is copied (every other instance waits
//! for it); `global_post_exec` once after every instance succeeded (on the last).
//! Revert: stop, switch to a kept release, start, check health.
//!
//! Hooks and the application's commands run as their user (`runuser` when Opsdeck logs in as
//! root, `sudo -n` otherwise), never as uid 0. The instance's status follows (`updating`,
//! `reverting` while it runs; then `running`, `stopped` when it failed after the stop, or what
//! it was when it failed before; `unknown` when Opsdeck stopped meanwhile), and its releases
//! are recorded in the transaction of its result.
use super::runner::{open, quote, set_progress, step, Exec, Outcome, Step, EXEC_FAILED};
use crate::entities::{instance, instance_release, run, run_target};
use crate::error::AppResult;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Run kind of an upgrade.
pub const UPGRADE: &str = "deploy_upgrade";
/// Run kind of a revert.
pub const REVERT: &str = "deploy_revert";

/// Whether a run kind is a deploy sub-task.
pub fn is_deploy(kind: &str) -> bool {
    kind == UPGRADE || kind == REVERT
}

/// A hook script, rendered for its instance.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Hook {
    pub user: String,
    /// `bash` or `python`.
    pub language: String,
    pub script: String,
}

/// What one instance of a sub-task needs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InstancePlan {
    pub instance_id: i64,
    /// Status and version before the sub-task (restored when it fails before the stop).
    pub previous_status: String,
    pub previous_version: String,
    #[serde(default)]
    pub pre_exec: Option<Hook>,
    #[serde(default)]
    pub post_exec: Option<Hook>,
}

/// A sub-task's plan (`runs.opts.extra`), fixed when it was created.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeployPlan {
    pub task_id: i64,
    pub app_id: i64,
    pub version: String,
    pub revert: bool,
    /// `artifact:<id>` or an http(s) URL (upgrades).
    #[serde(default)]
    pub source: String,
    /// The repository credential sent to the package's host (the repository's own host).
    #[serde(default)]
    pub repo_credential_id: Option<i64>,
    pub deploy_path: String,
    /// Owns the release files.
    pub user: String,
    /// Runs the application's commands.
    pub app_user: String,
    pub keep_backups: i32,
    pub startup_cmd: String,
    pub stop_cmd: String,
    pub pid_path: String,
    #[serde(default)]
    pub global_pre: Option<Hook>,
    #[serde(default)]
    pub global_post: Option<Hook>,
    pub instances: Vec<InstancePlan>,
}

fn plan(ex: &Exec) -> DeployPlan {
    serde_json::from_value(ex.extra.clone()).unwrap_or_default()
}

/// The version a sub-task deploys (from its stored options), for lists.
pub fn version_of(opts: &str) -> String {
    serde_json::from_str::<super::runner::Opts>(opts)
        .ok()
        .and_then(|o| serde_json::from_value::<DeployPlan>(o.extra).ok())
        .map(|p| p.version)
        .unwrap_or_default()
}

/// The shell lines every step starts with: the paths, and `as_user U cmd…` which runs a command
/// as U (never uid 0).
fn prelude(p: &DeployPlan) -> String {
    format!(
        r#"set -e
D={d}; V={v}
as_user() {{
  u="$1"; shift
  id -u "$u" >/dev/null 2>&1 || {{ echo "there is no user $u on this host (init the host first)" >&2; exit 1; }}
  [ "$(id -u "$u")" != 0 ] || {{ echo "refusing to run as $u: uid 0" >&2; exit 1; }}
  if [ "$(id -u)" = 0 ]; then runuser -u "$u" -- "$@"
  elif [ "$(id -un)" = "$u" ]; then "$@"
  else sudo -n -u "$u" -- "$@"; fi
}}
"#,
        d = quote(p.deploy_path.trim_end_matches('/')),
        v = quote(&p.version),
    )
}

fn hook_line(h: &Hook) -> String {
    let interpreter = if h.language == "python" {
        "python3"
    } else {
        "bash"
    };
    format!(
        "as_user {} {interpreter} -c {} </dev/null",
        quote(&h.user),
        quote(&h.script)
    )
}

/// Stops the application in `current` (nothing on a first deploy).
fn stop_script(p: &DeployPlan) -> String {
    let body = if !p.stop_cmd.trim().is_empty() {
        format!(
            "as_user {} bash -c {} </dev/null",
            quote(&p.app_user),
            quote(&p.stop_cmd)
        )
    } else if !p.pid_path.trim().is_empty() {
        format!(
            r#"P={pid}
if [ -s "$P" ] && kill -0 "$(cat "$P")" 2>/dev/null; then
  as_user {u} kill "$(cat "$P")"
  for i in $(seq 40); do kill -0 "$(cat "$P")" 2>/dev/null || break; sleep 0.25; done
  echo "stopped process $(cat "$P")"
else echo "no process is running"; fi"#,
            pid = quote(&p.pid_path),
            u = quote(&p.app_user)
        )
    } else {
        "echo 'the application has neither a stop command nor a pid file: nothing to stop'".into()
    };
    format!(
        "{}if [ ! -e \"$D/current\" ]; then echo 'no release is current here yet: nothing to stop'; exit 0; fi\ncd \"$D/current\"\n{body}\n",
        prelude(p)
    )
}

fn switch_script(p: &DeployPlan) -> String {
    format!(
        "{}[ -d \"$D/releases/$V\" ] || {{ echo \"there is no release $V here\" >&2; exit 1; }}\nln -sfn \"releases/$V\" \"$D/.current.tmp\"\nmv -Tf \"$D/.current.tmp\" \"$D/current\"\necho \"current -> releases/$V\"\n",
        prelude(p)
    )
}

/// Starts the application; its command must return (start the process in the background).
fn start_script(p: &DeployPlan) -> String {
    if p.startup_cmd.trim().is_empty() {
        return format!(
            "{}echo 'the application has no startup command'\n",
            prelude(p)
        );
    }
    format!(
        "{}cd \"$D/current\"\nL=\"$D/.opsdeck-start.log\"\nrc=0; as_user {} bash -c {} </dev/null >\"$L\" 2>&1 || rc=$?\ncat \"$L\"; rm -f \"$L\"\nexit $rc\n",
        prelude(p),
        quote(&p.app_user),
        quote(&p.startup_cmd)
    )
}

/// Checks that the process in the pid file lives, and still does a second later (10 tries, a
/// second apart): a start command that returns while its process dies is not healthy.
fn health_script(p: &DeployPlan) -> String {
    if p.pid_path.trim().is_empty() {
        return format!(
            "{}echo 'the application has no pid file: no health check'\n",
            prelude(p)
        );
    }
    format!(
        r#"{}cd "$D/current"
P={}
up=0
for i in $(seq 10); do
  if [ -s "$P" ] && kill -0 "$(cat "$P")" 2>/dev/null; then
    up=$((up+1)); [ $up -lt 2 ] || {{ echo "healthy: process $(cat "$P") runs"; exit 0; }}
  else up=0; fi
  sleep 1
done
echo "health check failed: no live process in $P" >&2
exit 1
"#,
        prelude(p),
        quote(&p.pid_path)
    )
}

/// What a target does, step by step.
enum Work {
    Script(Step),
    /// Copy the package, then check it.
    Upload {
        filename: String,
        sha256: String,
    },
    GlobalPre(Hook),
    GlobalPost(Hook),
    /// Remove the releases beyond `keep_backups` (names read when the step runs).
    Prune,
}

impl Work {
    fn name(&self) -> &str {
        match self {
            Work::Script(s) => &s.name,
            Work::Upload { .. } => "upload",
            Work::GlobalPre(_) => "global_pre_exec",
            Work::GlobalPost(_) => "global_post_exec",
            Work::Prune => "prune",
        }
    }
}

fn script(p: &DeployPlan, name: &str, body: String) -> Work {
    Work::Script(Step {
        name: name.into(),
        script: format!("{}{body}", prelude(p)),
        timeout_secs: None,
    })
}

/// The work of one instance; `pkg` is (sha256, file name) of an upgrade's package.
fn work(p: &DeployPlan, ip: &InstancePlan, pkg: Option<(&str, &str)>) -> Vec<Work> {
    let mut w = vec![];
    if let (false, Some((sha256, filename))) = (p.revert, pkg) {
        let u = quote(&p.user);
        w.push(script(
            p,
            "prepare",
            format!(
                "as_user {u} true\nmkdir -p \"$D/releases/$V/.pkg\" \"$D/shared\"\nrm -f \"$D/releases/$V/.pkg/\"*\nif [ \"$(id -u)\" = 0 ]; then chown {u}: \"$D\" \"$D/releases\" \"$D/shared\"; fi\necho \"release directory $D/releases/$V ready\"\n"
            ),
        ));
        if let Some(h) = &p.global_pre {
            w.push(Work::GlobalPre(h.clone()));
        }
        w.push(Work::Upload {
            filename: filename.into(),
            sha256: sha256.into(),
        });
        let f = quote(filename);
        w.push(script(
            p,
            "unpack",
            format!(
                r#"cd "$D/releases/$V"
if [ "$(id -u)" = 0 ]; then chown -R {u}: .; fi
F={f}
case "$F" in
  *.tar.gz|*.tgz) as_user {u} tar -xzf ".pkg/$F" --no-same-owner --no-same-permissions ;;
  *.tar) as_user {u} tar -xf ".pkg/$F" --no-same-owner --no-same-permissions ;;
  *.zip) as_user {u} unzip -oq ".pkg/$F" ;;
  *) as_user {u} cp ".pkg/$F" "./$F" ;;
esac
rm -rf .pkg
echo "unpacked $F into $D/releases/$V"
"#
            ),
        ));
        if let Some(h) = &ip.pre_exec {
            w.push(script(
                p,
                "pre_exec",
                format!("cd \"$D/releases/$V\"\n{}\n", hook_line(h)),
            ));
        }
    }
    w.push(Work::Script(Step {
        name: "stop".into(),
        script: stop_script(p),
        timeout_secs: None,
    }));
    w.push(Work::Script(Step {
        name: "switch".into(),
        script: switch_script(p),
        timeout_secs: None,
    }));
    w.push(Work::Script(Step {
        name: "start".into(),
        script: start_script(p),
        timeout_secs: None,
    }));
    w.push(Work::Script(Step {
        name: "health".into(),
        script: health_script(p),
        timeout_secs: Some(60),
    }));
    if !p.revert {
        if let Some(h) = &ip.post_exec {
            w.push(script(
                p,
                "post_exec",
                format!("cd \"$D/current\"\n{}\n", hook_line(h)),
            ));
        }
        w.push(Work::Prune);
    }
    if let Some(h) = &p.global_post {
        w.push(Work::GlobalPost(h.clone()));
    }
    w
}

/// Gets the package into the store (once per run): answers `sha256\nfilename`.
async fn package(ex: &Exec, p: &DeployPlan) -> Result<String, String> {
    let ctx = &ex.ctx;
    let src = crate::deploy::service::artifacts::source_of(ctx, "update_source", &p.source)
        .await
        .map_err(|e| e.message)?;
    let a = match src {
        crate::deploy::service::artifacts::Source::Artifact(a) => a,
        crate::deploy::service::artifacts::Source::Url(u) => {
            let auth = match p.repo_credential_id {
                Some(id) => Some(
                    crate::deploy::service::repo_login(ctx, id)
                        .await
                        .map_err(|e| e.message)?,
                ),
                None => None,
            };
            crate::deploy::service::artifacts::fetch(ctx, &u, auth).await?
        }
    };
    let path = crate::deploy::service::artifacts::path_of(ctx, &a.sha256);
    if tokio::fs::metadata(&path).await.is_err() {
        return Err(format!(
            "the file of artifact {} is missing from the store",
            a.id
        ));
    }
    Ok(format!("{}\n{}", a.sha256, a.filename))
}

fn parse_package(s: &str) -> Option<(&str, &str)> {
    s.split_once('\n')
}

/// Deploys (or reverts) one instance.
pub(super) async fn target(ex: &Exec, t: &mut run_target::Model) -> Outcome {
    let p = plan(ex);
    let Some(ip) = p
        .instances
        .iter()
        .find(|i| Some(i.instance_id) == t.instance_id)
    else {
        return Outcome::failed(EXEC_FAILED, "the instance is not part of this task's plan");
    };
    let pkg = if p.revert {
        None
    } else {
        match ex.once.get_or_init(|| package(ex, &p)).await {
            Ok(s) => Some(s.clone()),
            Err(e) => return Outcome::failed(EXEC_FAILED, format!("the package: {e}")),
        }
    };
    let pkg = pkg.as_deref().and_then(parse_package);
    let list = work(&p, ip, pkg);
    t.steps_total = list.len() as i32;
    let (session, secrets) = match open(ex, t).await {
        Ok(s) => s,
        Err(o) => return o,
    };
    let mut outcome = Outcome::success();
    for (i, w) in list.iter().enumerate() {
        let o = match w {
            Work::Script(s) => step(ex, t, &session, i, s, &secrets).await,
            Work::GlobalPre(h) => {
                set_progress(ex, t, i, w.name()).await;
                let host = t.host_name.clone();
                let mut me = false;
                let r = ex
                    .once_more
                    .get_or_init(|| {
                        me = true;
                        async {
                            let s = Step {
                                name: "global_pre_exec".into(),
                                script: format!("{}{}\n", prelude(&p), hook_line(h)),
                                timeout_secs: None,
                            };
                            let mut tt = t.clone();
                            let o = step(ex, &mut tt, &session, i, &s, &secrets).await;
                            if o.ok {
                                Ok(())
                            } else {
                                Err(format!(
                                    "global_pre_exec failed on {host}: {}",
                                    o.error.unwrap_or_default()
                                ))
                            }
                        }
                    })
                    .await;
                match r {
                    Ok(()) => {
                        if !me {
                            ex.out
                                .system(t.id, "global_pre_exec ran on another instance");
                        }
                        Outcome::success()
                    }
                    Err(e) => Outcome::failed(EXEC_FAILED, e.clone()),
                }
            }
            Work::Upload { filename, sha256 } => {
                set_progress(ex, t, i, w.name()).await;
                upload(ex, t, &p, &session, i, filename, sha256, &secrets).await
            }
            Work::Prune => {
                let s = prune_step(ex, &p, ip.instance_id).await;
                step(ex, t, &session, i, &s, &secrets).await
            }
            Work::GlobalPost(h) => {
                let n = ex.succeeded.fetch_add(1, Ordering::SeqCst) + 1;
                if n as i32 == ex.run.total {
                    let s = Step {
                        name: "global_post_exec".into(),
                        script: format!("{}{}\n", prelude(&p), hook_line(h)),
                        timeout_secs: None,
                    };
                    step(ex, t, &session, i, &s, &secrets).await
                } else {
                    set_progress(ex, t, i, w.name()).await;
                    ex.out.system(
                        t.id,
                        "global_post_exec runs once, on the instance that finishes last",
                    );
                    Outcome::success()
                }
            }
        };
        outcome.exit_code = o.exit_code;
        if !o.ok {
            outcome = o;
            break;
        }
    }
    session.close().await;
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn upload(
    ex: &Exec,
    t: &mut run_target::Model,
    p: &DeployPlan,
    session: &super::ssh::Session,
    i: usize,
    filename: &str,
    sha256: &str,
    secrets: &[String],
) -> Outcome {
    let local = crate::deploy::service::artifacts::path_of(&ex.ctx, sha256);
    let remote = format!(
        "{}/releases/{}/.pkg/{filename}",
        p.deploy_path.trim_end_matches('/'),
        p.version
    );
    let secs = Ord::max(ex.run.timeout_secs, 1) as u64;
    let mut cancel = ex.cancel.clone();
    let r = tokio::select! {
        r = tokio::time::timeout(Duration::from_secs(secs.max(60)), session.upload(&local, &remote)) => r,
        c = cancel.wait_for(|c| c.is_some()) => {
            return Outcome::failed(EXEC_FAILED, c.map(|c| c.clone().unwrap_or_default()).unwrap_or_default());
        }
    };
    match r {
        Ok(Ok(n)) => ex
            .out
            .system(t.id, &format!("copied {filename} ({n} bytes) over SFTP")),
        Ok(Err(e)) => return Outcome::failed(EXEC_FAILED, e.message()),
        Err(_) => {
            return Outcome::failed(
                EXEC_FAILED,
                format!("copying the package timed out after {} s", secs.max(60)),
            )
        }
    }
    let check = Step {
        name: "upload".into(),
        script: format!(
            "{}cd \"$D/releases/$V/.pkg\"\necho {} | sha256sum -c -\n",
            prelude(p),
            quote(&format!("{sha256}  {filename}"))
        ),
        timeout_secs: None,
    };
    step(ex, t, session, i, &check, secrets).await
}

/// Releases of an instance to remove after `version` became current: those beyond the
/// `keep` most recent others still on the host.
async fn to_prune<C: ConnectionTrait>(
    db: &C,
    instance_id: i64,
    version: &str,
    keep: i32,
) -> AppResult<Vec<String>> {
    let rows = instance_release::Entity::find()
        .filter(instance_release::Column::InstanceId.eq(instance_id))
        .filter(instance_release::Column::State.is_in(["current", "kept"]))
        .filter(instance_release::Column::Version.ne(version))
        .order_by_desc(instance_release::Column::DeployedAt)
        .order_by_desc(instance_release::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .skip(keep.max(0) as usize)
        .map(|r| r.version)
        .filter(|v| crate::deploy::service::version_ok(v))
        .collect())
}

async fn prune_step(ex: &Exec, p: &DeployPlan, instance_id: i64) -> Step {
    let names = to_prune(&ex.ctx.db, instance_id, &p.version, p.keep_backups)
        .await
        .unwrap_or_default();
    let body = if names.is_empty() {
        "echo 'nothing to prune'".to_string()
    } else {
        let list: Vec<String> = names.iter().map(|n| quote(n)).collect();
        format!(
            "cd \"$D/releases\"\nrm -rf -- {}\necho 'removed old releases: {}'",
            list.join(" "),
            names.join(", ")
        )
    };
    Step {
        name: "prune".into(),
        script: format!("{}{body}\n", prelude(p)),
        timeout_secs: None,
    }
}

/// Steps after which `current` points at the new release.
const SWITCHED: &[&str] = &["start", "health", "post_exec", "prune", "global_post_exec"];
/// Steps after which the application was stopped and is not known to run.
const DOWN: &[&str] = &["stop", "switch", "start", "health"];

/// What an instance's result changes, in the transaction of the result: its status and
/// version, and its releases.
pub(super) async fn effects<C: ConnectionTrait>(
    txn: &C,
    ex: &Exec,
    t: &run_target::Model,
    ok: bool,
) -> AppResult<()> {
    if !is_deploy(&ex.run.kind) {
        return Ok(());
    }
    let p = plan(ex);
    let Some(ip) = p
        .instances
        .iter()
        .find(|i| Some(i.instance_id) == t.instance_id)
    else {
        return Ok(());
    };
    let step = t.step_name.as_str();
    let started = t.status != "skipped";
    let switched = ok || (started && SWITCHED.contains(&step));
    let status = if ok || (started && !DOWN.contains(&step) && switched) {
        "running"
    } else if started && DOWN.contains(&step) {
        "stopped"
    } else {
        ip.previous_status.as_str()
    };
    let version = if switched {
        p.version.as_str()
    } else {
        ip.previous_version.as_str()
    };
    instance::Entity::update_many()
        .col_expr(instance::Column::Status, Expr::value(status))
        .col_expr(instance::Column::Version, Expr::value(version))
        .filter(instance::Column::Id.eq(ip.instance_id))
        .exec(txn)
        .await?;
    if !switched {
        return Ok(());
    }
    let now = crate::time::now();
    let pruned = if ok && !p.revert {
        to_prune(txn, ip.instance_id, &p.version, p.keep_backups).await?
    } else {
        vec![]
    };
    instance_release::Entity::update_many()
        .col_expr(instance_release::Column::State, Expr::value("kept"))
        .filter(instance_release::Column::InstanceId.eq(ip.instance_id))
        .filter(instance_release::Column::State.eq("current"))
        .filter(instance_release::Column::Version.ne(p.version.clone()))
        .exec(txn)
        .await?;
    if !pruned.is_empty() {
        instance_release::Entity::update_many()
            .col_expr(instance_release::Column::State, Expr::value("removed"))
            .filter(instance_release::Column::InstanceId.eq(ip.instance_id))
            .filter(instance_release::Column::Version.is_in(pruned))
            .exec(txn)
            .await?;
    }
    let existing = instance_release::Entity::find()
        .filter(instance_release::Column::InstanceId.eq(ip.instance_id))
        .filter(instance_release::Column::Version.eq(p.version.clone()))
        .one(txn)
        .await?;
    let (sha, filename) = ex
        .once
        .get()
        .and_then(|r| r.as_ref().ok())
        .and_then(|s| parse_package(s))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap_or_default();
    match existing {
        Some(r) => {
            let mut am: instance_release::ActiveModel = r.into();
            am.state = Set("current".into());
            am.run_id = Set(Some(ex.run.id));
            if !p.revert {
                am.deployed_at = Set(now);
                am.sha256 = Set(sha);
                am.filename = Set(filename);
            }
            am.update(txn).await?;
        }
        None => {
            instance_release::ActiveModel {
                instance_id: Set(ip.instance_id),
                version: Set(p.version.clone()),
                sha256: Set(sha),
                filename: Set(filename),
                run_id: Set(Some(ex.run.id)),
                state: Set("current".into()),
                deployed_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
        }
    }
    Ok(())
}

/// A deploy run stopped by Opsdeck's end: its running instances' state is `unknown`, those
/// that had not started get their status back.
pub(super) async fn interrupted<C: ConnectionTrait>(
    txn: &C,
    r: &run::Model,
    open: &[run_target::Model],
) -> AppResult<()> {
    if !is_deploy(&r.kind) {
        return Ok(());
    }
    let p: DeployPlan = serde_json::from_str::<super::runner::Opts>(&r.opts)
        .ok()
        .and_then(|o| serde_json::from_value(o.extra).ok())
        .unwrap_or_default();
    for t in open {
        let Some(iid) = t.instance_id else { continue };
        let status = if t.status == "pending" {
            p.instances
                .iter()
                .find(|i| i.instance_id == iid)
                .map_or("unknown", |i| i.previous_status.as_str())
        } else {
            "unknown"
        };
        instance::Entity::update_many()
            .col_expr(instance::Column::Status, Expr::value(status))
            .filter(instance::Column::Id.eq(iid))
            .filter(instance::Column::Status.is_in(["updating", "reverting"]))
            .exec(txn)
            .await?;
    }
    Ok(())
}
