//! Deploy configuration: scripts, repository credentials, templates, application settings.
use crate::api::{Api, Op};
use crate::http::{paged, Who, J, P, Q};
use app::common::{Message, Page, PageQuery};
use app::ctx::Ctx;
use app::deploy::{service as s, types::*};
use app::error::AppResult;
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
            .post(&format!("{base}/{{id}}/deploy-settings/preview/"), preview, Op::new(t, "A script rendered for one instance").body::<PreviewInput>().ok::<Rendered>().perm("edit_app"));
    }
    api
}
