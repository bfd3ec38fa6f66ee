//! Deploy configurations: templates (`deploy_template.enable_deploy_template_mgmt`) and each
//! application's settings (`view_app` to read, `edit_app` to change), which are their own or,
//! while linked, their template's. A configuration is kept as JSON (`Config`) with its hooks'
//! scripts indexed in `deploy_hook_scripts` and its credential in a column, so neither a used
//! script nor a used credential can be deleted.
use super::{creds, manage, render};
use crate::audit::service::{record, Entry};
use crate::common::{Message, Page};
use crate::ctx::{Actor, Ctx};
use crate::deploy::types::*;
use crate::entities::{
    application, deploy_hook_script, deploy_script, deploy_setting, deploy_template, host,
    instance, repository_credential,
};
use crate::error::{AppError, AppResult};
use crate::perms::service::{authorize_resource, granted_set, may_module};
use crate::perms::types::ResourceType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

const APP: ResourceType = ResourceType::Application;

/// A hook as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct StoredHook {
    pub script_id: i64,
    #[serde(default)]
    pub running_user: Option<String>,
}

/// A deploy configuration as stored (templates and settings alike).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Config {
    pub repo_type: String,
    pub repo_url: String,
    pub repo_branch: String,
    pub repo_credential_id: Option<i64>,
    pub deploy_path: String,
    pub script_running_user: String,
    pub timeout: i32,
    pub keep_backups: i32,
    pub hooks_user: String,
    pub hooks: BTreeMap<String, StoredHook>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            repo_type: "GIT".into(),
            repo_url: String::new(),
            repo_branch: String::new(),
            repo_credential_id: None,
            deploy_path: String::new(),
            script_running_user: "work".into(),
            timeout: 120,
            keep_backups: 5,
            hooks_user: "work".into(),
            hooks: BTreeMap::new(),
        }
    }
}

fn parse(s: &str) -> Config {
    serde_json::from_str(s).unwrap_or_default()
}

/// Where deploy paths may be: application trees, never system directories.
const DEPLOY_ROOTS: &[&str] = &["/srv/", "/opt/", "/data/", "/app/", "/apps/", "/var/www/"];

/// Whether a deploy path is under an application root (`DEPLOY_ROOTS`), plain (no `.`, `..`
/// or special characters).
pub(crate) fn path_ok(p: &str) -> bool {
    DEPLOY_ROOTS
        .iter()
        .any(|r| p.starts_with(r) && p.len() > r.len())
        && p.starts_with('/')
        && p.len() > 1
        && p.len() <= 255
        && p.split('/').all(|s| s != ".." && s != ".")
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
}

fn user_ok(field: &str, u: &str, allowed: &[String]) -> AppResult<()> {
    if !allowed.iter().any(|a| a == u) {
        return Err(AppError::invalid(
            field,
            format!(
                "one of the running users the configuration allows (OPSDECK_DEPLOY_USERS: {})",
                allowed.join(", ")
            ),
        ));
    }
    // Never root: deploys run scripts as this user (and refuse uid 0 on hosts too).
    if crate::exec::init::login_name_ok(u) && u != "root" {
        Ok(())
    } else {
        Err(AppError::invalid(field, "a login name (a-z, 0-9, _ - .)"))
    }
}

