//! The request forms (new and edit): a host request with rows of hosts, a domain request with
//! rows of records checked as one types, an SSL certificate request. Errors show under the cell
//! they are about: the shared `validate()` and `dns::types::validate_record` run in the browser,
//! and the server's `field` (`records[2].value`) lands on that row's cell.
use super::{inbox_refresher, kind_key};
use crate::applications::api::{application_by_name, list_applications};
use crate::applications::types::AppFilter;
use crate::common::components::{ErrorBox, Loaded, Suggest};
use crate::common::i18n::t;
use crate::common::{IdRef, PageQuery};
use crate::dns::types::{validate_record, RecordInput, RECORD_TYPES};
use crate::error::AppError;
use crate::hosts::types::HOST_TYPES;
use crate::requests::api::*;
use crate::requests::types::*;
use crate::users::api::list_users;
use crate::users::types::UserFilter;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

/// Field errors of a form: (field, message); a message without a field has field "".
type Errors = RwSignal<Vec<(String, String)>>;

fn message_of(errs: Errors, fields: &[String]) -> Option<String> {
    errs.with(|e| {
        e.iter()
            .find(|(k, _)| fields.iter().any(|f| f == k))
            .map(|(_, m)| m.clone())
    })
}

/// The error of `field` (computed, for rows whose index moves), under its input.
fn field_error(errs: Errors, field: impl Fn() -> String + Send + Sync + 'static) -> impl IntoView {
    move || {
        message_of(errs, &[field()])
            .map(|m| view! { <div class="field-error" role="alert">{m}</div> })
    }
}

/// `/requests/:kind/new`.
#[component]
pub fn NewRequestPage() -> impl IntoView {
    let params = use_params_map();
    move || match params.with(|p| p.get("kind").and_then(|k| RequestKind::parse(&k))) {
        Some(kind) => view! { <RequestForm kind initial=None/> }.into_any(),
        None => view! { <ErrorBox error=AppError::not_found("request kind")/> }.into_any(),
    }
}

/// `/requests/:kind/:id/edit`: the requester changes a request that waits for review.
#[component]
pub fn EditRequestPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || {
        params.with(|p| {
            (
                p.get("kind").and_then(|k| RequestKind::parse(&k)),
                p.get("id").and_then(|i| i.parse::<i64>().ok()).unwrap_or(0),
            )
        })
    };
    let req = Resource::new(key, |(kind, id)| async move {
        match kind {
            Some(kind) => get_request(kind, id).await.map(|r| (kind, r)),
            None => Err(AppError::not_found("request kind")),
        }
    });
    view! {
        <Loaded res=req render={|(kind, r): (RequestKind, ResourceRequest)| view! { <RequestForm kind initial=Some(r)/> }}/>
    }
}

/// One row of hosts in a host request.
#[derive(Clone, Copy)]
struct HostRow {
    key: u32,
    name: RwSignal<String>,
    cpu: RwSignal<String>,
    mem: RwSignal<String>,
    storage: RwSignal<String>,
    os: RwSignal<String>,
    htype: RwSignal<String>,
}

impl HostRow {
    fn new(key: u32, h: Option<&RequestedHost>) -> Self {
        let d = RequestedHost {
            specs: HostSpecs {
                cpu_core: 2,
                mem: 4096,
                storage: 51200,
            },
            host_type: HOST_TYPES.first().copied().unwrap_or_default().to_string(),
            ..Default::default()
        };
        let h = h.unwrap_or(&d);
        HostRow {
            key,
            name: RwSignal::new(h.name.clone()),
            cpu: RwSignal::new(h.specs.cpu_core.to_string()),
            mem: RwSignal::new(h.specs.mem.to_string()),
            storage: RwSignal::new(h.specs.storage.to_string()),
            os: RwSignal::new(h.os.clone()),
            htype: RwSignal::new(h.host_type.clone()),
        }
    }
}

/// One row of records in a domain request.
#[derive(Clone, Copy)]
struct RecordRow {
    key: u32,
    name: RwSignal<String>,
    rtype: RwSignal<String>,
    value: RwSignal<String>,
    ttl: RwSignal<String>,
    priority: RwSignal<String>,
}

