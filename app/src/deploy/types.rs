//! Wire types of deployments: scripts, repository credentials, templates and per-application
//! settings (seed 003 "Application deploy template", "deploy script", "password credential").
use crate::common::PageQuery;
use serde::{Deserialize, Serialize};

/// Languages a deploy script may be written in.
pub const SCRIPT_LANGUAGES: &[&str] = &["bash", "python"];
/// Template engines a deploy script may use.
pub const TEMPLATE_ENGINES: &[&str] = &["jinja"];
/// Repository kinds.
pub const REPOSITORY_TYPES: &[&str] = &["GIT", "FTP"];
/// The lifecycle hooks, in the order a deploy runs them.
pub const HOOKS: &[&str] = &[
    "global_pre_exec",
    "pre_exec",
    "post_exec",
    "global_post_exec",
];

/// A deploy script (seed 003 "deploy script").
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeployScript {
    pub id: i64,
    pub name: String,
    /// `bash` or `python`.
    pub language: String,
    /// The script, a Jinja template (see docs/api.md for its context).
    pub content: String,
    /// `jinja`.
    pub template_engine: String,
    pub creator: String,
    pub created_time: String,
    pub updated_time: String,
}

/// `POST /application/deploy-scripts/` and `PATCH …/{id}/` (absent fields are kept; the seed's
/// `creator` is ignored: the creator is the caller).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeployScriptInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub template_engine: Option<String>,
    #[serde(default)]
    pub creator: Option<String>,
}

/// Filters of `GET /application/deploy-scripts/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeployScriptFilter {
    /// Name contains.
    #[serde(default)]
    pub name: Option<String>,
    /// The creator's user name.
    #[serde(default)]
    pub creator: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    /// Content contains.
    #[serde(default)]
    pub content: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// A repository password credential (seed 003 "password credential"); the password is never
/// answered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RepoCredential {
    pub id: i64,
    pub name: String,
    /// `PASSWORD`.
    #[serde(rename = "type")]
    pub kind: String,
    pub username: String,
    /// Always `******`.
    pub password: String,
    pub creator: String,
    pub created_time: String,
    pub updated_time: String,
}

/// `POST /application/repository-credentials/password/` and `PATCH` (with `id` in the body on
/// the seed's bare path). `Debug` never shows the password.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RepoCredentialInput {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for RepoCredentialInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoCredentialInput")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Filters of the credential list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RepoCredentialFilter {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// A repository as configurations answer it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Repository {
    /// `GIT` or `FTP`.
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub credential: Option<RepoCredential>,
}

/// A repository as configurations take it (`credential`: a credential id).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RepositoryInput {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::de::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub credential: Option<Option<i64>>,
}

/// A script as a hook names it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HookScript {
    pub id: i64,
    pub name: String,
    pub language: String,
    pub content: String,
    pub template_engine: String,
}

/// One lifecycle hook: a script, run as `running_user` (else the hooks' user).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Hook {
    #[serde(default)]
    pub running_user: Option<String>,
    pub script: HookScript,
}

/// The lifecycle hooks of a deploy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LifecycleHooks {
    pub running_user: String,
    pub global_pre_exec: Option<Hook>,
    pub pre_exec: Option<Hook>,
    pub post_exec: Option<Hook>,
    pub global_post_exec: Option<Hook>,
}

/// A script named by id.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScriptRef {
    pub id: i64,
}

/// A hook as configurations take it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HookInput {
    #[serde(default)]
    pub running_user: Option<String>,
    pub script: ScriptRef,
}

/// Lifecycle hooks as configurations take them: an absent hook is kept, `null` removes it
/// (the seed also spells `glboal_post_exec`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LifecycleHooksInput {
    #[serde(default)]
    pub running_user: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::de::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub global_pre_exec: Option<Option<HookInput>>,
    #[serde(
        default,
        deserialize_with = "crate::common::de::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub pre_exec: Option<Option<HookInput>>,
    #[serde(
        default,
        deserialize_with = "crate::common::de::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub post_exec: Option<Option<HookInput>>,
    #[serde(
        default,
        alias = "glboal_post_exec",
        deserialize_with = "crate::common::de::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub global_post_exec: Option<Option<HookInput>>,
}

/// An application named by id (template's `applications`; the seed also spells `applictions`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AppRef {
    pub id: i64,
}

/// A deploy template (seed 003 "Application deploy template").
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeployTemplate {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    /// Applications linked to it (those the caller may view).
    pub applications: Vec<AppRef>,
    pub creator: String,
    pub repository: Repository,
    pub deploy_path: String,
    pub script_running_user: String,
    pub timeout: i32,
    pub keep_backups: i32,
    pub lifecycle_hooks: LifecycleHooks,
}

