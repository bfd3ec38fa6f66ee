//! Request pages: the list (my requests, the approver inbox, all of a kind), the three request
//! forms, and a request's page with its decisions, timeline and actions. The inbox count badge
//! of the navigation lives here too.
mod detail;
mod form;

pub use detail::RequestDetailPage;
pub use form::{EditRequestPage, NewRequestPage};

use crate::approvals::pages::{status_key, status_options, LocalTime, StatusBadge};
use crate::auth::types::Me;
use crate::common::components::{Loaded, Pager};
use crate::common::i18n::t;
use crate::common::{Page, PageQuery};
use crate::requests::api::*;
use crate::requests::types::*;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::NavigateOptions;

/// Bumped after every request action, so the navigation's inbox badge loads again.
#[derive(Clone, Copy)]
pub struct InboxVersion(pub RwSignal<u32>);

/// A function that reloads the inbox badge (a no-op outside the signed-in layout).
pub fn inbox_refresher() -> impl Fn() + Copy + Send + Sync + 'static {
    let v = use_context::<InboxVersion>().map(|v| v.0);
    move || {
        if let Some(v) = v {
            v.update(|n| *n += 1);
        }
    }
}

/// The text key of a kind's name.
pub fn kind_key(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Host => "requests.kind.host",
        RequestKind::Domain => "requests.kind.domain",
        RequestKind::Ssl => "requests.kind.ssl",
    }
}

/// Whether the signed-in user approves requests of `kind`.
pub fn approves(me: &Me, kind: RequestKind) -> bool {
    me.modules.has("resource_request", kind.approve_perm())
}

/// Whether the signed-in user approves any kind (then the navigation shows the inbox badge).
pub fn approves_any(me: &Me) -> bool {
    RequestKind::ALL.iter().any(|k| approves(me, *k))
}

/// The number of requests waiting for the signed-in approver, next to "Resource requests" in
/// the navigation; it loads again on every navigation and after every request action.
#[component]
pub fn InboxBadge() -> impl IntoView {
    let version = use_context::<InboxVersion>()
        .map(|v| v.0)
        .unwrap_or_else(|| RwSignal::new(0));
    let path = use_location().pathname;
    let count = Resource::new(move || (path.get(), version.get()), |_| inbox_count());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match count.await {
                    Ok(c) if c.total > 0 => Some(view! {
                        <span class="nav-badge" id="inbox-badge" title=t("requests.inbox_badge")>{c.total}</span>
                    }),
                    _ => None,
                }
            })}
        </Transition>
    }
}

/// Percent-encodes a query value.
pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The list's URL parameters (the page is `page`).
const PARAMS: &[&str] = &["kind", "view", "status", "creator", "from", "to", "page"];

/// One line about a request for the list: what it asks for.
fn summary(r: &ResourceRequest) -> String {
    match RequestKind::parse(&r.kind) {
        Some(RequestKind::Host) => {
            let hosts = r.required_hosts.as_deref().unwrap_or_default();
            let names: Vec<&str> = hosts.iter().take(3).map(|h| h.name.as_str()).collect();
            let more = if hosts.len() > 3 { " …" } else { "" };
            format!(
                "{}{more} · {}",
                names.join(", "),
                r.purpose.clone().unwrap_or_default()
            )
        }
        Some(RequestKind::Domain) => {
            let recs = r.records.as_deref().unwrap_or_default();
            let names: Vec<String> = recs
                .iter()
                .take(3)
                .map(|x| format!("{} {} {}", x.record, x.rtype, x.value))
                .collect();
            let more = if recs.len() > 3 { " …" } else { "" };
            format!("{}{more}", names.join(", "))
        }
        Some(RequestKind::Ssl) => {
            let d = r.domain.clone().unwrap_or_default();
            if r.certificate_type.as_deref() == Some("wizard") {
                format!("*.{d}, {d}")
            } else {
                d
            }
        }
        None => String::new(),
    }
}