impl RecordRow {
    fn new(key: u32, r: Option<&RequestedRecord>) -> Self {
        let s = |f: fn(&RequestedRecord) -> String, d: &str| {
            RwSignal::new(r.map(f).unwrap_or_else(|| d.to_string()))
        };
        RecordRow {
            key,
            name: s(|r| r.record.clone(), ""),
            rtype: s(|r| r.rtype.clone(), "A"),
            value: s(|r| r.value.clone(), ""),
            ttl: s(|r| r.ttl.map(|n| n.to_string()).unwrap_or_default(), ""),
            priority: s(
                |r| r.priority.map(|n| n.to_string()).unwrap_or_default(),
                "",
            ),
        }
    }

    fn has_priority(&self) -> bool {
        matches!(self.rtype.get().as_str(), "MX" | "SRV")
    }

    /// The record as the request carries it, and the number fields that do not parse.
    fn to_record(self) -> (RequestedRecord, Vec<(&'static str, String)>) {
        let mut bad = vec![];
        let mut num = |field: &'static str, v: String| -> Option<i64> {
            let v = v.trim().to_string();
            if v.is_empty() {
                return None;
            }
            match v.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    bad.push((field, "a whole number".to_string()));
                    None
                }
            }
        };
        let ttl = num("ttl", self.ttl.get());
        let priority = if self.has_priority() {
            num("priority", self.priority.get())
        } else {
            None
        };
        (
            RequestedRecord {
                record: self.name.get().trim().to_string(),
                rtype: self.rtype.get(),
                value: self.value.get().trim().to_string(),
                ttl,
                priority,
            },
            bad,
        )
    }

    /// What is wrong with the row by the DNS rules, per field (`name`, `type`, `value`, `ttl`,
    /// `priority`). A name is checked against its parent: the zone is the server's to find.
    fn problems(self) -> Vec<(String, String)> {
        let (r, bad) = self.to_record();
        let mut out: Vec<(String, String)> = bad.into_iter().map(|(f, m)| (f.into(), m)).collect();
        let name = r.record.trim().trim_end_matches('.').to_ascii_lowercase();
        let zone = name
            .split_once('.')
            .map(|(_, z)| z.to_string())
            .unwrap_or(name.clone());
        let input = RecordInput {
            name: if name.is_empty() {
                String::new()
            } else {
                format!("{name}.")
            },
            rtype: r.rtype,
            value: r.value,
            ttl: r.ttl,
            priority: r.priority,
            disabled: None,
        };
        if let Err(errs) = validate_record(&zone, &input) {
            for (f, m) in errs {
                if !out.iter().any(|(k, _)| *k == f) {
                    out.push((f, m));
                }
            }
        }
        out
    }
}

/// Parses a whole number typed in a cell; records `field` as wrong otherwise.
fn parse_num(v: &str, field: String, errs: &mut Vec<(String, String)>) -> i64 {
    match v.trim().parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            errs.push((field, "a whole number".into()));
            0
        }
    }
}

/// Up to 20 user names containing `q` (the login-user picker; empty without `view_users`).
async fn user_names(q: String) -> Vec<String> {
    if q.trim().is_empty() {
        return vec![];
    }
    list_users(UserFilter {
        q: Some(q),
        page: PageQuery {
            page: None,
            page_size: Some(20),
        },
        ..Default::default()
    })
    .await
    .map(|p| p.results.into_iter().map(|u| u.username).collect())
    .unwrap_or_default()
}

/// Up to 20 application full names containing `q` (the application picker).
async fn app_names(q: String) -> Vec<String> {
    if q.trim().is_empty() {
        return vec![];
    }
    list_applications(AppFilter {
        q: Some(q),
        page: PageQuery {
            page: None,
            page_size: Some(20),
        },
        ..Default::default()
    })
    .await
    .map(|p| p.results.into_iter().map(|a| a.full_name).collect())
    .unwrap_or_default()
}

