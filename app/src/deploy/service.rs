//! Deploy configuration: scripts (`scripts`), repository credentials (`creds`), templates and
//! application settings (`config`), script rendering (`render`).
mod config;
mod creds;
pub mod render;
mod scripts;

pub use config::*;
pub use creds::*;
pub use scripts::*;

use crate::ctx::{Actor, Ctx};
use crate::error::AppResult;

/// Templates, scripts and repository credentials are managed by holders of
/// `deploy_template.enable_deploy_template_mgmt`.
async fn manage(ctx: &Ctx, actor: &Actor) -> AppResult<()> {
    crate::perms::service::authorize_module(
        ctx,
        actor,
        "deploy_template",
        "enable_deploy_template_mgmt",
    )
    .await
}
