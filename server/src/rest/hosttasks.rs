//! Host tasks (power, status) and cloud accounts.
use crate::api::{Api, Op};
use crate::http::{paged, OptJ, Who, J, P, Q};
use app::common::{Message, Page, PageQuery};
use app::credentials::{service as creds, types::*};
use app::ctx::Ctx;
use app::error::AppResult;
use app::exec::cloud::Power;
use app::exec::types::{Task, TaskStarted};
use app::hosttasks::{service, types::*};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::Json;

async fn change_status(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<ChangeStatus>,
) -> AppResult<Json<TaskStarted>> {
    service::change_status(&ctx, &a, id, input).await.map(Json)
}
async fn list_init(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<HostTaskFilter>,
) -> AppResult<Json<Page<Task>>> {
    Ok(paged(&uri, service::list_init(&ctx, &a, f).await?))
}
async fn create_init(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<InitInput>,
) -> AppResult<(StatusCode, Json<Task>)> {
    let t = service::init_hosts(&ctx, &a, input).await?;
    Ok((StatusCode::CREATED, Json(t)))
}
async fn zabbix_opts(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<ZabbixOpts>,
) -> AppResult<Json<Message>> {
    service::change_zabbix_opts(&ctx, &a, id, input)
        .await
        .map(Json)
}
async fn my_keys(State(ctx): State<Ctx>, Who(a): Who) -> AppResult<Json<Vec<UserSshKey>>> {
    creds::my_ssh_keys(&ctx, &a).await.map(Json)
}
async fn add_key(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<UserSshKeyInput>,
) -> AppResult<(StatusCode, Json<UserSshKey>)> {
    let k = creds::add_my_ssh_key(&ctx, &a, input).await?;
    Ok((StatusCode::CREATED, Json(k)))
}
async fn delete_key(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<Message>> {
    creds::delete_my_ssh_key(&ctx, &a, id).await.map(Json)
}
async fn list_accounts(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(page): Q<PageQuery>,
) -> AppResult<Json<Page<CloudAccount>>> {
    Ok(paged(
        &uri,
        creds::list_cloud_accounts(&ctx, &a, page).await?,
    ))
}
async fn create_account(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<CloudAccountInput>,
) -> AppResult<(StatusCode, Json<CloudAccount>)> {
    let c = creds::create_cloud_account(&ctx, &a, input).await?;
    Ok((StatusCode::CREATED, Json(c)))
}
async fn get_account(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<CloudAccount>> {
    creds::get_cloud_account(&ctx, &a, id).await.map(Json)
}
async fn patch_account(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<CloudAccountInput>,
) -> AppResult<Json<CloudAccount>> {
    creds::update_cloud_account(&ctx, &a, id, input)
        .await
        .map(Json)
}
async fn delete_account(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<Message>> {
    creds::delete_cloud_account(&ctx, &a, id).await.map(Json)
}

/// The three power actions share their handlers; only the action differs.
fn power_routes(api: Api, p: Power) -> Api {
    let name = p.as_str();
    let (list, batch, one) = match p {
        Power::Start => (
            "Host start tasks the caller may see, newest first",
            "Start many hosts in one task: [{host_id}]",
            "Start a host through its cloud account (409/30002: running already; 502: 30002 CloudStack, 30003 Tencent CVM, 30004 Tencent CPM)",
        ),
        Power::Stop => (
            "Host stop tasks the caller may see, newest first",
            "Stop many hosts in one task: [{host_id, force}]",
            "Stop a host through its provider (502: 30002 CloudStack, 30003 Tencent CVM, 30004 Tencent CPM)",
        ),
        Power::Restart => (
            "Host restart tasks the caller may see, newest first",
            "Restart many hosts in one task: [{host_id, force}]",
            "Restart a host through its provider (502: 30002 CloudStack, 30003 Tencent CVM, 30004 Tencent CPM)",
        ),
    };
    api.get(
        &format!("/api/hosts/{name}-tasks/"),
        move |State(ctx): State<Ctx>, Who(a): Who, uri: Uri, Q(f): Q<HostTaskFilter>| async move {
            AppResult::Ok(paged(&uri, service::list(&ctx, &a, p, f).await?))
        },
        Op::new("host tasks", list)
            .query::<HostTaskFilter>()
            .ok_page::<Task>()
            .perm("creator, superusers, host.manage_host, view_host on one of its hosts"),
    )
    .post(
        &format!("/api/hosts/{name}-tasks/"),
        move |State(ctx): State<Ctx>, Who(a): Who, J(items): J<Vec<PowerItem>>| async move {
            service::power_batch(&ctx, &a, p, items).await.map(Json)
        },
        Op::new("host tasks", batch)
            .body::<Vec<PowerItem>>()
            .ok::<TaskStarted>()
            .perm("restart_host on every host"),
    )
    .post(
        &format!("/api/hosts/{{id}}/actions/{name}/"),
        move |State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>, OptJ(input): OptJ<PowerInput>| async move {
            service::power_one(&ctx, &a, id, p, input).await.map(Json)
        },
        Op::new("host tasks", one)
            .body::<PowerInput>()
            .ok::<TaskStarted>()
            .perm("restart_host"),
    )
}

pub fn routes(api: Api) -> Api {
    let api = power_routes(api, Power::Start);
    let api = power_routes(api, Power::Stop);
    let api = power_routes(api, Power::Restart);
    let t = "host tasks";
    api.get(
        "/api/hosts/init-tasks/",
        list_init,
        Op::new(t, "Host init tasks the caller may see, newest first")
            .query::<HostTaskFilter>()
            .ok_page::<Task>()
            .perm("creator, superusers, host.manage_host, view_host on one of its hosts"),
    )
    .post(
        "/api/hosts/init-tasks/",
        create_init,
        Op::new(t, "Init hosts: name, running user, login users' SSH keys, Zabbix agent and enrolment (400 30002/30003: a template or group missing in Zabbix)")
            .body::<InitInput>()
            .ok::<Task>()
            .created()
            .perm("init_host on every host"),
    )
    .post(
        "/api/hosts/{id}/actions/change-zabbix-opts/",
        zabbix_opts,
        Op::new(t, "Set a host's Zabbix groups and templates (400 30002 template / 30003 group missing; 502 30001 Zabbix failed)")
            .body::<ZabbixOpts>()
            .ok::<Message>()
            .perm("edit_host"),
    )
    .get(
        "/api/account/ssh-keys/",
        my_keys,
        Op::new(t, "My SSH public keys (installed by host init where I may log in)")
            .ok::<Vec<UserSshKey>>()
            .perm("signed in"),
    )
    .post(
        "/api/account/ssh-keys/",
        add_key,
        Op::new(t, "Add one of my SSH public keys")
            .body::<UserSshKeyInput>()
            .ok::<UserSshKey>()
            .created()
            .perm("signed in"),
    )
    .delete(
        "/api/account/ssh-keys/{id}/",
        delete_key,
        Op::new(t, "Remove one of my SSH public keys")
            .ok::<Message>()
            .perm("signed in (own keys)"),
    )
    .post(
        "/api/hosts/{id}/actions/change-status/",
        change_status,
        Op::new(t, "Move a host between raw, inited, attached and offline")
            .body::<ChangeStatus>()
            .ok::<TaskStarted>()
            .perm("edit_host (offline: also deactivate_host)"),
    )
    .get(
        "/api/hosts/cloud-accounts/",
        list_accounts,
        Op::new(
            t,
            "Cloud accounts that power hosts (secrets are never answered)",
        )
        .query::<PageQuery>()
        .ok_page::<CloudAccount>()
        .perm("host.manage_host"),
    )
    .post(
        "/api/hosts/cloud-accounts/",
        create_account,
        Op::new(t, "Add a CloudStack or Tencent Cloud account")
            .body::<CloudAccountInput>()
            .ok::<CloudAccount>()
            .created()
            .perm("host.manage_host"),
    )
    .get(
        "/api/hosts/cloud-accounts/{id}/",
        get_account,
        Op::new(t, "A cloud account")
            .ok::<CloudAccount>()
            .perm("host.manage_host"),
    )
    .patch(
        "/api/hosts/cloud-accounts/{id}/",
        patch_account,
        Op::new(t, "Edit a cloud account; a new secret replaces the old one")
            .body::<CloudAccountInput>()
            .ok::<CloudAccount>()
            .perm("host.manage_host"),
    )
    .delete(
        "/api/hosts/cloud-accounts/{id}/",
        delete_account,
        Op::new(t, "Delete a cloud account no host uses")
            .ok::<Message>()
            .perm("host.manage_host"),
    )
}
