//! DNS: services, zones (domains), records, drift, and the DNS operations log.
use crate::api::{Api, Op};
use crate::http::{paged, OneOrMany, Who, J, P, Q};
use app::common::{IdRef, Message, Page};
use app::ctx::Ctx;
use app::dns::{service, types::*};
use app::error::{AppError, AppResult};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

async fn list(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<DnsServiceFilter>,
) -> AppResult<Json<Page<DnsService>>> {
    Ok(paged(&uri, service::list_services(&ctx, &a, f).await?))
}
async fn create(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(i): J<DnsServiceInput>,
) -> AppResult<(StatusCode, Json<DnsService>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create_service(&ctx, &a, i).await?),
    ))
}
async fn get_one(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<DnsService>> {
    service::get_service(&ctx, &a, id).await.map(Json)
}
async fn patch(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(i): J<DnsServiceInput>,
) -> AppResult<Json<DnsService>> {
    service::update_service(&ctx, &a, id, i).await.map(Json)
}
async fn delete(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Message>> {
    service::delete_service(&ctx, &a, id).await.map(Json)
}
async fn test(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<ConnTest>> {
    service::test_service(&ctx, &a, id).await.map(Json)
}

async fn domains(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    P(sid): P<i64>,
    Q(f): Q<DomainFilter>,
) -> AppResult<Json<Page<DnsDomain>>> {
    Ok(paged(&uri, service::list_domains(&ctx, &a, sid, f).await?))
}
async fn add_domain(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(sid): P<i64>,
    J(i): J<DomainInput>,
) -> AppResult<(StatusCode, Json<DnsDomain>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create_domain(&ctx, &a, sid, i).await?),
    ))
}
async fn get_domain(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((sid, did)): P<(i64, i64)>,
) -> AppResult<Json<DnsDomain>> {
    service::get_domain(&ctx, &a, sid, did).await.map(Json)
}
async fn patch_domain(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((sid, did)): P<(i64, i64)>,
    J(i): J<DomainInput>,
) -> AppResult<Json<DnsDomain>> {
    service::update_domain(&ctx, &a, sid, did, i)
        .await
        .map(Json)
}
async fn delete_domain(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((sid, did)): P<(i64, i64)>,
) -> AppResult<Json<Message>> {
    service::delete_domain(&ctx, &a, sid, did).await.map(Json)
}
/// The seed's `DELETE /dns-services/{id}/domains/`: the domain id as `?id=` or `{"id": N}`.
async fn delete_domain_alias(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(sid): P<i64>,
    Q(q): Q<OptionalId>,
    body: axum::body::Bytes,
) -> AppResult<Json<Message>> {
    let from_body = serde_json::from_slice::<OptionalId>(&body)
        .ok()
        .and_then(|b| b.id);
    let did =
        q.id.or(from_body)
            .ok_or_else(|| AppError::invalid("id", "give the domain as ?id= or {\"id\": N}"))?;
    service::delete_domain(&ctx, &a, sid, did).await.map(Json)
}

async fn records(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    P((sid, did)): P<(i64, i64)>,
    Q(f): Q<RecordFilter>,
) -> AppResult<Json<Page<DnsRecord>>> {
    Ok(paged(
        &uri,
        service::list_records(&ctx, &a, sid, did, f).await?,
    ))
}
/// One object answers one record, an array answers the array (all or nothing).
async fn add_records(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((sid, did)): P<(i64, i64)>,
    J(i): J<OneOrMany<RecordInput>>,
) -> AppResult<Response> {
    let bulk = matches!(i, OneOrMany::Many(_));
    let mut rows = service::create_records(&ctx, &a, sid, did, i.into_vec(), bulk).await?;
    Ok(if bulk {
        (StatusCode::CREATED, Json(rows)).into_response()
    } else {
        (StatusCode::CREATED, Json(rows.remove(0))).into_response()
    })
}
async fn get_record(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((sid, did, rid)): P<(i64, i64, i64)>,
) -> AppResult<Json<DnsRecord>> {
    service::get_record(&ctx, &a, sid, did, rid).await.map(Json)
}
async fn patch_record(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((sid, did, rid)): P<(i64, i64, i64)>,
    J(p): J<RecordPatch>,
) -> AppResult<Json<DnsRecord>> {
    service::update_record(&ctx, &a, sid, did, rid, p)
        .await
        .map(Json)
}
/// The seed's `PATCH …/records/` with the record's `id` in the body.
async fn patch_record_alias(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((sid, did)): P<(i64, i64)>,
    J(p): J<RecordPatch>,
) -> AppResult<Json<DnsRecord>> {
    let rid =
        p.id.ok_or_else(|| AppError::invalid("id", "give the record's id"))?;
    service::update_record(&ctx, &a, sid, did, rid, p)
        .await
        .map(Json)
}
async fn delete_record(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((sid, did, rid)): P<(i64, i64, i64)>,
) -> AppResult<Json<Message>> {
    service::delete_record(&ctx, &a, sid, did, rid)
        .await
        .map(Json)
}
async fn disable(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((sid, did)): P<(i64, i64)>,
    J(ids): J<OneOrMany<IdRef>>,
) -> AppResult<Json<Message>> {
    service::set_disabled(&ctx, &a, sid, did, ids.into_vec(), true)
        .await
        .map(Json)
}
async fn enable(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((sid, did)): P<(i64, i64)>,
    J(ids): J<OneOrMany<IdRef>>,
) -> AppResult<Json<Message>> {
    service::set_disabled(&ctx, &a, sid, did, ids.into_vec(), false)
        .await
        .map(Json)
}
async fn drift(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((sid, did)): P<(i64, i64)>,
) -> AppResult<Json<Vec<DriftEntry>>> {
    service::drift(&ctx, &a, sid, did).await.map(Json)
}
async fn resolve(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((sid, did)): P<(i64, i64)>,
    J(r): J<DriftResolve>,
) -> AppResult<Json<Message>> {
    service::resolve_drift(&ctx, &a, sid, did, r)
        .await
        .map(Json)
}
async fn ops(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<DnsOpFilter>,
) -> AppResult<Json<Page<DnsOp>>> {
    Ok(paged(
        &uri,
        app::audit::service::dns_ops(&ctx, &a, f).await?,
    ))
}

