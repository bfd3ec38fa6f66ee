//! The power targets of runs (`host_start`, `host_stop`, `host_restart`): each host goes
//! through its provider, a cloud API when the host has a cloud account (`cloud`), else the
//! `ssh` provider, which runs the host's stop or restart command over SSH (it cannot start a
//! machine that is off). A host whose action succeeded gets its new OS status in the same
//! transaction as its result.
use super::cloud::{self, Power};
use super::runner::{quote, steps, Exec, Outcome, Step};
use crate::entities::{host, host_access, run_target};
use crate::error::AppResult;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// Run kinds of power actions.
pub const HOST_START: &str = "host_start";
pub const HOST_STOP: &str = "host_stop";
pub const HOST_RESTART: &str = "host_restart";

/// The run kind of a power action.
pub fn kind_of(p: Power) -> &'static str {
    match p {
        Power::Start => HOST_START,
        Power::Stop => HOST_STOP,
        Power::Restart => HOST_RESTART,
    }
}

/// The power action of a run kind.
pub fn power_of_kind(kind: &str) -> Option<Power> {
    match kind {
        HOST_START => Some(Power::Start),
        HOST_STOP => Some(Power::Stop),
        HOST_RESTART => Some(Power::Restart),
        _ => None,
    }
}

/// The power action a run performs, if it is a power run.
pub(super) fn of(ex: &Exec) -> Option<Power> {
    power_of_kind(&ex.run.kind)
}

/// Whether a target's host is to be forced (`opts.extra.force`: the host ids).
fn forced(ex: &Exec, host_id: i64) -> bool {
    ex.extra
        .get("force")
        .and_then(|f| f.as_array())
        .is_some_and(|f| f.iter().any(|h| h.as_i64() == Some(host_id)))
}

/// The command the `ssh` provider runs: the host's own, else the system's. It is started
/// detached a second later, so the SSH session ends cleanly before the machine goes down.
pub fn ssh_command(a: Option<&host_access::Model>, p: Power, force: bool) -> Option<String> {
    let own = match p {
        Power::Stop => a.and_then(|a| a.stop_cmd.clone()),
        Power::Restart => a.and_then(|a| a.restart_cmd.clone()),
        Power::Start => return None,
    };
    let cmd = own.unwrap_or_else(|| {
        match (p, force) {
            (Power::Stop, false) => "shutdown -h now",
            (Power::Stop, true) => "poweroff -f",
            (_, false) => "shutdown -r now",
            (_, true) => "reboot -f",
        }
        .to_string()
    });
    Some(format!(
        "nohup sh -c {} >/dev/null 2>&1 </dev/null & echo {}",
        quote(&format!("sleep 1; {cmd}")),
        quote(&format!("{} requested: {cmd}", p.as_str()))
    ))
}

/// Performs one host's power action through its provider.
pub(super) async fn target(ex: &Exec, t: &mut run_target::Model, p: Power) -> Outcome {
    let ctx = &ex.ctx;
    let force = forced(ex, t.host_id);
    let access = match host_access::Entity::find_by_id(t.host_id)
        .one(&ctx.db)
        .await
    {
        Ok(a) => a,
        Err(e) => return Outcome::failed(super::runner::EXEC_FAILED, e.to_string()),
    };
    let account = match &access {
        Some(a) => match crate::credentials::service::cloud_account_of(ctx, a).await {
            Ok(acc) => acc,
            Err(e) => return Outcome::failed(super::runner::EXEC_FAILED, e.message),
        },
        None => None,
    };
    let Some((acct, instance)) = account else {
        let Some(cmd) = ssh_command(access.as_ref(), p, force) else {
            return Outcome::failed(
                30004,
                format!(
                    "host {} has no cloud account: the ssh provider cannot start a machine",
                    t.host_name
                ),
            );
        };
        let step = Step {
            name: p.as_str().into(),
            script: cmd,
            timeout_secs: Some(60),
        };
        return steps(ex, t, std::slice::from_ref(&step)).await;
    };
    ex.out.system(
        t.id,
        &format!(
            "{} {instance} through cloud account {} ({}){}",
            p.as_str(),
            acct.0,
            acct.1.provider,
            if force { ", forced" } else { "" }
        ),
    );
    let mut cancel = ex.cancel.clone();
    let done = tokio::select! {
        r = cloud::power(&acct.1, &instance, p, force) => r,
        c = cancel.wait_for(|c| c.is_some()) => {
            let why = c.map(|c| c.clone().unwrap_or_default()).unwrap_or_default();
            return Outcome::failed(super::runner::EXEC_FAILED, format!("{why} (the provider may still complete the action)"));
        }
    };
    match done {
        Ok(()) => {
            ex.out.system(t.id, &format!("{} done", p.as_str()));
            Outcome::success()
        }
        // Start failures carry the seed's 30003 (start failed), as single starts answer.
        Err(e) if p == Power::Start => Outcome::failed(30003, e.message),
        Err(e) => Outcome::failed(e.code, e.message),
    }
}

/// What a finished power target changes: its host's OS status.
pub(super) async fn effects<C: ConnectionTrait>(
    txn: &C,
    ex: &Exec,
    t: &run_target::Model,
) -> AppResult<()> {
    if let Some(p) = of(ex) {
        host::Entity::update_many()
            .col_expr(host::Column::OsStatus, Expr::value(p.os_status()))
            .col_expr(host::Column::UpdatedAt, Expr::value(crate::time::now()))
            .filter(host::Column::Id.eq(t.host_id))
            .exec(txn)
            .await?;
    }
    Ok(())
}
