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
    #[serde(default, deserialize_with = "crate::common::de::double_option")]
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
    #[serde(default, deserialize_with = "crate::common::de::double_option")]
    pub global_pre_exec: Option<Option<HookInput>>,
    #[serde(default, deserialize_with = "crate::common::de::double_option")]
    pub pre_exec: Option<Option<HookInput>>,
    #[serde(default, deserialize_with = "crate::common::de::double_option")]
    pub post_exec: Option<Option<HookInput>>,
    #[serde(
        default,
        alias = "glboal_post_exec",
        deserialize_with = "crate::common::de::double_option"
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
