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

/// `as_user U cmd…`: runs a command as U, never as uid 0 nor as the account Opsdeck logs in
/// as (`runuser` when that is root, else `sudo -n`).
pub(crate) const AS_USER: &str = r#"as_user() {
  u="$1"; shift
  id -u "$u" >/dev/null 2>&1 || { echo "there is no user $u on this host (init the host first)" >&2; exit 1; }
  [ "$(id -u "$u")" != 0 ] || { echo "refusing to run as $u: uid 0" >&2; exit 1; }
  [ "$(id -un)" != "$u" ] || { echo "refusing to run as $u: Opsdeck logs in as $u" >&2; exit 1; }
  if [ "$(id -u)" = 0 ]; then runuser -u "$u" -- "$@"; else sudo -n -u "$u" -- "$@"; fi
}"#;

/// The shell lines every step starts with: the paths, `as_user U cmd…` (runs a command as U:
/// never uid 0, never the account Opsdeck logs in as), and `as_in U 'script'` (runs a script as
/// U with `$D` and `$V` set). Everything under the deploy path is done as a running user, so a
/// link planted there leads nowhere the user could not go anyway.
fn prelude(p: &DeployPlan) -> String {
    format!(
        r#"set -e
D={d}; V={v}
{AS_USER}
as_in() {{ as_user "$1" bash -c "set -e; D=\"\$1\"; V=\"\$2\"
$2" opsdeck "$D" "$V"; }}
"#,
        d = quote(p.deploy_path.trim_end_matches('/')),
        v = quote(&p.version),
    )
}

/// A step that runs `inner` as `user` (see `prelude`).
fn as_in(p: &DeployPlan, name: &str, user: &str, inner: &str, timeout_secs: Option<u32>) -> Step {
    Step {
        name: name.into(),
        script: format!("{}as_in {} {}\n", prelude(p), quote(user), quote(inner)),
        timeout_secs,
    }
}

/// Runs a hook in `dir` (a shell expression) as its user, without input.
fn hook_step(p: &DeployPlan, name: &str, h: &Hook, dir: &str) -> Step {
    let interpreter = if h.language == "python" {
        "python3"
    } else {
        "bash"
    };
    let inner = format!(
        "cd {dir}\nexec {interpreter} -c {} </dev/null",
        quote(&h.script)
    );
    as_in(p, name, &h.user, &inner, None)
}

/// Reads the pid file (a regular file, at most 32 bytes, digits only) into `$pid`.
const READ_PID: &str = r#"pid=""; if [ -f "$P" ]; then pid=$(head -c 32 -- "$P" | tr -dc 0-9); fi"#;

/// Stops the application in `current` (nothing on a first deploy), as the application's user.
fn stop_inner(p: &DeployPlan) -> String {
    let body = if !p.stop_cmd.trim().is_empty() {
        format!("bash -c {} </dev/null", quote(&p.stop_cmd))
    } else if !p.pid_path.trim().is_empty() {
        format!(
            r#"P={pid}; {READ_PID}
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for i in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  echo "stopped process $pid"
else echo "no process is running"; fi"#,
            pid = quote(&p.pid_path)
        )
    } else {
        "echo 'the application has neither a stop command nor a pid file: nothing to stop'".into()
    };
    format!("if [ ! -e \"$D/current\" ]; then echo 'no release is current here yet: nothing to stop'; exit 0; fi\ncd \"$D/current\"\n{body}\n")
}

const SWITCH: &str = r#"[ -d "$D/releases/$V" ] || { echo "there is no release $V here" >&2; exit 1; }
ln -sfn "releases/$V" "$D/.current.tmp"
mv -Tf "$D/.current.tmp" "$D/current"
echo "current -> releases/$V"
"#;

/// Starts the application; its command must return (start the process in the background).
fn start_inner(p: &DeployPlan) -> String {
    if p.startup_cmd.trim().is_empty() {
        return "echo 'the application has no startup command'\n".into();
    }
    format!(
        "cd \"$D/current\"\nL=$(mktemp)\nrc=0; bash -c {} </dev/null >\"$L\" 2>&1 || rc=$?\ncat \"$L\"; rm -f \"$L\"\nexit $rc\n",
        quote(&p.startup_cmd)
    )
}

/// Checks that the process in the pid file lives, and still does a second later (10 tries, a
/// second apart): a start command that returns while its process dies is not healthy.
fn health_inner(p: &DeployPlan) -> String {
    if p.pid_path.trim().is_empty() {
        return "echo 'the application has no pid file: no health check'\n".into();
    }
    format!(
        r#"cd "$D/current"
P={}
up=0
for i in $(seq 10); do
  {READ_PID}
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    up=$((up+1)); [ $up -lt 2 ] || {{ echo "healthy: process $pid runs"; exit 0; }}
  else up=0; fi
  sleep 1
done
echo "health check failed: no live process in $P" >&2
exit 1
"#,
        quote(&p.pid_path)
    )
}

/// What a target does, step by step.
enum Work {
    Script(Step),
    /// Copy the package to the login user's staging directory, then check it.
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

/// The staging directory of a target's package, in the login user's home (its own, 0700).
fn stage(ex: &Exec, t: &run_target::Model) -> String {
    format!(".opsdeck/pkg-{}-{}-{}", ex.ctx.instance, ex.run.id, t.id)
}

/// The work of one instance; `pkg` is (sha256, file name) of an upgrade's package.
fn work(
    p: &DeployPlan,
    ip: &InstancePlan,
    pkg: Option<(&str, &str)>,
    stage: &str,
    app_id: i64,
) -> Vec<Work> {
    let mut w = vec![];
    let u = p.user.as_str();
    let a = p.app_user.as_str();
    if let (false, Some((sha256, filename))) = (p.revert, pkg) {
        // Root makes the deploy path only when it does not exist yet, and only for U.
        let prepare = format!(
            r#"S="$HOME/"{stage}
as_user {uq} true
refuse() {{ echo "$1: refused" >&2; exit 1; }}
# Every directory above the deploy path that exists is root's alone: nothing there can be
# swapped for a link while root makes the path.
p="$D"
while p=$(dirname -- "$p"); [ "$p" != / ]; do
  if [ -L "$p" ]; then refuse "$p is a symbolic link"; fi
  if [ -e "$p" ]; then
    [ -d "$p" ] || refuse "$p is not a directory"
    [ "$(stat -c %u -- "$p")" = 0 ] || refuse "$p does not belong to root"
    case "$(stat -c %A -- "$p")" in ?????w????|????????w?) refuse "others may write to $p";; esac
  fi
done
if [ -L "$D" ]; then refuse "$D is a symbolic link"; fi
if [ ! -e "$D" ]; then
  (umask 022; mkdir -p -- "$(dirname -- "$D")")
  mkdir -m 750 -- "$D"
  chown -h -- {uq}: "$D"
fi
[ -d "$D" ] || refuse "$D is not a directory"
o=$(stat -c %U -- "$D")
[ "$o" = {uq} ] || refuse "$D belongs to $o, not "{uq}" (choose a new deploy path, or give it to "{uq}")"
rm -rf -- "$S"; mkdir -p -m 700 -- "$S"
as_in {uq} {inner}
"#,
            uq = quote(u),
            inner = quote(&format!(
                r#"M="$D/.opsdeck-app"
if [ -f "$M" ] && [ "$(head -c 32 "$M")" != "{app_id}" ]; then echo "$D holds the releases of another application (#$(head -c 32 "$M")): refused" >&2; exit 1; fi
echo {app_id} > "$M"
mkdir -p "$D/releases/$V" "$D/shared"
echo "release directory $D/releases/$V ready""#
            )),
        );
        w.push(Work::Script(Step {
            name: "prepare".into(),
            script: format!("{}{prepare}", prelude(p)),
            timeout_secs: None,
        }));
        if let Some(h) = &p.global_pre {
            w.push(Work::GlobalPre(h.clone()));
        }
        w.push(Work::Upload {
            filename: filename.into(),
            sha256: sha256.into(),
        });
        // Root reads the package from its staging directory; U writes the release.
        let f = quote(filename);
        let unpack = format!(
            r#"S="$HOME/"{stage}; F={f}
case "$F" in
  *.tar.gz|*.tgz) as_in {uq} 'cd "$D/releases/$V" && tar -xzf - --no-same-owner --no-same-permissions' < "$S/$F" ;;
  *.tar) as_in {uq} 'cd "$D/releases/$V" && tar -xf - --no-same-owner --no-same-permissions' < "$S/$F" ;;
  *.zip) as_in {uq} 'T=$(mktemp); cat > "$T"; cd "$D/releases/$V"; rc=0; unzip -oq "$T" || rc=$?; rm -f "$T"; exit $rc' < "$S/$F" ;;
  *) as_in {uq} {copy} < "$S/$F" ;;
esac
rm -rf -- "$S"
echo "unpacked $F into $D/releases/$V"
"#,
            uq = quote(u),
            copy = quote(&format!("cat > \"$D/releases/$V\"/{f}")),
        );
        w.push(Work::Script(Step {
            name: "unpack".into(),
            script: format!("{}{unpack}", prelude(p)),
            timeout_secs: None,
        }));
        if let Some(h) = &ip.pre_exec {
            w.push(Work::Script(hook_step(
                p,
                "pre_exec",
                h,
                "\"$D/releases/$V\"",
            )));
        }
    } else {
        w.push(Work::Script(as_in(
            p,
            "verify",
            u,
            "[ -d \"$D/releases/$V\" ] || { echo \"there is no release $V here\" >&2; exit 1; }\necho \"release $V is here\"",
            None,
        )));
    }
    w.push(Work::Script(as_in(p, "stop", a, &stop_inner(p), None)));
    w.push(Work::Script(as_in(p, "switch", u, SWITCH, None)));
    w.push(Work::Script(as_in(p, "start", a, &start_inner(p), None)));
    w.push(Work::Script(as_in(
        p,
        "health",
        a,
        &health_inner(p),
        Some(60),
    )));
    if !p.revert {
        if let Some(h) = &ip.post_exec {
            w.push(Work::Script(hook_step(p, "post_exec", h, "\"$D/current\"")));
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
    let src = crate::deploy::service::artifacts::source_of(ctx, None, "update_source", &p.source)
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
    // The first instance of the plan runs `global_pre_exec` (its context was rendered for it);
    // the others wait for its verdict, which it gives however it ends.
    let first = p.instances.first().map(|i| i.instance_id) == t.instance_id;
    let o = target_work(ex, t, &p, first).await;
    if first && p.global_pre.is_some() {
        let _ = ex.once_more.set(Err(format!(
            "global_pre_exec did not run: the instance chosen for it ({}) failed first",
            t.host_name
        )));
    }
    o
}

async fn target_work(ex: &Exec, t: &mut run_target::Model, p: &DeployPlan, first: bool) -> Outcome {
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
        match ex.once.get_or_init(|| package(ex, p)).await {
            Ok(s) => Some(s.clone()),
            Err(e) => return Outcome::failed(EXEC_FAILED, format!("the package: {e}")),
        }
    };
    let pkg = pkg.as_deref().and_then(parse_package);
    let stage = stage(ex, t);
    let list = work(p, ip, pkg, &quote(&stage), p.app_id);
    t.steps_total = list.len() as i32;
    let (session, secrets) = match open(ex, t).await {
        Ok(s) => s,
        Err(o) => return o,
    };
    let mut outcome = Outcome::success();
    for (i, w) in list.iter().enumerate() {
        let o = match w {
            Work::Script(s) => step(ex, t, &session, i, s, &secrets).await,
            Work::GlobalPre(h) if first => {
                let s = hook_step(p, "global_pre_exec", h, "\"$D\"");
                let o = step(ex, t, &session, i, &s, &secrets).await;
                let verdict = if o.ok {
                    Ok(())
                } else {
                    Err(format!(
                        "global_pre_exec failed on {}: {}",
                        t.host_name,
                        o.error.clone().unwrap_or_default()
                    ))
                };
                let _ = ex.once_more.set(verdict);
                o
            }
            Work::GlobalPre(_) => {
                set_progress(ex, t, i, w.name()).await;
                ex.out
                    .system(t.id, "waiting for global_pre_exec on the first instance");
                loop {
                    if let Some(v) = ex.once_more.get() {
                        break match v {
                            Ok(()) => Outcome::success(),
                            Err(e) => Outcome::failed(EXEC_FAILED, e.clone()),
                        };
                    }
                    if let Some(why) = ex.cancel.borrow().clone() {
                        break Outcome::failed(EXEC_FAILED, why);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            Work::Upload { filename, sha256 } => {
                set_progress(ex, t, i, w.name()).await;
                upload(ex, t, p, &session, i, &stage, filename, sha256, &secrets).await
            }
            Work::Prune => {
                let s = prune_step(ex, p, ip.instance_id).await;
                step(ex, t, &session, i, &s, &secrets).await
            }
            Work::GlobalPost(h) => {
                let n = ex.succeeded.fetch_add(1, Ordering::SeqCst) + 1;
                if n as i32 == ex.run.total {
                    let s = hook_step(p, "global_post_exec", h, "\"$D\"");
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
    stage: &str,
    filename: &str,
    sha256: &str,
    secrets: &[String],
) -> Outcome {
    let local = crate::deploy::service::artifacts::path_of(&ex.ctx, sha256);
    // Relative to the login user's home, where SFTP starts.
    let remote = format!("{stage}/{filename}");
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
            "{}cd \"$HOME\"/{}\necho {} | sha256sum -c -\n",
            prelude(p),
            quote(stage),
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
    let inner = if names.is_empty() {
        "echo 'nothing to prune'".to_string()
    } else {
        let list: Vec<String> = names.iter().map(|n| quote(n)).collect();
        format!(
            "cd \"$D/releases\"\nrm -rf -- {}\necho 'removed old releases: {}'",
            list.join(" "),
            names.join(", ")
        )
    };
    as_in(p, "prune", &p.user, &inner, None)
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
