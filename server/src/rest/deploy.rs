//! Deploy configuration (scripts, repository credentials, templates, application settings),
//! deploy tasks with their sub-tasks, packages, instance logs.
use crate::api::{Api, Op};
use crate::http::{paged, OptJ, Who, J, P, Q};
use app::approvals::types::RejectInput;
use app::common::{Message, Page, PageQuery};
use app::ctx::Ctx;
use app::deploy::{service as s, types::*};
use app::error::AppResult;
use app::exec::types::TaskStarted;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::Json;

type R<T> = AppResult<Json<T>>;

async fn list_scripts(
    State(c): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<DeployScriptFilter>,
) -> R<Page<DeployScript>> {
    Ok(paged(&uri, s::list_scripts(&c, &a, f).await?))
}
async fn create_script(
    State(c): State<Ctx>,
    Who(a): Who,
    J(i): J<DeployScriptInput>,
) -> AppResult<(StatusCode, Json<DeployScript>)> {
    Ok((
        StatusCode::CREATED,
        Json(s::create_script(&c, &a, i).await?),
    ))
}
async fn get_script(State(c): State<Ctx>, Who(a): Who, P(id): P<i64>) -> R<DeployScript> {
    s::get_script(&c, &a, id).await.map(Json)
}
async fn patch_script(
    State(c): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(i): J<DeployScriptInput>,
) -> R<DeployScript> {
    s::update_script(&c, &a, id, i).await.map(Json)
}
async fn delete_script(State(c): State<Ctx>, Who(a): Who, P(id): P<i64>) -> R<Message> {
    s::delete_script(&c, &a, id).await.map(Json)
}
async fn script_apps(
    State(c): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    P(id): P<i64>,
    Q(p): Q<PageQuery>,
) -> R<Page<AppSummary>> {
    Ok(paged(&uri, s::script_applications(&c, &a, id, p).await?))
}
async fn list_creds(
    State(c): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<RepoCredentialFilter>,
) -> R<Page<RepoCredential>> {
    Ok(paged(&uri, s::list_repo_creds(&c, &a, f).await?))
}
async fn create_cred(
    State(c): State<Ctx>,
    Who(a): Who,
    J(i): J<RepoCredentialInput>,
) -> AppResult<(StatusCode, Json<RepoCredential>)> {
    Ok((
        StatusCode::CREATED,
        Json(s::create_repo_cred(&c, &a, i).await?),
    ))
}
async fn get_cred(State(c): State<Ctx>, Who(a): Who, P(id): P<i64>) -> R<RepoCredential> {
    s::get_repo_cred(&c, &a, id).await.map(Json)
}
async fn patch_cred(
    State(c): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(i): J<RepoCredentialInput>,
) -> R<RepoCredential> {
    s::update_repo_cred(&c, &a, Some(id), i).await.map(Json)
}
async fn patch_cred_bare(
    State(c): State<Ctx>,
    Who(a): Who,
    J(i): J<RepoCredentialInput>,
) -> R<RepoCredential> {
    s::update_repo_cred(&c, &a, None, i).await.map(Json)
}
async fn delete_cred(State(c): State<Ctx>, Who(a): Who, P(id): P<i64>) -> R<Message> {
    s::delete_repo_cred(&c, &a, id).await.map(Json)
}
async fn list_templates(
    State(c): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<DeployTemplateFilter>,
) -> R<Page<DeployTemplate>> {
    Ok(paged(&uri, s::list_templates(&c, &a, f).await?))
}
async fn create_template(
    State(c): State<Ctx>,
    Who(a): Who,
    J(i): J<DeployConfigInput>,
) -> AppResult<(StatusCode, Json<DeployTemplate>)> {
    Ok((
        StatusCode::CREATED,
        Json(s::create_template(&c, &a, i).await?),
    ))
}
async fn get_template(State(c): State<Ctx>, Who(a): Who, P(id): P<i64>) -> R<DeployTemplate> {
    s::get_template(&c, &a, id).await.map(Json)
}
async fn patch_template(
    State(c): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(i): J<DeployConfigInput>,
) -> R<DeployTemplate> {
    s::update_template(&c, &a, id, i).await.map(Json)
}
async fn delete_template(State(c): State<Ctx>, Who(a): Who, P(id): P<i64>) -> R<Message> {
    s::delete_template(&c, &a, id).await.map(Json)
}
async fn get_settings(State(c): State<Ctx>, Who(a): Who, P(id): P<i64>) -> R<DeploySettings> {
    s::get_settings(&c, &a, id).await.map(Json)
}
async fn patch_settings(
    State(c): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(i): J<DeployConfigInput>,
) -> R<DeploySettings> {
    s::update_settings(&c, &a, id, i).await.map(Json)
}
async fn link(
    State(c): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(l): J<TemplateLink>,
) -> R<Message> {
    s::link_template(&c, &a, id, l).await.map(Json)
}
async fn unlink(
    State(c): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(l): J<TemplateLink>,
) -> R<Message> {
    s::unlink_template(&c, &a, id, l).await.map(Json)
}
async fn preview(
    State(c): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(p): J<PreviewInput>,
) -> R<Rendered> {
    s::preview(&c, &a, id, p).await.map(Json)
}

