//! `/requests/:kind/:id` (the page mails link to): what is asked, the decisions, the timeline,
//! the fulfilment note, and the actions the server lists in `available_actions`.
use super::{inbox_refresher, kind_key};
use crate::approvals::pages::{Decisions, LocalTime, ReasonDialog, StatusBadge, Timeline};
use crate::certs::pages::PemUpload;
use crate::common::components::{confirm, refreshing, ErrorBox, Loaded};
use crate::common::i18n::t;
use crate::common::Message;
use crate::error::AppError;
use crate::requests::api::*;
use crate::requests::types::*;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

/// The request page. Every action reloads the request (and the inbox badge) when it is done.
#[component]
pub fn RequestDetailPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || {
        params.with(|p| {
            (
                p.get("kind").and_then(|k| RequestKind::parse(&k)),
                p.get("id").and_then(|i| i.parse::<i64>().ok()).unwrap_or(0),
            )
        })
    };
    let version = RwSignal::new(0u32);
    let refresh_inbox = inbox_refresher();
    let req = Resource::new(
        move || (key(), version.get()),
        |((kind, id), _)| async move {
            match kind {
                Some(kind) => get_request(kind, id).await.map(|r| (kind, r)),
                None => Err(AppError::not_found("request kind")),
            }
        },
    );
    // One action for every button; the reason is only for reject.
    // An approval carries the content version shown, so an edit made meanwhile is refused.
    let act = Action::new(move |(action, reason): &(String, Option<String>)| {
        let (action, reason) = (action.clone(), reason.clone());
        let (kind, id) = key();
        let shown = req
            .get_untracked()
            .and_then(|r| r.ok())
            .map(|(_, r)| r.content_version);
        async move {
            let kind = kind.ok_or_else(|| AppError::not_found("request kind"))?;
            request_action(kind, id, action, reason, shown).await
        }
    });
    let reject = Action::new(move |reason: &String| {
        let reason = reason.clone();
        let (kind, id) = key();
        async move {
            let kind = kind.ok_or_else(|| AppError::not_found("request kind"))?;
            request_action(kind, id, "reject".into(), Some(reason), None).await
        }
    });
    let cancel = Action::new(move |reason: &String| {
        let reason = reason.clone();
        let (kind, id) = key();
        async move {
            let kind = kind.ok_or_else(|| AppError::not_found("request kind"))?;
            request_action(kind, id, "cancel".into(), Some(reason), None).await
        }
    });
    for value in [act.value(), reject.value(), cancel.value()] {
        Effect::new(move |_| {
            if matches!(value.get(), Some(Ok(_))) {
                version.update(|v| *v += 1);
                refresh_inbox();
            }
        });
    }
    let rejecting = RwSignal::new(false);
    let cancelling = RwSignal::new(false);
    view! {
        <p class="muted"><A href="/requests">{t("module.resource_request")}</A></p>
        <Loaded res=req render={move |(kind, r): (RequestKind, ResourceRequest)| view! {
            <RequestView kind r act rejecting cancelling version/>
        }}/>
        {move || match act.value().get() {
            Some(Err(e)) => Some(view! { <ErrorBox error=e/> }),
            _ => None,
        }}
        <ReasonDialog open=rejecting action=reject title="approvals.reject_title" confirm="approvals.reject" required=true id="reject-dialog"/>
        <ReasonDialog open=cancelling action=cancel title="requests.cancel_title" confirm="requests.cancel" required=true id="cancel-dialog"/>
    }
}

