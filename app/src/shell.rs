//! The document, the router and the layout around every signed-in page.
use crate::auth::api::{current_user, Logout};
use crate::auth::types::Me;
use crate::common::components::{hard_redirect, ErrorBox};
use crate::common::i18n::{read_cookie, t, text, use_lang, write_cookie, Lang};
use crate::error::AppError;
use crate::perms::types::MODULES;
use leptos::prelude::*;
use leptos_meta::*;
use leptos_router::components::{Outlet, ParentRoute, Redirect, Route, Router, Routes, A};
use leptos_router::path;

/// The HTML document around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The signed-in user, loaded once per page load.
pub type MeResource = Resource<Result<Option<Me>, AppError>>;

/// The application root: language, theme, current user, routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let lang = RwSignal::new(Lang::from_code(
        &read_cookie("opsdeck_lang").unwrap_or_default(),
    ));
    provide_context(lang);
    let dark = RwSignal::new(read_cookie("opsdeck_theme").as_deref() == Some("dark"));
    provide_context(DarkMode(dark));
    let me: MeResource = Resource::new(|| (), |_| current_user());
    provide_context(me);
    view! {
        <Stylesheet id="leptos" href="/pkg/opsdeck.css"/>
        <Title text="Opsdeck"/>
        <Html attr:lang=move || lang.get().code()/>
        <div class="app" class:dark=move || dark.get()>
            <Router>
                <Routes fallback=|| view! { <div class="center-page"><h1>"404"</h1><A href="/">"Opsdeck"</A></div> }>
                    <Route path=path!("/login") view=crate::auth::pages::LoginPage/>
                    <Route path=path!("/forgot-password") view=crate::auth::pages::ForgotPasswordPage/>
                    <Route path=path!("/reset-password") view=crate::auth::pages::ResetPasswordPage/>
                    <ParentRoute path=path!("") view=Layout>
                        <Route path=path!("") view=Dashboard/>
                        <Route path=path!("/m/:module") view=crate::perms::pages::ModuleHome/>
                        <Route path=path!("/productions") view=crate::productions::pages::ProductionsPage/>
                        <Route path=path!("/applications") view=crate::applications::pages::ApplicationsPage/>
                        <Route path=path!("/applications/:id") view=crate::applications::pages::ApplicationDetailPage/>
                        <Route path=path!("/hosts") view=crate::hosts::pages::HostsPage/>
                        <Route path=path!("/hosts/tasks") view=crate::hosttasks::pages::HostTasksPage/>
                        <Route path=path!("/hosts/:id") view=crate::hosts::pages::HostDetailPage/>
                        <Route path=path!("/tasks/:id") view=crate::exec::pages::TaskPage/>
                        <Route path=path!("/deploy/tasks") view=crate::deploy::pages::DeployTasksPage/>
                        <Route path=path!("/deploy/scripts") view=crate::deploy::pages::DeployScriptsPage/>
                        <Route path=path!("/deploy/templates") view=crate::deploy::pages::DeployTemplatesPage/>
                        <Route path=path!("/applications/:id/deploy") view=crate::deploy::pages::DeploySettingsPage/>
                        <Route path=path!("/deploy/tasks/new") view=crate::deploy::pages::NewDeployTaskPage/>
                        <Route path=path!("/deploy/tasks/:id") view=crate::deploy::pages::DeployTaskPage/>
                        <Route path=path!("/requests") view=crate::requests::pages::RequestsPage/>
                        <Route path=path!("/requests/:kind/new") view=crate::requests::pages::NewRequestPage/>
                        <Route path=path!("/requests/:kind/:id/edit") view=crate::requests::pages::EditRequestPage/>
                        <Route path=path!("/requests/:kind/:id") view=crate::requests::pages::RequestDetailPage/>
                        <Route path=path!("/certificates") view=crate::certs::pages::CertificatesPage/>
                        <Route path=path!("/certificates/:id") view=crate::certs::pages::CertificateDetailPage/>
                        <Route path=path!("/dns") view=crate::dns::pages::DnsPage/>
                        <Route path=path!("/dns/:sid") view=crate::dns::pages::DnsServicePage/>
                        <Route path=path!("/dns/:sid/zones/:did") view=crate::dns::pages::DnsZonePage/>
                        <Route path=path!("/admin/users") view=crate::users::pages::UsersPage/>
                        <Route path=path!("/admin/users/:id") view=crate::users::pages::UserDetailPage/>
                        <Route path=path!("/admin/roles") view=crate::roles::pages::RolesPage/>
                        <Route path=path!("/admin/roles/:id") view=crate::roles::pages::RoleDetailPage/>
                        <Route path=path!("/admin/audit") view=crate::audit::pages::AuditPage/>
                        <Route path=path!("/admin/explain") view=crate::perms::pages::ExplainPage/>
                        <Route path=path!("/account/tokens") view=crate::tokens::pages::TokensPage/>
                        <Route path=path!("/account/ssh-keys") view=crate::credentials::pages::SshKeysPage/>
                        <Route path=path!("/account/password") view=crate::auth::pages::ChangePasswordPage/>
                    </ParentRoute>
                </Routes>
            </Router>
        </div>
    }
}

/// The dark-mode switch, in context.
#[derive(Clone, Copy)]
pub struct DarkMode(pub RwSignal<bool>);