/// Fields of a deploy configuration as templates and settings take them (absent: kept).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeployConfigInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Templates: the applications linked to it (replaces the list).
    #[serde(default, alias = "applictions")]
    pub applications: Option<Vec<AppRef>>,
    #[serde(default)]
    pub repository: Option<RepositoryInput>,
    #[serde(default)]
    pub deploy_path: Option<String>,
    #[serde(default)]
    pub script_running_user: Option<String>,
    #[serde(default)]
    pub timeout: Option<i32>,
    #[serde(default)]
    pub keep_backups: Option<i32>,
    #[serde(default, alias = "lifecyle_hooks")]
    pub lifecycle_hooks: Option<LifecycleHooksInput>,
}

/// Filters of `GET /application/deploy-templates/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeployTemplateFilter {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub creator: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// A template as settings name it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TemplateRef {
    pub id: i64,
    pub name: String,
}

/// An application's deploy settings: its own, or its template's while linked.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeploySettings {
    pub enabled: bool,
    pub application: i64,
    pub template: Option<TemplateRef>,
    pub repository: Repository,
    pub deploy_path: String,
    pub script_running_user: String,
    pub timeout: i32,
    pub keep_backups: i32,
    pub lifecycle_hooks: LifecycleHooks,
}

/// `POST …/deploy-settings/template/` and `DELETE` (`clean`: forget the configuration instead
/// of keeping a copy of the template's).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TemplateLink {
    pub id: i64,
    #[serde(default)]
    pub clean: bool,
}

/// `POST …/deploy-settings/preview/`: a script rendered for one instance.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PreviewInput {
    /// A stored script, or `content` to render.
    #[serde(default)]
    pub script_id: Option<i64>,
    #[serde(default)]
    pub content: Option<String>,
    pub instance_id: i64,
    /// The version to render for (default `preview`).
    #[serde(default)]
    pub version: Option<String>,
}

/// A rendered script.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Rendered {
    pub content: String,
}

/// An application as script and template lists name it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AppSummary {
    pub id: i64,
    pub name: String,
    pub full_name: String,
}

// ---------------------------------------------------------------------------------------------
// Deploy tasks (seed 003 L832–995), their sub-tasks, artifacts and instance logs.

/// Levels of a deploy task; `S` and `A` need two approvals.
pub const LEVELS: &[&str] = &["S", "A", "B", "C", "I"];
/// Statuses of a deploy task (`deploying`: started, sub-tasks may run; an addition).
pub const TASK_STATUSES: &[&str] = &[
    "wait_review",
    "approved",
    "deploying",
    "finished",
    "rejected",
    "closed",
];

/// Whether a version can name a release directory.
pub fn version_ok(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v != "."
        && v != ".."
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Checks a task's fields, as the form pre-checks them too.
pub fn check_task_input(i: &DeployTaskInput) -> Result<(), (&'static str, String)> {
    let version = i.version.as_deref().unwrap_or_default().trim();
    if !version_ok(version) {
        return Err(("version", "letters, digits and . _ - (64 at most)".into()));
    }
    if i.description.trim().is_empty() || i.description.chars().count() > 2000 {
        return Err(("description", "required, 2000 characters at most".into()));
    }
    if !LEVELS.contains(&i.level.as_str()) {
        return Err(("level", format!("one of {}", LEVELS.join(", "))));
    }
    if i.package_source.trim().is_empty() {
        return Err(("package_source", "artifact:<id> or an http(s) URL".into()));
    }
    for (f, v) in [
        ("upgrade_checklist", &i.upgrade_checklist),
        ("upgrade_steps", &i.upgrade_steps),
        ("rollback_steps", &i.rollback_steps),
    ] {
        if v.chars().count() > 20_000 {
            return Err((f, "20000 characters at most".into()));
        }
    }
    Ok(())
}

/// Whether a level needs two approvals.
pub fn needs_two(level: &str) -> bool {
    matches!(level, "S" | "A")
}

/// `POST /application/deploy-tasks/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeployTaskInput {
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub application_id: Option<i64>,
    /// Text or a number (the seed shows both); names the release directory.
    #[serde(default, deserialize_with = "crate::common::de::opt_num_or_text")]
    pub version: Option<String>,
    #[serde(default)]
    pub description: String,
    /// `S`, `A`, `B`, `C` or `I`.
    #[serde(default)]
    pub level: String,
    /// `artifact:<id>` (uploaded to Opsdeck) or an http(s) URL (also spelled `deploy_source`).
    #[serde(default, alias = "deploy_source")]
    pub package_source: String,
    /// Unix seconds (the seed) or RFC 3339.
    #[serde(default, deserialize_with = "crate::common::de::opt_num_or_text")]
    pub planned_exec_time: Option<String>,
    #[serde(default)]
    pub upgrade_checklist: String,
    #[serde(default)]
    pub upgrade_steps: String,
    #[serde(default)]
    pub rollback_steps: String,
}