pub fn routes(api: Api) -> Api {
    let t = "dns";
    let s = "/api/dns-services/{id}";
    let d = "/api/dns-services/{id}/domains/{did}";
    let view = "dns.enable_dns_mgmt and view_domain on the zone (or dns.manage_dns_server)";
    let edit = "dns.enable_dns_mgmt and edit_domain on the zone (or dns.manage_dns_server)";
    api.get("/api/dns-services/", list, Op::new(t, "DNS services (never their secrets)").query::<DnsServiceFilter>().ok_page::<DnsService>().perm("dns.enable_dns_mgmt"))
        .post("/api/dns-services/", create, Op::new(t, "Add a DNS service (powerdns: api_key; bind: tsig_key_name, tsig_algorithm, tsig_secret)").body::<DnsServiceInput>().ok::<DnsService>().created().perm("dns.manage_dns_server"))
        .get(&format!("{s}/"), get_one, Op::new(t, "A DNS service").ok::<DnsService>().perm("dns.enable_dns_mgmt"))
        .patch(&format!("{s}/"), patch, Op::new(t, "Edit a DNS service (secrets write-only)").body::<DnsServiceInput>().ok::<DnsService>().perm("dns.manage_dns_server"))
        .delete(&format!("{s}/"), delete, Op::new(t, "Delete a DNS service (409 while it has zones)").perm("dns.manage_dns_server"))
        .post(&format!("{s}/actions/test/"), test, Op::new(t, "Test the connection: ok and what the server said (200 even when it fails)").ok::<ConnTest>().perm("dns.manage_dns_server"))
        .get(&format!("{s}/domains/"), domains, Op::new(t, "Zones of a service you may view").query::<DomainFilter>().ok_page::<DnsDomain>().perm("dns.enable_dns_mgmt; zones with view_domain"))
        .post(&format!("{s}/domains/"), add_domain, Op::new(t, "Add a zone: PowerDNS creates it (adopt: take over an existing one); BIND must serve it; the server's records are imported").body::<DomainInput>().ok::<DnsDomain>().created().perm("dns.manage_dns_server"))
        .delete(&format!("{s}/domains/"), delete_domain_alias, Op::new(t, "Delete a zone given as ?id= or {\"id\": N} (seed path)").query::<OptionalId>().perm("dns.manage_dns_server"))
        .get(&format!("{d}/"), get_domain, Op::new(t, "A zone").ok::<DnsDomain>().perm(view))
        .patch(&format!("{d}/"), patch_domain, Op::new(t, "Edit a zone (renaming is refused)").body::<DomainInput>().ok::<DnsDomain>().perm("dns.manage_dns_server"))
        .delete(&format!("{d}/"), delete_domain, Op::new(t, "Delete a zone: removed from PowerDNS (BIND: left on the server), records dropped").perm("dns.manage_dns_server"))
        .get(&format!("{d}/records/"), records, Op::new(t, "Records of a zone").query::<RecordFilter>().ok_page::<DnsRecord>().perm(view))
        .post(&format!("{d}/records/"), add_records, Op::new(t, "Add a record, or an array of records (all or nothing)").body::<RecordInput>().ok::<DnsRecord>().created().perm(edit))
        .patch(&format!("{d}/records/"), patch_record_alias, Op::new(t, "Edit the record whose id is in the body (seed path)").body::<RecordPatch>().ok::<DnsRecord>().perm(edit))
        .get(&format!("{d}/records/{{rid}}/"), get_record, Op::new(t, "A record").ok::<DnsRecord>().perm(view))
        .patch(&format!("{d}/records/{{rid}}/"), patch_record, Op::new(t, "Edit a record (a new ttl applies to its whole set)").body::<RecordPatch>().ok::<DnsRecord>().perm(edit))
        .delete(&format!("{d}/records/{{rid}}/"), delete_record, Op::new(t, "Delete a record").perm(edit))
        .post(&format!("{d}/records/actions/disable/"), disable, Op::new(t, "Disable records: removed from the server, kept in Opsdeck").body_list::<IdRef>().perm(edit))
        .post(&format!("{d}/records/actions/enable/"), enable, Op::new(t, "Enable records: back on the server").body_list::<IdRef>().perm(edit))
        .get(&format!("{d}/drift/"), drift, Op::new(t, "Differences between Opsdeck's records and the server's").ok_list::<DriftEntry>().perm(view))
        .post(&format!("{d}/drift/actions/resolve/"), resolve, Op::new(t, "Resolve a difference: push ours or adopt theirs").body::<DriftResolve>().perm(edit))
        .get("/api/audit/dns-operations/", ops, Op::new("audit", "DNS operations").query::<DnsOpFilter>().ok_page::<DnsOp>().perm("system.view_audit"))
}