/// A list of chosen objects (users, applications) with a picker that adds by name.
#[component]
fn Picker<F, Fut, R, RFut>(
    chosen: RwSignal<Vec<(i64, String)>>,
    /// Field of errors about the list (`login_users`, `associated_app`).
    field: &'static str,
    label: &'static str,
    name: &'static str,
    search: F,
    resolve: R,
    errs: Errors,
) -> impl IntoView
where
    F: Fn(String) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = Vec<String>> + Send + 'static,
    R: Fn(String) -> RFut + Copy + Send + Sync + 'static,
    RFut: std::future::Future<Output = Result<(i64, String), AppError>> + Send + 'static,
{
    let typed = RwSignal::new(String::new());
    let remove_text = t("common.remove");
    let problem: RwSignal<Option<String>> = RwSignal::new(None);
    let add = Action::new(move |n: &String| resolve(n.clone()));
    Effect::new(move |_| match add.value().get() {
        Some(Ok((id, n))) => {
            chosen.update(|c| {
                if !c.iter().any(|(i, _)| *i == id) {
                    c.push((id, n));
                }
            });
            typed.set(String::new());
            problem.set(None);
        }
        Some(Err(e)) => problem.set(Some(e.message)),
        None => {}
    });
    let list_id: &'static str = match field {
        "login_users" => "login-user-options",
        _ => "app-options",
    };
    let do_add = move || {
        let n = typed.get().trim().to_string();
        if !n.is_empty() {
            add.dispatch(n);
        }
    };
    view! {
        <fieldset class="picker" data-field=field>
            <legend>{t(label)}</legend>
            <ul class="chips">
                {move || chosen.get().into_iter().enumerate().map(|(n, (id, label))| {
                    let f = format!("{field}[{n}]");
                    let aria = format!("{} {label}", remove_text());
                    view! {
                        <li class="chip" data-id=id>{label}
                            <button type="button" class="chip-x" aria-label=aria
                                on:click=move |_| chosen.update(|c| c.retain(|(i, _)| *i != id))>"×"</button>
                            {field_error(errs, move || f.clone())}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <div class="form inline">
                <Suggest value=typed name=name list_id=list_id search label=Signal::derive(t(label))/>
                <button type="button" class="btn" on:click=move |_| do_add()>{t("common.add")}</button>
            </div>
            {move || problem.get().map(|m| view! { <div class="field-error" role="alert">{m}</div> })}
            {field_error(errs, move || field.to_string())}
        </fieldset>
    }
}

/// The form of a request of `kind`; with `initial`, it edits that request.
#[component]
fn RequestForm(kind: RequestKind, initial: Option<ResourceRequest>) -> impl IntoView {
    let navigate = StoredValue::new(use_navigate());
    let refresh_inbox = inbox_refresher();
    let editing = initial.as_ref().map(|r| r.id);
    let i = initial.clone().unwrap_or_default();
    let errs: Errors = RwSignal::new(vec![]);
    let submitted = RwSignal::new(false);
    let next_key = StoredValue::new(1000u32);
    let fresh_key = move || {
        let mut k = 0;
        next_key.update_value(|n| {
            *n += 1;
            k = *n;
        });
        k
    };
    // Common and host fields.
    let purpose = RwSignal::new(i.purpose.clone().unwrap_or_default());
    let days = RwSignal::new(i.expect_delivery_days.clone().unwrap_or_else(|| "7".into()));
    let exp = i.expiration.clone().unwrap_or_else(|| "never".into());
    let never = RwSignal::new(exp == "never");
    let expiration = RwSignal::new(if exp == "never" { String::new() } else { exp });
    let users = RwSignal::new(
        i.login_users
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|u| (u.id, u.username.unwrap_or_else(|| format!("#{}", u.id))))
            .collect::<Vec<_>>(),
    );
    let apps = RwSignal::new(
        i.associated_app
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|id| (id, format!("#{id}")))
            .collect::<Vec<_>>(),
    );
    let hosts = RwSignal::new({
        let h = i.required_hosts.clone().unwrap_or_default();
        if h.is_empty() {
            vec![HostRow::new(0, None)]
        } else {
            h.iter()
                .enumerate()
                .map(|(n, h)| HostRow::new(n as u32, Some(h)))
                .collect()
        }
    });
    let records = RwSignal::new({
        let r = i.records.clone().unwrap_or_default();
        if r.is_empty() {
            vec![RecordRow::new(0, None)]
        } else {
            r.iter()
                .enumerate()
                .map(|(n, r)| RecordRow::new(n as u32, Some(r)))
                .collect()
        }
    });
    let domain = RwSignal::new(i.domain.clone().unwrap_or_default());
    let cert_type = RwSignal::new(
        i.certificate_type
            .clone()
            .unwrap_or_else(|| "normal".into()),
    );

    let save = Action::new(move |input: &RequestInput| {
        let input = input.clone();
        async move {
            match editing {
                Some(id) => update_request(kind, id, input).await,
                None => create_request(kind, input).await,
            }
        }
    });
    Effect::new(move |_| match save.value().get() {
        Some(Ok(r)) => {
            refresh_inbox();
            let url = format!("/requests/{}/{}", kind.segment(), r.id);
            navigate.with_value(|n| n(&url, Default::default()));
        }
        Some(Err(e)) => errs.set(vec![(e.field.clone().unwrap_or_default(), e.message)]),
        None => {}
    });

    // Builds the input and every error the browser can see.
    let build = move || -> (RequestInput, Vec<(String, String)>) {
        let mut bad = vec![];
        let mut input = RequestInput {
            associated_app: Some(apps.get().into_iter().map(|(id, _)| id).collect()),
            ..Default::default()
        };
        match kind {
            RequestKind::Host => {
                input.purpose = Some(purpose.get());
                input.expect_delivery_days = Some(days.get());
                input.expiration = Some(if never.get() {
                    "never".into()
                } else {
                    expiration.get()
                });
                input.login_users = Some(
                    users
                        .get()
                        .into_iter()
                        .map(|(id, _)| IdRef { id })
                        .collect(),
                );
                input.associated_app = None;
                input.required_hosts = Some(
                    hosts
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(n, h)| {
                            let f = |x: &str| format!("required_hosts[{n}].{x}");
                            RequestedHost {
                                name: h.name.get().trim().to_string(),
                                specs: HostSpecs {
                                    cpu_core: parse_num(
                                        &h.cpu.get(),
                                        f("specs.cpu_core"),
                                        &mut bad,
                                    ),
                                    mem: parse_num(&h.mem.get(), f("specs.mem"), &mut bad),
                                    storage: parse_num(
                                        &h.storage.get(),
                                        f("specs.storage"),
                                        &mut bad,
                                    ),
                                },
                                os: h.os.get().trim().to_string(),
                                host_type: h.htype.get(),
                            }
                        })
                        .collect(),
                );
            }
            RequestKind::Domain => {
                let rows = records.get();
                for (n, r) in rows.iter().enumerate() {
                    for (f, m) in r.problems() {
                        bad.push((format!("records[{n}].{f}"), m));
                    }
                }
                input.records = Some(rows.into_iter().map(|r| r.to_record().0).collect());
            }
            RequestKind::Ssl => {
                input.domain = Some(domain.get().trim().to_string());
                input.certificate_type = Some(cert_type.get());
                input.purpose = Some(purpose.get());
            }
        }
        for e in validate(kind, &input, editing.is_none()) {
            if !bad.iter().any(|(k, _)| *k == e.0) {
                bad.push(e);
            }
        }
        (input, bad)
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submitted.set(true);
        let (input, bad) = build();
        errs.set(bad.clone());
        if bad.is_empty() {
            save.dispatch(input);
        }
    };
    let general = move || {
        errs.with(|e| {
            e.iter()
                .find(|(k, _)| k.is_empty())
                .map(|(_, m)| AppError::invalid("", m.clone()))
        })
    };
    let title = match (kind, editing) {
        (_, Some(id)) => {
            view! { <h1>{t("common.edit")} " " {t(kind_key(kind))} " #" {id}</h1> }.into_any()
        }
        _ => view! { <h1>{t("requests.new")} ": " {t(kind_key(kind))}</h1> }.into_any(),
    };
    let back = match editing {
        Some(id) => format!("/requests/{}/{id}", kind.segment()),
        None => format!("/requests?kind={}", kind.segment()),
    };
    view! {
        <p class="muted"><A href="/requests">{t("module.resource_request")}</A></p>
        {title}
        <form class="form card request-form" id=format!("{}-request-form", kind.as_str()) novalidate=true on:submit=on_submit>
            {match kind {
                RequestKind::Host => view! {
                    <label>{t("requests.purpose")}<textarea name="purpose" rows="2" bind:value=purpose></textarea></label>
                    {field_error(errs, || "purpose".into())}
                    <div class="form inline">
                        <label>{t("requests.delivery_days")}<input name="expect_delivery_days" type="number" min="1" max="365" bind:value=days/></label>
                        <label class="check"><input type="checkbox" name="never" bind:checked=never/>{t("requests.never_expires")}</label>
                        <Show when=move || !never.get()>
                            <label>{t("requests.expiration")}<input name="expiration" type="date" bind:value=expiration/></label>
                        </Show>
                    </div>
                    {field_error(errs, || "expect_delivery_days".into())}
                    {field_error(errs, || "expiration".into())}
                    <Picker chosen=users field="login_users" label="requests.login_users" name="login-user"
                        search=user_names resolve=|n: String| async move { request_login_user(n).await.map(|u| (u.id, u.username.unwrap_or_default())) } errs/>
                    <HostRows rows=hosts errs fresh_key/>
                }.into_any(),
                RequestKind::Domain => view! {
                    <RecordRows rows=records errs submitted fresh_key/>
                    <Picker chosen=apps field="associated_app" label="requests.apps" name="app"
                        search=app_names resolve=|n: String| async move { application_by_name(n).await.map(|a| (a.id, a.full_name)) } errs/>
                }.into_any(),
                RequestKind::Ssl => view! {
                    <label>{t("requests.cert_domain")}
                        <input name="domain" placeholder="www.example.com" bind:value=domain/>
                    </label>
                    {move || {
                        let d = domain.get();
                        let live = (!d.trim().is_empty()).then(|| hostname(&d).err()).flatten();
                        live.map(|m| view! { <div class="field-error" role="alert">{m}</div> })
                            .or_else(|| message_of(errs, &["domain".into()]).map(|m| view! { <div class="field-error" role="alert">{m}</div> }))
                    }}
                    <fieldset class="radios">
                        <legend>{t("requests.cert_type")}</legend>
                        <label class="check"><input type="radio" name="certificate_type" value="normal"
                            prop:checked=move || cert_type.get() == "normal" on:change=move |_| cert_type.set("normal".into())/>
                            {t("requests.cert_normal")}</label>
                        <label class="check"><input type="radio" name="certificate_type" value="wizard"
                            prop:checked=move || cert_type.get() == "wizard" on:change=move |_| cert_type.set("wizard".into())/>
                            {t("requests.cert_wizard")}</label>
                        <p class="muted" id="cert-names">{t("requests.cert_covers")} " " {move || {
                            let d = domain.get().trim().trim_end_matches('.').to_lowercase();
                            if d.is_empty() { String::from("…") } else if cert_type.get() == "wizard" { format!("*.{d}, {d}") } else { d }
                        }}</p>
                    </fieldset>
                    {field_error(errs, || "certificate_type".into())}
                    <label>{t("requests.purpose")}<textarea name="purpose" rows="2" bind:value=purpose></textarea></label>
                    {field_error(errs, || "purpose".into())}
                    <Picker chosen=apps field="associated_app" label="requests.apps" name="app"
                        search=app_names resolve=|n: String| async move { application_by_name(n).await.map(|a| (a.id, a.full_name)) } errs/>
                }.into_any(),
            }}
            {move || general().map(|e| view! { <ErrorBox error=e/> })}
            {move || {
                // Errors about fields this form has no cell for (shown rather than lost).
                let known = |k: &str| !k.is_empty() && !k.contains('[') && !["purpose", "expect_delivery_days", "expiration", "domain", "certificate_type", "login_users", "associated_app", "records", "required_hosts"].contains(&k);
                errs.with(|e| e.iter().find(|(k, _)| known(k)).map(|(k, m)| view! { <div class="alert alert-error" role="alert">{k.clone()} ": " {m.clone()}</div> }))
            }}
            <div class="toolbar">
                <button class="btn btn-primary" type="submit" id="submit-request" disabled=move || save.pending().get()>
                    {move || if editing.is_some() { t("common.save")() } else { t("requests.submit")() }}
                </button>
                <A href=back attr:class="btn">{t("common.cancel")}</A>
            </div>
        </form>
    }
}

