use crate::api::{Api, Op};
use crate::http::{paged, Who, J, P, Q};
use app::common::{Message, Page};
use app::credentials::{service as creds, types::*};
use app::ctx::Ctx;
use app::error::AppResult;
use app::exec::{service, types::*};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::Json;

async fn get_task(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Task>> {
    service::get(&ctx, &a, id).await.map(Json)
}
async fn output(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    Q(q): Q<OutputQuery>,
) -> AppResult<Json<OutputPage>> {
    service::output(&ctx, &a, id, q).await.map(Json)
}
async fn cancel(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Message>> {
    service::cancel(&ctx, &a, id).await.map(Json)
}
async fn list_creds(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<SshCredentialFilter>,
) -> AppResult<Json<Page<SshCredential>>> {
    Ok(paged(&uri, creds::list(&ctx, &a, f).await?))
}
async fn create_cred(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<SshCredentialInput>,
) -> AppResult<(StatusCode, Json<SshCredential>)> {
    Ok((
        StatusCode::CREATED,
        Json(creds::create(&ctx, &a, input).await?),
    ))
}
async fn get_cred(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<SshCredential>> {
    creds::get(&ctx, &a, id).await.map(Json)
}
async fn patch_cred(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<SshCredentialInput>,
) -> AppResult<Json<SshCredential>> {
    creds::update(&ctx, &a, id, input).await.map(Json)
}
async fn delete_cred(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<Message>> {
    creds::delete(&ctx, &a, id).await.map(Json)
}
async fn get_access(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<HostAccess>> {
    creds::get_access(&ctx, &a, id).await.map(Json)
}
async fn put_access(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<HostAccessInput>,
) -> AppResult<Json<HostAccess>> {
    creds::set_access(&ctx, &a, id, input).await.map(Json)
}
async fn accept_key(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<AcceptHostKey>,
) -> AppResult<Json<HostAccess>> {
    creds::accept_host_key(&ctx, &a, id, input).await.map(Json)
}
async fn check_ssh(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<TaskStarted>> {
    creds::check_ssh(&ctx, &a, id).await.map(Json)
}

pub fn routes(api: Api) -> Api {
    let t = "tasks";
    let seen = "creator, superusers, host.manage_host, view_host on one of its hosts";
    let api = api
        .get(
            "/api/tasks/{id}/",
            get_task,
            Op::new(t, "A task with its per-host results and progress")
                .ok::<Task>()
                .perm(seen),
        )
        .get(
            "/api/tasks/{id}/output/",
            output,
            Op::new(
                t,
                "Stored output after a chunk id (live: the WebSocket /channel/{id})",
            )
            .query::<OutputQuery>()
            .ok::<OutputPage>()
            .perm(seen),
        )
        .post(
            "/api/tasks/{id}/actions/cancel/",
            cancel,
            Op::new(
                t,
                "Cancel a running task: running steps are killed, pending hosts skipped",
            )
            .ok::<Message>()
            .perm("creator, superusers, host.manage_host"),
        );
    let t = "ssh";
    api.get(
        "/api/hosts/ssh-credentials/",
        list_creds,
        Op::new(t, "SSH credentials (secrets are never answered)")
            .query::<SshCredentialFilter>()
            .ok_page::<SshCredential>()
            .perm("host.manage_host"),
    )
    .post(
        "/api/hosts/ssh-credentials/",
        create_cred,
        Op::new(
            t,
            "Add an SSH credential: a password or a private key, stored encrypted",
        )
        .body::<SshCredentialInput>()
        .ok::<SshCredential>()
        .created()
        .perm("host.manage_host"),
    )
    .get(
        "/api/hosts/ssh-credentials/{id}/",
        get_cred,
        Op::new(t, "An SSH credential")
            .ok::<SshCredential>()
            .perm("host.manage_host"),
    )
    .patch(
        "/api/hosts/ssh-credentials/{id}/",
        patch_cred,
        Op::new(
            t,
            "Edit an SSH credential; a new secret replaces the old one",
        )
        .body::<SshCredentialInput>()
        .ok::<SshCredential>()
        .perm("host.manage_host"),
    )
    .delete(
        "/api/hosts/ssh-credentials/{id}/",
        delete_cred,
        Op::new(t, "Delete an SSH credential no host uses")
            .ok::<Message>()
            .perm("host.manage_host"),
    )
    .get(
        "/api/hosts/{id}/access/",
        get_access,
        Op::new(
            t,
            "How Opsdeck reaches a host over SSH, with its pinned host keys",
        )
        .ok::<HostAccess>()
        .perm("view_host"),
    )
    .put(
        "/api/hosts/{id}/access/",
        put_access,
        Op::new(
            t,
            "Set the SSH address, port, credential and power commands of a host",
        )
        .body::<HostAccessInput>()
        .ok::<HostAccess>()
        .perm("host.manage_host"),
    )
    .post(
        "/api/hosts/{id}/host-key/actions/accept/",
        accept_key,
        Op::new(
            t,
            "Accept the new key a host offered (quote its fingerprint)",
        )
        .body::<AcceptHostKey>()
        .ok::<HostAccess>()
        .perm("host.manage_host"),
    )
    .post(
        "/api/hosts/{id}/actions/check-ssh/",
        check_ssh,
        Op::new(
            t,
            "Start a task that logs in to the host and runs `uname -a; id`",
        )
        .ok::<TaskStarted>()
        .perm("edit_host"),
    )
}
