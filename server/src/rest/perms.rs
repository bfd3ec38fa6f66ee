use crate::api::{Api, Op};
use crate::http::{OneOrMany, Who, J, P, Q};
use app::common::Message;
use app::ctx::Ctx;
use app::error::AppResult;
use app::perms::{service, types::*};
use axum::extract::State;
use axum::Json;

async fn user_modules(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<Vec<ModulePerms>>> {
    service::module_perms_of(&ctx, &a, SubjectType::User, id)
        .await
        .map(Json)
}
async fn role_modules(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<Vec<ModulePerms>>> {
    service::module_perms_of(&ctx, &a, SubjectType::Role, id)
        .await
        .map(Json)
}
async fn grant_user(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(g): J<OneOrMany<ModuleGrant>>,
) -> AppResult<Json<Message>> {
    service::grant_module_perms(&ctx, &a, SubjectType::User, id, g.into_vec())
        .await
        .map(Json)
}
async fn grant_role(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(g): J<OneOrMany<ModuleGrant>>,
) -> AppResult<Json<Message>> {
    service::grant_module_perms(&ctx, &a, SubjectType::Role, id, g.into_vec())
        .await
        .map(Json)
}
async fn explain(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    Q(q): Q<ExplainQuery>,
) -> AppResult<Json<EffectivePerms>> {
    service::explain(&ctx, &a, id, q).await.map(Json)
}

pub fn routes(api: Api) -> Api {
    let t = "permissions";
    let api = api
        .get("/api/users/{id}/system/perms/", user_modules, Op::new(t, "Module flags granted to a user").ok_list::<ModulePerms>().perm("system.view_users, or yourself"))
        .post("/api/users/{id}/system/perms/", grant_user, Op::new(t, "Grant (true) or revoke (false) module flags; 30001 undefined, 30002 not yours to grant").body::<ModuleGrant>().perm("system.grant_perms and each flag granted"))
        .get("/api/roles/{id}/system/perms/", role_modules, Op::new(t, "Module flags granted to a role").ok_list::<ModulePerms>().perm("system.view_users"))
        .post("/api/roles/{id}/system/perms/", grant_role, Op::new(t, "Grant or revoke a role's module flags").body::<ModuleGrant>().perm("system.grant_perms and each flag granted"))
        .get("/api/users/{id}/effective-perms/", explain, Op::new(t, "Why can this user do it: effective permissions and their sources").query::<ExplainQuery>().ok::<EffectivePerms>().perm("system.view_users, or yourself"));
    resource_routes(api)
}

/// Subject-centric (`/users/{id}/application/perms/`) and resource-centric
/// (`/applications/{id}/authorization/users/`) grant endpoints, for every resource type.
pub fn resource_routes(mut api: Api) -> Api {
    use crate::http::paged;
    use app::common::{Page, PageQuery};
    use app::error::AppError;
    use axum::http::Uri;
    let kinds = [
        (
            ResourceType::Application,
            "application",
            &["applications", "application"][..],
        ),
        (ResourceType::Host, "host", &["hosts", "host"][..]),
        (ResourceType::Business, "business", &["productions"][..]),
        (ResourceType::DnsDomain, "dns_domain", &[][..]),
    ];
    for (rtype, seg, bases) in kinds {
        for (plural, st) in [("users", SubjectType::User), ("roles", SubjectType::Role)] {
            let list = move |State(ctx): State<Ctx>,
                             Who(a): Who,
                             uri: Uri,
                             P(id): P<i64>,
                             Q(f): Q<ResourcePermFilter>| async move {
                Ok::<Json<Page<ResourcePermRow>>, AppError>(paged(
                    &uri,
                    service::resource_perms_of(&ctx, &a, st, id, rtype, f).await?,
                ))
            };
            let grant = move |State(ctx): State<Ctx>,
                              Who(a): Who,
                              P(id): P<i64>,
                              J(req): J<ResourceGrantRequest>| async move {
                service::grant_resource_perms(&ctx, &a, st, id, rtype, req)
                    .await
                    .map(Json)
            };
            let path = format!("/api/{plural}/{{id}}/{seg}/perms/");
            api = api
                .get(
                    &path,
                    list,
                    Op::new(
                        "permissions",
                        "A subject's grants on resources of this kind",
                    )
                    .query::<ResourcePermFilter>()
                    .ok_page::<ResourcePermRow>()
                    .perm("system.view_users, or yourself"),
                )
                .post(
                    &path,
                    grant,
                    Op::new("permissions", "Grant or revoke flags on resources")
                        .body::<ResourceGrantRequest>()
                        .perm("system.grant_perms and each flag on each resource"),
                );
            for base in bases {
                let who = move |State(ctx): State<Ctx>,
                                Who(a): Who,
                                uri: Uri,
                                P(id): P<i64>,
                                Q(p): Q<PageQuery>| async move {
                    Ok::<Json<Page<ResourceAuthorization>>, AppError>(paged(
                        &uri,
                        service::resource_authorizations(&ctx, &a, rtype, id, st, p).await?,
                    ))
                };
                let patch =
                    move |State(ctx): State<Ctx>,
                          Who(a): Who,
                          P(id): P<i64>,
                          J(items): J<Vec<AuthorizationChange>>| async move {
                        service::patch_resource_authorizations(&ctx, &a, rtype, id, st, items)
                            .await
                            .map(Json)
                    };
                let path = format!("/api/{base}/{{id}}/authorization/{plural}/");
                api = api
                    .get(
                        &path,
                        who,
                        Op::new("permissions", "Who holds what on this resource")
                            .query::<PageQuery>()
                            .ok_page::<ResourceAuthorization>()
                            .perm("system.view_users"),
                    )
                    .patch(
                        &path,
                        patch,
                        Op::new("permissions", "Update or delete grants on this resource")
                            .body_list::<AuthorizationChange>()
                            .perm("system.grant_perms and each flag"),
                    );
            }
        }
    }
    api
}