async fn list_tasks(
    State(c): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<DeployTaskFilter>,
) -> R<Page<DeployTask>> {
    Ok(paged(&uri, s::list_tasks(&c, &a, f).await?))
}
async fn create_task(
    State(c): State<Ctx>,
    Who(a): Who,
    J(i): J<DeployTaskInput>,
) -> AppResult<(StatusCode, Json<TaskCreated>)> {
    Ok((StatusCode::CREATED, Json(s::create_task(&c, &a, i).await?)))
}
async fn get_task(State(c): State<Ctx>, Who(a): Who, P(id): P<i64>) -> R<DeployTaskDetail> {
    s::get_task(&c, &a, id).await.map(Json)
}
async fn approve_task(State(c): State<Ctx>, Who(a): Who, P(id): P<i64>) -> R<Message> {
    s::approve_task(&c, &a, id).await.map(Json)
}
async fn reject_task(
    State(c): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    OptJ(r): OptJ<RejectInput>,
) -> R<Message> {
    s::reject_task(&c, &a, id, r.reason.as_deref().unwrap_or_default())
        .await
        .map(Json)
}
async fn start_task(State(c): State<Ctx>, Who(a): Who, P(id): P<i64>) -> R<Message> {
    s::start_task(&c, &a, id).await.map(Json)
}
async fn close_task(State(c): State<Ctx>, Who(a): Who, P(id): P<i64>) -> R<Message> {
    s::close_task(&c, &a, id).await.map(Json)
}
async fn delegate_task(
    State(c): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(d): J<DelegateInput>,
) -> R<Message> {
    s::delegate_task(&c, &a, id, d).await.map(Json)
}
async fn sub_upgrade(
    State(c): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(i): J<SubTaskInput>,
) -> AppResult<(StatusCode, Json<TaskStarted>)> {
    Ok((
        StatusCode::CREATED,
        Json(s::sub_upgrade(&c, &a, id, i).await?),
    ))
}
async fn sub_revert(
    State(c): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(i): J<SubTaskInput>,
) -> AppResult<(StatusCode, Json<TaskStarted>)> {
    Ok((
        StatusCode::CREATED,
        Json(s::sub_revert(&c, &a, id, i).await?),
    ))
}
async fn instance_log(
    State(c): State<Ctx>,
    Who(a): Who,
    P((app, iid)): P<(i64, i64)>,
    Q(q): Q<LogQuery>,
) -> R<LogChunk> {
    s::instance_log(&c, &a, app, iid, q).await.map(Json)
}
#[derive(serde::Deserialize, serde::Serialize, Default)]
struct UploadQuery {
    filename: String,
}
async fn upload(
    State(c): State<Ctx>,
    Who(a): Who,
    Q(q): Q<UploadQuery>,
    body: axum::body::Body,
) -> AppResult<(StatusCode, Json<Artifact>)> {
    let stream = body.into_data_stream();
    Ok((
        StatusCode::CREATED,
        Json(s::upload_artifact(&c, &a, &q.filename, stream).await?),
    ))
}

