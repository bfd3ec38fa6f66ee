//! Deploy configuration pages: scripts (`/deploy/scripts`), templates (`/deploy/templates`)
//! and an application's deploy settings with a preview of its hooks rendered for one of its
//! instances (`/applications/:id/deploy`).
use crate::common::components::{confirm, route_id, ActionError, FieldError, Loaded};
use crate::common::i18n::t;
use crate::common::{Page, PageQuery};
use crate::deploy::api::*;
use crate::deploy::types::*;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::components::A;

fn all() -> PageQuery {
    PageQuery {
        page: Some(1),
        page_size: Some(500),
    }
}

/// Every script (the first 500), for the lists and the hook choices.
async fn all_scripts() -> Result<Page<DeployScript>, AppError> {
    list_deploy_scripts(DeployScriptFilter {
        page: all(),
        ..Default::default()
    })
    .await
}

/// `/deploy/scripts`: the scripts hooks run (Jinja templates, checked when saved).
#[component]
pub fn DeployScriptsPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let scripts = Resource::new(move || version.get(), |_| all_scripts());
    let editing = RwSignal::new(None::<i64>);
    let name = RwSignal::new(String::new());
    let language = RwSignal::new("bash".to_string());
    let content = RwSignal::new(String::new());
    let save = Action::new(|(id, i): &(Option<i64>, DeployScriptInput)| {
        save_deploy_script(*id, i.clone())
    });
    let saved = save.value();
    let delete = Action::new(|id: &i64| delete_deploy_script(*id));
    let deleted = delete.value();
    Effect::new(move |_| {
        if let Some(Ok(s)) = saved.get() {
            editing.set(Some(s.id));
            version.update(|v| *v += 1);
        }
    });
    Effect::new(move |_| {
        if matches!(deleted.get(), Some(Ok(_))) {
            editing.set(None);
            name.set(String::new());
            content.set(String::new());
            version.update(|v| *v += 1);
        }
    });
    view! {
        <p class="muted"><A href="/deploy/tasks">{t("deploy.tasks")}</A> " · " <A href="/deploy/templates">{t("deploy.templates")}</A></p>
        <h1>{t("deploy.scripts")}</h1>
        <div class="split">
            <Loaded res=scripts render={move |p: Page<DeployScript>| view! {
                <table class="table" id="deploy-scripts">
                    <thead><tr><th>{t("common.name")}</th><th>{t("deploy.language")}</th><th>{t("task.creator")}</th></tr></thead>
                    <tbody>{p.results.into_iter().map(|s| { let s2 = s.clone(); view! {
                        <tr>
                            <td><button class="link" on:click=move |_| {
                                editing.set(Some(s2.id)); name.set(s2.name.clone());
                                language.set(s2.language.clone()); content.set(s2.content.clone());
                            }>{s.name.clone()}</button></td>
                            <td>{s.language.clone()}</td>
                            <td>{s.creator.clone()}</td>
                        </tr>
                    }}).collect_view()}</tbody>
                </table>
            }}/>
            <form class="form card" id="script-form" novalidate=true on:submit=move |ev| {
                ev.prevent_default();
                save.dispatch((editing.get_untracked(), DeployScriptInput {
                    name: Some(name.get_untracked()),
                    language: Some(language.get_untracked()),
                    content: Some(content.get_untracked()),
                    template_engine: Some("jinja".into()),
                    creator: None,
                }));
            }>
                <h2>{move || if editing.get().is_some() { t("deploy.edit_script")() } else { t("deploy.new_script")() }}</h2>
                <label>{t("common.name")}<input name="name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
                <FieldError value=saved field="name"/>
                <label>{t("deploy.language")}
                    <select name="language" prop:value=move || language.get() on:change=move |ev| language.set(event_target_value(&ev))>
                        {SCRIPT_LANGUAGES.iter().map(|l| view! { <option value=*l>{*l}</option> }).collect_view()}
                    </select>
                </label>
                <FieldError value=saved field="language"/>
                <label>{t("deploy.content")}
                    <textarea name="content" class="mono" rows="14" spellcheck="false" prop:value=move || content.get()
                        on:input=move |ev| content.set(event_target_value(&ev))></textarea>
                </label>
                <p class="muted">{t("deploy.jinja_hint")}</p>
                <FieldError value=saved field="content"/>
                <div class="toolbar">
                    <button class="btn btn-primary" type="submit" id="script-save">{t("common.save")}</button>
                    <button class="btn" type="button" on:click=move |_| { editing.set(None); name.set(String::new()); content.set(String::new()); }>{t("deploy.new_script")}</button>
                    {move || editing.get().map(|id| view! {
                        <button class="btn btn-danger" type="button" on:click=move |_| { if confirm(t("deploy.confirm_delete")()) { delete.dispatch(id); } }>{t("common.delete")}</button>
                    })}
                </div>
                <ActionError value=saved/>
                <ActionError value=deleted/>
            </form>
        </div>
    }
}

