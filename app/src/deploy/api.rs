//! Server functions of deploy configuration.
use super::types::*;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// An application's deploy settings.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_deploy_settings(app: i64) -> Result<DeploySettings, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get_settings(&ctx, &actor, app).await
}

/// A script rendered for one instance of an application.
#[server(prefix = "/rpc", input = Json)]
pub async fn preview_deploy_script(app: i64, input: PreviewInput) -> Result<Rendered, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::preview(&ctx, &actor, app, input).await
}

/// Deploy tasks the caller may see.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_deploy_tasks(
    filter: DeployTaskFilter,
) -> Result<crate::common::Page<DeployTask>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list_tasks(&ctx, &actor, filter).await
}

/// A deploy task with its approvals, sub-tasks and instances.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_deploy_task(id: i64) -> Result<DeployTaskDetail, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get_task(&ctx, &actor, id).await
}

/// Files a deploy task.
#[server(prefix = "/rpc", input = Json)]
pub async fn create_deploy_task(input: DeployTaskInput) -> Result<TaskCreated, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::create_task(&ctx, &actor, input).await
}

/// `approve`, `reject` (with `reason`), `start` or `close` a deploy task.
#[server(prefix = "/rpc", input = Json)]
pub async fn deploy_task_action(
    id: i64,
    action: String,
    reason: Option<String>,
) -> Result<crate::common::Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    use super::service as s;
    match action.as_str() {
        "approve" => s::approve_task(&ctx, &actor, id).await,
        "reject" => s::reject_task(&ctx, &actor, id, reason.as_deref().unwrap_or_default()).await,
        "start" => s::start_task(&ctx, &actor, id).await,
        "close" => s::close_task(&ctx, &actor, id).await,
        _ => Err(AppError::invalid(
            "action",
            "approve, reject, start or close",
        )),
    }
}

/// Hands a deploy task to another user who may deploy the application.
#[server(prefix = "/rpc", input = Json)]
pub async fn delegate_deploy_task(
    id: i64,
    user_id: i64,
) -> Result<crate::common::Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::delegate_task(&ctx, &actor, id, DelegateInput { user_id }).await
}

/// Starts a sub-task: an upgrade, or (`revert`) a switch back to a kept version.
#[server(prefix = "/rpc", input = Json)]
pub async fn start_deploy_sub_task(
    id: i64,
    revert: bool,
    input: SubTaskInput,
) -> Result<crate::exec::types::TaskStarted, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    if revert {
        super::service::sub_revert(&ctx, &actor, id, input).await
    } else {
        super::service::sub_upgrade(&ctx, &actor, id, input).await
    }
}

/// A piece of an instance's log.
#[server(prefix = "/rpc", input = Json)]
pub async fn read_instance_log(
    app: i64,
    instance: i64,
    query: LogQuery,
) -> Result<LogChunk, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::instance_log(&ctx, &actor, app, instance, query).await
}

/// Deploy scripts (deploy template managers).
#[server(prefix = "/rpc", input = Json)]
pub async fn list_deploy_scripts(
    filter: DeployScriptFilter,
) -> Result<crate::common::Page<DeployScript>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list_scripts(&ctx, &actor, filter).await
}

/// Adds a deploy script (`id` None) or changes one.
#[server(prefix = "/rpc", input = Json)]
pub async fn save_deploy_script(
    id: Option<i64>,
    input: DeployScriptInput,
) -> Result<DeployScript, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    match id {
        Some(id) => super::service::update_script(&ctx, &actor, id, input).await,
        None => super::service::create_script(&ctx, &actor, input).await,
    }
}

/// Deletes a deploy script no hook runs.
#[server(prefix = "/rpc", input = Json)]
pub async fn delete_deploy_script(id: i64) -> Result<crate::common::Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::delete_script(&ctx, &actor, id).await
}

/// Deploy templates.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_deploy_templates(
    filter: DeployTemplateFilter,
) -> Result<crate::common::Page<DeployTemplate>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list_templates(&ctx, &actor, filter).await
}

/// Adds a deploy template (`id` None) or changes one.
#[server(prefix = "/rpc", input = Json)]
pub async fn save_deploy_template(
    id: Option<i64>,
    input: DeployConfigInput,
) -> Result<DeployTemplate, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    match id {
        Some(id) => super::service::update_template(&ctx, &actor, id, input).await,
        None => super::service::create_template(&ctx, &actor, input).await,
    }
}

/// Deletes a deploy template no application is linked to.
#[server(prefix = "/rpc", input = Json)]
pub async fn delete_deploy_template(id: i64) -> Result<crate::common::Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::delete_template(&ctx, &actor, id).await
}

/// Changes an application's own deploy settings.
#[server(prefix = "/rpc", input = Json)]
pub async fn update_deploy_settings(
    app: i64,
    input: DeployConfigInput,
) -> Result<DeploySettings, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::update_settings(&ctx, &actor, app, input).await
}