/// `/requests`: tabs "My requests" / "Inbox" (approvers) / "All" (approvers), per kind, with
/// filters (status, creator, time range) in the URL and a server-side page of results.
#[component]
pub fn RequestsPage() -> impl IntoView {
    let me = expect_context::<Me>();
    let query = use_query_map();
    let navigate = StoredValue::new(use_navigate());
    let get = move |k: &str| query.with(|q| q.get(k).unwrap_or_default());
    // The kinds the user approves; the first is the default kind, the inbox the default view.
    let approved: Vec<RequestKind> = RequestKind::ALL
        .into_iter()
        .filter(|k| approves(&me, *k))
        .collect();
    let default_kind = approved.first().copied().unwrap_or(RequestKind::Host);
    let approved = StoredValue::new(approved);
    let kind = move || RequestKind::parse(&get("kind")).unwrap_or(default_kind);
    let is_approver = move || approved.with_value(|a| a.contains(&kind()));
    let view_of = move || {
        let v = get("view");
        match v.as_str() {
            "mine" => "mine",
            "inbox" | "all" if is_approver() => {
                if v == "inbox" {
                    "inbox"
                } else {
                    "all"
                }
            }
            _ if is_approver() => "inbox",
            _ => "mine",
        }
    };
    // Writes parameters into the URL; any change but the page's goes back to page 1.
    let set_many = move |changes: Vec<(&'static str, String)>| {
        let mut params: Vec<(String, String)> = query.with_untracked(|q| {
            PARAMS
                .iter()
                .filter_map(|n| q.get(n).map(|v| (n.to_string(), v)))
                .collect()
        });
        let paging = changes.iter().all(|(k, _)| *k == "page");
        params.retain(|(n, _)| !changes.iter().any(|(k, _)| k == n) && (paging || n != "page"));
        for (k, v) in changes {
            if !v.is_empty() {
                params.push((k.to_string(), v));
            }
        }
        let qs: Vec<String> = params
            .iter()
            .map(|(n, v)| format!("{n}={}", urlencode(v)))
            .collect();
        let url = format!("/requests?{}", qs.join("&"));
        navigate.with_value(|n| {
            n(
                &url,
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            )
        });
    };
    let set = move |k: &'static str, v: String| set_many(vec![(k, v)]);
    let page = RwSignal::new(1u64);
    Effect::new(move |_| page.set(get("page").parse().unwrap_or(1)));
    Effect::new(move |prev: Option<u64>| {
        let p = page.get();
        if prev.is_some_and(|old| old != p) {
            set("page", p.to_string());
        }
        p
    });
    let inbox_version = use_context::<InboxVersion>()
        .map(|v| v.0)
        .unwrap_or_else(|| RwSignal::new(0));
    let list = Resource::new(
        move || {
            (
                kind(),
                view_of(),
                get("status"),
                get("creator"),
                get("from"),
                get("to"),
                get("page"),
                inbox_version.get(),
            )
        },
        |(kind, view, status, creator, from, to, page, _)| {
            list_requests(
                kind,
                RequestFilter {
                    creator: Some(creator),
                    time_gt: Some(from),
                    time_lt: Some(to),
                    status: Some(status),
                    view: (view != "all").then(|| view.to_string()),
                    page: PageQuery {
                        page: page.parse().ok(),
                        page_size: Some(20),
                    },
                    ..Default::default()
                },
            )
        },
    );
    let counts = Resource::new(move || inbox_version.get(), |_| inbox_count());
    let can_create = me.modules.has("resource_request", "create_resource_req");
    let tab = move |v: &'static str, label: &'static str| {
        view! {
            <button class="tab" role="tab" data-view=v aria-selected=move || (view_of() == v).to_string()
                on:click=move |_| set("view", v.to_string())>{t(label)}</button>
        }
    };
    view! {
        <h1>{t("module.resource_request")}</h1>
        {can_create.then(|| view! {
            <div class="toolbar" id="new-request-links">
                <A href="/requests/hosts/new" attr:class="btn btn-primary" attr:id="new-host-request">{t("requests.new_host")}</A>
                <A href="/requests/domains/new" attr:class="btn btn-primary" attr:id="new-domain-request">{t("requests.new_domain")}</A>
                <A href="/requests/ssl-certificates/new" attr:class="btn btn-primary" attr:id="new-ssl-request">{t("requests.new_ssl")}</A>
            </div>
        })}
        <div class="tabs" role="tablist" aria-label=t("requests.kind") id="kind-tabs">
            {RequestKind::ALL.into_iter().map(|k| {
                let label = kind_key(k);
                view! {
                    <button class="tab" role="tab" data-kind=k.segment() aria-selected=move || (kind() == k).to_string()
                        on:click=move |_| set_many(vec![("kind", k.segment().to_string()), ("view", String::new())])>
                        {t(label)}
                        <Transition fallback=|| ()>
                            {move || Suspend::new(async move {
                                let n = counts.await.map(|c| match k { RequestKind::Host => c.host, RequestKind::Domain => c.domain, RequestKind::Ssl => c.ssl }).unwrap_or(0);
                                (n > 0).then(|| view! { <span class="count">{n}</span> })
                            })}
                        </Transition>
                    </button>
                }
            }).collect_view()}
        </div>
        <div class="tabs sub" role="tablist" aria-label=t("requests.view") id="view-tabs">
            {tab("mine", "requests.mine")}
            {move || is_approver().then(|| view! { {tab("inbox", "requests.inbox")} {tab("all", "requests.all")} })}
        </div>
        <div class="toolbar" id="request-filters">
            <select aria-label=t("common.status") name="status" prop:value=move || get("status") on:change=move |ev| set("status", event_target_value(&ev))>
                <option value="">{t("common.status")} ": " {t("common.all")}</option>
                {status_options().iter().map(|s| view! { <option value=*s>{t(status_key(s))}</option> }).collect_view()}
            </select>
            <Show when=move || view_of() == "all">
                <input name="creator" placeholder=t("requests.creator") aria-label=t("requests.creator")
                    prop:value=move || get("creator") on:change=move |ev| set("creator", event_target_value(&ev))/>
            </Show>
            <label class="inline">{t("audit.from")}
                <input type="date" name="from" prop:value=move || get("from") on:change=move |ev| set("from", event_target_value(&ev))/>
            </label>
            <label class="inline">{t("audit.to")}
                <input type="date" name="to" prop:value=move || get("to") on:change=move |ev| set("to", event_target_value(&ev))/>
            </label>
        </div>
        <Loaded res=list render={move |p: Page<ResourceRequest>| {
            let empty = p.results.is_empty();
            let rows = p.results.clone();
            view! {
                <table class="table" id="requests-table">
                    <thead><tr>
                        <th>"#"</th><th>{t("requests.what")}</th><th>{t("requests.creator")}</th>
                        <th>{t("common.created")}</th><th>{t("common.status")}</th><th>{t("requests.approvals")}</th>
                    </tr></thead>
                    <tbody>
                        {rows.into_iter().map(|r| {
                            let (id, what) = (r.id, summary(&r));
                            let href = format!("/requests/{}/{}", RequestKind::parse(&r.kind).unwrap_or(RequestKind::Host).segment(), r.id);
                            view! {
                                <tr data-request=r.id data-status=r.status.clone()>
                                    <td><A href=href.clone()>"#" {id}</A></td>
                                    <td><A href=href>{what}</A></td>
                                    <td>{r.creator.clone()}</td>
                                    <td class="nowrap"><LocalTime time=r.created_time.clone()/></td>
                                    <td><StatusBadge status=r.status.clone()/></td>
                                    <td>{r.approvals_count} " / " {r.approvals_needed}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                {empty.then(|| view! { <p class="muted">{t("common.none")}</p> })}
                <Pager data=p page/>
            }
        }}/>
    }
}
