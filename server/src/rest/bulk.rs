use crate::api::{Api, Op};
use crate::http::{paged, Who, J, P, Q};
use app::applications::types::AppFilter;
use app::bulk::{service, types::*};
use app::common::{Page, PageQuery};
use app::ctx::Ctx;
use app::error::AppResult;
use app::hosts::types::HostFilter;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;

fn csv_file(name: &str, body: String) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
}

async fn export_hosts(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Q(f): Q<HostFilter>,
) -> AppResult<impl IntoResponse> {
    Ok(csv_file(
        "hosts.csv",
        service::export_hosts(&ctx, &a, f).await?,
    ))
}
async fn export_apps(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Q(f): Q<AppFilter>,
) -> AppResult<impl IntoResponse> {
    let body = service::export_applications(&ctx, &a, f).await?;
    Ok(csv_file("applications.csv", body))
}
async fn start(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<ImportInput>,
) -> AppResult<(StatusCode, Json<ImportRun>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(service::start(&ctx, &a, input).await?),
    ))
}
async fn get_one(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<ImportRun>> {
    service::get(&ctx, &a, id).await.map(Json)
}
async fn list(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(p): Q<PageQuery>,
) -> AppResult<Json<Page<ImportRun>>> {
    Ok(paged(&uri, service::list(&ctx, &a, p).await?))
}

pub fn routes(api: Api) -> Api {
    let t = "bulk";
    let mut api = api.get(
        "/api/hosts/export.csv",
        export_hosts,
        Op::new(t, "Hosts you may see, for the filter, as CSV (with IPs)")
            .query::<HostFilter>()
            .ok_csv()
            .perm("view_host"),
    );
    for base in ["/api/applications", "/api/application"] {
        api = api.get(
            &format!("{base}/export.csv"),
            export_apps,
            Op::new(t, "Applications you may see, for the filter, as CSV")
                .query::<AppFilter>()
                .ok_csv()
                .perm("view_app"),
        );
    }
    api.post(
        "/api/imports/",
        start,
        Op::new(
            t,
            "Queue a CSV import of hosts or applications (202; poll the import)",
        )
        .body::<ImportInput>()
        .ok::<ImportRun>()
        .accepted()
        .perm(
            "host.add_host / application.create_app, or edit rights on some; each row is checked",
        ),
    )
    .get(
        "/api/imports/",
        list,
        Op::new(t, "Your imports, newest first")
            .query::<PageQuery>()
            .ok_page::<ImportRun>()
            .perm("signed in"),
    )
    .get(
        "/api/imports/{id}/",
        get_one,
        Op::new(t, "An import's progress, per-row errors and result")
            .ok::<ImportRun>()
            .perm("your import, or system.view_audit"),
    )
}
