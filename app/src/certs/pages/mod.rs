//! Certificates: the list (soonest expiry first, coloured when close), a certificate's page with
//! its PEM, the downloads (certificate, chain, full chain, key when allowed; each audited by the
//! server) and Opsdeck's CA certificate; operators upload externally issued certificates.
use crate::approvals::pages::LocalTime;
use crate::auth::types::Me;
use crate::certs::api::*;
use crate::certs::types::*;
use crate::common::components::{form_result, refreshing, ActionError, FieldError, Loaded, Pager};
use crate::common::i18n::t;
use crate::common::{Page, PageQuery};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::components::A;

/// The class of an expiry: red under 7 days (or expired), amber under 30.
pub fn expiry_class(days_left: i64) -> &'static str {
    if days_left < 7 {
        "expiry-red"
    } else if days_left < 30 {
        "expiry-amber"
    } else {
        ""
    }
}

/// The REST path of a download (`cert`, `chain`, `fullchain`, `key`).
fn download_href(id: i64, part: &str) -> String {
    format!("/api/certificates/{id}/download/{part}/")
}

/// Download links of a certificate; the key only when the caller may have it.
#[component]
fn Downloads(c: Certificate) -> impl IntoView {
    let id = c.id;
    let parts: Vec<(&'static str, &'static str)> = [
        ("cert", "certs.dl_cert"),
        ("chain", "certs.dl_chain"),
        ("fullchain", "certs.dl_fullchain"),
    ]
    .into_iter()
    .chain(c.may_download_key.then_some(("key", "certs.dl_key")))
    .collect();
    view! {
        <span class="downloads">
            {parts.into_iter().map(|(part, key)| view! {
                <a class="btn btn-small" href=download_href(id, part) download="" rel="external" data-part=part>{t(key)}</a>
            }).collect_view()}
        </span>
    }
}