/// The rows of hosts of a host request, with add and remove.
#[component]
fn HostRows(
    rows: RwSignal<Vec<HostRow>>,
    errs: Errors,
    fresh_key: impl Fn() -> u32 + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <h2>{t("requests.hosts")}</h2>
        <table class="table rows" id="host-rows">
            <thead><tr>
                <th>{t("common.name")}</th><th>{t("requests.cpu")}</th><th>{t("requests.mem")}</th>
                <th>{t("requests.storage")}</th><th>{t("requests.os")}</th><th>{t("hosts.type")}</th><th></th>
            </tr></thead>
            <tbody>
                <For each=move || rows.get() key=|r| r.key let:r>
                    {
                        let key = r.key;
                        let idx = move || rows.with(|v| v.iter().position(|x| x.key == key).unwrap_or(0));
                        let f = move |x: &'static str| move || format!("required_hosts[{}].{x}", idx());
                        let label = move |k: &'static str| move || format!("{} {}", t(k)(), idx() + 1);
                        view! {
                            <tr data-row=move || idx()>
                                <td><input name="host-name" aria-label=label("common.name") bind:value=r.name/>{field_error(errs, f("name"))}</td>
                                <td><input name="host-cpu" type="number" min="0" class="num" aria-label=label("requests.cpu") bind:value=r.cpu/>{field_error(errs, f("specs.cpu_core"))}</td>
                                <td><input name="host-mem" type="number" min="0" class="num" aria-label=label("requests.mem") bind:value=r.mem/>{field_error(errs, f("specs.mem"))}</td>
                                <td><input name="host-storage" type="number" min="0" class="num" aria-label=label("requests.storage") bind:value=r.storage/>{field_error(errs, f("specs.storage"))}</td>
                                <td><input name="host-os" aria-label=label("requests.os") placeholder="Debian 12" bind:value=r.os/>{field_error(errs, f("os"))}</td>
                                <td>
                                    <select name="host-type" aria-label=label("hosts.type") prop:value=move || r.htype.get() on:change=move |ev| r.htype.set(event_target_value(&ev))>
                                        {HOST_TYPES.iter().map(|o| view! { <option value=*o>{*o}</option> }).collect_view()}
                                    </select>
                                    {field_error(errs, f("type"))}
                                </td>
                                <td><button type="button" class="btn btn-small remove-row" aria-label=label("requests.remove_row")
                                    on:click=move |_| rows.update(|v| v.retain(|x| x.key != key))>"×"</button></td>
                            </tr>
                        }
                    }
                </For>
            </tbody>
        </table>
        {field_error(errs, || "required_hosts".into())}
        <button type="button" class="btn" id="add-host-row" on:click=move |_| rows.update(|v| v.push(HostRow::new(fresh_key(), None)))>
            {t("requests.add_host")}
        </button>
    }
}