/// The fields of a deploy configuration, as a form edits them.
#[derive(Clone, Copy)]
struct ConfigForm {
    repo_type: RwSignal<String>,
    repo_url: RwSignal<String>,
    repo_branch: RwSignal<String>,
    deploy_path: RwSignal<String>,
    user: RwSignal<String>,
    timeout: RwSignal<String>,
    keep: RwSignal<String>,
    hooks_user: RwSignal<String>,
    /// Script ids of global_pre_exec, pre_exec, post_exec, global_post_exec ("" = none).
    hooks: [RwSignal<String>; 4],
}

const HOOK_NAMES: [&str; 4] = [
    "global_pre_exec",
    "pre_exec",
    "post_exec",
    "global_post_exec",
];

impl ConfigForm {
    fn new() -> Self {
        ConfigForm {
            repo_type: RwSignal::new("GIT".into()),
            repo_url: RwSignal::new(String::new()),
            repo_branch: RwSignal::new(String::new()),
            deploy_path: RwSignal::new(String::new()),
            user: RwSignal::new("work".into()),
            timeout: RwSignal::new("120".into()),
            keep: RwSignal::new("5".into()),
            hooks_user: RwSignal::new("work".into()),
            hooks: [
                RwSignal::new(String::new()),
                RwSignal::new(String::new()),
                RwSignal::new(String::new()),
                RwSignal::new(String::new()),
            ],
        }
    }

    fn load(
        &self,
        r: &Repository,
        path: &str,
        user: &str,
        timeout: i32,
        keep: i32,
        h: &LifecycleHooks,
    ) {
        self.repo_type.set(r.kind.clone());
        self.repo_url.set(r.url.clone());
        self.repo_branch.set(r.branch.clone());
        self.deploy_path.set(path.to_string());
        self.user.set(user.to_string());
        self.timeout.set(timeout.to_string());
        self.keep.set(keep.to_string());
        self.hooks_user.set(h.running_user.clone());
        let ids = [
            &h.global_pre_exec,
            &h.pre_exec,
            &h.post_exec,
            &h.global_post_exec,
        ];
        for (s, hook) in self.hooks.iter().zip(ids) {
            s.set(
                hook.as_ref()
                    .map(|x| x.script.id.to_string())
                    .unwrap_or_default(),
            );
        }
    }

