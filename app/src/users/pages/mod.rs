//! Users list and user detail.
use crate::common::components::{
    form_result, refreshing, ActionError, FieldError, Loaded, Pager, Suggest,
};
use crate::common::i18n::t;
use crate::common::Page;
use crate::common::{validate, PageQuery};
use crate::perms::pages::{Explainer, PermMatrix, ResourcePerms};
use crate::perms::types::SubjectType;
use crate::roles::api::{change_members, list_roles, role_by_name};
use crate::roles::types::RoleFilter;
use crate::users::api::*;
use crate::users::types::*;
use leptos::prelude::*;
use leptos_router::components::A;

/// The users table: search, status filter, pagination, create, enable/disable.
#[component]
pub fn UsersPage() -> impl IntoView {
    let q = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let page = RwSignal::new(1u64);
    let version = RwSignal::new(0u32);
    let users = Resource::new(
        move || (q.get(), status.get(), page.get(), version.get()),
        |(q, status, page, _)| {
            list_users(UserFilter {
                q: Some(q),
                status: Some(status),
                page: PageQuery {
                    page: Some(page),
                    page_size: Some(20),
                },
                ..Default::default()
            })
        },
    );
    let toggle = refreshing(version, |(id, enabled): (i64, bool)| {
        set_user_status(id, enabled)
    });
    view! {
        <h1>{t("nav.users")}</h1>
        <NewUserForm version/>
        <div class="toolbar">
            <input type="search" id="user-search" placeholder=t("common.search") aria-label=t("common.search")
                on:input=move |ev| { q.set(event_target_value(&ev)); page.set(1); }/>
            <select aria-label=t("common.status") on:change=move |ev| { status.set(event_target_value(&ev)); page.set(1); }>
                <option value="">{t("common.all")}</option>
                <option value="enabled">{t("common.enabled")}</option>
                <option value="disabled">{t("common.disabled")}</option>
            </select>
        </div>
        <ActionError value=toggle.value()/>
        <Loaded res=users render={move |data: Page<User>| {
                        let rows = data.results.clone();
                        view! {
                            <table class="table" id="users-table">
                                <thead><tr>
                                    <th>{t("login.username")}</th><th>{t("common.display_name")}</th><th>{t("common.email")}</th>
                                    <th>{t("common.roles")}</th><th>{t("common.status")}</th><th>{t("common.last_login")}</th><th>{t("common.actions")}</th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|u| {
                                        let enabled = u.status == "enabled";
                                        let id = u.id;
                                        let can = u.available_actions.disable;
                                        let (name, label) = (u.username.clone(), u.username.clone());
                                        view! {
                                            <tr data-username=name>
                                                <td><A href=format!("/admin/users/{}", u.id)>{label}</A></td>
                                                <td>{u.display_name.clone()}</td>
                                                <td>{u.email.clone()}</td>
                                                <td>{u.roles.iter().map(|r| r.name.clone()).collect::<Vec<_>>().join(", ")}</td>
                                                <td><span class=if enabled { "badge ok" } else { "badge off" }>{if enabled { t("common.enabled") } else { t("common.disabled") }}</span></td>
                                                <td class="muted">{u.last_login_at.clone().unwrap_or_default()}</td>
                                                <td>{can.then(|| view! {
                                                    <button class="btn btn-small" on:click=move |_| { toggle.dispatch((id, !enabled)); }>
                                                        {if enabled { t("common.disable") } else { t("common.enable") }}
                                                    </button>
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

#[component]
fn NewUserForm(version: RwSignal<u32>) -> impl IntoView {
    let open = RwSignal::new(false);
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let create = refreshing(version, add_user);
    // Shared validation runs in the browser first; the service checks again. `merged` shows either.
    let merged = form_result(create, move || {
        username.set(String::new());
        password.set(String::new());
        email.set(String::new());
        open.set(false);
    });
    view! {
        <button class="btn btn-primary" id="new-user" on:click=move |_| open.update(|o| *o = !*o)>{t("users.new")}</button>
        <Show when=move || open.get()>
            <form class="form card" id="new-user-form" on:submit=move |ev| {
                ev.prevent_default();
                let input = CreateUser { username: username.get(), password: password.get(), email: email.get(), ..Default::default() };
                // The password is optional (superusers only); without it the user is mailed a link.
                let check = validate::username(&input.username)
                    .and_then(|_| if input.password.is_empty() { Ok(()) } else { validate::password("password", &input.password) })
                    .and_then(|_| validate::email(&input.email, false));
                match check {
                    Err(e) => merged.set(Some(Err(e))),
                    Ok(()) => { merged.set(None); create.dispatch(input); }
                }
            }>
                <label>{t("login.username")}<input name="username" required bind:value=username/></label>
                <FieldError value=merged field="username"/>
                <label>{t("users.password_optional")}<input name="password" type="password" autocomplete="new-password" bind:value=password/></label>
                <FieldError value=merged field="password"/>
                <label>{t("common.email")}<input name="email" type="email" bind:value=email/></label>
                <FieldError value=merged field="email"/>
                <ActionError value=merged/>
                <button class="btn btn-primary" type="submit">{t("common.create")}</button>
            </form>
        </Show>
    }
}

/// One user: profile, roles, module permissions, effective permissions.
#[component]
pub fn UserDetailPage() -> impl IntoView {
    let id = crate::common::components::route_id();
    let version = RwSignal::new(0u32);
    let user = Resource::new(move || (id(), version.get()), |(id, _)| get_user(id));
    view! {
        <Loaded res=user render={move |u| view! {
                        <h1>{u.username.clone()}</h1>
                        <ProfileForm user=u.clone()/>
                        <UserRoles user=u.clone() on_change=move || version.update(|v| *v += 1)/>
                        <h2>{t("perms.modules")}</h2>
                        <PermMatrix subject=SubjectType::User id=u.id/>
                        <h2>{t("perms.resources")}</h2>
                        <ResourcePerms subject=SubjectType::User id=u.id/>
                        <h2>{t("perms.effective")}</h2>
                        <Explainer user_id=u.id/>
                    }}/>
    }
}

#[component]
fn ProfileForm(user: User) -> impl IntoView {
    let email = RwSignal::new(user.email.clone());
    let phone = RwSignal::new(user.phone.clone());
    let display = RwSignal::new(user.display_name.clone());
    // Changing one's own e-mail needs the current password (the service decides whose it is).
    let current_password = RwSignal::new(String::new());
    let original_email = user.email.clone();
    let email_changed = Memo::new(move |_| email.get().trim() != original_email.trim());
    let save = ServerAction::<EditUser>::new();
    let value = save.value();
    let id = user.id;
    view! {
        <h2>{t("users.profile")}</h2>
        <form class="form narrow" on:submit=move |ev| {
            ev.prevent_default();
            let pw = current_password.get();
            let current_password = (email_changed.get_untracked() && !pw.is_empty()).then_some(pw);
            save.dispatch(EditUser { id, input: UpdateUser { email: Some(email.get()), phone: Some(phone.get()), display_name: Some(display.get()), current_password } });
        }>
            <label>{t("common.display_name")}<input bind:value=display/></label>
            <FieldError value field="display_name"/>
            <label>{t("common.email")}<input type="email" bind:value=email/></label>
            <FieldError value field="email"/>
            <Show when=move || email_changed.get()>
                <label>{t("users.current_password")}<input name="current_password" type="password" autocomplete="current-password" bind:value=current_password/></label>
            </Show>
            <FieldError value field="current_password"/>
            <label>{t("common.phone")}<input type="tel" bind:value=phone/></label>
            <FieldError value field="phone"/>
            <ActionError value/>
            {move || matches!(value.get(), Some(Ok(_))).then(|| view! { <div class="alert alert-ok">{t("common.saved")}</div> })}
            <button class="btn btn-primary" type="submit" disabled=!user.available_actions.edit>{t("common.save")}</button>
        </form>
    }
}

/// Up to 20 role names containing `q` (the role picker).
async fn role_names(q: String) -> Vec<String> {
    let filter = RoleFilter {
        name: Some(q),
        page: PageQuery {
            page: None,
            page_size: Some(20),
        },
    };
    list_roles(filter)
        .await
        .map(|p| p.results.into_iter().map(|r| r.name).collect())
        .unwrap_or_default()
}

#[component]
fn UserRoles(user: User, on_change: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let uid = user.id;
    let pick = RwSignal::new(String::new());
    // A role is chosen by name (suggested as one types), so any number of roles can be picked.
    let change = Action::new(move |(rid, name, add): &(i64, String, bool)| {
        let (rid, name, add) = (*rid, name.clone(), *add);
        async move {
            let rid = if name.trim().is_empty() {
                rid
            } else {
                role_by_name(name.trim().to_string()).await?.id
            };
            let r = change_members(rid, vec![uid], add).await;
            if r.is_ok() {
                on_change();
            }
            r
        }
    });
    let current = user.roles.clone();
    view! {
        <h2>{t("common.roles")}</h2>
        <ul class="chips">
            {current.into_iter().map(|r| {
                let rid = r.id;
                view! { <li class="chip">{r.name.clone()} <button class="chip-x" aria-label=t("common.remove") on:click=move |_| { change.dispatch((rid, String::new(), false)); }>"×"</button></li> }
            }).collect_view()}
        </ul>
        <div class="toolbar">
            <Suggest value=pick name="role-name" list_id="role-options" search=role_names label=Signal::derive(t("users.add_role"))/>
            <button class="btn" on:click=move |_| { if !pick.get().trim().is_empty() { change.dispatch((0, pick.get(), true)); } }>{t("common.add")}</button>
        </div>
        <ActionError value=change.value()/>
    }
}