/// The request itself with its action buttons.
#[component]
fn RequestView(
    kind: RequestKind,
    r: ResourceRequest,
    act: Action<(String, Option<String>), Result<Message, AppError>>,
    rejecting: RwSignal<bool>,
    cancelling: RwSignal<bool>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let navigate = StoredValue::new(use_navigate());
    let can = |a: &str| r.available_actions.iter().any(|x| x == a);
    let id = r.id;
    let run = move |a: &'static str, ask: Option<&'static str>| {
        move |_: leptos::ev::MouseEvent| {
            if ask.is_none_or(|k| confirm(t(k)())) {
                act.dispatch((a.to_string(), None));
            }
        }
    };
    let edit_url = format!("/requests/{}/{id}/edit", kind.segment());
    let pending = move || act.pending().get();
    view! {
        <h1 id="request-title">{t(kind_key(kind))} " #" {r.id} " " <StatusBadge status=r.status.clone()/></h1>
        {r.fulfilment_note.clone().map(|n| view! { <div class="alert alert-warn" role="status" id="fulfilment-note">{n}</div> })}
        <div class="toolbar" id="request-actions">
            {can("approve").then(|| view! {
                <button class="btn btn-primary" id="action-approve" disabled=pending on:click=run("approve", Some("approvals.confirm_approve"))>{t("approvals.approve")}</button>
            })}
            {can("reject").then(|| view! {
                <button class="btn btn-danger" id="action-reject" disabled=pending on:click=move |_| rejecting.set(true)>{t("approvals.reject")}</button>
            })}
            {can("edit").then(|| view! {
                <button class="btn" id="action-edit" on:click=move |_| { let u = edit_url.clone(); navigate.with_value(|n| n(&u, Default::default())); }>{t("common.edit")}</button>
            })}
            {can("close").then(|| view! {
                <button class="btn" id="action-close" disabled=pending on:click=run("close", Some("requests.confirm_close"))>{t("requests.close")}</button>
            })}
            {can("cancel").then(|| view! {
                <button class="btn btn-danger" id="action-cancel" disabled=pending on:click=move |_| cancelling.set(true)>{t("requests.cancel")}</button>
            })}
            {can("upload").then(|| view! { <RequestUpload id version/> })}
            {can("deliver").then(|| view! {
                <button class="btn btn-primary" id="action-deliver" disabled=pending on:click=run("deliver", Some("requests.confirm_deliver"))>{t("requests.deliver")}</button>
            })}
        </div>
        <dl class="facts" id="request-facts">
            <dt>{t("requests.creator")}</dt><dd>{r.creator.clone()}</dd>
            <dt>{t("common.created")}</dt><dd><LocalTime time=r.created_time.clone()/></dd>
            <dt>{t("requests.updated")}</dt><dd><LocalTime time=r.updated_time.clone()/></dd>
            <dt>{t("requests.approvals")}</dt><dd id="request-approvals">{r.approvals_count} " / " {r.approvals_needed}</dd>
            {r.purpose.clone().filter(|p| !p.is_empty()).map(|p| view! { <dt>{t("requests.purpose")}</dt><dd>{p}</dd> })}
            {(kind == RequestKind::Host).then(|| view! {
                <dt>{t("requests.delivery_days")}</dt><dd>{r.expect_delivery_days.clone().unwrap_or_default()}</dd>
                <dt>{t("requests.expiration")}</dt><dd>{r.expiration.clone().unwrap_or_default()}</dd>
                <dt>{t("requests.login_users")}</dt>
                <dd>{r.login_users.clone().unwrap_or_default().into_iter().map(|u| u.username.unwrap_or_else(|| format!("#{}", u.id))).collect::<Vec<_>>().join(", ")}</dd>
            })}
            {(kind == RequestKind::Ssl).then(|| view! {
                <dt>{t("requests.cert_domain")}</dt><dd class="mono">{r.domain.clone().unwrap_or_default()}</dd>
                <dt>{t("requests.cert_type")}</dt>
                <dd>{if r.certificate_type.as_deref() == Some("wizard") { t("requests.cert_wizard") } else { t("requests.cert_normal") }}</dd>
            })}
            {r.certificate_id.map(|c| view! {
                <dt>{t("certs.certificate")}</dt><dd><A href=format!("/certificates/{c}") attr:id="request-certificate">"#" {c}</A></dd>
            })}
            {r.host_ids.clone().filter(|h| !h.is_empty()).map(|h| view! {
                <dt>{t("requests.registered_hosts")}</dt>
                <dd id="request-hosts">{h.into_iter().map(|h| view! { <A href=format!("/hosts/{h}")>"#" {h}</A> " " }).collect_view()}</dd>
            })}
            {r.associated_app.clone().filter(|a| !a.is_empty()).map(|a| view! {
                <dt>{t("requests.apps")}</dt>
                <dd>{a.into_iter().map(|a| view! { <A href=format!("/applications/{a}")>"#" {a}</A> " " }).collect_view()}</dd>
            })}
        </dl>
        {r.required_hosts.clone().map(|hosts| view! {
            <h2>{t("requests.hosts")}</h2>
            <table class="table" id="request-host-rows">
                <thead><tr><th>{t("common.name")}</th><th>{t("requests.cpu")}</th><th>{t("requests.mem")}</th>
                    <th>{t("requests.storage")}</th><th>{t("requests.os")}</th><th>{t("hosts.type")}</th></tr></thead>
                <tbody>{hosts.into_iter().map(|h| view! {
                    <tr><td class="mono">{h.name}</td><td>{h.specs.cpu_core}</td><td>{h.specs.mem}</td>
                        <td>{h.specs.storage}</td><td>{h.os}</td><td>{h.host_type}</td></tr>
                }).collect_view()}</tbody>
            </table>
        })}
        {r.records.clone().map(|recs| view! {
            <h2>{t("requests.records")}</h2>
            <table class="table" id="request-record-rows">
                <thead><tr><th>{t("common.name")}</th><th>{t("dns.type")}</th><th>{t("dns.value")}</th><th>"TTL"</th><th>{t("dns.priority")}</th></tr></thead>
                <tbody>{recs.into_iter().map(|x| view! {
                    <tr><td class="mono">{x.record}</td><td>{x.rtype}</td><td class="mono">{x.value}</td>
                        <td>{x.ttl.map(|n| n.to_string()).unwrap_or_default()}</td>
                        <td>{x.priority.map(|n| n.to_string()).unwrap_or_default()}</td></tr>
                }).collect_view()}</tbody>
            </table>
        })}
        <h2>{t("approvals.decisions")}</h2>
        <Decisions decisions=r.decisions.clone().unwrap_or_default()/>
        <h2>{t("approvals.timeline")}</h2>
        <Timeline events=r.timeline.clone().unwrap_or_default()/>
    }
}

/// An approver finishes an approved SSL request with a certificate issued elsewhere.
#[component]
fn RequestUpload(id: i64, version: RwSignal<u32>) -> impl IntoView {
    let upload = refreshing(version, move |input: CertificateUpload| {
        upload_request_certificate(id, input)
    });
    view! {
        <PemUpload action=upload id="action-upload" make=|cert_pem, chain_pem, key_pem| CertificateUpload {
            cert_pem,
            chain_pem,
            key_pem,
        }/>
    }
}
