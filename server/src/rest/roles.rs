use crate::api::{Api, Op};
use crate::http::{paged, Who, J, P, Q};
use app::common::{IdRef, Message, Page};
use app::ctx::Ctx;
use app::error::AppResult;
use app::roles::{service, types::*};
use app::users::types::User;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::Json;

async fn list(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<RoleFilter>,
) -> AppResult<Json<Page<Role>>> {
    Ok(paged(&uri, service::list(&ctx, &a, f).await?))
}
async fn create(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<RoleInput>,
) -> AppResult<(StatusCode, Json<Role>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create(&ctx, &a, input).await?),
    ))
}
async fn get_one(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Role>> {
    service::get(&ctx, &a, id).await.map(Json)
}
async fn patch(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<RoleInput>,
) -> AppResult<Json<Role>> {
    service::update(&ctx, &a, id, input).await.map(Json)
}
async fn delete(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Message>> {
    service::delete(&ctx, &a, id).await.map(Json)
}
async fn members(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Vec<User>>> {
    service::members(&ctx, &a, id).await.map(Json)
}
async fn add_members(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    service::change_membership(
        &ctx,
        &a,
        ids.into_iter().map(|u| (u.id, id)).collect(),
        true,
    )
    .await
    .map(Json)
}
async fn remove_members(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    service::change_membership(
        &ctx,
        &a,
        ids.into_iter().map(|u| (u.id, id)).collect(),
        false,
    )
    .await
    .map(Json)
}

pub fn routes(api: Api) -> Api {
    let t = "roles";
    api.get(
        "/api/roles/",
        list,
        Op::new(t, "List roles")
            .query::<RoleFilter>()
            .ok_page::<Role>()
            .perm("system.view_users"),
    )
    .post(
        "/api/roles/",
        create,
        Op::new(t, "Create a role")
            .body::<RoleInput>()
            .ok::<Role>()
            .created()
            .perm("system.manage_roles"),
    )
    .get(
        "/api/roles/{id}/",
        get_one,
        Op::new(t, "Get a role")
            .ok::<Role>()
            .perm("system.view_users"),
    )
    .patch(
        "/api/roles/{id}/",
        patch,
        Op::new(t, "Rename or describe a role")
            .body::<RoleInput>()
            .ok::<Role>()
            .perm("system.manage_roles"),
    )
    .delete(
        "/api/roles/{id}/",
        delete,
        Op::new(t, "Delete a role with its memberships and grants").perm("system.manage_roles"),
    )
    .get(
        "/api/roles/{id}/users/",
        members,
        Op::new(t, "Members of a role")
            .ok_list::<User>()
            .perm("system.view_users"),
    )
    .post(
        "/api/roles/{id}/users/",
        add_members,
        Op::new(t, "Add members")
            .body_list::<IdRef>()
            .perm("system.manage_roles and every permission the role carries"),
    )
    .delete(
        "/api/roles/{id}/users/",
        remove_members,
        Op::new(t, "Remove members")
            .body_list::<IdRef>()
            .perm("system.manage_roles and every permission the role carries"),
    )
}