/// Filters of `GET /application/deploy-tasks/` (all additions to the seed).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeployTaskFilter {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub application_id: Option<i64>,
    /// The creator's user name.
    #[serde(default)]
    pub creator: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    /// Created after (RFC 3339 or a date).
    #[serde(default, rename = "time__gt")]
    pub time_gt: Option<String>,
    #[serde(default, rename = "time__lt")]
    pub time_lt: Option<String>,
    /// `mine` (created by or delegated to the caller) or `inbox` (waiting for the caller's
    /// approval).
    #[serde(default)]
    pub view: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// What the caller may do with a deploy task now.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeployTaskActions {
    pub approve: bool,
    pub reject: bool,
    pub start: bool,
    pub close: bool,
    pub delegate: bool,
    /// Sub-upgrade and sub-revert tasks.
    pub deploy: bool,
}

/// A deploy task.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeployTask {
    pub id: i64,
    pub application_id: i64,
    pub application_name: String,
    pub version: String,
    pub description: String,
    pub level: String,
    pub package_source: String,
    pub planned_exec_time: String,
    pub upgrade_checklist: String,
    pub upgrade_steps: String,
    pub rollback_steps: String,
    /// `wait_review`, `approved`, `deploying`, `finished`, `rejected` or `closed`.
    pub status: String,
    pub creator: String,
    #[serde(default)]
    pub delegate: Option<String>,
    pub approvals_needed: i32,
    pub approvals_count: i32,
    pub created_time: String,
    #[serde(default)]
    pub started_time: Option<String>,
    #[serde(default)]
    pub finished_time: Option<String>,
    pub available_actions: DeployTaskActions,
}

/// A sub-task of a deploy task, as its detail lists them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SubTask {
    pub id: i64,
    /// `deploy_upgrade` or `deploy_revert`.
    pub kind: String,
    pub version: String,
    /// `running`, `finished` or `failed`.
    pub status: String,
    pub creator: String,
    pub created_time: String,
    pub task_output: String,
}

/// An instance of the task's application, with the releases it keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InstanceState {
    pub id: i64,
    pub host_id: i64,
    /// The host's name, or `#<id>` for a host the caller may not view.
    pub host_name: String,
    /// `running`, `stopped`, `updating`, `reverting`, `restarting` or `unknown`.
    pub status: String,
    pub version: String,
    /// Versions on the host a revert may switch to, newest first.
    pub kept: Vec<String>,
}

/// `GET /application/deploy-tasks/{id}/` (an addition): the task, its approvals, sub-tasks
/// and the application's instances.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeployTaskDetail {
    pub task: DeployTask,
    pub decisions: Vec<crate::approvals::types::Decision>,
    pub timeline: Vec<crate::approvals::types::TimelineEvent>,
    pub sub_tasks: Vec<SubTask>,
    pub instances: Vec<InstanceState>,
}

/// `POST …/actions/delegate/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DelegateInput {
    pub user_id: i64,
}

/// An instance named by id.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InstanceRef {
    pub id: i64,
}

/// `POST …/sub-upgrade-tasks/` and `…/sub-revert-tasks/` (revert takes no source).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SubTaskInput {
    pub instances: Vec<InstanceRef>,
    /// Default: the task's `package_source`.
    #[serde(default)]
    pub update_source: Option<String>,
    /// Default: the task's version (upgrades).
    #[serde(default, deserialize_with = "crate::common::de::opt_num_or_text")]
    pub version: Option<String>,
    /// Seconds per step (default: the deploy settings' timeout).
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub timeout: Option<i32>,
    /// Instances changed at once (default: all; 1 is a rolling deploy that stops at the first
    /// failure). An addition.
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub concurrency: Option<i32>,
}

/// A package in the artifact store.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Artifact {
    pub id: i64,
    pub sha256: String,
    pub size: i64,
    pub filename: String,
    /// What a task's `package_source` names it by: `artifact:<id>`.
    pub source: String,
}

/// `GET /application/{id}/instance/{iid}/log/` (seed 003 L370).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LogQuery {
    /// `stdout` (default) or `error`.
    #[serde(default)]
    pub log_type: Option<String>,
    /// `bytes` (default) or `lines`.
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub from_position: Option<i64>,
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub from_last_position: Option<i64>,
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub block_size: Option<i64>,
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub lines: Option<i64>,
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub from_lines: Option<i64>,
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub latest_lines: Option<i64>,
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub latest_lines_offset: Option<i64>,
}

/// A piece of an instance's log.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LogChunk {
    pub content: String,
    /// Bytes of `content`.
    pub length: i64,
    /// Bytes of the log file.
    pub total_length: i64,
    /// Bytes mode: the file position after `content`. Lines mode: the line after it.
    pub position: i64,
    /// Lines mode: lines in `content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<i64>,
}

/// `POST /application/deploy-tasks/`'s answer: the seed's `{"message": "success"}` and the new
/// task's id (an addition).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TaskCreated {
    pub message: String,
    pub id: i64,
}