/// Applies an input to a configuration, checking every field it sets; answers whether the
/// repository's URL or credential changed.
async fn apply<C: ConnectionTrait>(
    db: &C,
    users: &[String],
    cfg: &mut Config,
    i: &DeployConfigInput,
) -> AppResult<bool> {
    let mut repo_moved = false;
    if let Some(r) = &i.repository {
        if let Some(k) = &r.kind {
            let k = k.to_ascii_uppercase();
            if !REPOSITORY_TYPES.contains(&k.as_str()) {
                return Err(AppError::invalid("repository.type", "GIT or FTP"));
            }
            repo_moved |= k != cfg.repo_type;
            cfg.repo_type = k;
        }
        if let Some(u) = &r.url {
            let u = u.trim();
            let ok = u.is_empty()
                || (u.len() <= 1024
                    && !u.chars().any(|c| c.is_whitespace() || c.is_control())
                    && ["http://", "https://", "ftp://", "ssh://", "git@"]
                        .iter()
                        .any(|p| u.starts_with(p)));
            if !ok {
                return Err(AppError::invalid(
                    "repository.url",
                    "an http(s), ftp or ssh URL (or git@host:path)",
                ));
            }
            repo_moved |= u != cfg.repo_url;
            cfg.repo_url = u.to_string();
        }
        if let Some(b) = &r.branch {
            let b = b.trim();
            if b.len() > 255
                || !b
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
            {
                return Err(AppError::invalid("repository.branch", "a branch name"));
            }
            cfg.repo_branch = b.to_string();
        }
        if let Some(c) = r.credential {
            if let Some(id) = c {
                repository_credential::Entity::find_by_id(id)
                    .one(db)
                    .await?
                    .ok_or_else(|| {
                        AppError::invalid("repository.credential", "no such credential")
                    })?;
            }
            repo_moved |= c != cfg.repo_credential_id;
            cfg.repo_credential_id = c;
        }
    }
    if let Some(p) = &i.deploy_path {
        let p = p.trim();
        if !path_ok(p) {
            return Err(AppError::invalid(
                "deploy_path",
                format!(
                    "a path under {} of letters, digits and / . _ -",
                    DEPLOY_ROOTS.join(", ")
                ),
            ));
        }
        cfg.deploy_path = p.to_string();
    }
    if let Some(u) = &i.script_running_user {
        user_ok("script_running_user", u.trim(), users)?;
        cfg.script_running_user = u.trim().to_string();
    }
    if let Some(t) = i.timeout {
        if !(1..=86_400).contains(&t) {
            return Err(AppError::invalid("timeout", "1 to 86400 seconds"));
        }
        cfg.timeout = t;
    }
    if let Some(k) = i.keep_backups {
        if !(1..=100).contains(&k) {
            return Err(AppError::invalid("keep_backups", "1 to 100"));
        }
        cfg.keep_backups = k;
    }
    if let Some(h) = &i.lifecycle_hooks {
        if let Some(u) = &h.running_user {
            user_ok("lifecycle_hooks.running_user", u.trim(), users)?;
            cfg.hooks_user = u.trim().to_string();
        }
        for (name, v) in [
            ("global_pre_exec", &h.global_pre_exec),
            ("pre_exec", &h.pre_exec),
            ("post_exec", &h.post_exec),
            ("global_post_exec", &h.global_post_exec),
        ] {
            match v {
                None => {}
                Some(None) => {
                    cfg.hooks.remove(name);
                }
                Some(Some(hk)) => {
                    deploy_script::Entity::find_by_id(hk.script.id)
                        .one(db)
                        .await?
                        .ok_or_else(|| {
                            AppError::invalid(&format!("lifecycle_hooks.{name}"), "no such script")
                        })?;
                    if let Some(u) = &hk.running_user {
                        user_ok(&format!("lifecycle_hooks.{name}.running_user"), u, users)?;
                    }
                    cfg.hooks.insert(
                        name.to_string(),
                        StoredHook {
                            script_id: hk.script.id,
                            running_user: hk.running_user.clone(),
                        },
                    );
                }
            }
        }
    }
    Ok(repo_moved)
}