    /// The input; hooks only when `with_hooks` (their scripts are the managers' choice).
    fn input(&self, with_hooks: bool) -> DeployConfigInput {
        let hook = |s: RwSignal<String>| {
            Some(s.get_untracked().parse::<i64>().ok().map(|id| HookInput {
                running_user: None,
                script: ScriptRef { id },
            }))
        };
        DeployConfigInput {
            repository: Some(RepositoryInput {
                kind: Some(self.repo_type.get_untracked()),
                url: Some(self.repo_url.get_untracked()),
                branch: Some(self.repo_branch.get_untracked()),
                credential: None,
            }),
            deploy_path: Some(self.deploy_path.get_untracked()),
            script_running_user: Some(self.user.get_untracked()),
            timeout: self.timeout.get_untracked().trim().parse().ok(),
            keep_backups: self.keep.get_untracked().trim().parse().ok(),
            lifecycle_hooks: Some(LifecycleHooksInput {
                running_user: Some(self.hooks_user.get_untracked()),
                global_pre_exec: if with_hooks {
                    hook(self.hooks[0])
                } else {
                    None
                },
                pre_exec: if with_hooks {
                    hook(self.hooks[1])
                } else {
                    None
                },
                post_exec: if with_hooks {
                    hook(self.hooks[2])
                } else {
                    None
                },
                global_post_exec: if with_hooks {
                    hook(self.hooks[3])
                } else {
                    None
                },
            }),
            ..Default::default()
        }
    }
}

/// The configuration's inputs; hook selects list `scripts` (deploy managers), or are shown
/// read-only from `current` when the scripts cannot be listed.
#[component]
fn ConfigFields<T: Clone + Send + Sync + 'static>(
    f: ConfigForm,
    scripts: Option<Vec<DeployScript>>,
    current: LifecycleHooks,
    value: RwSignal<Option<Result<T, AppError>>>,
) -> impl IntoView {
    let names = [
        current.global_pre_exec.clone(),
        current.pre_exec.clone(),
        current.post_exec.clone(),
        current.global_post_exec.clone(),
    ];
    view! {
        <fieldset><legend>{t("deploy.repository")}</legend>
            <select aria-label=t("deploy.repository") prop:value=move || f.repo_type.get() on:change=move |ev| f.repo_type.set(event_target_value(&ev))>
                {REPOSITORY_TYPES.iter().map(|r| view! { <option value=*r>{*r}</option> }).collect_view()}
            </select>
            <input aria-label="URL" placeholder="https://git.example.com/app.git" name="repo_url" prop:value=move || f.repo_url.get() on:input=move |ev| f.repo_url.set(event_target_value(&ev))/>
            <input aria-label=t("deploy.branch") placeholder=t("deploy.branch") name="repo_branch" prop:value=move || f.repo_branch.get() on:input=move |ev| f.repo_branch.set(event_target_value(&ev))/>
        </fieldset>
        <FieldError value field="repository.url"/>
        <label>{t("deploy.deploy_path")}<input name="deploy_path" class="mono" placeholder="/srv/app" prop:value=move || f.deploy_path.get() on:input=move |ev| f.deploy_path.set(event_target_value(&ev))/></label>
        <FieldError value field="deploy_path"/>
        <label>{t("deploy.running_user")}<input name="script_running_user" prop:value=move || f.user.get() on:input=move |ev| f.user.set(event_target_value(&ev))/></label>
        <FieldError value field="script_running_user"/>
        <label>{t("deploy.timeout")}<input name="timeout" type="number" min="1" prop:value=move || f.timeout.get() on:input=move |ev| f.timeout.set(event_target_value(&ev))/></label>
        <FieldError value field="timeout"/>
        <label>{t("deploy.keep_backups")}<input name="keep_backups" type="number" min="1" prop:value=move || f.keep.get() on:input=move |ev| f.keep.set(event_target_value(&ev))/></label>
        <FieldError value field="keep_backups"/>
        <label>{t("deploy.hooks_user")}<input name="hooks_user" prop:value=move || f.hooks_user.get() on:input=move |ev| f.hooks_user.set(event_target_value(&ev))/></label>
        <FieldError value field="lifecycle_hooks.running_user"/>
        {HOOK_NAMES.iter().zip(f.hooks).zip(names).map(|((n, sig), cur)| {
            let n = *n;
            match scripts.clone() {
                Some(list) => view! {
                    <label>{n}
                        <select name=n prop:value=move || sig.get() on:change=move |ev| sig.set(event_target_value(&ev))>
                            <option value="">"—"</option>
                            {list.into_iter().map(|s| view! { <option value=s.id.to_string()>{s.name}</option> }).collect_view()}
                        </select>
                    </label>
                }.into_any(),
                None => view! {
                    <p><span class="muted">{n} ": "</span>{cur.map(|h| h.script.name).unwrap_or_else(|| "—".into())}</p>
                }.into_any(),
            }
        }).collect_view()}
        <FieldError value field="lifecycle_hooks"/>
    }
}

