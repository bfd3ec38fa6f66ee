//! The product lines page.
use crate::common::components::{confirm, refreshing, ActionError, FieldError, Loaded, Pager};
use crate::common::i18n::t;
use crate::common::{Page, PageQuery};
use crate::productions::api::*;
use crate::productions::types::*;
use leptos::prelude::*;

/// Product lines: search, create, delete.
#[component]
pub fn ProductionsPage() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let page = RwSignal::new(1u64);
    let version = RwSignal::new(0u32);
    let rows = Resource::new(
        move || (name.get(), page.get(), version.get()),
        |(name, page, _)| {
            list_productions(ProductionFilter {
                name: Some(name),
                page: PageQuery {
                    page: Some(page),
                    page_size: Some(20),
                },
            })
        },
    );
    let new_name = RwSignal::new(String::new());
    let new_desc = RwSignal::new(String::new());
    let create = refreshing(version, create_production);
    let remove = refreshing(version, delete_production);
    let created = create.value();
    Effect::new(move |_| {
        if matches!(created.get(), Some(Ok(_))) {
            new_name.set(String::new());
            new_desc.set(String::new());
        }
    });
    view! {
        <h1>{t("module.business")}</h1>
        <form class="form card inline" id="new-production-form" on:submit=move |ev| {
            ev.prevent_default();
            create.dispatch(ProductionInput { name: Some(new_name.get()), description: Some(new_desc.get()) });
        }>
            <label>{t("common.name")}<input name="production-name" required bind:value=new_name/></label>
            <label>{t("common.description")}<input name="production-description" bind:value=new_desc/></label>
            <button class="btn btn-primary" type="submit">{t("common.create")}</button>
        </form>
        <FieldError value=created field="name"/>
        <ActionError value=created/>
        <ActionError value=remove.value()/>
        <div class="toolbar">
            <input type="search" placeholder=t("common.search") aria-label=t("common.search") on:input=move |ev| { name.set(event_target_value(&ev)); page.set(1); }/>
        </div>
        <Loaded res=rows render={move |data: Page<Production>| {
            let list = data.results.clone();
            view! {
                <table class="table" id="productions-table">
                    <thead><tr><th>{t("common.name")}</th><th>{t("common.description")}</th><th>{t("module.application")}</th><th>{t("common.actions")}</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|p| {
                            let id = p.id;
                            view! {
                                <tr data-production=p.name.clone()>
                                    <td>{p.name.clone()}</td>
                                    <td>{p.description.clone()}</td>
                                    <td>{p.application_count}</td>
                                    <td>{p.available_actions.delete.then(|| view! {
                                        <button class="btn btn-small btn-danger" on:click=move |_| {
                                            if confirm(&t("common.confirm_delete")()) { remove.dispatch(id); }
                                        }>{t("common.delete")}</button>
                                    })}</td>
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