/// Keeps the hook index of an owner in line with its configuration.
async fn sync_hooks<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    id: i64,
    cfg: Option<&Config>,
) -> AppResult<()> {
    deploy_hook_script::Entity::delete_many()
        .filter(deploy_hook_script::Column::OwnerType.eq(owner))
        .filter(deploy_hook_script::Column::OwnerId.eq(id))
        .exec(db)
        .await?;
    for (hook, h) in cfg
        .map(|c| c.hooks.iter().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        deploy_hook_script::ActiveModel {
            owner_type: Set(owner.into()),
            owner_id: Set(id),
            hook: Set(hook.clone()),
            script_id: Set(h.script_id),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// The repository and hooks of a configuration as answered.
async fn wire_parts<C: ConnectionTrait>(
    db: &C,
    cfg: &Config,
) -> AppResult<(Repository, LifecycleHooks)> {
    let repo = Repository {
        kind: cfg.repo_type.clone(),
        url: cfg.repo_url.clone(),
        branch: cfg.repo_branch.clone(),
        credential: creds::cred_ref(db, cfg.repo_credential_id).await?,
    };
    let ids: Vec<i64> = cfg.hooks.values().map(|h| h.script_id).collect();
    let scripts: BTreeMap<i64, deploy_script::Model> = deploy_script::Entity::find()
        .filter(deploy_script::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let hook = |name: &str| {
        cfg.hooks.get(name).and_then(|h| {
            scripts.get(&h.script_id).map(|s| Hook {
                running_user: h.running_user.clone(),
                script: HookScript {
                    id: s.id,
                    name: s.name.clone(),
                    language: s.language.clone(),
                    content: s.content.clone(),
                    template_engine: s.template_engine.clone(),
                },
            })
        })
    };
    let hooks = LifecycleHooks {
        running_user: cfg.hooks_user.clone(),
        global_pre_exec: hook("global_pre_exec"),
        pre_exec: hook("pre_exec"),
        post_exec: hook("post_exec"),
        global_post_exec: hook("global_post_exec"),
    };
    Ok((repo, hooks))
}

// ------------------------------------------------------------------------------- templates

async fn load_template<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<deploy_template::Model> {
    deploy_template::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("deploy template"))
}

async fn wire_template(
    ctx: &Ctx,
    actor: &Actor,
    t: deploy_template::Model,
) -> AppResult<DeployTemplate> {
    let cfg = parse(&t.config);
    let (repository, lifecycle_hooks) = wire_parts(&ctx.db, &cfg).await?;
    let mut q = deploy_setting::Entity::find().filter(deploy_setting::Column::TemplateId.eq(t.id));
    if let Some(ids) = granted_set(ctx, actor, APP, "view_app").await? {
        q = q.filter(deploy_setting::Column::AppId.is_in(ids.iter().copied()));
    }
    let applications = q
        .order_by_asc(deploy_setting::Column::AppId)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| AppRef { id: s.app_id })
        .collect();
    Ok(DeployTemplate {
        creator: ctx.names.name_of(&ctx.db, t.creator_id).await?,
        id: t.id,
        name: t.name,
        enabled: t.enabled,
        applications,
        repository,
        deploy_path: cfg.deploy_path,
        script_running_user: cfg.script_running_user,
        timeout: cfg.timeout,
        keep_backups: cfg.keep_backups,
        lifecycle_hooks,
    })
}

/// `GET /application/deploy-templates/`.
pub async fn list_templates(
    ctx: &Ctx,
    actor: &Actor,
    f: DeployTemplateFilter,
) -> AppResult<Page<DeployTemplate>> {
    manage(ctx, actor).await?;
    let mut q = deploy_template::Entity::find();
    if let Some(n) = f.name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        q = q.filter(crate::db::like_text(
            ctx.db.get_database_backend(),
            "deploy_templates",
            "name",
            n,
        ));
    }
    if let Some(c) = f.creator.as_deref().filter(|s| !s.is_empty()) {
        let uid = crate::users::service::creator_filter_id(&ctx.db, c).await?;
        q = q.filter(deploy_template::Column::CreatorId.eq(uid));
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(deploy_template::Column::Name)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(wire_template(ctx, actor, r).await?);
    }
    Ok(Page::new(count, &f.page, out))
}

/// `GET /application/deploy-templates/{id}/`.
pub async fn get_template(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<DeployTemplate> {
    manage(ctx, actor).await?;
    let t = load_template(&ctx.db, id).await?;
    wire_template(ctx, actor, t).await
}

fn template_taken(e: AppError, name: &str) -> AppError {
    e.taken("name", format!("a deploy template named {name} exists"))
}

/// Links or unlinks applications to a template so they are exactly `want` (each changed one
/// needs `edit_app`); an unlinked application keeps a copy of the template's configuration.
async fn set_apps<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    actor: &Actor,
    t: &deploy_template::Model,
    want: &[i64],
) -> AppResult<()> {
    let now: Vec<i64> = deploy_setting::Entity::find()
        .filter(deploy_setting::Column::TemplateId.eq(t.id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.app_id)
        .collect();
    for id in want.iter().filter(|i| !now.contains(i)) {
        authorize_resource(ctx, actor, APP, *id, "edit_app").await?;
        link_in(db, actor, *id, t).await?;
    }
    // Linked applications the caller may not see stay linked (they are not in its list).
    let seen = granted_set(ctx, actor, APP, "view_app").await?;
    for id in now.iter().filter(|i| !want.contains(i)) {
        if seen.as_ref().is_some_and(|s| s.binary_search(id).is_err()) {
            continue;
        }
        authorize_resource(ctx, actor, APP, *id, "edit_app").await?;
        unlink_in(db, actor, *id, t, false).await?;
    }
    Ok(())
}

/// `POST /application/deploy-templates/` (`name`, `repository`, `deploy_path` required).
pub async fn create_template(
    ctx: &Ctx,
    actor: &Actor,
    input: DeployConfigInput,
) -> AppResult<DeployTemplate> {
    manage(ctx, actor).await?;
    let name = input.name.clone().unwrap_or_default().trim().to_string();
    crate::common::validate::name("name", &name)?;
    let repo_url = input
        .repository
        .as_ref()
        .and_then(|r| r.url.clone())
        .unwrap_or_default();
    if repo_url.trim().is_empty() {
        return Err(AppError::invalid(
            "repository.url",
            "a template needs its repository",
        ));
    }
    if input.deploy_path.as_deref().unwrap_or("").trim().is_empty() {
        return Err(AppError::invalid(
            "deploy_path",
            "a template needs its deploy path",
        ));
    }
    let txn = crate::db::begin(&ctx.db).await?;
    let mut cfg = Config::default();
    apply(&txn, &ctx.config.deploy_users, &mut cfg, &input).await?;
    let now = crate::time::now();
    let t = deploy_template::ActiveModel {
        name: Set(name.clone()),
        enabled: Set(input.enabled.unwrap_or(true)),
        config: Set(serde_json::to_string(&cfg).map_err(AppError::internal)?),
        repo_credential_id: Set(cfg.repo_credential_id),
        creator_id: Set((actor.id > 0).then_some(actor.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| template_taken(e.into(), &name))?;
    sync_hooks(&txn, "template", t.id, Some(&cfg)).await?;
    let apps: Vec<i64> = input.applications.iter().flatten().map(|a| a.id).collect();
    set_apps(&txn, ctx, actor, &t, &apps).await?;
    record(
        &txn,
        actor,
        Entry::new("deploy", "template_create")
            .target("deploy_template", Some(t.id), &t.name)
            .detail(json!({"config": cfg, "applications": apps})),
    )
    .await?;
    txn.commit().await?;
    wire_template(ctx, actor, t).await
}

/// `PATCH /application/deploy-templates/{id}/`.
pub async fn update_template(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    input: DeployConfigInput,
) -> AppResult<DeployTemplate> {
    manage(ctx, actor).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let old = load_template(&txn, id).await?;
    let before = parse(&old.config);
    let mut cfg = before.clone();
    apply(&txn, &ctx.config.deploy_users, &mut cfg, &input).await?;
    if cfg.repo_url.is_empty() || cfg.deploy_path.is_empty() {
        return Err(AppError::invalid(
            "repository.url",
            "a template keeps its repository and deploy path",
        ));
    }
    let mut am: deploy_template::ActiveModel = old.clone().into();
    if let Some(n) = &input.name {
        crate::common::validate::name("name", n.trim())?;
        am.name = Set(n.trim().to_string());
    }
    if let Some(e) = input.enabled {
        am.enabled = Set(e);
    }
    am.config = Set(serde_json::to_string(&cfg).map_err(AppError::internal)?);
    am.repo_credential_id = Set(cfg.repo_credential_id);
    am.updated_at = Set(crate::time::now());
    let name = am.name.as_ref().clone();
    let t = am
        .update(&txn)
        .await
        .map_err(|e| template_taken(e.into(), &name))?;
    sync_hooks(&txn, "template", t.id, Some(&cfg)).await?;
    if let Some(apps) = &input.applications {
        let ids: Vec<i64> = apps.iter().map(|a| a.id).collect();
        set_apps(&txn, ctx, actor, &t, &ids).await?;
    }
    record(
        &txn,
        actor,
        Entry::new("deploy", "template_update")
            .target("deploy_template", Some(t.id), &t.name)
            .change(json!(before), json!(cfg)),
    )
    .await?;
    txn.commit().await?;
    wire_template(ctx, actor, t).await
}

/// `DELETE /application/deploy-templates/{id}/`: refused while applications are linked.
pub async fn delete_template(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    manage(ctx, actor).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let t = load_template(&txn, id).await?;
    let n = deploy_setting::Entity::find()
        .filter(deploy_setting::Column::TemplateId.eq(id))
        .count(&txn)
        .await?;
    if n > 0 {
        return Err(AppError::conflict(format!(
            "{n} application(s) are linked to deploy template {}; unlink them first",
            t.name
        )));
    }
    sync_hooks(&txn, "template", id, None).await?;
    deploy_template::Entity::delete_by_id(id).exec(&txn).await?;
    record(
        &txn,
        actor,
        Entry::new("deploy", "template_delete").target("deploy_template", Some(id), &t.name),
    )
    .await?;
    txn.commit().await?;
    Ok(Message::success())
}

// -------------------------------------------------------------------------------- settings

async fn settings_row<C: ConnectionTrait>(
    db: &C,
    app: i64,
) -> AppResult<Option<deploy_setting::Model>> {
    Ok(deploy_setting::Entity::find_by_id(app).one(db).await?)
}

async fn app_of<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<application::Model> {
    application::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("application"))
}

/// The configuration an application deploys with: its template's while linked, else its own.
pub(crate) async fn effective<C: ConnectionTrait>(
    db: &C,
    app: i64,
) -> AppResult<(
    Option<deploy_setting::Model>,
    Option<deploy_template::Model>,
    Config,
)> {
    let row = settings_row(db, app).await?;
    let tpl = match row.as_ref().and_then(|r| r.template_id) {
        Some(t) => deploy_template::Entity::find_by_id(t).one(db).await?,
        None => None,
    };
    let cfg = match (&tpl, &row) {
        (Some(t), _) => parse(&t.config),
        (None, Some(r)) => parse(&r.config),
        _ => Config::default(),
    };
    Ok((row, tpl, cfg))
}

async fn wire_settings(ctx: &Ctx, app: i64) -> AppResult<DeploySettings> {
    let (row, tpl, cfg) = effective(&ctx.db, app).await?;
    let (repository, lifecycle_hooks) = wire_parts(&ctx.db, &cfg).await?;
    Ok(DeploySettings {
        enabled: row.as_ref().is_some_and(|r| r.enabled),
        application: app,
        template: tpl.map(|t| TemplateRef {
            id: t.id,
            name: t.name,
        }),
        repository,
        deploy_path: cfg.deploy_path,
        script_running_user: cfg.script_running_user,
        timeout: cfg.timeout,
        keep_backups: cfg.keep_backups,
        lifecycle_hooks,
    })
}

/// `GET /application/{id}/deploy-settings/`.
pub async fn get_settings(ctx: &Ctx, actor: &Actor, app: i64) -> AppResult<DeploySettings> {
    authorize_resource(ctx, actor, APP, app, "view_app").await?;
    app_of(&ctx.db, app).await?;
    wire_settings(ctx, app).await
}

/// `PATCH /application/{id}/deploy-settings/`: an application's own configuration (`enabled`
/// only while it is linked to a template). Choosing a repository credential, or moving the
/// repository of one that has a credential, needs `deploy_template` management too: else an
/// application editor could have a stored password sent to a server of theirs.
pub async fn update_settings(
    ctx: &Ctx,
    actor: &Actor,
    app: i64,
    input: DeployConfigInput,
) -> AppResult<DeploySettings> {
    authorize_resource(ctx, actor, APP, app, "edit_app").await?;
    // Which scripts run, and which credential is used, are the deploy managers' to choose.
    let attaches = input.lifecycle_hooks.as_ref().is_some_and(|h| {
        [
            &h.global_pre_exec,
            &h.pre_exec,
            &h.post_exec,
            &h.global_post_exec,
        ]
        .iter()
        .any(|v| matches!(v, Some(Some(_))))
    });
    let picks_credential = input
        .repository
        .as_ref()
        .is_some_and(|r| matches!(r.credential, Some(Some(_))));
    let manager = may_module(ctx, actor, "deploy_template", "enable_deploy_template_mgmt").await;
    if (attaches || picks_credential) && !manager {
        return Err(AppError::forbidden(
            "choosing hook scripts or a repository credential needs deploy template management",
        ));
    }
    let a = app_of(&ctx.db, app).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    lock_app(&txn, app).await?;
    let row = settings_row(&txn, app).await?;
    let linked = row.as_ref().and_then(|r| r.template_id);
    let touches_config = input.repository.is_some()
        || input.deploy_path.is_some()
        || input.script_running_user.is_some()
        || input.timeout.is_some()
        || input.keep_backups.is_some()
        || input.lifecycle_hooks.is_some();
    if linked.is_some() && touches_config {
        return Err(AppError::conflict(
            "the application deploys with its template's configuration: unlink the template first",
        ));
    }
    let before = row.as_ref().map(|r| parse(&r.config)).unwrap_or_default();
    let mut cfg = before.clone();
    let repo_moved = apply(&txn, &ctx.config.deploy_users, &mut cfg, &input).await?;
    if repo_moved && cfg.repo_credential_id.is_some() && !manager {
        return Err(AppError::forbidden(
            "moving a repository that has a credential needs deploy template management",
        ));
    }
    // Who deploys run as decides whose files they touch on shared hosts: deploy managers choose.
    let users = |c: &Config| {
        let mut u: Vec<String> = c
            .hooks
            .values()
            .filter_map(|h| h.running_user.clone())
            .collect();
        u.extend([c.script_running_user.clone(), c.hooks_user.clone()]);
        u
    };
    if users(&cfg) != users(&before) && !manager {
        return Err(AppError::forbidden(
            "choosing running users needs deploy template management",
        ));
    }
    let enabled = input
        .enabled
        .unwrap_or(row.as_ref().is_some_and(|r| r.enabled));
    let now = crate::time::now();
    let am = deploy_setting::ActiveModel {
        app_id: Set(app),
        enabled: Set(enabled),
        template_id: Set(linked),
        config: Set(serde_json::to_string(&cfg).map_err(AppError::internal)?),
        repo_credential_id: Set(cfg.repo_credential_id),
        updated_by: Set((actor.id > 0).then_some(actor.id)),
        updated_at: Set(now),
    };
    if row.is_some() {
        am.update(&txn).await?;
    } else {
        am.insert(&txn).await?;
    }
    sync_hooks(&txn, "settings", app, Some(&cfg)).await?;
    record(
        &txn,
        actor,
        Entry::new("deploy", "settings_update")
            .target("application", Some(app), &a.full_name)
            .detail(json!({"before": before, "after": cfg,
                           "enabled": {"before": row.as_ref().map(|r| r.enabled), "after": enabled}})),
    )
    .await?;
    txn.commit().await?;
    wire_settings(ctx, app).await
}

async fn link_in<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    app: i64,
    t: &deploy_template::Model,
) -> AppResult<()> {
    let row = settings_row(db, app).await?;
    let now = crate::time::now();
    match row {
        Some(r) if r.template_id.is_some() && r.template_id != Some(t.id) => {
            return Err(AppError::conflict(format!(
                "application {app} is linked to another template; unlink it first"
            )))
        }
        Some(r) => {
            let mut am: deploy_setting::ActiveModel = r.into();
            am.template_id = Set(Some(t.id));
            am.updated_by = Set((actor.id > 0).then_some(actor.id));
            am.updated_at = Set(now);
            am.update(db).await?;
        }
        None => {
            deploy_setting::ActiveModel {
                app_id: Set(app),
                enabled: Set(true),
                template_id: Set(Some(t.id)),
                config: Set(serde_json::to_string(&Config::default()).map_err(AppError::internal)?),
                repo_credential_id: Set(None),
                updated_by: Set((actor.id > 0).then_some(actor.id)),
                updated_at: Set(now),
            }
            .insert(db)
            .await?;
        }
    }
    record(
        db,
        actor,
        Entry::new("deploy", "template_link")
            .target("application", Some(app), &app.to_string())
            .detail(json!({"template": {"id": t.id, "name": t.name}})),
    )
    .await
}

async fn unlink_in<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    app: i64,
    t: &deploy_template::Model,
    clean: bool,
) -> AppResult<()> {
    let Some(r) = settings_row(db, app).await? else {
        return Err(AppError::invalid(
            "id",
            "the application is not linked to this template",
        ));
    };
    if r.template_id != Some(t.id) {
        return Err(AppError::invalid(
            "id",
            "the application is not linked to this template",
        ));
    }
    // Unlinked, it keeps a copy of the template's configuration, or starts afresh (`clean`).
    let cfg = if clean {
        Config::default()
    } else {
        parse(&t.config)
    };
    let mut am: deploy_setting::ActiveModel = r.into();
    am.template_id = Set(None);
    am.config = Set(serde_json::to_string(&cfg).map_err(AppError::internal)?);
    am.repo_credential_id = Set(cfg.repo_credential_id);
    am.updated_by = Set((actor.id > 0).then_some(actor.id));
    am.updated_at = Set(crate::time::now());
    am.update(db).await?;
    sync_hooks(db, "settings", app, Some(&cfg)).await?;
    record(
        db,
        actor,
        Entry::new("deploy", "template_unlink")
            .target("application", Some(app), &app.to_string())
            .detail(json!({"template": {"id": t.id, "name": t.name}, "clean": clean})),
    )
    .await
}

/// `POST /application/{id}/deploy-settings/template/ {id}`: the application deploys with the
/// template's configuration from now on.
pub async fn link_template(
    ctx: &Ctx,
    actor: &Actor,
    app: i64,
    l: TemplateLink,
) -> AppResult<Message> {
    authorize_resource(ctx, actor, APP, app, "edit_app").await?;
    app_of(&ctx.db, app).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    lock_app(&txn, app).await?;
    let t = deploy_template::Entity::find_by_id(l.id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::invalid("id", "no such deploy template"))?;
    // A template carrying a credential sends it wherever its repository is: only deploy
    // managers decide which applications use it.
    if t.repo_credential_id.is_some()
        && !may_module(ctx, actor, "deploy_template", "enable_deploy_template_mgmt").await
    {
        return Err(AppError::forbidden(
            "this template uses a repository credential: linking it needs deploy template management",
        ));
    }
    if !t.enabled {
        return Err(AppError::invalid(
            "id",
            format!("deploy template {} is disabled", t.name),
        ));
    }
    link_in(&txn, actor, app, &t).await?;
    txn.commit().await?;
    Ok(Message::success())
}

/// Serialises changes to one application's deploy settings (PostgreSQL; SQLite's write
/// transaction excludes other writers already).
async fn lock_app<C: ConnectionTrait>(txn: &C, app: i64) -> AppResult<()> {
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        application::Entity::find_by_id(app)
            .lock_exclusive()
            .one(txn)
            .await?;
    }
    Ok(())
}

