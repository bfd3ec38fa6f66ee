//! Server functions of host tasks.
use super::types::*;
use crate::common::Page;
use crate::error::AppError;
use crate::exec::types::{Task, TaskStarted};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Starts, stops or restarts hosts (`action`: `start`, `stop`, `restart`) in one task.
#[server(prefix = "/rpc", input = Json)]
pub async fn power_hosts(action: String, items: Vec<PowerItem>) -> Result<TaskStarted, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::power_batch(&ctx, &actor, super::service::power_of(&action)?, items).await
}

/// The power tasks of one action.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_power_tasks(
    action: String,
    filter: HostTaskFilter,
) -> Result<Page<Task>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list(&ctx, &actor, super::service::power_of(&action)?, filter).await
}

/// Moves a host to another status.
#[server(prefix = "/rpc", input = Json)]
pub async fn change_host_status(id: i64, status: String) -> Result<TaskStarted, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::change_status(&ctx, &actor, id, ChangeStatus { status }).await
}

/// Starts, stops or restarts one host (its provider is asked first, so its errors answer here).
#[server(prefix = "/rpc", input = Json)]
pub async fn power_host(id: i64, action: String, force: bool) -> Result<TaskStarted, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    let p = super::service::power_of(&action)?;
    super::service::power_one(&ctx, &actor, id, p, PowerInput { force }).await
}

/// Inits hosts (a task).
#[server(prefix = "/rpc", input = Json)]
pub async fn init_hosts(input: InitInput) -> Result<Task, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::init_hosts(&ctx, &actor, input).await
}

/// Sets a host's Zabbix groups and templates.
#[server(prefix = "/rpc", input = Json)]
pub async fn change_zabbix_opts(
    id: i64,
    opts: ZabbixOpts,
) -> Result<crate::common::Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::change_zabbix_opts(&ctx, &actor, id, opts).await
}