/// `/deploy/templates`: configurations applications link to.
#[component]
pub fn DeployTemplatesPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let templates = Resource::new(
        move || version.get(),
        |_| {
            list_deploy_templates(DeployTemplateFilter {
                page: all(),
                ..Default::default()
            })
        },
    );
    let scripts = Resource::new(|| (), |_| all_scripts());
    let editing = RwSignal::new(None::<i64>);
    let name = RwSignal::new(String::new());
    let apps = RwSignal::new(String::new());
    let f = ConfigForm::new();
    let current = RwSignal::new(LifecycleHooks::default());
    let save = Action::new(|(id, i): &(Option<i64>, DeployConfigInput)| {
        save_deploy_template(*id, i.clone())
    });
    let shown: RwSignal<Option<Result<DeployTemplate, AppError>>> = RwSignal::new(None);
    let saved = save.value();
    Effect::new(move |_| {
        if let Some(v) = saved.get() {
            if let Ok(tpl) = &v {
                editing.set(Some(tpl.id));
                version.update(|n| *n += 1);
            }
            shown.set(Some(v));
        }
    });
    let delete = Action::new(|id: &i64| delete_deploy_template(*id));
    let deleted = delete.value();
    Effect::new(move |_| {
        if matches!(deleted.get(), Some(Ok(_))) {
            editing.set(None);
            version.update(|n| *n += 1);
        }
    });
    view! {
        <p class="muted"><A href="/deploy/tasks">{t("deploy.tasks")}</A> " · " <A href="/deploy/scripts">{t("deploy.scripts")}</A></p>
        <h1>{t("deploy.templates")}</h1>
        <Loaded res=templates render={move |p: Page<DeployTemplate>| view! {
            <table class="table" id="deploy-templates">
                <thead><tr><th>{t("common.name")}</th><th>{t("deploy.deploy_path")}</th><th>{t("deploy.running_user")}</th><th>{t("deploy.applications")}</th></tr></thead>
                <tbody>{p.results.into_iter().map(|x| { let x2 = x.clone(); view! {
                    <tr>
                        <td><button class="link" on:click=move |_| {
                            editing.set(Some(x2.id)); name.set(x2.name.clone());
                            apps.set(x2.applications.iter().map(|a| a.id.to_string()).collect::<Vec<_>>().join(", "));
                            f.load(&x2.repository, &x2.deploy_path, &x2.script_running_user, x2.timeout, x2.keep_backups, &x2.lifecycle_hooks);
                            current.set(x2.lifecycle_hooks.clone());
                        }>{x.name.clone()}</button></td>
                        <td class="mono">{x.deploy_path.clone()}</td>
                        <td>{x.script_running_user.clone()}</td>
                        <td>{x.applications.len()}</td>
                    </tr>
                }}).collect_view()}</tbody>
            </table>
        }}/>
        <form class="form card" id="template-form" novalidate=true on:submit=move |ev| {
            ev.prevent_default();
            let mut i = f.input(true);
            i.name = Some(name.get_untracked());
            i.applications = Some(apps.get_untracked().split(',').filter_map(|s| s.trim().parse().ok()).map(|id| AppRef { id }).collect());
            save.dispatch((editing.get_untracked(), i));
        }>
            <h2>{move || if editing.get().is_some() { t("deploy.edit_template")() } else { t("deploy.new_template")() }}</h2>
            <label>{t("common.name")}<input name="name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
            <FieldError value=shown field="name"/>
            <label>{t("deploy.applications")}<input name="applications" placeholder="12, 15" prop:value=move || apps.get() on:input=move |ev| apps.set(event_target_value(&ev))/></label>
            <FieldError value=shown field="applications"/>
            <Loaded res=scripts render={move |p: Page<DeployScript>| view! {
                {move || view! { <ConfigFields f scripts=Some(p.results.clone()) current=current.get() value=shown/> }}
            }}/>
            <div class="toolbar">
                <button class="btn btn-primary" type="submit" id="template-save">{t("common.save")}</button>
                {move || editing.get().map(|id| view! {
                    <button class="btn btn-danger" type="button" on:click=move |_| { if confirm(t("deploy.confirm_delete")()) { delete.dispatch(id); } }>{t("common.delete")}</button>
                })}
            </div>
            <ActionError value=shown/>
            <ActionError value=deleted/>
        </form>
    }
}

