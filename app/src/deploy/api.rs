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