pub fn routes(mut api: Api) -> Api {
    let t = "deploy";
    let m = "deploy_template.enable_deploy_template_mgmt";
    for base in ["/api/application", "/api/applications"] {
        api = api
            .get(&format!("{base}/deploy-scripts/"), list_scripts, Op::new(t, "Deploy scripts").query::<DeployScriptFilter>().ok_page::<DeployScript>().perm(m))
            .post(&format!("{base}/deploy-scripts/"), create_script, Op::new(t, "Add a deploy script (409 30001 name taken; 400 30002 language, 30003 engine; a Jinja error: 400 with its line)").body::<DeployScriptInput>().ok::<DeployScript>().created().perm(m))
            .get(&format!("{base}/deploy-scripts/{{id}}/"), get_script, Op::new(t, "A deploy script").ok::<DeployScript>().perm(m))
            .patch(&format!("{base}/deploy-scripts/{{id}}/"), patch_script, Op::new(t, "Edit a deploy script").body::<DeployScriptInput>().ok::<DeployScript>().perm(m))
            .delete(&format!("{base}/deploy-scripts/{{id}}/"), delete_script, Op::new(t, "Delete a deploy script no hook runs").ok::<Message>().perm(m))
            .get(&format!("{base}/deploy-scripts/{{id}}/applications/"), script_apps, Op::new(t, "Applications whose deploys run the script (those you may view)").query::<PageQuery>().ok_page::<AppSummary>().perm(m))
            .get(&format!("{base}/repository-credentials/password/"), list_creds, Op::new(t, "Repository password credentials (passwords are never answered)").query::<RepoCredentialFilter>().ok_page::<RepoCredential>().perm(m))
            .post(&format!("{base}/repository-credentials/password/"), create_cred, Op::new(t, "Add a repository password credential").body::<RepoCredentialInput>().ok::<RepoCredential>().created().perm(m))
            .patch(&format!("{base}/repository-credentials/password/"), patch_cred_bare, Op::new(t, "Edit a repository credential (the seed's path: `id` in the body)").body::<RepoCredentialInput>().ok::<RepoCredential>().perm(m))
            .get(&format!("{base}/repository-credentials/password/{{id}}/"), get_cred, Op::new(t, "A repository credential").ok::<RepoCredential>().perm(m))
            .patch(&format!("{base}/repository-credentials/password/{{id}}/"), patch_cred, Op::new(t, "Edit a repository credential; a new password replaces the old one").body::<RepoCredentialInput>().ok::<RepoCredential>().perm(m))
            .delete(&format!("{base}/repository-credentials/password/{{id}}/"), delete_cred, Op::new(t, "Delete a repository credential no configuration uses").ok::<Message>().perm(m))
            .get(&format!("{base}/deploy-templates/"), list_templates, Op::new(t, "Deploy templates").query::<DeployTemplateFilter>().ok_page::<DeployTemplate>().perm(m))
            .post(&format!("{base}/deploy-templates/"), create_template, Op::new(t, "Add a deploy template (name, repository, deploy_path required)").body::<DeployConfigInput>().ok::<DeployTemplate>().created().perm("deploy_template.enable_deploy_template_mgmt; edit_app on each linked application"))
            .get(&format!("{base}/deploy-templates/{{id}}/"), get_template, Op::new(t, "A deploy template").ok::<DeployTemplate>().perm(m))
            .patch(&format!("{base}/deploy-templates/{{id}}/"), patch_template, Op::new(t, "Edit a deploy template (applications: the linked list)").body::<DeployConfigInput>().ok::<DeployTemplate>().perm(m))
            .delete(&format!("{base}/deploy-templates/{{id}}/"), delete_template, Op::new(t, "Delete a deploy template no application is linked to").ok::<Message>().perm(m))
            .get(&format!("{base}/{{id}}/deploy-settings/"), get_settings, Op::new(t, "An application's deploy settings (its template's while linked)").ok::<DeploySettings>().perm("view_app"))
            .patch(&format!("{base}/{{id}}/deploy-settings/"), patch_settings, Op::new(t, "Edit an application's deploy settings (409 while linked to a template)").body::<DeployConfigInput>().ok::<DeploySettings>().perm("edit_app; a repository credential: also deploy template management"))
            .post(&format!("{base}/{{id}}/deploy-settings/template/"), link, Op::new(t, "Link a deploy template").body::<TemplateLink>().ok::<Message>().perm("edit_app"))
            .delete(&format!("{base}/{{id}}/deploy-settings/template/"), unlink, Op::new(t, "Unlink the deploy template (clean=true: forget the configuration; else keep a copy)").body::<TemplateLink>().ok::<Message>().perm("edit_app"))
            .post(&format!("{base}/{{id}}/deploy-settings/preview/"), preview, Op::new(t, "A script rendered for one instance").body::<PreviewInput>().ok::<Rendered>().perm("edit_app"))
            .get(&format!("{base}/deploy-tasks/"), list_tasks, Op::new(t, "Deploy tasks you may see (view_app on the application, or yours), newest first").query::<DeployTaskFilter>().ok_page::<DeployTask>().perm("view_app"))
            .post(&format!("{base}/deploy-tasks/"), create_task, Op::new(t, "File a deploy task for approval (levels S and A need two approvers)").body::<DeployTaskInput>().ok::<TaskCreated>().created().perm("deploy_app"))
            .get(&format!("{base}/deploy-tasks/{{id}}/"), get_task, Op::new(t, "A deploy task with its decisions, timeline, sub-tasks and instances").ok::<DeployTaskDetail>().perm("view_app"))
            .post(&format!("{base}/deploy-tasks/{{id}}/actions/approve/"), approve_task, Op::new(t, "Approve a deploy task (not your own)").ok::<Message>().perm("review_app_deploy_task"))
            .post(&format!("{base}/deploy-tasks/{{id}}/actions/reject/"), reject_task, Op::new(t, "Reject a deploy task (optional reason)").body::<RejectInput>().ok::<Message>().perm("review_app_deploy_task"))
            .post(&format!("{base}/deploy-tasks/{{id}}/actions/start/"), start_task, Op::new(t, "Start an approved task, not before its planned time (creator or delegate)").ok::<Message>().perm("deploy_app"))
            .post(&format!("{base}/deploy-tasks/{{id}}/actions/close/"), close_task, Op::new(t, "Close a task (a deploying one is finished; 409 while a sub-task runs)").ok::<Message>().perm("creator or delegate"))
            .post(&format!("{base}/deploy-tasks/{{id}}/actions/delegate/"), delegate_task, Op::new(t, "Hand the task to a user who may deploy the application").body::<DelegateInput>().ok::<Message>().perm("creator or delegate"))
            .post(&format!("{base}/deploy-tasks/{{id}}/sub-upgrade-tasks/"), sub_upgrade, Op::new(t, "Deploy a version to instances (SFTP, hooks, switch, restart, health check)").body::<SubTaskInput>().ok::<TaskStarted>().created().perm("deploy_app; creator or delegate"))
            .post(&format!("{base}/deploy-tasks/{{id}}/sub-revert-tasks/"), sub_revert, Op::new(t, "Switch instances back to a kept version").body::<SubTaskInput>().ok::<TaskStarted>().created().perm("deploy_app; creator or delegate"))
            .get(&format!("{base}/{{id}}/instance/{{iid}}/log/"), instance_log, Op::new(t, "An instance's log read over SSH (bytes or lines)").query::<LogQuery>().ok::<LogChunk>().perm("view_app_log"))
            .post(&format!("{base}/artifacts/"), upload, Op::new(t, "Store a package (the raw body; ?filename=) for deploy tasks: artifact:<id>").ok::<Artifact>().created().perm("deploy_app on some application"));
    }
    api
}
