//! DNS: the services (with "test connection"), a service's zones, and a zone's page: the records
//! table (filters and page in the URL; inline add, edit, disable/enable, delete; `pending`
//! badges; the push error banner) and the drift view ("push ours" / "adopt theirs" per
//! difference).
use crate::approvals::pages::LocalTime;
use crate::auth::types::Me;
use crate::common::components::{
    confirm, form_result, refreshing, ActionError, ErrorBox, FieldError, Loaded, Pager,
};
use crate::common::i18n::t;
use crate::common::{Page, PageQuery};
use crate::dns::api::*;
use crate::dns::types::*;
use crate::error::AppError;
use crate::perms::types::module as module_def;
use crate::requests::pages::urlencode;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use leptos_router::NavigateOptions;
use std::time::Duration;

/// A number from the route (`:sid`, `:did`), 0 when it is not one.
fn route_num(name: &'static str) -> impl Fn() -> i64 + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || {
        params
            .get()
            .get(name)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    }
}

/// The error message about `field` among the last answer's, if any.
fn err_msg(e: &Option<AppError>, fields: &[&str]) -> Option<String> {
    e.as_ref()
        .filter(|e| e.field.as_deref().is_some_and(|f| fields.contains(&f)))
        .map(|e| e.message.clone())
}

/// `/dns`: the services. Everyone with the module sees them; `manage_dns_server` registers more.
#[component]
pub fn DnsPage() -> impl IntoView {
    let me = expect_context::<Me>();
    let manage = me.modules.has("dns", "manage_dns_server");
    let held: Vec<&'static str> = module_def("dns")
        .map(|d| {
            d.perms
                .iter()
                .copied()
                .filter(|p| me.modules.has("dns", p))
                .collect()
        })
        .unwrap_or_default();
    let page = RwSignal::new(1u64);
    let name = RwSignal::new(String::new());
    let version = RwSignal::new(0u32);
    let services = Resource::new(
        move || (name.get(), page.get(), version.get()),
        |(name, page, _)| {
            list_dns_services(DnsServiceFilter {
                name: Some(name),
                page: PageQuery {
                    page: Some(page),
                    page_size: Some(20),
                },
                ..Default::default()
            })
        },
    );
    view! {
        <h1 id="module-title">{t("module.dns")}</h1>
        <p class="muted" id="dns-perms">{t("module.home_hint")} " " {held.join(", ")}</p>
        {manage.then(|| view! { <NewServiceForm version/> })}
        <div class="toolbar">
            <input type="search" name="service-name" placeholder=t("dns.search_services") aria-label=t("dns.search_services")
                prop:value=move || name.get() on:change=move |ev| { name.set(event_target_value(&ev)); page.set(1); }/>
        </div>
        <Loaded res=services render={move |p: Page<DnsService>| {
            let rows = p.results.clone();
            let empty = rows.is_empty();
            view! {
                <table class="table" id="dns-services">
                    <thead><tr>
                        <th>{t("common.name")}</th><th>{t("dns.type")}</th><th>{t("dns.endpoint")}</th>
                        <th>{t("common.description")}</th><th>{t("dns.connection")}</th>
                    </tr></thead>
                    <tbody>{rows.into_iter().map(|s| { let label = s.name.clone(); view! {
                        <tr data-service=s.name.clone()>
                            <td><A href=format!("/dns/{}", s.id)>{label}</A></td>
                            <td>{s.service_type.clone()}</td>
                            <td class="mono">{s.api_endpoint.clone()}</td>
                            <td>{s.description.clone()}</td>
                            <td><TestButton id=s.id/></td>
                        </tr>
                    }}).collect_view()}</tbody>
                </table>
                {empty.then(|| view! { <p class="muted">{t("common.none")}</p> })}
                <Pager data=p page/>
            }
        }}/>
    }
}

/// "Test connection": asks the server and shows what it said.
#[component]
fn TestButton(id: i64) -> impl IntoView {
    let test = Action::new(move |_: &()| test_dns_service(id));
    let result = test.value();
    view! {
        <span class="conn-test">
            <button class="btn btn-small test-connection" disabled=move || test.pending().get()
                on:click=move |_| { test.dispatch(()); }>{t("dns.test")}</button>
            {move || match result.get() {
                Some(Ok(c)) => Some(view! {
                    <span class=if c.ok { "badge ok test-result" } else { "badge off test-result" } data-ok=c.ok.to_string() role="status">
                        {if c.ok { t("dns.test_ok") } else { t("dns.test_failed") }} ": " {c.message}
                    </span>
                }.into_any()),
                Some(Err(e)) => Some(view! { <span class="badge off test-result" data-ok="false" role="status">{e.message}</span> }.into_any()),
                None => None,
            }}
        </span>
    }
}

