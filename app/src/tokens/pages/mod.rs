//! "My API tokens": create (value shown once, with copy), list, revoke.
use crate::common::components::{
    confirm, copy_to_clipboard, refreshing, ActionError, FieldError, Loaded, Pager,
};
use crate::common::i18n::t;
use crate::common::Page;
use crate::common::PageQuery;
use crate::tokens::api::*;
use crate::tokens::types::*;
use leptos::prelude::*;

#[component]
pub fn TokensPage() -> impl IntoView {
    let page = RwSignal::new(1u64);
    let version = RwSignal::new(0u32);
    let tokens = Resource::new(
        move || (page.get(), version.get()),
        |(page, _)| {
            list_tokens(TokenFilter {
                page: PageQuery {
                    page: Some(page),
                    page_size: Some(20),
                },
                ..Default::default()
            })
        },
    );
    let name = RwSignal::new(String::new());
    let desc = RwSignal::new(String::new());
    let days = RwSignal::new(String::new());
    let create = refreshing(version, create_token);
    let remove = refreshing(version, delete_token);
    let created = create.value();
    let copied = RwSignal::new(false);
    view! {
        <h1>{t("nav.tokens")}</h1>
        <form class="form card inline" id="new-token-form" on:submit=move |ev| {
            ev.prevent_default();
            copied.set(false);
            let d = days.get();
            create.dispatch(TokenInput { name: Some(name.get()), description: Some(desc.get()), expires_in_days: d.trim().parse().ok() });
        }>
            <label>{t("common.name")}<input name="token-name" required bind:value=name/></label>
            <label>{t("common.description")}<input name="token-description" bind:value=desc/></label>
            <label>{t("tokens.expires")}<input name="token-days" type="number" min="1" max="3650" bind:value=days/></label>
            <button class="btn btn-primary" type="submit">{t("tokens.new")}</button>
        </form>
        <FieldError value=created field="name"/>
        <FieldError value=created field="expires_in_days"/>
        <ActionError value=created/>
        {move || match created.get() {
            Some(Ok(tok)) => tok.value.map(|v| {
                let v2 = v.clone();
                view! {
                    <div class="alert alert-ok" id="new-token">
                        <p>{t("tokens.copy_once")}</p>
                        <code id="new-token-value">{v}</code>
                        " "
                        <button class="btn btn-small" on:click=move |_| { copy_to_clipboard(&v2); copied.set(true); }>
                            {move || if copied.get() { t("tokens.copied")() } else { t("tokens.copy")() }}
                        </button>
                    </div>
                }
            }),
            _ => None,
        }}
        <ActionError value=remove.value()/>
        <Loaded res=tokens render={move |data: Page<Token>| {
                        let rows = data.results.clone();
                        view! {
                            <table class="table" id="tokens-table">
                                <thead><tr>
                                    <th>{t("common.name")}</th><th>{t("tokens.prefix")}</th><th>{t("common.description")}</th>
                                    <th>{t("tokens.expires_at")}</th><th>{t("tokens.last_used")}</th><th>{t("common.actions")}</th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|tk| {
                                        let id = tk.id;
                                        view! {
                                            <tr>
                                                <td>{tk.name.clone()}</td>
                                                <td><code>{tk.prefix.clone()} "…"</code></td>
                                                <td>{tk.description.clone()}</td>
                                                <td class="muted">{tk.expires_at.clone().unwrap_or_else(|| "—".into())}</td>
                                                <td class="muted">{tk.last_used_at.clone().unwrap_or_else(|| "—".into())}</td>
                                                <td><button class="btn btn-small btn-danger" on:click=move |_| {
                                                    if confirm(&t("common.confirm_delete")()) { remove.dispatch(id); }
                                                }>{t("common.delete")}</button></td>
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
