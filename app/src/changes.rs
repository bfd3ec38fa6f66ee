//! Keeps per-process caches true when several Opsdeck processes share one PostgreSQL.
//!
//! Every process keeps, in memory, the Casbin enforcer (policy lines), the id sets lists filter by
//! (`perms::service::VisibleCache`, valid per policy epoch and per catalog epoch) and resolved API
//! tokens (`tokens::service::TokenCache`). A process updates its own after each committed
//! change. Other processes learn of it from PostgreSQL: statement triggers on the source tables
//! (migration `m20261202_000007_change_notify`) send `NOTIFY opsdeck_changes, '<what> <sender>'`,
//! which PostgreSQL delivers at commit (never for a rolled-back change). `listen` receives them
//! and, for what another process changed: `policy` reloads the enforcer from the database (and
//! so starts a new policy epoch), `catalog:<kind>` starts a new catalog epoch of that kind,
//! `tokens` drops the token cache. A connection lost and regained may have missed notifications:
//! everything is refreshed then. SQLite serves one process, so there is nothing to listen for.
use crate::ctx::Ctx;
use crate::perms::types::ResourceType;
use std::collections::BTreeSet;
use std::time::Duration;

/// The notification channel the triggers send on.
pub const CHANNEL: &str = "opsdeck_changes";

/// Notifications arriving this soon after one are handled with it (a burst of statements, an
/// import) by one reload.
const GATHER: Duration = Duration::from_millis(200);

/// Listens for other processes' changes until the process ends (PostgreSQL only); reconnects
/// after an error.
pub async fn listen(ctx: Ctx) {
    if ctx.db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return;
    }
    loop {
        if let Err(e) = run(&ctx).await {
            tracing::warn!(error = %e, "change notifications: connection lost");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn run(ctx: &Ctx) -> Result<(), sea_orm::sqlx::Error> {
    use sea_orm::sqlx::postgres::PgListener;
    let mut l = PgListener::connect(&ctx.config.database_url).await?;
    l.listen(CHANNEL).await?;
    // Whatever changed while nobody listened.
    refresh(ctx, &everything()).await;
    loop {
        let mut what = BTreeSet::new();
        match l.try_recv().await? {
            Some(n) => note(ctx, n.payload(), &mut what),
            None => {
                refresh(ctx, &everything()).await;
                continue;
            }
        }
        let until = tokio::time::Instant::now() + GATHER;
        while let Ok(r) = tokio::time::timeout_at(until, l.try_recv()).await {
            match r? {
                Some(n) => note(ctx, n.payload(), &mut what),
                None => what.extend(everything()),
            }
        }
        refresh(ctx, &what).await;
    }
}

fn everything() -> BTreeSet<String> {
    ["policy", "tokens"]
        .into_iter()
        .map(String::from)
        .chain(
            ResourceType::ALL
                .iter()
                .map(|k| format!("catalog:{}", k.as_str())),
        )
        .collect()
}

/// Keeps what another process changed (`<what> <sender>`; our own changes are applied already).
fn note(ctx: &Ctx, payload: &str, what: &mut BTreeSet<String>) {
    let (w, sender) = payload.split_once(' ').unwrap_or((payload, ""));
    if sender != &*ctx.instance {
        what.insert(w.to_string());
    }
}

async fn refresh(ctx: &Ctx, what: &BTreeSet<String>) {
    for w in what {
        match w.as_str() {
            "policy" => {
                if let Err(e) = reload_policy(ctx).await {
                    tracing::error!(error = %e, "reloading the policy after another process changed it");
                }
            }
            "tokens" => crate::tokens::service::forget_tokens(ctx),
            other => {
                if let Some(k) = other.strip_prefix("catalog:").and_then(ResourceType::parse) {
                    crate::perms::service::catalog_changed(k);
                }
            }
        }
    }
}

/// Loads the policy again, holding the enforcer's write lock meanwhile: a change of this process
/// that commits during the load waits for the lock and is applied after (applying a line twice
/// is harmless), so none is lost.
async fn reload_policy(ctx: &Ctx) -> Result<(), casbin::Error> {
    let mut e = ctx.enforcer.write().await;
    crate::perms::casbin::policy_changed();
    let fresh = crate::perms::casbin::enforcer(&ctx.db).await?;
    *e = fresh;
    crate::perms::casbin::policy_changed();
    Ok(())
}
