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

/// Listens for other processes' changes until the process ends (PostgreSQL only). While it
/// cannot listen (database down, connection lost) it refreshes everything at each retry, with
/// a growing pause (2 s up to a minute), and says so once per outage.
pub async fn listen(ctx: Ctx) {
    if ctx.db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return;
    }
    let mut pause = Duration::from_secs(2);
    let mut failures = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        let result = run(&ctx).await;
        if started.elapsed() > Duration::from_secs(60) {
            // It listened for a while: this is a new outage, from the short pause.
            pause = Duration::from_secs(2);
            failures = 0;
        }
        if let Err(e) = result {
            if failures == 0 {
                tracing::warn!(error = %e, "change notifications: not listening; retrying");
            } else {
                tracing::debug!(error = %e, "change notifications: still not listening");
            }
            failures += 1;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(60));
        // Whatever changed while nobody listened (also when the next connect fails).
        let _ = refresh(&ctx, &everything()).await;
    }
}

async fn run(ctx: &Ctx) -> Result<(), String> {
    use sea_orm::sqlx::postgres::PgListener;
    let mut l = PgListener::connect(&ctx.config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    l.listen(CHANNEL).await.map_err(|e| e.to_string())?;
    tracing::info!("change notifications: listening");
    // Whatever changed while nobody listened.
    refresh(ctx, &everything()).await?;
    loop {
        let mut what = BTreeSet::new();
        match l.try_recv().await.map_err(|e| e.to_string())? {
            Some(n) => note(ctx, n.payload(), &mut what),
            // The connection was lost and regained: notifications may have been missed.
            None => what.extend(everything()),
        }
        let until = tokio::time::Instant::now() + GATHER;
        while let Ok(r) = tokio::time::timeout_at(until, l.try_recv()).await {
            match r.map_err(|e| e.to_string())? {
                Some(n) => note(ctx, n.payload(), &mut what),
                None => what.extend(everything()),
            }
        }
        // A refresh that fails (database unreachable) ends this connection: the retry path
        // refreshes everything again, so nothing stays stale.
        refresh(ctx, &what).await?;
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

async fn refresh(ctx: &Ctx, what: &BTreeSet<String>) -> Result<(), String> {
    for w in what {
        match w.as_str() {
            "policy" => reload_policy(ctx)
                .await
                .map_err(|e| format!("reloading the policy: {e}"))?,
            "tokens" => crate::tokens::service::forget_tokens(ctx),
            other => {
                if let Some(k) = other.strip_prefix("catalog:").and_then(ResourceType::parse) {
                    crate::perms::service::catalog_changed(k);
                }
            }
        }
    }
    Ok(())
}

/// Loads the policy into a new enforcer without holding the lock (services wait for the
/// enforcer while holding database connections: loading under the write lock could wait for a
/// connection they hold). It is swapped in only if no change of this process reached the
/// enforcer meanwhile (the policy epoch is unchanged); otherwise the load is repeated, since that
/// change may have committed after the load read its table.
async fn reload_policy(ctx: &Ctx) -> Result<(), casbin::Error> {
    for _ in 0..10 {
        let before = crate::perms::casbin::epoch();
        let fresh = crate::perms::casbin::enforcer(&ctx.db).await?;
        let mut e = ctx.enforcer.write().await;
        if crate::perms::casbin::epoch() == before {
            crate::perms::casbin::policy_changed();
            *e = fresh;
            crate::perms::casbin::policy_changed();
            return Ok(());
        }
        drop(e);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Changes keep coming in this process: give up for now; the caller's retry path reloads.
    Err(casbin::error::AdapterError(Box::new(std::io::Error::other(
        "the policy kept changing during the reload",
    )))
    .into())
}
