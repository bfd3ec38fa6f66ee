//! "My SSH keys" (installed by host init on the hosts one may log in to). Pages of SSH access
//! for host managers (credentials, a host's access settings) come with the host pages.
use crate::common::components::{confirm, refreshing, ActionError, FieldError, Loaded};
use crate::common::i18n::t;
use crate::credentials::api::*;
use crate::credentials::types::*;
use leptos::prelude::*;

/// `/account/ssh-keys`.
#[component]
pub fn SshKeysPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let keys = Resource::new(move || version.get(), |_| my_ssh_keys());
    let name = RwSignal::new(String::new());
    let key = RwSignal::new(String::new());
    let add = refreshing(version, add_my_ssh_key);
    let added = add.value();
    Effect::new(move |_| {
        if matches!(added.get(), Some(Ok(_))) {
            name.set(String::new());
            key.set(String::new());
        }
    });
    let remove = refreshing(version, delete_my_ssh_key);
    view! {
        <h1>{t("nav.ssh_keys")}</h1>
        <p class="muted">{t("keys.hint")}</p>
        <form class="form card" id="new-key-form" on:submit=move |ev| {
            ev.prevent_default();
            add.dispatch(UserSshKeyInput { name: name.get(), public_key: key.get() });
        }>
            <label>{t("common.name")}<input name="key-name" required bind:value=name/></label>
            <FieldError value=added field="name"/>
            <label>{t("keys.public")}<textarea name="key-public" rows="3" required bind:value=key placeholder="ssh-ed25519 AAAA… me@laptop"></textarea></label>
            <FieldError value=added field="public_key"/>
            <ActionError value=added/>
            <button class="btn btn-primary" type="submit">{t("keys.add")}</button>
        </form>
        <Loaded res=keys render={move |ks: Vec<UserSshKey>| view! {
            <table class="table" id="ssh-keys">
                <thead><tr><th>{t("common.name")}</th><th>{t("keys.fingerprint")}</th><th>{t("task.created")}</th><th></th></tr></thead>
                <tbody>{ks.into_iter().map(|k| {
                    let (id, label) = (k.id, k.name.clone());
                    view! { <tr data-key=label>
                        <td>{k.name}</td><td class="mono">{k.fingerprint}</td><td>{k.created_at}</td>
                        <td><button class="btn btn-small btn-danger" on:click=move |_| {
                            if confirm(&t("common.confirm_delete")()) { remove.dispatch(id); }
                        }>{t("common.delete")}</button></td>
                    </tr> }
                }).collect_view()}</tbody>
            </table>
        }}/>
    }
}
