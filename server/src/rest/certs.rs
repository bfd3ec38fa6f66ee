use crate::api::{Api, Op};
use crate::http::{paged, Who, J, P, Q};
use app::certs::{service, types::*};
use app::common::Page;
use app::ctx::Ctx;
use app::error::AppResult;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;

/// A PEM file as a download.
fn pem(f: PemFile) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/x-pem-file".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", f.filename),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        f.body,
    )
}

async fn list(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<CertFilter>,
) -> AppResult<Json<Page<Certificate>>> {
    Ok(paged(&uri, service::list(&ctx, &a, f).await?))
}
async fn upload(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<CertUpload>,
) -> AppResult<(StatusCode, Json<Certificate>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::upload(&ctx, &a, input).await?),
    ))
}
async fn get_one(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<Certificate>> {
    service::get(&ctx, &a, id).await.map(Json)
}
async fn ca(State(ctx): State<Ctx>, Who(a): Who) -> AppResult<impl IntoResponse> {
    Ok(pem(service::ca_certificate(&ctx, &a).await?))
}
async fn part(
    ctx: Ctx,
    a: app::ctx::Actor,
    id: i64,
    part: CertPart,
) -> AppResult<impl IntoResponse> {
    Ok(pem(service::download(&ctx, &a, id, part).await?))
}
async fn cert(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<impl IntoResponse> {
    part(ctx, a, id, CertPart::Cert).await
}
async fn chain(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<impl IntoResponse> {
    part(ctx, a, id, CertPart::Chain).await
}
async fn key(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<impl IntoResponse> {
    part(ctx, a, id, CertPart::Key).await
}
async fn fullchain(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<impl IntoResponse> {
    part(ctx, a, id, CertPart::Fullchain).await
}

pub fn routes(api: Api) -> Api {
    let t = "certificates";
    let seen =
        "owner, owners of its applications, resource_request.approve_ssl_cert_req, superusers";
    api.get(
        "/api/certificates/",
        list,
        Op::new(t, "Certificates you may see, soonest expiry first")
            .query::<CertFilter>()
            .ok_page::<Certificate>()
            .perm(seen),
    )
    .post(
        "/api/certificates/",
        upload,
        Op::new(
            t,
            "Upload a certificate issued elsewhere (key and chain optional)",
        )
        .body::<CertUpload>()
        .ok::<Certificate>()
        .created()
        .perm("resource_request.approve_ssl_cert_req; view_app on each associated application"),
    )
    .get(
        "/api/certificates/ca/",
        ca,
        Op::new(
            t,
            "Opsdeck's CA certificate (PEM file) to install as trusted",
        )
        .perm("signed in"),
    )
    .get(
        "/api/certificates/{id}/",
        get_one,
        Op::new(t, "A certificate with its PEM (not the key)")
            .ok::<Certificate>()
            .perm(seen),
    )
    .get(
        "/api/certificates/{id}/download/cert/",
        cert,
        Op::new(t, "Download the certificate (PEM file; audited)").perm(seen),
    )
    .get(
        "/api/certificates/{id}/download/chain/",
        chain,
        Op::new(t, "Download the issuer chain (PEM file; audited)").perm(seen),
    )
    .get(
        "/api/certificates/{id}/download/fullchain/",
        fullchain,
        Op::new(t, "Download certificate and chain (PEM file; audited)").perm(seen),
    )
    .get(
        "/api/certificates/{id}/download/key/",
        key,
        Op::new(t, "Download the private key (PEM file; audited)")
            .perm("its key holders (owner and owners of its applications when issued or uploaded) who still see it, superusers; not approvers, not owners added later"),
    )
}
