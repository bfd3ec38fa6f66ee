//! The module permission matrix, the effective-permission explainer, and module home pages.
use crate::auth::types::Me;
use crate::common::components::{
    confirm, refreshing, ActionError, ErrorBox, FieldError, Loaded, Pager,
};
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
    let save = refreshing(version, move |grants: Vec<ModuleGrant>| {
        grant_module_perms(subject, id, grants)
    });
    let value = save.value();
    view! {
        <div class="matrix-wrap" id=format!("perm-matrix-{}", subject.as_str())>
            <Loaded res=current render={move |mods| view! { <MatrixForm mods save/> }}/>
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

/// "role ops, direct grant" in the current language.
fn sources_text(sources: &[PermSource]) -> impl Fn() -> String + Send + Sync + 'static {
    let sources = sources.to_vec();
    let (via_role, direct) = (t("perms.via_role"), t("perms.direct"));
    move || {
        sources
            .iter()
            .map(|s| match &s.role_name {
                Some(r) => format!("{} {r}", via_role()),
                None => direct().to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
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
        <Loaded res=data render={move |e| view! {
                        {e.superuser.then(|| view! { <div class="alert alert-ok">{t("perms.superuser")}</div> })}
                        <table class="table" id="effective-perms">
                            <thead><tr><th>{t("perms.object")}</th><th>{t("perms.perm")}</th><th>{t("perms.source")}</th></tr></thead>
                            <tbody>
                                {e.perms.into_iter().map(|p| view! {
                                    <tr>
                                        <td>{p.object.clone()}</td>
                                        <td>{p.perm.clone()}</td>
                                        <td>{sources_text(&p.sources)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }}/>
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

/// A subject's grants on applications, hosts and product lines, with grant and revoke.
#[component]
pub fn ResourcePerms(subject: SubjectType, id: i64) -> impl IntoView {
    let rtype = RwSignal::new(ResourceType::Application);
    let page = RwSignal::new(1u64);
    let version = RwSignal::new(0u32);
    let rows = Resource::new(
        move || (rtype.get(), page.get(), version.get()),
        move |(rt, page, _)| {
            get_resource_perms(
                subject,
                id,
                rt,
                ResourcePermFilter {
                    page: crate::common::PageQuery {
                        page: Some(page),
                        page_size: Some(20),
                    },
                    ..Default::default()
                },
            )
        },
    );
    let save = refreshing(
        version,
        move |(rt, rid, flags): (ResourceType, i64, PermFlags)| {
            let req = ResourceGrantRequest {
                authorizations: vec![ResourceGrantEntry {
                    id: rid,
                    permission: flags,
                }],
            };
            set_resource_perms(subject, id, rt, req)
        },
    );
    let value = save.value();
    let new_id = RwSignal::new(String::new());
    let picked: RwSignal<Vec<String>> = RwSignal::new(vec![]);
    let tab = move |rt: ResourceType, key: &'static str| {
        view! {
            <button class="btn" class:btn-primary=move || rtype.get() == rt aria-pressed=move || (rtype.get() == rt).to_string()
                on:click=move |_| { rtype.set(rt); page.set(1); picked.set(vec![]); }>{t(key)}</button>
        }
    };
    view! {
        <div class="resource-perms" id=format!("resource-perms-{}", subject.as_str())>
            <div class="toolbar">
                {tab(ResourceType::Application, "perms.rtype.application")}
                {tab(ResourceType::Host, "perms.rtype.host")}
                {tab(ResourceType::Business, "perms.rtype.business")}
            </div>
            <form class="form card" on:submit=move |ev| {
                ev.prevent_default();
                if let Ok(rid) = new_id.get().trim().parse::<i64>() {
                    let flags: PermFlags = picked.get().into_iter().map(|p| (p, true)).collect();
                    if !flags.is_empty() { save.dispatch((rtype.get(), rid, flags)); }
                }
            }>
                <label>{t("perms.resource_id")}<input name="resource-id" type="number" min="1" required bind:value=new_id/></label>
                <div class="checks">
                    {move || rtype.get().perms().iter().map(|p| {
                        let (p, p2, name, label) = (p.to_string(), p.to_string(), p.to_string(), p.to_string());
                        view! {
                            <label class="check"><input type="checkbox" name=name
                                prop:checked=move || picked.get().contains(&p2)
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    let p = p.clone();
                                    picked.update(|v| { v.retain(|x| *x != p); if on { v.push(p); } });
                                }/>{label}</label>
                        }
                    }).collect_view()}
                </div>
                <FieldError value field="permission"/>
                <ActionError value/>
                <button class="btn btn-primary" type="submit">{t("perms.grant")}</button>
            </form>
            <Loaded res=rows render={move |data: crate::common::Page<ResourcePermRow>| {
                            let list = data.results.clone();
                            view! {
                                <table class="table">
                                    <thead><tr><th>"ID"</th><th>{t("common.name")}</th><th>{t("perms.perm")}</th><th>{t("common.actions")}</th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|row| {
                                            let held: Vec<String> = row.permission.iter().filter(|(_, on)| **on).map(|(p, _)| p.clone()).collect();
                                            let off: PermFlags = held.iter().map(|p| (p.clone(), false)).collect();
                                            let (rt, rid) = (row.resource_type, row.id);
                                            view! {
                                                <tr>
                                                    <td>{row.id}</td>
                                                    <td>{row.name.clone()}</td>
                                                    <td><ul class="chips">{held.into_iter().map(|p| view! { <li class="chip">{p}</li> }).collect_view()}</ul></td>
                                                    <td><button class="btn btn-small btn-danger" on:click=move |_| {
                                                        if confirm(&t("common.confirm_delete")()) { save.dispatch((rt, rid, off.clone())); }
                                                    }>{t("perms.revoke_all")}</button></td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                <Pager data page/>
                            }
            }}/>
        </div>
    }
}

/// "Why can user X do Y on Z": a verdict and the grants behind it.
#[component]
pub fn ExplainPage() -> impl IntoView {
    let username = RwSignal::new(String::new());
    let object = RwSignal::new(String::new());
    let perm = RwSignal::new(String::new());
    let ask = Action::new(move |(name, object, perm): &(String, String, String)| {
        let (name, query) = (
            name.clone(),
            ExplainQuery {
                object: Some(object.clone()),
                perm: Some(perm.clone()),
            },
        );
        async move {
            let user = crate::users::api::find_user(name).await?;
            explain_perms(user.id, query).await
        }
    });
    let value = ask.value();
    view! {
        <h1>{t("perms.why")}</h1>
        <p class="muted">{t("perms.why_hint")}</p>
        <form class="form card inline" id="explain-form" on:submit=move |ev| { ev.prevent_default(); ask.dispatch((username.get(), object.get(), perm.get())); }>
            <label>{t("login.username")}<input name="username" required bind:value=username/></label>
            <label>{t("perms.object")}<input name="object" placeholder="application:5" bind:value=object/></label>
            <label>{t("perms.perm")}<input name="perm" placeholder="view_app" bind:value=perm/></label>
            <button class="btn btn-primary" type="submit">{t("perms.ask")}</button>
        </form>
        <FieldError value field="username"/>
        <ActionError value/>
        {move || match value.get() {
            Some(Ok(e)) => Some(view! {
                <div id="explain-result">
                    {e.allowed.map(|ok| view! {
                        <div class=if ok { "alert alert-ok" } else { "alert alert-error" }>{if ok { t("perms.allowed") } else { t("perms.denied") }}</div>
                    })}
                    {e.superuser.then(|| view! { <div class="alert alert-ok">{t("perms.superuser")}</div> })}
                    <table class="table">
                        <thead><tr><th>{t("perms.object")}</th><th>{t("perms.perm")}</th><th>{t("perms.source")}</th></tr></thead>
                        <tbody>
                            {e.perms.into_iter().map(|p| view! {
                                <tr><td>{p.object.clone()}</td><td>{p.perm.clone()}</td>
                                <td>{sources_text(&p.sources)}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }),
            _ => None,
        }}
    }
}