/// `DELETE /application/{id}/deploy-settings/template/ {id, clean}`.
pub async fn unlink_template(
    ctx: &Ctx,
    actor: &Actor,
    app: i64,
    l: TemplateLink,
) -> AppResult<Message> {
    authorize_resource(ctx, actor, APP, app, "edit_app").await?;
    app_of(&ctx.db, app).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    lock_app(&txn, app).await?;
    let t = deploy_template::Entity::find_by_id(l.id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::invalid("id", "no such deploy template"))?;
    unlink_in(&txn, actor, app, &t, l.clean).await?;
    txn.commit().await?;
    Ok(Message::success())
}

pub use crate::deploy::types::version_ok;

/// The context a script renders with for one instance (docs/api.md, "Deploy scripts"). The
/// host's details are shown only if `show_host` (the reader may view the host).
pub(crate) async fn instance_context<C: ConnectionTrait>(
    db: &C,
    a: &application::Model,
    i: &instance::Model,
    cfg: &Config,
    version: &str,
    task: serde_json::Value,
    show_host: bool,
) -> AppResult<serde_json::Value> {
    let h = if show_host {
        host::Entity::find_by_id(i.host_id).one(db).await?
    } else {
        None
    };
    let address = if show_host {
        let access = crate::entities::host_access::Entity::find_by_id(i.host_id)
            .one(db)
            .await?;
        crate::credentials::service::address_of(db, i.host_id, access.as_ref())
            .await?
            .unwrap_or_default()
    } else {
        String::new()
    };
    let name = h
        .as_ref()
        .map_or_else(|| format!("#{}", i.host_id), |h| h.hostname.clone());
    let path = cfg.deploy_path.trim_end_matches('/');
    Ok(json!({
        "application": {"id": a.id, "name": a.name, "full_name": a.full_name, "run_user": a.run_user,
            "directory": a.directory, "startup_cmd": a.startup_cmd, "stop_cmd": a.stop_cmd,
            "stdout_path": a.stdout_path, "stderr_path": a.stderr_path, "pid_path": a.pid_path},
        "instance": {"id": i.id, "status": i.status, "version": i.version},
        "host": {"id": i.host_id, "name": name, "address": address,
            "os_type": h.as_ref().map(|h| h.os_type.clone()).unwrap_or_default(),
            "location": h.as_ref().map(|h| h.location.clone()).unwrap_or_default()},
        "version": version,
        "previous_version": i.version,
        "task": task,
        "deploy": {"path": path, "release_path": format!("{path}/releases/{version}"),
            "current_path": format!("{path}/current"), "running_user": cfg.script_running_user,
            "keep_backups": cfg.keep_backups},
    }))
}

