//! `/api/resource-request/{hosts,domains,ssl-certificates}/…`: the 21 endpoints of seed 003,
//! plus deliver (hosts), upload (certificates), the inbox badge and the quorum settings.
use crate::api::{Api, Op};
use crate::http::{paged, OptJ, Who, J, P, Q};
use app::approvals::types::RejectInput;
use app::common::{Message, Page};
use app::ctx::Ctx;
use app::error::AppResult;
use app::requests::{service, types::*};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::Json;

/// The kind a handler instance serves: `K` indexes `RequestKind::ALL` (the seed's paths are
/// registered per kind, so the OpenAPI document lists all 21).
fn kind<const K: usize>() -> RequestKind {
    RequestKind::ALL[K]
}

async fn list<const K: usize>(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<RequestFilter>,
) -> AppResult<Json<Page<ResourceRequest>>> {
    Ok(paged(&uri, service::list(&ctx, &a, kind::<K>(), f).await?))
}
async fn create<const K: usize>(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<RequestInput>,
) -> AppResult<(StatusCode, Json<ResourceRequest>)> {
    let r = service::create(&ctx, &a, kind::<K>(), input).await?;
    Ok((StatusCode::CREATED, Json(r)))
}
async fn get_one<const K: usize>(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<ResourceRequest>> {
    service::get(&ctx, &a, kind::<K>(), id).await.map(Json)
}
async fn patch<const K: usize>(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<RequestInput>,
) -> AppResult<Json<ResourceRequest>> {
    service::update(&ctx, &a, kind::<K>(), id, input)
        .await
        .map(Json)
}
async fn approve<const K: usize>(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    OptJ(input): OptJ<ApproveInput>,
) -> AppResult<Json<Message>> {
    service::approve(&ctx, &a, kind::<K>(), id, input)
        .await
        .map(Json)
}
async fn cancel<const K: usize>(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    OptJ(input): OptJ<CancelInput>,
) -> AppResult<Json<Message>> {
    service::cancel(&ctx, &a, kind::<K>(), id, input)
        .await
        .map(Json)
}
async fn reject<const K: usize>(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    OptJ(input): OptJ<RejectInput>,
) -> AppResult<Json<Message>> {
    service::reject(&ctx, &a, kind::<K>(), id, input)
        .await
        .map(Json)
}
async fn close<const K: usize>(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<Message>> {
    service::close(&ctx, &a, kind::<K>(), id).await.map(Json)
}
async fn deliver(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Message>> {
    service::deliver(&ctx, &a, id).await.map(Json)
}
async fn upload(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<CertificateUpload>,
) -> AppResult<Json<Message>> {
    service::upload(&ctx, &a, id, input).await.map(Json)
}
async fn inbox(State(ctx): State<Ctx>, Who(a): Who) -> AppResult<Json<InboxCount>> {
    service::inbox_count(&ctx, &a).await.map(Json)
}
async fn settings(State(ctx): State<Ctx>, Who(a): Who) -> AppResult<Json<RequestSettings>> {
    service::settings(&ctx, &a).await.map(Json)
}
async fn set_settings(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<RequestSettings>,
) -> AppResult<Json<RequestSettings>> {
    service::set_settings(&ctx, &a, input).await.map(Json)
}

pub fn routes(mut api: Api) -> Api {
    let t = "resource requests";
    let who = "resource_request.enable_resource_req; approvers (the kind's approve flag) see all of the kind, others their own";
    let approver = "the kind's approve flag (approve_host_req, approve_domain_req or approve_ssl_cert_req); never on one's own request";
    api = api
        .get(
            "/api/resource-request/inbox/",
            inbox,
            Op::new(
                t,
                "Requests waiting for my decision, per kind (the navigation badge)",
            )
            .ok::<InboxCount>()
            .perm("signed in"),
        )
        .get(
            "/api/resource-request/settings/",
            settings,
            Op::new(t, "Approvals each kind needs")
                .ok::<RequestSettings>()
                .perm("superuser"),
        )
        .patch(
            "/api/resource-request/settings/",
            set_settings,
            Op::new(t, "Set the approvals each kind needs (1 or 2)")
                .body::<RequestSettings>()
                .ok::<RequestSettings>()
                .perm("superuser"),
        )
        .post(
            "/api/resource-request/hosts/{id}/actions/deliver/",
            deliver,
            Op::new(
                t,
                "Mark the registered hosts delivered; finishes the request",
            )
            .ok::<Message>()
            .perm("resource_request.approve_host_req"),
        )
        .post(
            "/api/resource-request/ssl-certificates/{id}/actions/upload/",
            upload,
            Op::new(
                t,
                "Finish an approved request with a certificate issued elsewhere",
            )
            .body::<CertificateUpload>()
            .ok::<Message>()
            .perm("resource_request.approve_ssl_cert_req"),
        );
    api = kind_routes::<0>(api, t, who, approver);
    api = kind_routes::<1>(api, t, who, approver);
    kind_routes::<2>(api, t, who, approver)
}

/// The seven endpoints of one kind.
fn kind_routes<const K: usize>(
    api: Api,
    t: &'static str,
    who: &'static str,
    approver: &'static str,
) -> Api {
    let base = format!("/api/resource-request/{}", kind::<K>().segment());
    api.get(
        &format!("{base}/"),
        list::<K>,
        Op::new(t, "Requests of this kind; view=mine|inbox")
            .query::<RequestFilter>()
            .ok_page::<ResourceRequest>()
            .perm(who),
    )
    .post(
        &format!("{base}/"),
        create::<K>,
        Op::new(t, "File a request; its approvers are mailed")
            .body::<RequestInput>()
            .ok::<ResourceRequest>()
            .created()
            .perm("resource_request.create_resource_req"),
    )
    .get(
        &format!("{base}/{{id}}/"),
        get_one::<K>,
        Op::new(t, "A request with its decisions and timeline")
            .ok::<ResourceRequest>()
            .perm(who),
    )
    .patch(
        &format!("{base}/{{id}}/"),
        patch::<K>,
        Op::new(t, "Edit one's request while it waits for review")
            .body::<RequestInput>()
            .ok::<ResourceRequest>()
            .perm("the requester"),
    )
    .post(
        &format!("{base}/{{id}}/actions/approve/"),
        approve::<K>,
        Op::new(
            t,
            "Approve (30001 already approved, 30002 closed/rejected/finished); optional content_version: 409 if the request changed since",
        )
        .body::<ApproveInput>()
        .ok::<Message>()
        .perm(approver),
    )
    .post(
        &format!("{base}/{{id}}/actions/cancel/"),
        cancel::<K>,
        Op::new(t, "Give up an approved request whose fulfilment cannot finish (status closed)")
            .body::<CancelInput>()
            .ok::<Message>()
            .perm(approver),
    )
    .post(
        &format!("{base}/{{id}}/actions/reject/"),
        reject::<K>,
        Op::new(t, "Reject, with an optional {\"reason\"}")
            .body::<RejectInput>()
            .ok::<Message>()
            .perm(approver),
    )
    .post(
        &format!("{base}/{{id}}/actions/close/"),
        close::<K>,
        Op::new(t, "Withdraw one's request while it waits for review")
            .ok::<Message>()
            .perm("the requester"),
    )
}