/// `/certificates`: search by name, "expiring within", pages of 20, downloads per row.
#[component]
pub fn CertificatesPage() -> impl IntoView {
    let me = expect_context::<Me>();
    let domain = RwSignal::new(String::new());
    let within = RwSignal::new(String::new());
    let page = RwSignal::new(1u64);
    let version = RwSignal::new(0u32);
    let certs = Resource::new(
        move || (domain.get(), within.get(), page.get(), version.get()),
        |(domain, within, page, _)| {
            list_certificates(CertFilter {
                domain: Some(domain),
                expiring_within_days: within.parse().ok(),
                page: PageQuery {
                    page: Some(page),
                    page_size: Some(20),
                },
                ..Default::default()
            })
        },
    );
    let operator = me.modules.has("resource_request", "approve_ssl_cert_req");
    view! {
        <h1>{t("certs.title")}</h1>
        <p class="muted">{t("certs.ca_hint")} " "
            <a href="/api/certificates/ca/" download="" rel="external" id="ca-download">{t("certs.ca_download")}</a>
        </p>
        {operator.then(|| view! { <UploadForm version/> })}
        <div class="toolbar" id="cert-filters">
            <input type="search" name="domain" placeholder=t("certs.search") aria-label=t("certs.search")
                prop:value=move || domain.get() on:change=move |ev| { domain.set(event_target_value(&ev)); page.set(1); }/>
            <select name="within" aria-label=t("certs.expiring") prop:value=move || within.get()
                on:change=move |ev| { within.set(event_target_value(&ev)); page.set(1); }>
                <option value="">{t("certs.expiring")} ": " {t("common.all")}</option>
                <option value="7">"≤ 7"</option>
                <option value="30">"≤ 30"</option>
                <option value="90">"≤ 90"</option>
            </select>
        </div>
        <Loaded res=certs render={move |p: Page<Certificate>| {
            let rows = p.results.clone();
            let empty = rows.is_empty();
            view! {
                <table class="table" id="certs-table">
                    <thead><tr>
                        <th>{t("certs.names")}</th><th>{t("certs.expires")}</th><th>{t("certs.days_left")}</th>
                        <th>{t("certs.issuer")}</th><th>{t("certs.owner")}</th><th>{t("certs.request")}</th><th>{t("certs.download")}</th>
                    </tr></thead>
                    <tbody>{rows.into_iter().map(|c| {
                        let (id, class, days) = (c.id, expiry_class(c.days_left), c.days_left);
                        let names = c.names.join(", ");
                        let request = c.request_id.map(|r| view! { <A href=format!("/requests/ssl-certificates/{r}")>"#" {r}</A> });
                        view! {
                            <tr data-cert=id data-domain=c.domain.clone()>
                                <td><A href=format!("/certificates/{id}")>{names}</A></td>
                                <td class="nowrap"><LocalTime time=c.not_after.clone()/></td>
                                <td class=class data-days=days>{days}</td>
                                <td>{c.issuer.clone()}</td>
                                <td>{c.owner.clone()}</td>
                                <td>{request}</td>
                                <td><Downloads c=c.clone()/></td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
                {empty.then(|| view! { <p class="muted">{t("common.none")}</p> })}
                <Pager data=p page/>
            }
        }}/>
    }
}

/// Operators upload a certificate issued elsewhere (PEM pasted: certificate, chain, key).
#[component]
fn UploadForm(version: RwSignal<u32>) -> impl IntoView {
    let upload = refreshing(version, upload_certificate);
    view! {
        <PemUpload action=upload id="upload-cert" make=|cert_pem, chain_pem, key_pem| CertUpload {
            cert_pem,
            chain_pem,
            key_pem,
            associated_app: None,
        }/>
    }
}

/// A button that opens the paste-your-PEM form (certificate, chain, key) and runs `action` with
/// what `make` builds of them; the form closes and clears when the action succeeds. Also the
/// request page's "finish by upload".
#[component]
pub fn PemUpload<I, T>(
    action: Action<I, Result<T, AppError>>,
    make: fn(String, Option<String>, Option<String>) -> I,
    id: &'static str,
) -> impl IntoView
where
    I: Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    let open = RwSignal::new(false);
    let cert = RwSignal::new(String::new());
    let chain = RwSignal::new(String::new());
    let key = RwSignal::new(String::new());
    let shown = form_result(action, move || {
        cert.set(String::new());
        chain.set(String::new());
        key.set(String::new());
        open.set(false);
    });
    let opt = |s: String| (!s.trim().is_empty()).then_some(s);
    view! {
        <button class="btn" id=id on:click=move |_| open.update(|o| *o = !*o)>{t("certs.upload")}</button>
        <Show when=move || open.get()>
            <form class="form card" id=format!("{id}-form") on:submit=move |ev| {
                ev.prevent_default();
                action.dispatch(make(cert.get(), opt(chain.get()), opt(key.get())));
            }>
                <label>{t("certs.cert_pem")}<textarea name="cert_pem" rows="6" class="mono" bind:value=cert></textarea></label>
                <FieldError value=shown field="cert_pem"/>
                <label>{t("certs.chain_pem")}<textarea name="chain_pem" rows="4" class="mono" bind:value=chain></textarea></label>
                <FieldError value=shown field="chain_pem"/>
                <label>{t("certs.key_pem")}<textarea name="key_pem" rows="4" class="mono" bind:value=key></textarea></label>
                <FieldError value=shown field="key_pem"/>
                <ActionError value=shown/>
                <button class="btn btn-primary" type="submit" disabled=move || action.pending().get()>{t("certs.upload")}</button>
            </form>
        </Show>
    }
}

/// `/certificates/:id`: facts, names, downloads and the PEM.
#[component]
pub fn CertificateDetailPage() -> impl IntoView {
    let id = crate::common::components::route_id();
    let cert = Resource::new(id, get_certificate);
    view! {
        <p class="muted"><A href="/certificates">{t("certs.title")}</A></p>
        <Loaded res=cert render={move |c: Certificate| {
            let class = expiry_class(c.days_left);
            let kind = if c.certificate_type == "wizard" { t("requests.cert_wizard") } else { t("requests.cert_normal") };
            view! {
                <h1 id="cert-title">{c.domain.clone()}</h1>
                <dl class="facts" id="cert-facts">
                    <dt>{t("certs.names")}</dt><dd class="mono">{c.names.join(", ")}</dd>
                    <dt>{t("requests.cert_type")}</dt><dd>{kind}</dd>
                    <dt>{t("certs.serial")}</dt><dd class="mono">{c.serial.clone()}</dd>
                    <dt>{t("certs.issuer")}</dt><dd>{c.issuer.clone()}</dd>
                    <dt>{t("certs.valid_from")}</dt><dd><LocalTime time=c.not_before.clone()/></dd>
                    <dt>{t("certs.expires")}</dt><dd><LocalTime time=c.not_after.clone()/> " "
                        <span class=class data-days=c.days_left>"(" {c.days_left} " " {t("certs.days")} ")"</span></dd>
                    <dt>{t("certs.source")}</dt><dd>{if c.source == "ca" { t("certs.source_ca") } else { t("certs.source_upload") }}</dd>
                    <dt>{t("certs.owner")}</dt><dd>{c.owner.clone()}</dd>
                    {c.request_id.map(|r| view! {
                        <dt>{t("certs.request")}</dt><dd><A href=format!("/requests/ssl-certificates/{r}")>"#" {r}</A></dd>
                    })}
                    {(!c.app_ids.is_empty()).then(|| view! {
                        <dt>{t("requests.apps")}</dt>
                        <dd>{c.app_ids.clone().into_iter().map(|a| view! { <A href=format!("/applications/{a}")>"#" {a}</A> " " }).collect_view()}</dd>
                    })}
                    <dt>{t("certs.key")}</dt><dd>{if !c.has_key { t("certs.key_none") } else if c.may_download_key { t("certs.key_yours") } else { t("certs.key_not_yours") }}</dd>
                </dl>
                <div class="toolbar" id="cert-downloads"><Downloads c=c.clone()/>
                    <a class="btn btn-small" href="/api/certificates/ca/" download="" rel="external">{t("certs.ca_download")}</a>
                </div>
                <h2>{t("certs.cert_pem")}</h2>
                <pre class="pem" id="cert-pem">{c.cert_pem.clone().unwrap_or_default()}</pre>
                {c.chain_pem.clone().filter(|p| !p.trim().is_empty()).map(|p| view! {
                    <h2>{t("certs.chain_pem")}</h2>
                    <pre class="pem">{p}</pre>
                })}
            }
        }}/>
    }
}
