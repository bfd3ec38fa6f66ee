//! What a run's kind does around its steps: the domain changes that follow a target's or a
//! run's end, written in the same transaction as the result.
use crate::ctx::Ctx;
use crate::entities::{run, run_target};
use crate::error::AppResult;
use sea_orm::DatabaseTransaction;

/// Run kinds.
pub const SSH_CHECK: &str = "ssh_check";

/// After one target ended (`ok`: all its steps succeeded).
pub async fn after_target(
    _txn: &DatabaseTransaction,
    _ctx: &Ctx,
    run: &run::Model,
    _target: &run_target::Model,
    _ok: bool,
) -> AppResult<()> {
    match run.kind.as_str() {
        SSH_CHECK => Ok(()),
        _ => Ok(()),
    }
}

/// After the whole run ended (`ok`: every target finished).
pub async fn after_run(
    _txn: &DatabaseTransaction,
    _ctx: &Ctx,
    _run: &run::Model,
    _ok: bool,
) -> AppResult<()> {
    Ok(())
}

/// After a run was interrupted (its process died); `targets` were running or pending.
pub async fn after_interrupt(
    _txn: &DatabaseTransaction,
    _ctx: &Ctx,
    _run: &run::Model,
    _targets: &[run_target::Model],
) -> AppResult<()> {
    Ok(())
}
