//! Deploy scripts (`deploy_template.enable_deploy_template_mgmt`): Jinja templates of bash or
//! python run by lifecycle hooks. A script hooks use cannot be deleted.
use super::{manage, render};
use crate::audit::service::{record, Entry};
use crate::common::{Message, Page};
use crate::ctx::{Actor, Ctx};
use crate::deploy::types::*;
use crate::entities::{application, deploy_hook_script, deploy_script, deploy_setting};
use crate::error::{AppError, AppResult, ErrorCode};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;

/// Largest script kept (request bodies are 64 KB at most).
const MAX_CONTENT: usize = 60 << 10;

pub(super) async fn wire(ctx: &Ctx, s: deploy_script::Model) -> AppResult<DeployScript> {
    Ok(DeployScript {
        creator: ctx.names.name_of(&ctx.db, s.creator_id).await?,
        id: s.id,
        name: s.name,
        language: s.language,
        content: s.content,
        template_engine: s.template_engine,
        created_time: crate::time::fmt(&s.created_at),
        updated_time: crate::time::fmt(&s.updated_at),
    })
}

async fn load<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<deploy_script::Model> {
    deploy_script::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("deploy script"))
}

/// `GET /application/deploy-scripts/`.
pub async fn list_scripts(
    ctx: &Ctx,
    actor: &Actor,
    f: DeployScriptFilter,
) -> AppResult<Page<DeployScript>> {
    manage(ctx, actor).await?;
    let backend = ctx.db.get_database_backend();
    let mut q = deploy_script::Entity::find();
    if let Some(n) = f.name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        q = q.filter(crate::db::like_text(backend, "deploy_scripts", "name", n));
    }
    if let Some(c) = f.content.as_deref().filter(|s| !s.trim().is_empty()) {
        q = q.filter(crate::db::like_text(
            backend,
            "deploy_scripts",
            "content",
            c,
        ));
    }
    if let Some(l) = f.language.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(deploy_script::Column::Language.eq(l));
    }
    if let Some(c) = f.creator.as_deref().filter(|s| !s.is_empty()) {
        let uid = crate::users::service::creator_filter_id(&ctx.db, c).await?;
        q = q.filter(deploy_script::Column::CreatorId.eq(uid));
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(deploy_script::Column::Name)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(wire(ctx, r).await?);
    }
    Ok(Page::new(count, &f.page, out))
}