/// Registers a service: PowerDNS (API endpoint and key) or BIND (address and TSIG key).
#[component]
fn NewServiceForm(version: RwSignal<u32>) -> impl IntoView {
    let open = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new("powerdns".to_string());
    let endpoint = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let api_key = RwSignal::new(String::new());
    let server_id = RwSignal::new(String::new());
    let tsig_name = RwSignal::new(String::new());
    let tsig_alg = RwSignal::new("hmac-sha256".to_string());
    let tsig_secret = RwSignal::new(String::new());
    let create = refreshing(version, create_dns_service);
    let shown = form_result(create, move || {
        name.set(String::new());
        api_key.set(String::new());
        tsig_secret.set(String::new());
        open.set(false);
    });
    let opt = |s: String| (!s.trim().is_empty()).then(|| s.trim().to_string());
    view! {
        <button class="btn btn-primary" id="new-dns-service" on:click=move |_| open.update(|o| *o = !*o)>{t("dns.new_service")}</button>
        <Show when=move || open.get()>
            <form class="form card narrow" id="new-dns-service-form" on:submit=move |ev| {
                ev.prevent_default();
                let pdns = kind.get() == "powerdns";
                create.dispatch(DnsServiceInput {
                    name: Some(name.get().trim().to_string()),
                    service_type: Some(kind.get()),
                    api_endpoint: Some(endpoint.get().trim().to_string()),
                    description: Some(description.get()),
                    api_key: if pdns { opt(api_key.get()) } else { None },
                    server_id: if pdns { opt(server_id.get()) } else { None },
                    tsig_key_name: if pdns { None } else { opt(tsig_name.get()) },
                    tsig_algorithm: if pdns { None } else { Some(tsig_alg.get()) },
                    tsig_secret: if pdns { None } else { opt(tsig_secret.get()) },
                });
            }>
                <label>{t("common.name")}<input name="name" required bind:value=name/></label>
                <FieldError value=shown field="name"/>
                <label>{t("dns.type")}
                    <select name="type" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                        {SERVICE_TYPES.iter().map(|s| view! { <option value=*s>{*s}</option> }).collect_view()}
                    </select>
                </label>
                <FieldError value=shown field="type"/>
                <label>{move || if kind.get() == "powerdns" { t("dns.endpoint_pdns")() } else { t("dns.endpoint_bind")() }}
                    <input name="api_endpoint" required placeholder=move || if kind.get() == "powerdns" { "http://127.0.0.1:8081" } else { "127.0.0.1:53" } bind:value=endpoint/>
                </label>
                <FieldError value=shown field="api_endpoint"/>
                <label>{t("common.description")}<input name="description" bind:value=description/></label>
                <Show when=move || kind.get() == "powerdns" fallback=move || view! {
                    <label>{t("dns.tsig_key_name")}<input name="tsig_key_name" bind:value=tsig_name/></label>
                    <FieldError value=shown field="tsig_key_name"/>
                    <label>{t("dns.tsig_algorithm")}
                        <select name="tsig_algorithm" prop:value=move || tsig_alg.get() on:change=move |ev| tsig_alg.set(event_target_value(&ev))>
                            {TSIG_ALGORITHMS.iter().map(|s| view! { <option value=*s>{*s}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>{t("dns.tsig_secret")}<input name="tsig_secret" type="password" autocomplete="off" bind:value=tsig_secret/></label>
                    <FieldError value=shown field="tsig_secret"/>
                }>
                    <label>{t("dns.api_key")}<input name="api_key" type="password" autocomplete="off" bind:value=api_key/></label>
                    <FieldError value=shown field="api_key"/>
                    <label>{t("dns.server_id")}<input name="server_id" placeholder="localhost" bind:value=server_id/></label>
                </Show>
                <ActionError value=shown/>
                <button class="btn btn-primary" type="submit">{t("common.create")}</button>
            </form>
        </Show>
    }
}

/// `/dns/:sid`: a service, its connection test and its zones.
#[component]
pub fn DnsServicePage() -> impl IntoView {
    let me = expect_context::<Me>();
    let manage = me.modules.has("dns", "manage_dns_server");
    let sid = route_num("sid");
    let version = RwSignal::new(0u32);
    let page = RwSignal::new(1u64);
    let name = RwSignal::new(String::new());
    let service = Resource::new(sid, get_dns_service);
    let zones = Resource::new(
        move || (sid(), name.get(), page.get(), version.get()),
        |(sid, name, page, _)| {
            list_dns_domains(
                sid,
                DomainFilter {
                    name: Some(name),
                    page: PageQuery {
                        page: Some(page),
                        page_size: Some(50),
                    },
                },
            )
        },
    );
    view! {
        <p class="muted"><A href="/dns">{t("module.dns")}</A></p>
        <Loaded res=service render={move |s: DnsService| view! {
            <h1 id="dns-service-title">{s.name.clone()}</h1>
            <dl class="facts">
                <dt>{t("dns.type")}</dt><dd>{s.service_type.clone()}</dd>
                <dt>{t("dns.endpoint")}</dt><dd class="mono">{s.api_endpoint.clone()}</dd>
                <dt>{t("common.description")}</dt><dd>{s.description.clone()}</dd>
                <dt>{t("dns.connection")}</dt><dd><TestButton id=s.id/></dd>
            </dl>
        }}/>
        <h2>{t("dns.zones")}</h2>
        {manage.then(|| view! { <NewZoneForm sid=sid() version/> })}
        <div class="toolbar">
            <input type="search" name="zone-name" placeholder=t("dns.search_zones") aria-label=t("dns.search_zones")
                prop:value=move || name.get() on:change=move |ev| { name.set(event_target_value(&ev)); page.set(1); }/>
        </div>
        <Loaded res=zones render={move |p: Page<DnsDomain>| {
            let rows = p.results.clone();
            let empty = rows.is_empty();
            view! {
                <table class="table" id="dns-zones">
                    <thead><tr><th>{t("dns.zone")}</th><th>{t("dns.push_state")}</th><th>{t("requests.creator")}</th><th>{t("common.created")}</th></tr></thead>
                    <tbody>{rows.into_iter().map(|z| { let label = z.name.clone(); view! {
                        <tr data-zone=z.name.clone()>
                            <td><A href=format!("/dns/{}/zones/{}", z.service_id, z.id)>{label}</A></td>
                            <td>
                                {(z.pending > 0).then(|| view! { <span class="badge pending">{z.pending} " " {t("dns.pending")}</span> })}
                                {z.push_error.clone().map(|e| view! { <span class="badge off" title=e>{t("dns.push_failing")}</span> })}
                                {(z.failed > 0).then(|| view! { <span class="badge off">{z.failed} " " {t("dns.failed")}</span> })}
                                {(z.pending == 0 && z.failed == 0 && z.push_error.is_none()).then(|| view! { <span class="badge ok">{t("dns.synced")}</span> })}
                            </td>
                            <td>{z.creator.clone()}</td>
                            <td class="nowrap"><LocalTime time=z.created_time.clone()/></td>
                        </tr>
                    }}).collect_view()}</tbody>
                </table>
                {empty.then(|| view! { <p class="muted">{t("common.none")}</p> })}
                <Pager data=p page/>
            }
        }}/>
    }
}

/// Creates a zone (PowerDNS) or takes over one the server serves (BIND, or `adopt`).
#[component]
fn NewZoneForm(sid: i64, version: RwSignal<u32>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let adopt = RwSignal::new(false);
    let create = refreshing(version, move |input: DomainInput| {
        create_dns_domain(sid, input)
    });
    let shown = form_result(create, move || name.set(String::new()));
    view! {
        <form class="form inline" id="new-zone-form" on:submit=move |ev| {
            ev.prevent_default();
            match zone_name(&name.get()) {
                Err(m) => shown.set(Some(Err(AppError::invalid("name", m)))),
                Ok(z) => { shown.set(None); create.dispatch(DomainInput { name: Some(z), adopt: Some(adopt.get()) }); }
            }
        }>
            <label>{t("dns.zone")}<input name="zone" placeholder="example.com" required bind:value=name/></label>
            <label class="check"><input type="checkbox" name="adopt" bind:checked=adopt/>{t("dns.adopt")}</label>
            <button class="btn btn-primary" type="submit" disabled=move || create.pending().get()>{t("dns.add_zone")}</button>
            <FieldError value=shown field="name"/>
            <ActionError value=shown/>
        </form>
    }
}

/// The zone page's URL parameters besides the page.
const RECORD_FILTERS: &[&str] = &["name", "value", "type", "state", "disabled", "tab"];

/// `/dns/:sid/zones/:did`: records (filters, paging, inline changes) and drift.
#[component]
pub fn DnsZonePage() -> impl IntoView {
    let sid = route_num("sid");
    let did = route_num("did");
    let query = use_query_map();
    let navigate = StoredValue::new(use_navigate());
    let get = move |k: &str| query.with(|q| q.get(k).unwrap_or_default());
    let set = move |k: &'static str, v: String| {
        let mut params: Vec<(String, String)> = query.with_untracked(|q| {
            RECORD_FILTERS
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
        let url = format!("/dns/{}/zones/{}?{}", sid(), did(), qs.join("&"));
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
    let editing: RwSignal<Option<i64>> = RwSignal::new(None);
    let zone = Resource::new(
        move || (sid(), did(), version.get()),
        |(sid, did, _)| get_dns_domain(sid, did),
    );
    let records = Resource::new(
        move || {
            (
                sid(),
                did(),
                get("name"),
                get("value"),
                get("type"),
                get("state"),
                get("disabled"),
                get("page"),
                version.get(),
            )
        },
        |(sid, did, name, value, rtype, state, disabled, page, _)| {
            list_dns_records(
                sid,
                did,
                RecordFilter {
                    name: Some(name),
                    value: Some(value),
                    rtype: Some(rtype),
                    state: Some(state),
                    disabled: Some(disabled),
                    page: PageQuery {
                        page: page.parse().ok(),
                        page_size: Some(50),
                    },
                },
            )
        },
    );
    // While changes wait for the server, look again every few seconds (not while a row is edited).
    Effect::new(move |_| {
        if let Some(Ok(z)) = zone.get() {
            if z.pending > 0 {
                set_timeout(
                    move || {
                        if editing.get_untracked().is_none() {
                            version.update(|v| *v += 1);
                        }
                    },
                    Duration::from_secs(3),
                );
            }
        }
    });
    let select = move |key: &'static str,
                       label: &'static str,
                       options: Vec<(&'static str, &'static str)>| {
        view! {
            <select name=key aria-label=t(label) prop:value=move || get(key) on:change=move |ev| set(key, event_target_value(&ev))>
                <option value="">{t(label)} ": " {t("common.all")}</option>
                {options.into_iter().map(|(v, l)| view! { <option value=v>{if l.contains('.') { t(l)() } else { l }}</option> }).collect_view()}
            </select>
        }
    };
    let drift_tab = move || get("tab") == "drift";
    view! {
        <p class="muted"><A href="/dns">{t("module.dns")}</A> " / " <A href=move || format!("/dns/{}", sid())>{t("dns.zones")}</A></p>
        <Loaded res=zone render={move |z: DnsDomain| {
            let can_edit = z.available_actions.get("edit_domain").copied().unwrap_or(false);
            view! {
                <h1 id="zone-title" data-can-edit=can_edit.to_string()>{z.name.clone()} " "
                    <span class="muted">"(" {z.service_name.clone()} ")"</span></h1>
                {z.push_error.clone().map(|e| view! {
                    <div class="alert alert-error" role="alert" id="push-error">{t("dns.push_error")} " " <code>{e}</code></div>
                })}
                {(z.pending > 0).then(|| view! { <p class="muted" id="zone-pending"><span class="badge pending">{z.pending}</span> " " {t("dns.pending_hint")}</p> })}
                {(z.failed > 0).then(|| view! { <p class="muted" id="zone-failed"><A href=format!("/dns/{}/zones/{}?state=failed", z.service_id, z.id)><span class="badge off">{z.failed}</span></A> " " {t("dns.failed_hint")}</p> })}
            }
        }}/>
        <div class="tabs" role="tablist" id="zone-tabs">
            <button class="tab" role="tab" data-tab="records" aria-selected=move || (!drift_tab()).to_string() on:click=move |_| set("tab", String::new())>{t("dns.records")}</button>
            <button class="tab" role="tab" data-tab="drift" aria-selected=move || drift_tab().to_string() on:click=move |_| set("tab", "drift".into())>{t("dns.drift")}</button>
        </div>
        <Show when=move || !drift_tab() fallback=move || view! { <DriftView sid=sid() did=did() version/> }>
            <Loaded res=zone render={move |z: DnsDomain| {
                let can_edit = z.available_actions.get("edit_domain").copied().unwrap_or(false);
                can_edit.then(|| view! { <AddRecord sid=z.service_id did=z.id zone=z.name.clone() version/> })
            }}/>
            <div class="toolbar" id="record-filters">
                <input type="search" name="name" placeholder=t("dns.filter_name") aria-label=t("dns.filter_name")
                    prop:value=move || get("name") on:change=move |ev| set("name", event_target_value(&ev))/>
                <input type="search" name="value" placeholder=t("dns.filter_value") aria-label=t("dns.filter_value")
                    prop:value=move || get("value") on:change=move |ev| set("value", event_target_value(&ev))/>
                {select("type", "dns.type", RECORD_TYPES.iter().map(|r| (*r, *r)).collect())}
                {select("state", "dns.push_state", vec![("pending", "dns.pending"), ("synced", "dns.synced"), ("failed", "dns.failed")])}
                {select("disabled", "common.status", vec![("false", "common.enabled"), ("true", "common.disabled")])}
            </div>
            <Loaded res=zone render={move |z: DnsDomain| {
                let can_edit = z.available_actions.get("edit_domain").copied().unwrap_or(false);
                let zname = z.name.clone();
                view! {
                    <Loaded res=records render={move |p: Page<DnsRecord>| {
                        let rows = p.results.clone();
                        let empty = rows.is_empty();
                        let zname = zname.clone();
                        view! {
                            <table class="table" id="dns-records">
                                <thead><tr>
                                    <th>{t("common.name")}</th><th>{t("dns.type")}</th><th>{t("dns.value")}</th><th>"TTL"</th>
                                    <th>{t("dns.priority")}</th><th>{t("dns.push_state")}</th><th>{t("common.actions")}</th>
                                </tr></thead>
                                <tbody>{rows.into_iter().map(|r| {
                                    let zname = zname.clone();
                                    view! { <RecordRow r zone=zname sid=sid() did=did() can_edit editing version/> }
                                }).collect_view()}</tbody>
                            </table>
                            {empty.then(|| view! { <p class="muted">{t("common.none")}</p> })}
                            <Pager data=p page/>
                        }
                    }}/>
                }
            }}/>
        </Show>
    }
}

/// Validates a record typed into a form the way the server will (errors by field).
fn check(
    zone: &str,
    name: &str,
    rtype: &str,
    value: &str,
    ttl: &str,
    priority: &str,
) -> (RecordInput, Vec<(String, String)>) {
    let mut errs = vec![];
    let num = |v: &str, f: &str, errs: &mut Vec<(String, String)>| -> Option<i64> {
        let v = v.trim();
        if v.is_empty() {
            return None;
        }
        v.parse()
            .map_err(|_| errs.push((f.to_string(), "a whole number".to_string())))
            .ok()
    };
    let input = RecordInput {
        name: name.trim().to_string(),
        rtype: rtype.to_string(),
        value: value.trim().to_string(),
        ttl: num(ttl, "ttl", &mut errs),
        priority: if matches!(rtype, "MX" | "SRV") {
            num(priority, "priority", &mut errs)
        } else {
            None
        },
        disabled: None,
    };
    if let Err(e) = validate_record(zone, &input) {
        for x in e {
            if !errs.iter().any(|(f, _)| *f == x.0) {
                errs.push(x);
            }
        }
    }
    (input, errs)
}

/// The error under a cell: the live check once the cell has content, else the server's.
fn cell_error(
    live: Memo<Vec<(String, String)>>,
    server: RwSignal<Option<AppError>>,
    touched: impl Fn() -> bool + Send + Sync + 'static,
    fields: &'static [&'static str],
) -> impl IntoView {
    move || {
        let m = touched()
            .then(|| {
                live.with(|l| {
                    l.iter()
                        .find(|(f, _)| fields.contains(&f.as_str()))
                        .map(|(_, m)| m.clone())
                })
            })
            .flatten()
            .or_else(|| server.with(|s| err_msg(s, fields)));
        m.map(|m| view! { <div class="field-error" role="alert">{m}</div> })
    }
}

/// The row that adds a record, checked as one types.
#[component]
fn AddRecord(sid: i64, did: i64, zone: String, version: RwSignal<u32>) -> impl IntoView {
    let (name, rtype, value, ttl, priority) = (
        RwSignal::new(String::new()),
        RwSignal::new("A".to_string()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let submitted = RwSignal::new(false);
    let server: RwSignal<Option<AppError>> = RwSignal::new(None);
    let zone = StoredValue::new(zone);
    let live = Memo::new(move |_| {
        zone.with_value(|z| {
            check(
                z,
                &name.get(),
                &rtype.get(),
                &value.get(),
                &ttl.get(),
                &priority.get(),
            )
            .1
        })
    });
    let add = refreshing(version, move |r: RecordInput| {
        add_dns_records(sid, did, vec![r])
    });
    Effect::new(move |_| match add.value().get() {
        Some(Ok(_)) => {
            name.set(String::new());
            value.set(String::new());
            priority.set(String::new());
            submitted.set(false);
            server.set(None);
        }
        // `records[0].value` and `value` both land on the value cell.
        Some(Err(e)) => server.set(Some(AppError {
            field: e
                .field
                .as_deref()
                .map(|f| f.rsplit('.').next().unwrap_or(f).to_string()),
            ..e
        })),
        None => {}
    });
    let has_priority = move || matches!(rtype.get().as_str(), "MX" | "SRV");
    let touched = move |s: RwSignal<String>| move || submitted.get() || !s.get().trim().is_empty();
    view! {
        <form class="form inline add-record" id="add-record-form" on:submit=move |ev| {
            ev.prevent_default();
            submitted.set(true);
            let (input, errs) = zone.with_value(|z| check(z, &name.get(), &rtype.get(), &value.get(), &ttl.get(), &priority.get()));
            if errs.is_empty() { server.set(None); add.dispatch(input); }
        }>
            <label>{t("common.name")}<input name="record-name" placeholder="www" bind:value=name/>{cell_error(live, server, touched(name), &["name"])}</label>
            <label>{t("dns.type")}
                <select name="record-type" prop:value=move || rtype.get() on:change=move |ev| rtype.set(event_target_value(&ev))>
                    {RECORD_TYPES.iter().map(|o| view! { <option value=*o>{*o}</option> }).collect_view()}
                </select>
                {cell_error(live, server, touched(rtype), &["type"])}
            </label>
            <label>{t("dns.value")}<input name="record-value" bind:value=value/>{cell_error(live, server, touched(value), &["value"])}</label>
            <label>"TTL"<input name="record-ttl" class="num" type="number" min="1" placeholder="600" bind:value=ttl/>{cell_error(live, server, touched(ttl), &["ttl"])}</label>
            <label>{t("dns.priority")}<input name="record-priority" class="num" type="number" min="0" max="65535" disabled=move || !has_priority() bind:value=priority/>
                {cell_error(live, server, touched(priority), &["priority"])}</label>
            <button class="btn btn-primary" type="submit" disabled=move || add.pending().get()>{t("dns.add_record")}</button>
            {move || server.get().filter(|e| !matches!(e.field.as_deref(), Some("name" | "type" | "value" | "ttl" | "priority"))).map(|e| view! { <ErrorBox error=e/> })}
        </form>
    }
}

/// One record: shown, or edited in place; disable/enable and delete.
#[component]
fn RecordRow(
    r: DnsRecord,
    zone: String,
    sid: i64,
    did: i64,
    can_edit: bool,
    editing: RwSignal<Option<i64>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let rid = r.id;
    let disabled = r.disabled;
    let toggle = refreshing(version, move |off: bool| {
        set_dns_records_disabled(sid, did, vec![rid], off)
    });
    let remove = refreshing(version, move |_: ()| delete_dns_record(sid, did, rid));
    let is_editing = move || editing.get() == Some(rid);
    let shown = r.clone();
    let error = Signal::derive(move || {
        toggle
            .value()
            .get()
            .and_then(|v| v.err())
            .or_else(|| remove.value().get().and_then(|v| v.err()))
    });
    view! {
        <Show when=is_editing fallback=move || {
            let r = shown.clone();
            view! {
                <tr data-record=r.id data-name=r.name.clone() data-type=r.rtype.clone() class:disabled=r.disabled>
                    <td class="mono">{r.name.clone()}</td>
                    <td>{r.rtype.clone()}</td>
                    <td class="mono">{r.value.clone()}</td>
                    <td>{r.ttl}</td>
                    <td>{r.priority.map(|p| p.to_string()).unwrap_or_default()}</td>
                    <td>
                        {(r.state == "pending").then(|| view! { <span class="badge pending" title=r.push_error.clone().unwrap_or_default()>{t("dns.pending")}</span> })}
                        {(r.state == "failed").then(|| view! { <span class="badge off failed-record" title=r.push_error.clone().unwrap_or_default()>{t("dns.failed")}</span> })}
                        {r.disabled.then(|| view! { " " <span class="badge off">{t("common.disabled")}</span> })}
                    </td>
                    <td class="nowrap">
                        {can_edit.then(|| view! {
                            <button class="btn btn-small edit-record" on:click=move |_| editing.set(Some(rid))>{t("common.edit")}</button>
                            " "
                            <button class="btn btn-small toggle-record" disabled=move || toggle.pending().get()
                                on:click=move |_| { toggle.dispatch(!disabled); }>
                                {if disabled { t("common.enable") } else { t("common.disable") }}
                            </button>
                            " "
                            <button class="btn btn-small btn-danger delete-record" disabled=move || remove.pending().get()
                                on:click=move |_| { if confirm(t("common.confirm_delete")()) { remove.dispatch(()); } }>{t("common.delete")}</button>
                        })}
                        {move || error.get().map(|e| view! { <div class="field-error" role="alert">{e.message}</div> })}
                    </td>
                </tr>
            }
        }>
            <EditRow r=r.clone() zone=zone.clone() sid did editing version/>
        </Show>
    }
}

/// A record's row in edit mode: Enter saves, Escape cancels.
#[component]
fn EditRow(
    r: DnsRecord,
    zone: String,
    sid: i64,
    did: i64,
    editing: RwSignal<Option<i64>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let rid = r.id;
    let name = RwSignal::new(r.name.clone());
    let rtype = RwSignal::new(r.rtype.clone());
    let value = RwSignal::new(r.value.clone());
    let ttl = RwSignal::new(r.ttl.to_string());
    let priority = RwSignal::new(r.priority.map(|p| p.to_string()).unwrap_or_default());
    let zone = StoredValue::new(zone);
    let server: RwSignal<Option<AppError>> = RwSignal::new(None);
    let live = Memo::new(move |_| {
        zone.with_value(|z| {
            check(
                z,
                &format!("{}.", name.get().trim_end_matches('.')),
                &rtype.get(),
                &value.get(),
                &ttl.get(),
                &priority.get(),
            )
            .1
        })
    });
    let save = Action::new(move |p: &RecordPatch| {
        let p = p.clone();
        async move { update_dns_record(sid, did, rid, p).await }
    });
    Effect::new(move |_| match save.value().get() {
        Some(Ok(_)) => {
            editing.set(None);
            version.update(|v| *v += 1);
        }
        Some(Err(e)) => server.set(Some(e)),
        None => {}
    });
    let submit = move || {
        let (input, errs) = zone.with_value(|z| {
            check(
                z,
                &format!("{}.", name.get().trim_end_matches('.')),
                &rtype.get(),
                &value.get(),
                &ttl.get(),
                &priority.get(),
            )
        });
        if errs.is_empty() {
            server.set(None);
            save.dispatch(RecordPatch {
                id: None,
                name: Some(input.name),
                rtype: Some(input.rtype),
                value: Some(input.value),
                ttl: input.ttl,
                priority: input.priority,
                disabled: None,
            });
        }
    };
    let keys = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Escape" => editing.set(None),
        "Enter" => {
            ev.prevent_default();
            submit();
        }
        _ => {}
    };
    let always = || true;
    let label = |k: &'static str| t(k);
    view! {
        <tr data-record=rid class="editing" on:keydown=keys>
            <td><input name="edit-name" aria-label=label("common.name") bind:value=name/>{cell_error(live, server, always, &["name"])}</td>
            <td><select name="edit-type" aria-label=label("dns.type") prop:value=move || rtype.get() on:change=move |ev| rtype.set(event_target_value(&ev))>
                {RECORD_TYPES.iter().map(|o| view! { <option value=*o>{*o}</option> }).collect_view()}
            </select>{cell_error(live, server, always, &["type"])}</td>
            <td><input name="edit-value" aria-label=label("dns.value") bind:value=value/>{cell_error(live, server, always, &["value"])}</td>
            <td><input name="edit-ttl" class="num" type="number" aria-label="TTL" bind:value=ttl/>{cell_error(live, server, always, &["ttl"])}</td>
            <td><input name="edit-priority" class="num" type="number" aria-label=label("dns.priority")
                disabled=move || !matches!(rtype.get().as_str(), "MX" | "SRV") bind:value=priority/>{cell_error(live, server, always, &["priority"])}</td>
            <td></td>
            <td class="nowrap">
                <button class="btn btn-small btn-primary save-record" disabled=move || save.pending().get() on:click=move |_| submit()>{t("common.save")}</button>
                " "
                <button class="btn btn-small" on:click=move |_| editing.set(None)>{t("common.cancel")}</button>
                {move || server.get().filter(|e| !matches!(e.field.as_deref(), Some("name" | "type" | "value" | "ttl" | "priority"))).map(|e| view! { <div class="field-error" role="alert">{e.message}</div> })}
            </td>
        </tr>
    }
}

/// The differences between Opsdeck and the server, checked on demand, with their actions.
#[component]
fn DriftView(sid: i64, did: i64, version: RwSignal<u32>) -> impl IntoView {
    let checks = RwSignal::new(0u32);
    let drift = Resource::new(
        move || (checks.get(), version.get()),
        move |(n, _)| async move {
            if n == 0 {
                return Ok(None);
            }
            dns_drift(sid, did).await.map(Some)
        },
    );
    let resolve = refreshing(version, move |r: DriftResolve| {
        resolve_dns_drift(sid, did, r)
    });
    view! {
        <p class="muted">{t("dns.drift_hint")}</p>
        <button class="btn btn-primary" id="check-drift" on:click=move |_| checks.update(|n| *n += 1)>{t("dns.check_drift")}</button>
        <ActionError value=resolve.value()/>
        <Loaded res=drift render={move |d: Option<Vec<DriftEntry>>| match d {
            None => ().into_any(),
            Some(d) if d.is_empty() => view! { <p class="alert alert-ok" id="drift-none">{t("dns.no_drift")}</p> }.into_any(),
            Some(d) => view! {
                <table class="table drift-list" id="drift-table">
                    <thead><tr>
                        <th>{t("common.name")}</th><th>{t("dns.type")}</th><th>{t("dns.ours")}</th><th>{t("dns.theirs")}</th>
                        <th>"TTL"</th><th>{t("common.actions")}</th>
                    </tr></thead>
                    <tbody>{d.into_iter().map(|e| {
                        let (name, rtype) = (e.name.clone(), e.rtype.clone());
                        let act = move |action: &'static str| {
                            let (name, rtype) = (name.clone(), rtype.clone());
                            move |_: leptos::ev::MouseEvent| {
                                resolve.dispatch(DriftResolve { name: name.clone(), rtype: rtype.clone(), action: action.into() });
                            }
                        };
                        let ttl = |t: Option<i64>| t.map(|t| t.to_string()).unwrap_or_else(|| "–".into());
                        view! {
                            <tr data-name=e.name.clone() data-type=e.rtype.clone()>
                                <td class="mono">{e.name.clone()}</td>
                                <td>{e.rtype.clone()}{e.pending.then(|| view! { " " <span class="badge pending">{t("dns.pending")}</span> })}</td>
                                <td class="mono">{e.ours.iter().map(|c| view! { <div>{c.clone()}</div> }).collect_view()}
                                    {e.ours.is_empty().then(|| view! { <span class="muted">{t("dns.absent")}</span> })}</td>
                                <td class="mono">{e.theirs.iter().map(|c| view! { <div>{c.clone()}</div> }).collect_view()}
                                    {e.theirs.is_empty().then(|| view! { <span class="muted">{t("dns.absent")}</span> })}</td>
                                <td>{ttl(e.ours_ttl)} " / " {ttl(e.theirs_ttl)}</td>
                                <td class="nowrap">
                                    <button class="btn btn-small push-ours" disabled=move || resolve.pending().get() on:click=act("push")>{t("dns.push_ours")}</button>
                                    " "
                                    <button class="btn btn-small adopt-theirs" disabled=move || resolve.pending().get() on:click=act("adopt")>{t("dns.adopt_theirs")}</button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
            }.into_any(),
        }}/>
    }
}
