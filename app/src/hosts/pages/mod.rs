//! Host list (server-side table whose filter lives in the URL) and host detail.
use crate::common::components::{
    confirm, form_result, refreshing, ActionError, FieldError, Loaded, Pager,
};
use crate::common::i18n::t;
use crate::common::{Page, PageQuery};
use crate::hosts::api::*;
use crate::hosts::types::*;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

/// The columns one can show or hide.
const COLUMNS: &[(&str, &str)] = &[
    ("ip", "hosts.ip"),
    ("host_type", "hosts.type"),
    ("status", "common.status"),
    ("os_status", "hosts.os_status"),
    ("location", "hosts.location"),
    ("description", "common.description"),
];

/// The list's URL parameters besides the page.
const FILTERS: &[&str] = &[
    "q",
    "status",
    "host_type",
    "os_status",
    "location",
    "ordering",
];

/// Parses `10.0.0.5/24` lines into addresses.
fn parse_ips(text: &str) -> Vec<IpAddress> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (a, m) = l.split_once('/').unwrap_or((l, "32"));
            IpAddress {
                address: a.trim().into(),
                netmask: m.trim().into(),
                ..Default::default()
            }
        })
        .collect()
}

/// The host list: filters, sorting and page are query parameters, so a view can be shared.
#[component]
pub fn HostsPage() -> impl IntoView {
    let query = use_query_map();
    // Kept in the arena so every closure below can copy the handle.
    let navigate = StoredValue::new(use_navigate());
    let get = move |k: &str| query.with(|q| q.get(k).unwrap_or_default());
    // Writes one parameter into the URL (and resets the page unless it is the page).
    let set = move |k: &'static str, v: String| {
        let mut params: Vec<(String, String)> = query.with_untracked(|q| {
            FILTERS
                .iter()
                .chain(&["page"])
                .filter_map(|n| q.get(n).map(|v| (n.to_string(), v)))
                .collect()
        });
        params.retain(|(n, _)| n != k && (k == "page" || n != "page"));
        if !v.is_empty() {
            params.push((k.to_string(), v));
        }
        let qs: Vec<String> = params
            .iter()
            .map(|(n, v)| format!("{n}={}", urlencode(v)))
            .collect();
        let url = format!("/hosts?{}", qs.join("&"));
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
    let page = RwSignal::new(1u64);
    Effect::new(move |_| page.set(get("page").parse().unwrap_or(1)));
    Effect::new(move |prev: Option<u64>| {
        let p = page.get();
        if prev.is_some_and(|old| old != p) {
            set("page", p.to_string());
        }
        p
    });
    let version = RwSignal::new(0u32);
    let hosts = Resource::new(
        move || {
            (
                get("q"),
                get("status"),
                get("host_type"),
                get("os_status"),
                get("location"),
                get("ordering"),
                get("page"),
                version.get(),
            )
        },
        |(q, status, host_type, os_status, location, ordering, page, _)| {
            list_hosts(HostFilter {
                q: Some(q),
                status: Some(status),
                host_type: Some(host_type),
                os_status: Some(os_status),
                location: Some(location),
                ordering: (!ordering.is_empty()).then_some(ordering),
                page: PageQuery {
                    page: page.parse().ok(),
                    page_size: Some(50),
                },
                ..Default::default()
            })
        },
    );
    let shown = RwSignal::new(vec!["ip", "host_type", "status", "os_status", "location"]);
    // Hosts picked for a power action (kept across pages and filters until acted on).
    let selected = RwSignal::new(Vec::<i64>::new());
    let select = move |key: &'static str, label: &'static str, options: &'static [&'static str]| {
        view! {
            <select aria-label=t(label) prop:value=move || get(key) on:change=move |ev| set(key, event_target_value(&ev))>
                <option value="">{t(label)} ": " {t("common.all")}</option>
                {options.iter().map(|o| view! { <option value=*o>{*o}</option> }).collect_view()}
            </select>
        }
    };
    let sort_header = move |key: &'static str, label: &'static str| {
        view! {
            <th>
                <button class="th-sort" on:click=move |_| {
                    let cur = get("ordering");
                    let next = if cur == key { format!("-{key}") } else { key.to_string() };
                    set("ordering", next);
                }>
                    {t(label)}
                    {move || { let o = get("ordering"); if o == key { " ▲" } else if o == format!("-{key}") { " ▼" } else { "" } }}
                </button>
            </th>
        }
    };
    let col = move |k: &'static str| shown.with(|s| s.contains(&k));
    // The filter as a query string, for the export link.
    let filter = Signal::derive(move || {
        FILTERS
            .iter()
            .filter_map(|k| {
                let v = get(k);
                (!v.is_empty()).then(|| format!("{k}={}", urlencode(&v)))
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    view! {
        <h1>{t("module.host")}</h1>
        <NewHostForm version/>
        <div class="toolbar" id="host-filters">
            <input type="search" id="host-search" placeholder=t("hosts.search") aria-label=t("hosts.search")
                prop:value=move || get("q") on:change=move |ev| set("q", event_target_value(&ev))/>
            {select("status", "common.status", HOST_STATUSES)}
            {select("host_type", "hosts.type", HOST_TYPES)}
            {select("os_status", "hosts.os_status", OS_STATUSES)}
            <input placeholder=t("hosts.location") aria-label=t("hosts.location") prop:value=move || get("location") on:change=move |ev| set("location", event_target_value(&ev))/>
        </div>
        <crate::bulk::pages::BulkPanel kind="hosts" filter version/>
        <details class="columns">
            <summary>{t("hosts.columns")}</summary>
            {COLUMNS.iter().map(|(k, label)| {
                let k = *k;
                view! {
                    <label class="check"><input type="checkbox" prop:checked=move || col(k)
                        on:change=move |ev| { let on = event_target_checked(&ev); shown.update(|s| { s.retain(|x| *x != k); if on { s.push(k); } }); }/>{t(label)}</label>
                }
            }).collect_view()}
        </details>
        <crate::hosttasks::pages::PowerBar selected/>
        <Loaded res=hosts render={move |data: Page<Host>| {
            let rows = data.results.clone();
            let powerable: Vec<i64> = rows.iter()
                .filter(|h| h.available_actions.get("restart_host").copied().unwrap_or(false))
                .map(|h| h.id).collect();
            let page_ids = StoredValue::new(powerable);
            view! {
                <table class="table" id="hosts-table">
                    <thead><tr>
                        <th><input type="checkbox" aria-label=t("task.select_all")
                            prop:checked=move || page_ids.with_value(|p| !p.is_empty() && selected.with(|s| p.iter().all(|i| s.contains(i))))
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                page_ids.with_value(|p| selected.update(|s| {
                                    s.retain(|i| !p.contains(i));
                                    if on { s.extend(p.iter().copied()); }
                                }));
                            }/></th>
                        {sort_header("name", "common.name")}
                        {move || col("ip").then(|| view! { <th>{t("hosts.ip")}</th> })}
                        {move || col("host_type").then(|| sort_header("host_type", "hosts.type"))}
                        {move || col("status").then(|| sort_header("status", "common.status"))}
                        {move || col("os_status").then(|| view! { <th>{t("hosts.os_status")}</th> })}
                        {move || col("location").then(|| sort_header("location", "hosts.location"))}
                        {move || col("description").then(|| view! { <th>{t("common.description")}</th> })}
                    </tr></thead>
                    <tbody>
                        {rows.into_iter().map(|h| {
                            let ips = h.ip_address.iter().map(|i| i.address.clone()).collect::<Vec<_>>().join(", ");
                            let (ht, st, os, loc, desc) = (h.host_type.clone(), h.status.clone(), h.os_status.clone(), h.location.clone(), h.description.clone());
                            let (name, label) = (h.name.clone(), h.name.clone());
                            let hid = h.id;
                            let may = h.available_actions.get("restart_host").copied().unwrap_or(false);
                            view! {
                                <tr data-host=name.clone()>
                                    <td><input type="checkbox" class="pick" disabled=!may aria-label=label.clone()
                                        prop:checked=move || selected.with(|s| s.contains(&hid))
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            selected.update(|s| { s.retain(|i| *i != hid); if on { s.push(hid); } });
                                        }/></td>
                                    <td><A href=format!("/hosts/{}", h.id)>{label}</A></td>
                                    {move || col("ip").then(|| view! { <td class="mono">{ips.clone()}</td> })}
                                    {move || col("host_type").then(|| view! { <td>{ht.clone()}</td> })}
                                    {move || col("status").then(|| view! { <td><span class="badge">{st.clone()}</span></td> })}
                                    {move || col("os_status").then(|| view! { <td>{os.clone()}</td> })}
                                    {move || col("location").then(|| view! { <td>{loc.clone()}</td> })}
                                    {move || col("description").then(|| view! { <td>{desc.clone()}</td> })}
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                <Pager data page/>
            }
        }}/>
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
fn NewHostForm(version: RwSignal<u32>) -> impl IntoView {
    let open = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let host_type = RwSignal::new("PHY_HOST".to_string());
    let location = RwSignal::new(String::new());
    let ips = RwSignal::new(String::new());
    let create = refreshing(version, create_host);
    // Shared validation runs in the browser first; the service checks again. `shown` shows either.
    let shown = form_result(create, move || {
        name.set(String::new());
        ips.set(String::new());
        open.set(false);
    });
    view! {
        <button class="btn btn-primary" id="new-host" on:click=move |_| open.update(|o| *o = !*o)>{t("hosts.new")}</button>
        <Show when=move || open.get()>
            <form class="form card" id="new-host-form" on:submit=move |ev| {
                ev.prevent_default();
                let input = HostInput {
                    name: Some(name.get()),
                    host_type: Some(host_type.get()),
                    location: Some(location.get()),
                    ip_address: Some(parse_ips(&ips.get())),
                    ..Default::default()
                };
                // The same validation the service runs, before the round trip.
                match validate_host(&input) {
                    Err(e) => shown.set(Some(Err(e))),
                    Ok(_) => { shown.set(None); create.dispatch(input); }
                }
            }>
                <label>{t("common.name")}<input name="host-name" required bind:value=name/></label>
                <FieldError value=shown field="name"/>
                <label>{t("hosts.type")}
                    <select name="host-type" prop:value=move || host_type.get() on:change=move |ev| host_type.set(event_target_value(&ev))>
                        {HOST_TYPES.iter().map(|o| view! { <option value=*o>{*o}</option> }).collect_view()}
                    </select>
                </label>
                <label>{t("hosts.location")}<input name="host-location" bind:value=location/></label>
                <label>{t("hosts.ips_hint")}<textarea name="host-ips" rows="3" bind:value=ips></textarea></label>
                <FieldError value=shown field="ip_address"/>
                <ActionError value=shown/>
                <button class="btn btn-primary" type="submit">{t("common.create")}</button>
            </form>
        </Show>
    }
}

/// One host: fields, addresses, applications, delete.
#[component]
pub fn HostDetailPage() -> impl IntoView {
    let id = crate::common::components::route_id();
    let version = RwSignal::new(0u32);
    let host = Resource::new(move || (id(), version.get()), |(id, _)| get_host(id));
    let apps_page = RwSignal::new(1u64);
    let apps = Resource::new(
        move || (id(), apps_page.get()),
        |(id, n)| host_applications(id, n),
    );
    let remove = refreshing(version, |(id, force): (i64, bool)| delete_host(id, force));
    let removed = remove.value();
    Effect::new(move |_| {
        if matches!(removed.get(), Some(Ok(_))) {
            crate::common::components::hard_redirect("/hosts");
        }
    });
    view! {
        <Loaded res=host render={move |h: Host| {
            let hid = h.id;
            let can_delete = h.available_actions.get("delete_host").copied().unwrap_or(false);
            let may_power = h.available_actions.get("restart_host").copied().unwrap_or(false);
            let may_edit = h.available_actions.get("edit_host").copied().unwrap_or(false);
            view! {
                <h1 id="host-title">{h.name.clone()}</h1>
                <crate::hosttasks::pages::HostActions host_id=hid status=h.status.clone() may_power may_edit/>
                <dl class="facts">
                    <dt>{t("hosts.type")}</dt><dd>{h.host_type.clone()}</dd>
                    <dt>{t("common.status")}</dt><dd>{h.status.clone()}</dd>
                    <dt>{t("hosts.os_status")}</dt><dd>{h.os_status.clone()}</dd>
                    <dt>{t("hosts.location")}</dt><dd>{h.location.clone()}</dd>
                    <dt>{t("common.description")}</dt><dd>{h.description.clone()}</dd>
                </dl>
                <h2>{t("hosts.ip")}</h2>
                <table class="table" id="host-ips">
                    <thead><tr><th>{t("hosts.ip")}</th><th>"netmask"</th><th>"network"</th><th>"type"</th><th>"owner"</th></tr></thead>
                    <tbody>{h.ip_address.iter().map(|i| view! {
                        <tr><td class="mono">{i.address.clone()}</td><td>{i.netmask.clone()}</td><td>{i.network.clone()}</td>
                        <td>{i.addr_type.clone().unwrap_or_default()}</td><td>{i.owner.clone().unwrap_or_default()}</td></tr>
                    }).collect_view()}</tbody>
                </table>
                {can_delete.then(|| view! {
                    <button class="btn btn-danger" on:click=move |_| {
                        if confirm(&t("common.confirm_delete")()) { remove.dispatch((hid, false)); }
                    }>{t("common.delete")}</button>
                })}
            }
        }}/>
        <ActionError value=removed/>
        <h2>{t("module.application")}</h2>
        <Loaded res=apps render={move |p: Page<crate::applications::types::Application>| view! {
            {(p.next.is_some() || p.prev.is_some()).then(|| view! { <crate::common::components::Pager data=p.clone() page=apps_page/> })}
            <ul class="chips" id="host-apps">{p.results.into_iter().map(|a| view! { <li class="chip">{a.full_name}</li> }).collect_view()}</ul>
        }}/>
    }
}
