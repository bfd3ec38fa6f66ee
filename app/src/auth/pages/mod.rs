//! Login, forgot/reset password and change password pages.
use crate::auth::api::{ApplyPasswordReset, Login, RequestPasswordReset};
use crate::auth::types::{ForgotPassword, LoginInput, ResetPassword};
use crate::common::components::{hard_redirect, ActionError, FieldError};
use crate::common::i18n::t;
use crate::shell::Switches;
use crate::users::api::ChangeMyPassword;
use crate::users::types::ChangePassword;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

/// The sign-in form.
#[component]
pub fn LoginPage() -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let login = ServerAction::<Login>::new();
    let value = login.value();
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(_))) {
            hard_redirect("/");
        }
    });
    view! {
        <div class="center-page">
            <form class="card login-card" on:submit=move |ev| {
                ev.prevent_default();
                login.dispatch(Login { input: LoginInput { username: username.get(), password: password.get() } });
            }>
                <div class="row-end"><Switches/></div>
                <h1>{t("login.title")}</h1>
                <label>{t("login.username")}
                    <input name="username" id="username" autocomplete="username" required bind:value=username/>
                </label>
                <FieldError value field="username"/>
                <label>{t("login.password")}
                    <input name="password" id="password" type="password" autocomplete="current-password" required bind:value=password/>
                </label>
                <ActionError value/>
                <button class="btn btn-primary" type="submit" id="login-submit" disabled=move || login.pending().get()>{t("login.submit")}</button>
                <A href="/forgot-password">{t("login.forgot")}</A>
            </form>
        </div>
    }
}

/// Asks for a reset link.
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let who = RwSignal::new(String::new());
    let send = ServerAction::<RequestPasswordReset>::new();
    let value = send.value();
    view! {
        <div class="center-page">
            <form class="card login-card" on:submit=move |ev| {
                ev.prevent_default();
                let w = who.get();
                let input = if w.contains('@') { ForgotPassword { email: Some(w), username: None } } else { ForgotPassword { username: Some(w), email: None } };
                send.dispatch(RequestPasswordReset { input });
            }>
                <h1>{t("forgot.title")}</h1>
                <p class="muted">{t("forgot.hint")}</p>
                <label>{t("login.username")} " / " {t("common.email")}<input required bind:value=who/></label>
                <FieldError value field="email"/>
                <ActionError value/>
                {move || matches!(value.get(), Some(Ok(_))).then(|| view! { <div class="alert alert-ok">{t("forgot.sent")}</div> })}
                <button class="btn btn-primary" type="submit">{t("forgot.submit")}</button>
                <A href="/login">{t("login.submit")}</A>
            </form>
        </div>
    }
}

/// Sets a new password from a mailed link (`/reset-password?token=…`).
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let q = use_query_map();
    let pw = RwSignal::new(String::new());
    let reset = ServerAction::<ApplyPasswordReset>::new();
    let value = reset.value();
    view! {
        <div class="center-page">
            <form class="card login-card" on:submit=move |ev| {
                ev.prevent_default();
                let token = q.get_untracked().get("token").unwrap_or_default();
                reset.dispatch(ApplyPasswordReset { input: ResetPassword { token, new_password: pw.get() } });
            }>
                <h1>{t("reset.title")}</h1>
                <label>{t("pw.new")}<input type="password" autocomplete="new-password" required minlength="8" bind:value=pw/></label>
                <FieldError value field="new_password"/>
                <FieldError value field="token"/>
                <ActionError value/>
                {move || matches!(value.get(), Some(Ok(_))).then(|| view! { <div class="alert alert-ok">{t("reset.done")} " " <A href="/login">{t("login.submit")}</A></div> })}
                <button class="btn btn-primary" type="submit">{t("common.save")}</button>
            </form>
        </div>
    }
}

/// Changes the signed-in user's password.
#[component]
pub fn ChangePasswordPage() -> impl IntoView {
    let original = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let change = ServerAction::<ChangeMyPassword>::new();
    let value = change.value();
    view! {
        <h1>{t("nav.password")}</h1>
        <form class="form narrow" on:submit=move |ev| {
            ev.prevent_default();
            change.dispatch(ChangeMyPassword { input: ChangePassword { original_password: original.get(), new_password: new.get() } });
        }>
            <label>{t("pw.original")}<input type="password" autocomplete="current-password" required bind:value=original/></label>
            <FieldError value field="original_password"/>
            <label>{t("pw.new")}<input type="password" autocomplete="new-password" required minlength="8" bind:value=new/></label>
            <FieldError value field="new_password"/>
            <ActionError value/>
            {move || matches!(value.get(), Some(Ok(_))).then(|| view! { <div class="alert alert-ok">{t("pw.changed")}</div> })}
            <button class="btn btn-primary" type="submit">{t("common.save")}</button>
        </form>
    }
}