/// `POST /application/{id}/deploy-settings/preview/`: a script rendered for one of the
/// application's instances (`edit_app`). Any `content`, or a stored script that is not one of
/// the application's hooks, only for deploy managers (scripts are theirs to read and write).
pub async fn preview(ctx: &Ctx, actor: &Actor, app: i64, p: PreviewInput) -> AppResult<Rendered> {
    authorize_resource(ctx, actor, APP, app, "edit_app").await?;
    let a = app_of(&ctx.db, app).await?;
    let (_, _, cfg) = effective(&ctx.db, app).await?;
    let manager = may_module(ctx, actor, "deploy_template", "enable_deploy_template_mgmt").await;
    let (language, content) = match (p.script_id, &p.content) {
        (Some(id), _) => {
            let own = cfg.hooks.values().any(|h| h.script_id == id);
            if !own && !manager {
                return Err(AppError::invalid(
                    "script_id",
                    "not one of this application's hooks",
                ));
            }
            let s = deploy_script::Entity::find_by_id(id)
                .one(&ctx.db)
                .await?
                .ok_or_else(|| AppError::invalid("script_id", "no such script"))?;
            (s.language, s.content)
        }
        (None, Some(c)) if manager => ("bash".to_string(), c.clone()),
        (None, Some(_)) => {
            return Err(AppError::forbidden(
                "previewing a script of your own needs deploy template management",
            ))
        }
        (None, None) => return Err(AppError::invalid("content", "send a script_id or content")),
    };
    let i = instance::Entity::find_by_id(p.instance_id)
        .filter(instance::Column::AppId.eq(app))
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::invalid("instance_id", "not an instance of this application"))?;
    let version = p.version.clone().unwrap_or_else(|| "preview".into());
    if !version_ok(&version) {
        return Err(AppError::invalid(
            "version",
            "letters, digits and . _ - (64 at most)",
        ));
    }
    let show_host = crate::perms::service::holds_resource(
        ctx,
        actor.id,
        ResourceType::Host,
        i.host_id,
        "view_host",
    )
    .await;
    let task = json!({"id": 0, "sub_task_id": 0, "kind": "preview", "level": "", "description": "", "creator": actor.username});
    let ctxv = instance_context(&ctx.db, &a, &i, &cfg, &version, task, show_host).await?;
    Ok(Rendered {
        content: render::render_blocking(language, content, ctxv).await?,
    })
}
