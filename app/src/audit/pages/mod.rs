//! The audit log page.
use crate::audit::api::list_audit;
use crate::audit::types::{AuditEntry, AuditFilter};
use crate::common::components::{Loaded, Pager};
use crate::common::i18n::t;
use crate::common::Page;
use crate::common::PageQuery;
use leptos::prelude::*;

/// Every audit record, filterable by category, operator, free text and time.
#[component]
pub fn AuditPage() -> impl IntoView {
    let category = RwSignal::new(String::new());
    let operator = RwSignal::new(String::new());
    let q = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let page = RwSignal::new(1u64);
    let data = Resource::new(
        move || {
            (
                category.get(),
                operator.get(),
                q.get(),
                from.get(),
                to.get(),
                page.get(),
            )
        },
        |(category, operator, q, from, to, page)| {
            list_audit(AuditFilter {
                category: Some(category),
                operator: Some(operator),
                q: Some(q),
                op_time_gt: Some(from),
                op_time_lt: Some(to),
                page: PageQuery {
                    page: Some(page),
                    page_size: Some(25),
                },
                ..Default::default()
            })
        },
    );
    let reset_page = move || page.set(1);
    view! {
        <h1>{t("nav.audit")}</h1>
        <div class="toolbar">
            <select aria-label=t("audit.category") on:change=move |ev| { category.set(event_target_value(&ev)); reset_page(); }>
                <option value="">{t("common.all")}</option>
                {["auth", "user", "role", "module_perm", "resource_perm", "token"].into_iter().map(|c| view! { <option value=c>{c}</option> }).collect_view()}
            </select>
            <input placeholder=t("audit.operator") aria-label=t("audit.operator") on:change=move |ev| { operator.set(event_target_value(&ev)); reset_page(); }/>
            <input type="search" id="audit-search" placeholder=t("common.search") aria-label=t("common.search") on:input=move |ev| { q.set(event_target_value(&ev)); reset_page(); }/>
            <label class="inline">{t("audit.from")}<input type="date" on:change=move |ev| { from.set(event_target_value(&ev)); reset_page(); }/></label>
            <label class="inline">{t("audit.to")}<input type="date" on:change=move |ev| { to.set(event_target_value(&ev)); reset_page(); }/></label>
        </div>
        <Loaded res=data render={move |data: Page<AuditEntry>| {
                        let rows = data.results.clone();
                        view! {
                            <table class="table" id="audit-table">
                                <thead><tr>
                                    <th>{t("audit.time")}</th><th>{t("audit.operator")}</th><th>{t("audit.category")}</th>
                                    <th>{t("audit.operation")}</th><th>{t("audit.target")}</th><th>{t("audit.detail")}</th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|r| view! {
                                        <tr>
                                            <td class="nowrap muted">{r.op_time.clone()}</td>
                                            <td>{r.operator.clone()}</td>
                                            <td>{r.category.clone()}</td>
                                            <td>{r.op_type.clone()}</td>
                                            <td>{format!("{} {}", r.target_type, r.target_name)}</td>
                                            <td><code class="detail">{r.detail.to_string()}</code></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Pager data page/>
            }
        }}/>
    }
}