/// `/applications/:id/deploy`: an application's deploy settings and a preview of its hooks.
#[component]
pub fn DeploySettingsPage() -> impl IntoView {
    let app = route_id();
    let settings = Resource::new(app, get_deploy_settings);
    // Only deploy managers may list scripts; others see the hooks as they are.
    let scripts = Resource::new(
        || (),
        |_| async { Ok::<_, AppError>(all_scripts().await.ok().map(|p| p.results)) },
    );
    let instances = Resource::new(app, |a| {
        crate::applications::api::application_instances(a, 1)
    });
    let f = ConfigForm::new();
    let enabled = RwSignal::new(false);
    let hooks = RwSignal::new(LifecycleHooks::default());
    // The preview's choices live as long as the page (its part is drawn again after a save).
    let pick = PreviewPick {
        script: RwSignal::new(String::new()),
        instance: RwSignal::new(String::new()),
        version: RwSignal::new(String::new()),
        run: Action::new(move |i: &PreviewInput| preview_deploy_script(app(), i.clone())),
    };
    let save = Action::new(move |i: &DeployConfigInput| {
        let mut i = i.clone();
        i.enabled = Some(enabled.get_untracked());
        update_deploy_settings(app(), i)
    });
    let shown: RwSignal<Option<Result<DeploySettings, AppError>>> = RwSignal::new(None);
    let saved = save.value();
    Effect::new(move |_| {
        if let Some(v) = saved.get() {
            // The form stays; it shows what was stored.
            if let Ok(s) = &v {
                f.load(
                    &s.repository,
                    &s.deploy_path,
                    &s.script_running_user,
                    s.timeout,
                    s.keep_backups,
                    &s.lifecycle_hooks,
                );
                enabled.set(s.enabled);
                hooks.set(s.lifecycle_hooks.clone());
            }
            shown.set(Some(v));
        }
    });
    view! {
        <p class="muted"><A href=move || format!("/applications/{}", app())>{t("deploy.application")}</A> " · " <A href="/deploy/tasks">{t("deploy.tasks")}</A></p>
        <h1>{t("deploy.settings")}</h1>
        <Loaded res=settings render={move |s: DeploySettings| {
            f.load(&s.repository, &s.deploy_path, &s.script_running_user, s.timeout, s.keep_backups, &s.lifecycle_hooks);
            enabled.set(s.enabled);
            hooks.set(s.lifecycle_hooks.clone());
            let current = s.lifecycle_hooks.clone();
            let linked = s.template.clone();
            view! {
                {linked.map(|tpl| view! { <div class="alert alert-warn" role="status" id="settings-linked">{t("deploy.linked")} " " <strong>{tpl.name}</strong></div> })}
                <form class="form card" id="settings-form" novalidate=true on:submit=move |ev| {
                    ev.prevent_default();
                    let hooks = scripts.get().and_then(|r| r.ok()).flatten().is_some();
                    save.dispatch(f.input(hooks));
                }>
                    <label class="check"><input type="checkbox" name="enabled" prop:checked=move || enabled.get() on:change=move |ev| enabled.set(event_target_checked(&ev))/>{t("deploy.enabled")}</label>
                    <Loaded res=scripts render={move |list: Option<Vec<DeployScript>>| view! {
                        <ConfigFields f scripts=list current=current.clone() value=shown/>
                    }}/>
                    <button class="btn btn-primary" type="submit" id="settings-save">{t("common.save")}</button>
                    <ActionError value=shown/>
                </form>
                <Preview hooks instances pick/>
            }
        }}/>
    }
}

