use crate::api::{Api, Op};
use crate::http::{paged, Who, J, P, Q};
use app::applications::types::{AppFilter, Application, DeleteQuery};
use app::common::{IdRef, Message, Page, PageQuery};
use app::ctx::Ctx;
use app::error::AppResult;
use app::hosts::{service, types::*};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::Json;

async fn list(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<HostFilter>,
) -> AppResult<Json<Page<Host>>> {
    Ok(paged(&uri, service::list(&ctx, &a, f).await?))
}
async fn create(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<HostInput>,
) -> AppResult<(StatusCode, Json<Host>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create(&ctx, &a, input).await?),
    ))
}
async fn get_one(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Host>> {
    service::get(&ctx, &a, id).await.map(Json)
}
async fn patch(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<HostInput>,
) -> AppResult<Json<Host>> {
    service::update(&ctx, &a, id, input).await.map(Json)
}
async fn delete(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    Q(q): Q<DeleteQuery>,
) -> AppResult<Json<Message>> {
    service::delete(&ctx, &a, id, q.force.unwrap_or(false))
        .await
        .map(Json)
}
async fn apps(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    P(id): P<i64>,
    Q(f): Q<AppFilter>,
) -> AppResult<Json<Page<Application>>> {
    Ok(paged(&uri, service::applications(&ctx, &a, id, f).await?))
}
async fn instances(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    P(id): P<i64>,
    Q(p): Q<PageQuery>,
) -> AppResult<Json<Page<Instance>>> {
    Ok(paged(&uri, service::instances(&ctx, &a, id, p).await?))
}
async fn add_instances(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(on): J<Vec<InstanceOnHost>>,
) -> AppResult<Json<Vec<Instance>>> {
    service::add_instances(&ctx, &a, id, on).await.map(Json)
}
async fn remove_instances(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    service::remove_instances(&ctx, &a, id, ids).await.map(Json)
}

pub fn routes(mut api: Api) -> Api {
    let t = "hosts";
    api = api
        .get(
            "/api/hosts/",
            list,
            Op::new(t, "Hosts you may see")
                .query::<HostFilter>()
                .ok_page::<Host>()
                .perm("view_host (or module-wide edit_host, delete_host, manage_host)"),
        )
        .post(
            "/api/hosts/",
            create,
            Op::new(t, "Add a host with its IP addresses")
                .body::<HostInput>()
                .ok::<Host>()
                .created()
                .perm("host.add_host"),
        )
        .get(
            "/api/hosts/{id}/",
            get_one,
            Op::new(t, "Get a host")
                .ok::<Host>()
                .perm("view_host on it"),
        )
        .patch(
            "/api/hosts/{id}/",
            patch,
            Op::new(t, "Edit a host; ip_address replaces its addresses")
                .body::<HostInput>()
                .ok::<Host>()
                .perm("edit_host on it"),
        )
        .delete(
            "/api/hosts/{id}/",
            delete,
            Op::new(t, "Delete a host (force=true also removes its instances)")
                .query::<DeleteQuery>()
                .perm("delete_host on it"),
        )
        .get(
            "/api/hosts/{id}/applications/",
            apps,
            Op::new(t, "Applications with an instance on this host")
                .query::<AppFilter>()
                .ok_page::<Application>()
                .perm("view_host on it"),
        );
    for base in ["/api/applications", "/api/application"] {
        let path = format!("{base}/{{id}}/instances/");
        api = api
            .get(
                &path,
                instances,
                Op::new("applications", "Instances of an application")
                    .query::<PageQuery>()
                    .ok_page::<Instance>()
                    .perm("view_app on it"),
            )
            .post(
                &path,
                add_instances,
                Op::new("applications", "Add instances on hosts")
                    .body_list::<InstanceOnHost>()
                    .ok_list::<Instance>()
                    .perm("edit_app on it and edit_host on each host"),
            )
            .delete(
                &path,
                remove_instances,
                Op::new("applications", "Remove instances")
                    .body_list::<IdRef>()
                    .perm("edit_app on it and edit_host on each host"),
            );
    }
    api
}
