use crate::api::{Api, Op};
use crate::http::{paged, Who, J, P, Q};
use app::applications::{service, types::*};
use app::common::{IdRef, Message, Page, PageQuery};
use app::ctx::Ctx;
use app::error::AppResult;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::Json;

type Apps = AppResult<Json<Page<Application>>>;

async fn list(State(ctx): State<Ctx>, Who(a): Who, uri: Uri, Q(f): Q<AppFilter>) -> Apps {
    Ok(paged(&uri, service::list(&ctx, &a, f).await?))
}
async fn create(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<AppInput>,
) -> AppResult<(StatusCode, Json<Application>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create(&ctx, &a, input).await?),
    ))
}
async fn get_one(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<Application>> {
    service::get(&ctx, &a, id).await.map(Json)
}
async fn patch(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<AppInput>,
) -> AppResult<Json<Application>> {
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
async fn children(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    P(id): P<i64>,
    Q(f): Q<AppFilter>,
) -> Apps {
    Ok(paged(&uri, service::child_apps(&ctx, &a, id, f).await?))
}
async fn add_children(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Vec<Application>>> {
    service::add_children(&ctx, &a, id, ids).await.map(Json)
}
async fn remove_children(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    service::remove_children(&ctx, &a, id, ids).await.map(Json)
}
async fn required(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    P(id): P<i64>,
    Q(f): Q<AppFilter>,
) -> Apps {
    Ok(paged(&uri, service::required_apps(&ctx, &a, id, f).await?))
}
async fn add_required(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    service::add_required(&ctx, &a, id, ids).await.map(Json)
}
async fn remove_required(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    service::remove_required(&ctx, &a, id, ids).await.map(Json)
}
async fn required_by(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    P(id): P<i64>,
    Q(f): Q<AppFilter>,
) -> Apps {
    Ok(paged(
        &uri,
        service::required_by_apps(&ctx, &a, id, f).await?,
    ))
}
async fn owners(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    P(id): P<i64>,
    Q(p): Q<PageQuery>,
) -> AppResult<Json<Page<Owner>>> {
    Ok(paged(&uri, service::owners(&ctx, &a, id, p).await?))
}
async fn add_owners(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    P(id): P<i64>,
    J(items): J<Vec<OwnerRef>>,
) -> AppResult<Json<Page<Owner>>> {
    Ok(paged(&uri, service::add_owners(&ctx, &a, id, items).await?))
}
async fn remove_owners(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(items): J<Vec<OwnerRef>>,
) -> AppResult<Json<Message>> {
    service::remove_owners(&ctx, &a, id, items).await.map(Json)
}
async fn of_production(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    P(id): P<i64>,
    Q(f): Q<AppFilter>,
) -> Apps {
    Ok(paged(&uri, service::of_production(&ctx, &a, id, f).await?))
}
async fn add_to_production(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    service::set_production(&ctx, &a, id, ids, true)
        .await
        .map(Json)
}
async fn remove_from_production(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    service::set_production(&ctx, &a, id, ids, false)
        .await
        .map(Json)
}

async fn by_users(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(users): J<Vec<IdRef>>,
) -> AppResult<Json<Vec<UserApplications>>> {
    service::get_by_users(&ctx, &a, users).await.map(Json)
}

async fn graph(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<DepGraph>> {
    service::dependency_graph(&ctx, &a, id).await.map(Json)
}

pub fn routes(mut api: Api) -> Api {
    let t = "applications";
    let view = "view_app on it (directly, through a parent or its product line, or module-wide)";
    // The seed writes both /applications/… and /application/…: both are served.
    for base in ["/api/applications", "/api/application"] {
        api = api
            .get(&format!("{base}/"), list, Op::new(t, "Applications you may see").query::<AppFilter>().ok_page::<Application>().perm("view_app"))
            .post(&format!("{base}/"), create, Op::new(t, "Create an application").body::<AppInput>().ok::<Application>().created().perm("application.create_app; edit_app on the parent; edit_business on the product line"))
            .post(&format!("{base}/get-by-users/"), by_users, Op::new(t, "The applications each user may view, with their actions").body_list::<IdRef>().ok_list::<UserApplications>().perm("system.view_users (yourself: none)"))
            .get(&format!("{base}/{{id}}/"), get_one, Op::new(t, "Get an application").ok::<Application>().perm(view))
            .patch(&format!("{base}/{{id}}/"), patch, Op::new(t, "Edit, rename or move an application").body::<AppInput>().ok::<Application>().perm("edit_app on it (and on a new parent)"))
            .delete(&format!("{base}/{{id}}/"), delete, Op::new(t, "Delete an application (force=true also removes links from its dependants)").query::<DeleteQuery>().perm("delete_app on it"))
            .get(&format!("{base}/{{id}}/child-apps/"), children, Op::new(t, "Child applications").query::<AppFilter>().ok_page::<Application>().perm(view))
            .post(&format!("{base}/{{id}}/child-apps/"), add_children, Op::new(t, "Move applications under this one").body_list::<IdRef>().ok_list::<Application>().perm("edit_app on both"))
            .delete(&format!("{base}/{{id}}/child-apps/"), remove_children, Op::new(t, "Detach child applications (they become top-level)").body_list::<IdRef>().perm("edit_app on both"))
            .get(&format!("{base}/{{id}}/required-apps/"), required, Op::new(t, "Applications this one depends on").query::<AppFilter>().ok_page::<Application>().perm(view))
            .post(&format!("{base}/{{id}}/required-apps/"), add_required, Op::new(t, "Add dependencies (cycles are refused)").body_list::<IdRef>().perm("edit_app on it"))
            .delete(&format!("{base}/{{id}}/required-apps/"), remove_required, Op::new(t, "Remove dependencies").body_list::<IdRef>().perm("edit_app on it"))
            .get(&format!("{base}/{{id}}/required-by-apps/"), required_by, Op::new(t, "Applications that depend on this one").query::<AppFilter>().ok_page::<Application>().perm(view))
            .get(&format!("{base}/{{id}}/dependency-graph/"), graph, Op::new(t, "Dependencies and dependants, transitively (the picture on the application page)").ok::<DepGraph>().perm(view))
            .get(&format!("{base}/{{id}}/response-person/"), owners, Op::new(t, "Response persons").query::<PageQuery>().ok_page::<Owner>().perm(view))
            .post(&format!("{base}/{{id}}/response-person/"), add_owners, Op::new(t, "Add response persons (type dev, ops, qa or pm)").body_list::<OwnerRef>().ok_page::<Owner>().perm("edit_app on it; another user than yourself: system.view_users"))
            .delete(&format!("{base}/{{id}}/response-person/"), remove_owners, Op::new(t, "Remove response persons").body_list::<OwnerRef>().perm("edit_app on it"));
    }
    api.get(
        "/api/productions/{id}/applications/",
        of_production,
        Op::new("productions", "Applications of a product line")
            .query::<AppFilter>()
            .ok_page::<Application>()
            .perm("view_business on it"),
    )
    .post(
        "/api/productions/{id}/applications/",
        add_to_production,
        Op::new("productions", "Put applications into the product line")
            .body_list::<IdRef>()
            .perm("edit_business on it, edit_app on each"),
    )
    .delete(
        "/api/productions/{id}/applications/",
        remove_from_production,
        Op::new("productions", "Take applications out of the product line")
            .body_list::<IdRef>()
            .perm("edit_business on it, edit_app on each"),
    )
}