/// The rows of records of a domain request, checked by the DNS rules as one types.
#[component]
fn RecordRows(
    rows: RwSignal<Vec<RecordRow>>,
    errs: Errors,
    submitted: RwSignal<bool>,
    fresh_key: impl Fn() -> u32 + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <h2>{t("requests.records")}</h2>
        <p class="muted">{t("requests.records_hint")}</p>
        <table class="table rows" id="record-rows">
            <thead><tr>
                <th>{t("common.name")}</th><th>{t("dns.type")}</th><th>{t("dns.value")}</th>
                <th>"TTL"</th><th>{t("dns.priority")}</th><th></th>
            </tr></thead>
            <tbody>
                <For each=move || rows.get() key=|r| r.key let:r>
                    {
                        let key = r.key;
                        let idx = move || rows.with(|v| v.iter().position(|x| x.key == key).unwrap_or(0));
                        let live = Memo::new(move |_| r.problems());
                        // A cell shows the live check once it has content (or after a submit), else
                        // what the last submit or the server said about it.
                        let cell = move |fields: &'static [&'static str], sig: RwSignal<String>| {
                            move || {
                                let show_live = submitted.get() || !sig.get().trim().is_empty();
                                let m = show_live
                                    .then(|| live.with(|l| l.iter().find(|(f, _)| fields.contains(&f.as_str())).map(|(_, m)| m.clone())))
                                    .flatten()
                                    .or_else(|| {
                                        let n = idx();
                                        let names: Vec<String> = fields.iter().map(|f| format!("records[{n}].{f}")).collect();
                                        message_of(errs, &names)
                                    });
                                m.map(|m| view! { <div class="field-error" role="alert">{m}</div> })
                            }
                        };
                        let label = move |k: &'static str| move || format!("{} {}", t(k)(), idx() + 1);
                        view! {
                            <tr data-row=move || idx()>
                                <td><input name="record-name" placeholder="www.example.com" aria-label=label("common.name")
                                    prop:value=move || r.name.get() on:input=move |ev| r.name.set(event_target_value(&ev))/>
                                    {cell(&["name", "record"], r.name)}</td>
                                <td>
                                    <select name="record-type" aria-label=label("dns.type") prop:value=move || r.rtype.get()
                                        on:change=move |ev| r.rtype.set(event_target_value(&ev))>
                                        {RECORD_TYPES.iter().map(|o| view! { <option value=*o>{*o}</option> }).collect_view()}
                                    </select>
                                    {cell(&["type"], r.rtype)}
                                </td>
                                <td><input name="record-value" aria-label=label("dns.value") placeholder=move || value_hint(&r.rtype.get())
                                    prop:value=move || r.value.get() on:input=move |ev| r.value.set(event_target_value(&ev))/>
                                    {cell(&["value"], r.value)}</td>
                                <td><input name="record-ttl" class="num" type="number" min="1" placeholder="600" aria-label=label("requests.ttl")
                                    prop:value=move || r.ttl.get() on:input=move |ev| r.ttl.set(event_target_value(&ev))/>
                                    {cell(&["ttl"], r.ttl)}</td>
                                <td><input name="record-priority" class="num" type="number" min="0" max="65535" aria-label=label("dns.priority")
                                    disabled=move || !r.has_priority()
                                    prop:value=move || r.priority.get() on:input=move |ev| r.priority.set(event_target_value(&ev))/>
                                    {cell(&["priority"], r.priority)}</td>
                                <td><button type="button" class="btn btn-small remove-row" aria-label=label("requests.remove_row")
                                    on:click=move |_| rows.update(|v| v.retain(|x| x.key != key))>"×"</button></td>
                            </tr>
                        }
                    }
                </For>
            </tbody>
        </table>
        {field_error(errs, || "records".into())}
        <button type="button" class="btn" id="add-record-row" on:click=move |_| rows.update(|v| v.push(RecordRow::new(fresh_key(), None)))>
            {t("requests.add_record")}
        </button>
    }
}

/// An example value for a record type (the value cell's placeholder).
fn value_hint(rtype: &str) -> &'static str {
    match rtype {
        "A" => "10.0.0.5",
        "AAAA" => "2001:db8::5",
        "CNAME" | "NS" | "PTR" => "host.example.com",
        "MX" => "mail.example.com",
        "SRV" => "5 5060 sip.example.com",
        "TXT" => "v=spf1 -all",
        "CAA" => "0 issue \"ca.example.com\"",
        _ => "",
    }
}