/// What the preview renders: a hook's script, an instance, a version.
#[derive(Clone, Copy)]
struct PreviewPick {
    script: RwSignal<String>,
    instance: RwSignal<String>,
    version: RwSignal<String>,
    run: Action<PreviewInput, Result<Rendered, AppError>>,
}

/// One of the application's hooks rendered for one of its instances.
#[component]
fn Preview(
    hooks: RwSignal<LifecycleHooks>,
    instances: Resource<Result<Page<crate::hosts::types::Instance>, AppError>>,
    pick: PreviewPick,
) -> impl IntoView {
    let PreviewPick {
        script,
        instance,
        version,
        run: preview,
    } = pick;
    let list = move || -> Vec<(String, HookScript)> {
        let h = hooks.get();
        [
            ("global_pre_exec", h.global_pre_exec),
            ("pre_exec", h.pre_exec),
            ("post_exec", h.post_exec),
            ("global_post_exec", h.global_post_exec),
        ]
        .into_iter()
        .filter_map(|(n, h)| h.map(|h| (n.to_string(), h.script)))
        .collect()
    };
    Effect::new(move |_| {
        let l = list();
        if !l
            .iter()
            .any(|(_, s)| s.id.to_string() == script.get_untracked())
        {
            script.set(l.first().map(|(_, s)| s.id.to_string()).unwrap_or_default());
        }
    });
    let rendered = preview.value();
    view! {
        <section class="card" id="hook-preview">
            <h2>{t("deploy.preview")}</h2>
            <p class="muted" style:display=move || if list().is_empty() { "" } else { "none" }>{t("deploy.no_hooks")}</p>
            {
                view! {
                    <form class="form inline" style:display=move || if list().is_empty() { "none" } else { "" } on:submit=move |ev| {
                        ev.prevent_default();
                        if let (Ok(s), Ok(i)) = (script.get_untracked().parse(), instance.get_untracked().parse()) {
                            let v = version.get_untracked();
                            preview.dispatch(PreviewInput { script_id: Some(s), content: None, instance_id: i,
                                version: (!v.trim().is_empty()).then_some(v) });
                        }
                    }>
                        <select aria-label=t("deploy.hook") prop:value=move || script.get() on:change=move |ev| script.set(event_target_value(&ev))>
                            {move || list().into_iter().map(|(n, s)| view! { <option value=s.id.to_string()>{format!("{n}: {}", s.name)}</option> }).collect_view()}
                        </select>
                        <Loaded res=instances render={move |p: Page<crate::hosts::types::Instance>| {
                            if let Some(first) = p.results.first() { instance.set(first.id.to_string()); }
                            view! {
                                <select aria-label=t("deploy.instances") id="preview-instance" on:change=move |ev| instance.set(event_target_value(&ev))>
                                    {p.results.into_iter().map(|i| view! { <option value=i.id.to_string()>{format!("#{} {}", i.id, i.hostname)}</option> }).collect_view()}
                                </select>
                            }
                        }}/>
                        <input aria-label=t("deploy.version") placeholder=t("deploy.version") size="12" prop:value=move || version.get() on:input=move |ev| version.set(event_target_value(&ev))/>
                        <button class="btn" type="submit" id="preview-run">{t("deploy.preview")}</button>
                    </form>
                }
            }
            {move || match rendered.get() {
                Some(Ok(r)) => Some(view! { <pre class="terminal" id="preview-output">{r.content}</pre> }.into_any()),
                Some(Err(e)) => Some(view! { <crate::common::components::ErrorBox error=e/> }.into_any()),
                None => None,
            }}
        </section>
    }
}
