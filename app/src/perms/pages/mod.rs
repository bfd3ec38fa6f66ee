//! The module permission matrix, the effective-permission explainer, and module home pages.
use crate::auth::types::Me;
use crate::common::components::{ActionError, ErrorBox};
use crate::common::i18n::{module_key, t};
use crate::perms::api::*;
use crate::perms::types::*;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use std::collections::BTreeMap;

/// A checkbox grid of every module flag for a user or role; saving sends only the changes.
#[component]
pub fn PermMatrix(subject: SubjectType, id: i64) -> impl IntoView {
    let version = RwSignal::new(0u32);
    let current = Resource::new(
        move || version.get(),
        move |_| get_module_perms(subject, id),
    );
    // The action lives here, outside the form that is rebuilt after each save, so its result stays visible.
    let save = Action::new(move |grants: &Vec<ModuleGrant>| {
        let grants = grants.clone();
        async move {
            let r = grant_module_perms(subject, id, grants).await;
            if r.is_ok() {
                version.update(|v| *v += 1);
            }
            r
        }
    });
    let value = save.value();
    view! {
        <div class="matrix-wrap" id=format!("perm-matrix-{}", subject.as_str())>
            <Transition fallback=|| view! { <p class="muted">{t("common.loading")}</p> }>
                {move || Suspend::new(async move {
                    match current.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(mods) => view! { <MatrixForm mods save/> }.into_any(),
                    }
                })}
            </Transition>
            <ActionError value/>
            {move || matches!(value.get(), Some(Ok(_))).then(|| view! { <div class="alert alert-ok">{t("common.saved")}</div> })}
        </div>
    }
}

#[component]
fn MatrixForm(
    mods: Vec<ModulePerms>,
    save: Action<Vec<ModuleGrant>, Result<crate::common::Message, crate::error::AppError>>,
) -> impl IntoView {
    // One signal per (module, flag), starting from what is granted now.
    // Flags in the catalogue's order (the enable flag first), not alphabetical.
    let cells: Vec<(String, String, bool, RwSignal<bool>)> = mods
        .iter()
        .flat_map(|m| {
            let order = module(&m.module_name).map(|d| d.perms).unwrap_or(&[]);
            order.iter().filter_map(move |p| {
                m.permissions.get(*p).map(|on| {
                    (
                        m.module_name.clone(),
                        p.to_string(),
                        *on,
                        RwSignal::new(*on),
                    )
                })
            })
        })
        .collect();
    let cells_for_save = cells.clone();
    view! {
        <form class="matrix" on:submit=move |ev| {
            ev.prevent_default();
            let mut by_module: BTreeMap<String, PermFlags> = BTreeMap::new();
            for (m, p, was, sig) in &cells_for_save {
                let now = sig.get_untracked();
                if now != *was {
                    by_module.entry(m.clone()).or_default().insert(p.clone(), now);
                }
            }
            let grants: Vec<ModuleGrant> = by_module.into_iter().map(|(module_name, permissions)| ModuleGrant { module_name, permissions }).collect();
            if !grants.is_empty() { save.dispatch(grants); }
        }>
            {mods.iter().map(|m| {
                let name = m.module_name.clone();
                let mine: Vec<_> = cells.iter().filter(|c| c.0 == name).cloned().collect();
                view! {
                    <fieldset data-module=name.clone()>
                        <legend>{t(module_key(&name))}</legend>
                        {mine.into_iter().map(|(_, p, _, sig)| view! {
                            <label class="check"><input type="checkbox" name=p.clone() bind:checked=sig/>{p.clone()}</label>
                        }).collect_view()}
                    </fieldset>
                }
            }).collect_view()}
            <button class="btn btn-primary" type="submit">{t("common.save")}</button>
        </form>
    }
}

/// Every permission a user holds and the grant it comes from.
#[component]
pub fn Explainer(user_id: i64) -> impl IntoView {
    let data = Resource::new(
        move || user_id,
        |id| explain_perms(id, ExplainQuery::default()),
    );
    view! {
        <p class="muted">{t("perms.explain_hint")}</p>
        <Transition fallback=|| view! { <p class="muted">{t("common.loading")}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(e) => view! {
                        {e.superuser.then(|| view! { <div class="alert alert-ok">{t("perms.superuser")}</div> })}
                        <table class="table" id="effective-perms">
                            <thead><tr><th>{t("perms.object")}</th><th>{t("perms.perm")}</th><th>{t("perms.source")}</th></tr></thead>
                            <tbody>
                                {e.perms.into_iter().map(|p| view! {
                                    <tr>
                                        <td>{p.object.clone()}</td>
                                        <td>{p.perm.clone()}</td>
                                        <td>{p.sources.iter().map(|s| match &s.role_name {
                                            Some(r) => format!("role {r}"),
                                            None => "direct".to_string(),
                                        }).collect::<Vec<_>>().join(", ")}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The home of a module: what the user may do there.
#[component]
pub fn ModuleHome() -> impl IntoView {
    let params = use_params_map();
    let me = expect_context::<Me>();
    move || {
        let name = params.get().get("module").unwrap_or_default();
        let def = module(&name);
        match def {
            Some(d) if me.modules.module(d.name) => {
                let held: Vec<&str> = d
                    .perms
                    .iter()
                    .copied()
                    .filter(|p| me.modules.has(d.name, p))
                    .collect();
                view! {
                    <h1 id="module-title">{t(module_key(d.name))}</h1>
                    <p>{t("module.home_hint")}</p>
                    <ul class="chips">{held.into_iter().map(|p| view! { <li class="chip">{p}</li> }).collect_view()}</ul>
                    <p class="muted">{t("module.coming")}</p>
                }
                .into_any()
            }
            _ => view! { <ErrorBox error=crate::error::AppError::forbidden("module")/> }.into_any(),
        }
    }
}
