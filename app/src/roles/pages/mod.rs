//! Roles list and role detail (members, module permissions).
use crate::common::components::{
    confirm, refreshing, ActionError, ErrorBox, FieldError, Loaded, Pager,
};
use crate::common::i18n::t;
use crate::common::Page;
use crate::common::PageQuery;
use crate::perms::pages::{PermMatrix, ResourcePerms};
use crate::perms::types::SubjectType;
use crate::roles::api::*;
use crate::roles::types::*;
use crate::users::api::find_user;
use leptos::prelude::*;
use leptos_router::components::A;

/// All roles, with create and delete.
#[component]
pub fn RolesPage() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let page = RwSignal::new(1u64);
    let version = RwSignal::new(0u32);
    let roles = Resource::new(
        move || (name.get(), page.get(), version.get()),
        |(name, page, _)| {
            list_roles(RoleFilter {
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
    let create = refreshing(version, create_role);
    let remove = refreshing(version, delete_role);
    let created = create.value();
    Effect::new(move |_| {
        if matches!(created.get(), Some(Ok(_))) {
            new_name.set(String::new());
            new_desc.set(String::new());
        }
    });
    view! {
        <h1>{t("nav.roles")}</h1>
        <form class="form card inline" id="new-role-form" on:submit=move |ev| {
            ev.prevent_default();
            create.dispatch(RoleInput { name: Some(new_name.get()), description: Some(new_desc.get()) });
        }>
            <label>{t("common.name")}<input name="role-name" required bind:value=new_name/></label>
            <label>{t("common.description")}<input name="role-description" bind:value=new_desc/></label>
            <button class="btn btn-primary" type="submit">{t("roles.new")}</button>
        </form>
        <FieldError value=created field="name"/>
        <ActionError value=created/>
        <ActionError value=remove.value()/>
        <div class="toolbar">
            <input type="search" placeholder=t("common.search") aria-label=t("common.search") on:input=move |ev| { name.set(event_target_value(&ev)); page.set(1); }/>
        </div>
        <Loaded res=roles render={move |data: Page<Role>| {
                        let rows = data.results.clone();
                        view! {
                            <table class="table" id="roles-table">
                                <thead><tr><th>{t("common.name")}</th><th>{t("common.description")}</th><th>{t("roles.members")}</th><th>{t("common.created")}</th><th>{t("common.actions")}</th></tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|r| {
                                        let id = r.id;
                                        let (name, label) = (r.name.clone(), r.name.clone());
                                        view! {
                                            <tr data-role=name>
                                                <td><A href=format!("/admin/roles/{}", r.id)>{label}</A>
                                                    {r.builtin.then(|| view! { " " <span class="badge">{t("roles.builtin")}</span> })}</td>
                                                <td>{r.description.clone()}</td>
                                                <td>{r.member_count}</td>
                                                <td class="muted">{r.created_at.clone()}</td>
                                                <td>{(!r.builtin).then(|| view! {
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

/// One role: members and module permissions.
#[component]
pub fn RoleDetailPage() -> impl IntoView {
    let id = crate::common::components::route_id();
    let version = RwSignal::new(0u32);
    let role = Resource::new(id, get_role);
    let members = Resource::new(move || (id(), version.get()), |(id, _)| role_members(id));
    let username = RwSignal::new(String::new());
    let change = refreshing(version, move |(uids, add): (Vec<i64>, bool)| {
        change_members(id(), uids, add)
    });
    let add_by_name = Action::new(move |name: &String| {
        let (name, rid) = (name.clone(), id());
        async move {
            let user = find_user(name).await?;
            let r = change_members(rid, vec![user.id], true).await;
            version.update(|v| *v += 1);
            r
        }
    });
    view! {
        <Loaded res=role render={move |r| view! {
                        <h1>{r.name.clone()}</h1>
                        <p class="muted">{r.description.clone()}</p>
                        <h2>{t("roles.members")}</h2>
                        <form class="toolbar" id="add-member-form" on:submit=move |ev| { ev.prevent_default(); add_by_name.dispatch(username.get()); }>
                            <input name="member" placeholder=t("roles.add_member") aria-label=t("roles.add_member") bind:value=username/>
                            <button class="btn" type="submit">{t("common.add")}</button>
                        </form>
                        <ActionError value=add_by_name.value()/>
                        <ActionError value=change.value()/>
                    }}/>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match members.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(list) => view! {
                        <ul class="chips" id="role-members">
                            {list.into_iter().map(|u| {
                                let uid = u.id;
                                view! { <li class="chip">{u.username.clone()} <button class="chip-x" aria-label=t("common.remove") on:click=move |_| { change.dispatch((vec![uid], false)); }>"×"</button></li> }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }
            })}
        </Transition>
        <h2>{t("perms.modules")}</h2>
        {move || view! { <PermMatrix subject=SubjectType::Role id=id()/> }}
        <h2>{t("perms.resources")}</h2>
        {move || view! { <ResourcePerms subject=SubjectType::Role id=id()/> }}
    }
}