/// `GET /application/deploy-scripts/{id}/`.
pub async fn get_script(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<DeployScript> {
    manage(ctx, actor).await?;
    wire(ctx, load(&ctx.db, id).await?).await
}

/// Checks a script's fields as they will be stored (seed codes 30002, 30003).
async fn check(s: &deploy_script::ActiveModel) -> AppResult<()> {
    crate::common::validate::name("name", s.name.as_ref())?;
    let lang = s.language.as_ref();
    if !SCRIPT_LANGUAGES.contains(&lang.as_str()) {
        return Err(AppError::new(
            ErrorCode::ScriptLanguage,
            format!("language {lang} is not supported (bash, python)"),
        )
        .with_field("language"));
    }
    let engine = s.template_engine.as_ref();
    if !TEMPLATE_ENGINES.contains(&engine.as_str()) {
        return Err(AppError::new(
            ErrorCode::ScriptEngine,
            format!("template engine {engine} is not supported (jinja)"),
        )
        .with_field("template_engine"));
    }
    let content = s.content.as_ref();
    if content.len() > MAX_CONTENT || content.contains('\0') {
        return Err(AppError::invalid("content", "at most 60 KB of text"));
    }
    render::check(lang, content).await
}

fn name_taken(e: AppError, name: &str) -> AppError {
    if e.code == ErrorCode::Conflict {
        AppError::new(
            ErrorCode::ScriptNameTaken,
            format!("a deploy script named {name} exists"),
        )
        .with_field("name")
    } else {
        e
    }
}

/// `POST /application/deploy-scripts/`.
pub async fn create_script(
    ctx: &Ctx,
    actor: &Actor,
    input: DeployScriptInput,
) -> AppResult<DeployScript> {
    manage(ctx, actor).await?;
    let now = crate::time::now();
    let name = input.name.clone().unwrap_or_default().trim().to_string();
    let am = deploy_script::ActiveModel {
        name: Set(name.clone()),
        language: Set(input.language.clone().unwrap_or_default()),
        content: Set(input.content.clone().unwrap_or_default()),
        template_engine: Set(input
            .template_engine
            .clone()
            .unwrap_or_else(|| "jinja".into())),
        creator_id: Set((actor.id > 0).then_some(actor.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    check(&am).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let s = am
        .insert(&txn)
        .await
        .map_err(|e| name_taken(e.into(), &name))?;
    record(
        &txn,
        actor,
        Entry::new("deploy", "script_create")
            .target("deploy_script", Some(s.id), &s.name)
            .detail(json!({"language": s.language, "content": s.content})),
    )
    .await?;
    txn.commit().await?;
    wire(ctx, s).await
}

/// `PATCH /application/deploy-scripts/{id}/`.
pub async fn update_script(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    input: DeployScriptInput,
) -> AppResult<DeployScript> {
    manage(ctx, actor).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let old = load(&txn, id).await?;
    let mut am: deploy_script::ActiveModel = old.clone().into();
    if let Some(n) = &input.name {
        am.name = Set(n.trim().to_string());
    }
    if let Some(l) = &input.language {
        am.language = Set(l.clone());
    }
    if let Some(c) = &input.content {
        am.content = Set(c.clone());
    }
    if let Some(e) = &input.template_engine {
        am.template_engine = Set(e.clone());
    }
    check(&am).await?;
    am.updated_at = Set(crate::time::now());
    let name = am.name.as_ref().clone();
    let s = am
        .update(&txn)
        .await
        .map_err(|e| name_taken(e.into(), &name))?;
    record(
        &txn,
        actor,
        Entry::new("deploy", "script_update")
            .target("deploy_script", Some(s.id), &s.name)
            .change(
                json!({"name": old.name, "language": old.language, "content": old.content}),
                json!({"name": s.name, "language": s.language, "content": s.content}),
            ),
    )
    .await?;
    txn.commit().await?;
    wire(ctx, s).await
}

/// The applications whose deploys run a script: through their own settings, or through the
/// template they are linked to.
fn apps_using(script: i64) -> sea_orm::sea_query::SelectStatement {
    let own = Query::select()
        .column(deploy_hook_script::Column::OwnerId)
        .from(deploy_hook_script::Entity)
        .and_where(deploy_hook_script::Column::ScriptId.eq(script))
        .and_where(deploy_hook_script::Column::OwnerType.eq("settings"))
        .to_owned();
    let templates = Query::select()
        .column(deploy_hook_script::Column::OwnerId)
        .from(deploy_hook_script::Entity)
        .and_where(deploy_hook_script::Column::ScriptId.eq(script))
        .and_where(deploy_hook_script::Column::OwnerType.eq("template"))
        .to_owned();
    let linked = Query::select()
        .column(deploy_setting::Column::AppId)
        .from(deploy_setting::Entity)
        .and_where(deploy_setting::Column::TemplateId.in_subquery(templates))
        .to_owned();
    Query::select()
        .column(application::Column::Id)
        .from(application::Entity)
        .cond_where(
            sea_orm::Condition::any()
                .add(application::Column::Id.in_subquery(own))
                .add(application::Column::Id.in_subquery(linked)),
        )
        .to_owned()
}

/// `GET /application/deploy-scripts/{id}/applications/`: the applications (the caller may
/// view) whose deploys run the script.
pub async fn script_applications(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    page: crate::common::PageQuery,
) -> AppResult<Page<AppSummary>> {
    manage(ctx, actor).await?;
    load(&ctx.db, id).await?;
    let mut q =
        application::Entity::find().filter(application::Column::Id.in_subquery(apps_using(id)));
    if let Some(ids) = crate::perms::service::granted_set(
        ctx,
        actor,
        crate::perms::types::ResourceType::Application,
        "view_app",
    )
    .await?
    {
        q = q.filter(crate::perms::service::id_in(
            ctx.db.get_database_backend(),
            (application::Entity, application::Column::Id),
            &ids,
        ));
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(application::Column::FullName)
        .offset(page.offset())
        .limit(page.size())
        .all(&ctx.db)
        .await?;
    Ok(Page::new(
        count,
        &page,
        rows.into_iter()
            .map(|a| AppSummary {
                id: a.id,
                name: a.name,
                full_name: a.full_name,
            })
            .collect(),
    ))
}

/// `DELETE /application/deploy-scripts/{id}/`: refused while a template or application's
/// settings run it.
pub async fn delete_script(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    manage(ctx, actor).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let s = load(&txn, id).await?;
    let users = deploy_hook_script::Entity::find()
        .filter(deploy_hook_script::Column::ScriptId.eq(id))
        .count(&txn)
        .await?;
    if users > 0 {
        return Err(AppError::conflict(format!(
            "deploy script {} is a hook of {users} template(s) or application setting(s); take it out first",
            s.name
        )));
    }
    deploy_script::Entity::delete_by_id(id).exec(&txn).await?;
    record(
        &txn,
        actor,
        Entry::new("deploy", "script_delete").target("deploy_script", Some(id), &s.name),
    )
    .await?;
    txn.commit().await?;
    Ok(Message::success())
}
