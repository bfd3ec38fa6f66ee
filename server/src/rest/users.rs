use crate::api::{Api, Op};
use crate::http::{paged, Who, J, P, Q};
use app::auth::types::ForgotPassword;
use app::common::{IdRef, Message, Page};
use app::ctx::Ctx;
use app::error::AppResult;
use app::users::{service, types::*};
use axum::extract::State;
use axum::http::Uri;
use axum::Json;

async fn list(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<UserFilter>,
) -> AppResult<Json<Page<User>>> {
    Ok(paged(&uri, service::list(&ctx, &a, f).await?))
}
async fn create(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<CreateUser>,
) -> AppResult<(axum::http::StatusCode, Json<User>)> {
    Ok((
        axum::http::StatusCode::CREATED,
        Json(service::create(&ctx, &a, input).await?),
    ))
}
async fn get_one(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<User>> {
    service::get(&ctx, &a, id).await.map(Json)
}
async fn patch(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<UpdateUser>,
) -> AppResult<Json<User>> {
    service::update(&ctx, &a, id, input).await.map(Json)
}
async fn add_roles(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    let pairs = ids.into_iter().map(|r| (id, r.id)).collect();
    app::roles::service::change_membership(&ctx, &a, pairs, true)
        .await
        .map(Json)
}
async fn remove_roles(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    let pairs = ids.into_iter().map(|r| (id, r.id)).collect();
    app::roles::service::change_membership(&ctx, &a, pairs, false)
        .await
        .map(Json)
}
async fn enable(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Message>> {
    service::set_status(&ctx, &a, id, true).await.map(Json)
}
async fn disable(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Message>> {
    service::set_status(&ctx, &a, id, false).await.map(Json)
}
async fn change_password(
    State(ctx): State<Ctx>,
    Who(a): Who,
    s: tower_sessions::Session,
    P(id): P<i64>,
    J(input): J<ChangePassword>,
) -> AppResult<Json<Message>> {
    app::auth::session::change_password(&ctx, &a, &s, id, input)
        .await
        .map(Json)
}
async fn forget_password(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<ForgotPassword>,
) -> AppResult<Json<Message>> {
    app::auth::service::forgot_password(&ctx, &a, Some(id), input)
        .await
        .map(Json)
}

pub fn routes(api: Api) -> Api {
    let t = "users";
    api.get(
        "/api/users/",
        list,
        Op::new(t, "List users")
            .query::<UserFilter>()
            .ok_page::<User>()
            .perm("system.view_users"),
    )
    .post(
        "/api/users/",
        create,
        Op::new(t, "Create a user")
            .body::<CreateUser>()
            .ok::<User>()
            .created()
            .perm("system.manage_users"),
    )
    .get(
        "/api/users/{id}/",
        get_one,
        Op::new(t, "Get a user")
            .ok::<User>()
            .perm("system.view_users, or yourself"),
    )
    .patch(
        "/api/users/{id}/",
        patch,
        Op::new(t, "Edit a user's profile")
            .body::<UpdateUser>()
            .ok::<User>()
            .perm("system.manage_users, or yourself"),
    )
    .post(
        "/api/users/{id}/roles/",
        add_roles,
        Op::new(t, "Add the user to roles")
            .body_list::<IdRef>()
            .perm("system.manage_roles and every permission the roles carry"),
    )
    .delete(
        "/api/users/{id}/roles/",
        remove_roles,
        Op::new(t, "Remove the user from roles")
            .body_list::<IdRef>()
            .perm("system.manage_roles and every permission the roles carry"),
    )
    .post(
        "/api/users/{id}/actions/enable/",
        enable,
        Op::new(t, "Enable a user").perm("system.manage_users"),
    )
    .post(
        "/api/users/{id}/actions/disable/",
        disable,
        Op::new(t, "Disable a user (not yourself)").perm("system.manage_users"),
    )
    .post(
        "/api/users/{id}/actions/change-password/",
        change_password,
        Op::new(t, "Change your own password (300001: wrong original)")
            .body::<ChangePassword>()
            .perm("yourself"),
    )
    .post(
        "/api/users/{id}/actions/forget-password/",
        forget_password,
        Op::new(
            t,
            "Mail a reset link to the user's address (always answers success)",
        )
        .body::<ForgotPassword>()
        .perm("none"),
    )
}