/// Language and theme switches (also on the login page).
#[component]
pub fn Switches() -> impl IntoView {
    let lang = use_lang();
    let dark = use_context::<DarkMode>()
        .map(|d| d.0)
        .unwrap_or_else(|| RwSignal::new(false));
    view! {
        <button class="btn btn-ghost" id="lang-switch" on:click=move |_| {
            let next = if lang.get() == Lang::En { Lang::Zh } else { Lang::En };
            write_cookie("opsdeck_lang", next.code());
            lang.set(next);
        }>{move || text(lang.get(), "lang.switch")}</button>
        <button class="btn btn-ghost" title=t("theme.toggle") aria-label=t("theme.toggle") on:click=move |_| {
            let next = !dark.get();
            write_cookie("opsdeck_theme", if next { "dark" } else { "light" });
            dark.set(next);
        }>{move || if dark.get() { "☀" } else { "☾" }}</button>
    }
}

/// Requires a signed-in user; shows the navigation for the modules they may use.
#[component]
fn Layout() -> impl IntoView {
    let me = expect_context::<MeResource>();
    view! {
        <Suspense fallback=|| view! { <div class="center-page muted">"…"</div> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) => view! { <Frame me/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(e) => view! { <div class="center-page"><ErrorBox error=e/></div> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Frame(me: Me) -> impl IntoView {
    provide_context(me.clone());
    provide_context(crate::requests::pages::InboxVersion(RwSignal::new(0)));
    let inbox_badge = crate::requests::pages::approves_any(&me);
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if logout.value().get().is_some() {
            hard_redirect("/login");
        }
    });
    let m = me.modules.clone();
    let modules: Vec<_> = MODULES
        .iter()
        .filter(|d| d.name != "system" && m.module(d.name))
        .collect();
    let sys_users = m.has("system", "view_users") && m.module("system");
    let sys_audit = m.has("system", "view_audit") && m.module("system");
    let name = if me.display_name.is_empty() {
        me.username.clone()
    } else {
        me.display_name.clone()
    };
    view! {
        <div class="layout">
            <nav class="sidebar" aria-label="main">
                <A href="/" attr:class="brand">{t("app.name")}</A>
                <ul>
                    <li><A href="/" exact=true>{t("nav.dashboard")}</A></li>
                    {modules.into_iter().map(|d| {
                        let key = crate::common::i18n::module_key(d.name);
                        let badge = (d.name == "resource_request" && inbox_badge)
                            .then(|| view! { <crate::requests::pages::InboxBadge/> });
                        view! { <li><A href=module_href(d.name) attr:data-module=d.name>{t(key)} {badge}</A></li> }
                    }).collect_view()}
                    <li><A href="/deploy/tasks" attr:id="nav-deploy">{t("nav.deploy")}</A></li>
                    <li><A href="/certificates" attr:id="nav-certificates">{t("nav.certificates")}</A></li>
                </ul>
                {(sys_users || sys_audit).then(|| view! {
                    <div class="nav-group">{t("nav.admin")}</div>
                    <ul>
                        {sys_users.then(|| view! {
                            <li><A href="/admin/users" attr:data-module="system">{t("nav.users")}</A></li>
                            <li><A href="/admin/roles">{t("nav.roles")}</A></li>
                            <li><A href="/admin/explain">{t("nav.explain")}</A></li>
                        })}
                        {sys_audit.then(|| view! { <li><A href="/admin/audit">{t("nav.audit")}</A></li> })}
                    </ul>
                })}
                <div class="nav-group">{t("nav.account")}</div>
                <ul>
                    <li><A href="/account/tokens">{t("nav.tokens")}</A></li>
                    <li><A href="/account/ssh-keys">{t("nav.ssh_keys")}</A></li>
                    <li><A href="/account/password">{t("nav.password")}</A></li>
                    <li><a href="/api-docs.html" rel="external">{t("nav.api")}</a></li>
                </ul>
            </nav>
            <div class="main">
                <header class="topbar">
                    <span class="spacer"></span>
                    <Switches/>
                    <span class="user" id="current-user">{name}</span>
                    <button class="btn" id="logout" on:click=move |_| { logout.dispatch(Logout {}); }>{t("nav.logout")}</button>
                </header>
                <main class="content">
                    <Outlet/>
                </main>
            </div>
        </div>
    }
}

/// Where a module's navigation entry leads: its own page once it has one, else its home.
fn module_href(name: &str) -> String {
    match name {
        "system" => "/admin/users".into(),
        "business" => "/productions".into(),
        "host" => "/hosts".into(),
        "application" => "/applications".into(),
        "resource_request" => "/requests".into(),
        "dns" => "/dns".into(),
        other => format!("/m/{other}"),
    }
}

#[component]
fn Dashboard() -> impl IntoView {
    let me = expect_context::<Me>();
    let m = me.modules.clone();
    let mods: Vec<_> = MODULES.iter().filter(|d| m.module(d.name)).collect();
    let empty = mods.is_empty();
    view! {
        <h1>{t("dash.welcome")} ", " {me.username.clone()}</h1>
        <crate::dashboard::pages::EstateSummary/>
        <h2>{t("dash.modules")}</h2>
        {empty.then(|| view! { <p class="muted">{t("dash.no_modules")}</p> })}
        <div class="cards">
            {mods.into_iter().map(|d| {
                let key = crate::common::i18n::module_key(d.name);
                let href = module_href(d.name);
                view! { <A href=href attr:class="card">{t(key)}</A> }
            }).collect_view()}
        </div>
    }
}
