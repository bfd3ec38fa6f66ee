//! Deploy configuration: scripts (`scripts`), repository credentials (`creds`), templates and
//! application settings (`config`), script rendering (`render`); deploy tasks (`tasks`), their
//! sub-tasks on instances (`subtasks`), packages (`artifacts`), instance logs (`log`).
pub mod artifacts;
mod config;
mod creds;
mod log;
mod notify;
pub mod render;
mod scripts;
mod subtasks;
mod tasks;

pub use artifacts::{filename_ok, upload_artifact};
pub use config::*;
pub use creds::*;
pub use log::*;
pub use scripts::*;
pub use subtasks::*;
pub use tasks::*;

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
