//! Deploy pages: the task list by status, the form that files a task, and a task's page
//! (approvals, start, instances with upgrade and revert, the sub-tasks' live output, instance
//! logs).
use crate::approvals::pages::{Decisions, LocalTime, ReasonDialog, Timeline};
use crate::common::components::{confirm, ActionError, ErrorBox, FieldError, Loaded, Pager};
use crate::common::i18n::t;
use crate::common::{Page, PageQuery};
use crate::deploy::api::*;
use crate::deploy::types::*;
use crate::error::AppError;
use crate::exec::pages::TaskView;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use std::time::Duration;

mod config;
pub use config::*;

/// The badge of a deploy task status.
#[component]
fn TaskStatus(#[prop(into)] status: String) -> impl IntoView {
    let (class, key) = match status.as_str() {
        "wait_review" => ("badge warn", "status.wait_review"),
        "approved" => ("badge info", "status.approved"),
        "deploying" => ("badge info", "status.deploying"),
        "finished" => ("badge ok", "status.finished"),
        "rejected" => ("badge off", "status.rejected"),
        "closed" => ("badge", "status.closed"),
        _ => ("badge", "status.unknown"),
    };
    view! { <span class=class data-status=status.clone()>{t(key)}</span> }
}

/// `/deploy/tasks`: deploy tasks by status (all, mine, waiting for me), newest first.
#[component]
pub fn DeployTasksPage() -> impl IntoView {
    let status = RwSignal::new(String::new());
    let view_of = RwSignal::new(String::new());
    let page = RwSignal::new(1u64);
    Effect::new(move |_| {
        status.track();
        view_of.track();
        page.set(1);
    });
    let tasks = Resource::new(
        move || (status.get(), view_of.get(), page.get()),
        |(s, v, p)| {
            list_deploy_tasks(DeployTaskFilter {
                status: (!s.is_empty()).then_some(s),
                view: (!v.is_empty()).then_some(v),
                page: PageQuery {
                    page: Some(p),
                    page_size: Some(20),
                },
                ..Default::default()
            })
        },
    );
    let views: [(&str, &'static str); 3] = [
        ("", "common.all"),
        ("mine", "deploy.mine"),
        ("inbox", "deploy.inbox"),
    ];
    view! {
        <h1>{t("deploy.tasks")}</h1>
        <div class="toolbar">
            <A href="/deploy/tasks/new" attr:class="btn btn-primary" attr:id="deploy-new">{t("deploy.new_task")}</A>
            <A href="/deploy/scripts">{t("deploy.scripts")}</A>
            <A href="/deploy/templates">{t("deploy.templates")}</A>
            <select aria-label=t("common.status") id="deploy-status" on:change=move |ev| status.set(event_target_value(&ev))>
                <option value="">{t("common.status")} ": " {t("common.all")}</option>
                {TASK_STATUSES.iter().map(|s| view! { <option value=*s>{*s}</option> }).collect_view()}
            </select>
        </div>
        <div class="tabs" role="tablist" id="deploy-views">
            {views.into_iter().map(|(v, label)| view! {
                <button class="tab" role="tab" aria-selected=move || (view_of.get() == v).to_string()
                    on:click=move |_| view_of.set(v.to_string())>{t(label)}</button>
            }).collect_view()}
        </div>
        <Loaded res=tasks render={move |data: Page<DeployTask>| { let rows = data.results.clone(); view! {
            <table class="table" id="deploy-tasks">
                <thead><tr><th>"#"</th><th>{t("deploy.application")}</th><th>{t("deploy.version")}</th><th>{t("deploy.level")}</th>
                    <th>{t("common.status")}</th><th>{t("deploy.approvals")}</th><th>{t("task.creator")}</th><th>{t("deploy.planned")}</th></tr></thead>
                <tbody>{rows.into_iter().map(|d| view! {
                    <tr>
                        <td><A href=format!("/deploy/tasks/{}", d.id)>{d.id}</A></td>
                        <td>{d.application_name.clone()}</td>
                        <td class="mono">{d.version.clone()}</td>
                        <td>{d.level.clone()}</td>
                        <td><TaskStatus status=d.status.clone()/></td>
                        <td>{d.approvals_count} " / " {d.approvals_needed}</td>
                        <td>{d.creator.clone()}</td>
                        <td><LocalTime time=d.planned_exec_time.clone()/></td>
                    </tr>
                }).collect_view()}</tbody>
            </table>
            <Pager data=data.clone() page/>
        }}}/>
    }
}

/// `/deploy/tasks/new`: files a deploy task (fields pre-checked as the server checks them).
#[component]
pub fn NewDeployTaskPage() -> impl IntoView {
    let app = RwSignal::new(String::new());
    let version = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let level = RwSignal::new("C".to_string());
    let source = RwSignal::new(String::new());
    let planned = RwSignal::new(String::new());
    let checklist = RwSignal::new(String::new());
    let steps = RwSignal::new(String::new());
    let rollback = RwSignal::new(String::new());
    let create = Action::new(|i: &DeployTaskInput| create_deploy_task(i.clone()));
    let shown: RwSignal<Option<Result<TaskCreated, AppError>>> = RwSignal::new(None);
    let value = create.value();
    Effect::new(move |_| {
        if let Some(v) = value.get() {
            if let Ok(c) = &v {
                let nav = use_navigate();
                nav(&format!("/deploy/tasks/{}", c.id), Default::default());
            }
            shown.set(Some(v));
        }
    });
    let apps = Resource::new(
        || (),
        |_| {
            crate::applications::api::list_applications(crate::applications::types::AppFilter {
                page: PageQuery {
                    page: Some(1),
                    page_size: Some(500),
                },
                ..Default::default()
            })
        },
    );
    view! {
        <p class="muted"><A href="/deploy/tasks">{t("deploy.tasks")}</A></p>
        <h1>{t("deploy.new_task")}</h1>
        <form class="form card" id="deploy-form" novalidate=true on:submit=move |ev| {
            ev.prevent_default();
            // The planned time: the local time the browser picked, sent as RFC 3339 (UTC).
            let planned_at = local_to_rfc3339(&planned.get_untracked());
            let input = DeployTaskInput {
                application_id: app.get_untracked().parse().ok(),
                version: Some(version.get_untracked().trim().to_string()),
                description: description.get_untracked(),
                level: level.get_untracked(),
                package_source: source.get_untracked().trim().to_string(),
                planned_exec_time: Some(planned_at),
                upgrade_checklist: checklist.get_untracked(),
                upgrade_steps: steps.get_untracked(),
                rollback_steps: rollback.get_untracked(),
            };
            if input.application_id.is_none() {
                shown.set(Some(Err(AppError::invalid("application_id", t("deploy.pick_app")()))));
                return;
            }
            match check_task_input(&input) {
                Err((f, m)) => shown.set(Some(Err(AppError::invalid(f, m)))),
                Ok(()) => { create.dispatch(input); }
            }
        }>
            <label>{t("deploy.application")}
                <Loaded res=apps render={move |p: Page<crate::applications::types::Application>| view! {
                    <select name="application_id" id="deploy-app" on:change=move |ev| app.set(event_target_value(&ev))>
                        <option value="">"—"</option>
                        {p.results.into_iter().map(|a| view! { <option value=a.id.to_string()>{a.full_name}</option> }).collect_view()}
                    </select>
                }}/>
            </label>
            <FieldError value=shown field="application_id"/>
            <label>{t("deploy.version")}<input name="version" bind:value=version/></label>
            <FieldError value=shown field="version"/>
            <label>{t("deploy.level")}
                <select name="level" on:change=move |ev| level.set(event_target_value(&ev)) prop:value=move || level.get()>
                    {LEVELS.iter().map(|l| view! { <option value=*l>{*l}</option> }).collect_view()}
                </select>
            </label>
            <p class="muted">{t("deploy.level_hint")}</p>
            <FieldError value=shown field="level"/>
            <label>{t("deploy.description")}<textarea name="description" rows="2" prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))></textarea></label>
            <FieldError value=shown field="description"/>
            <label>{t("deploy.source")}<input name="package_source" placeholder="artifact:12 · https://…" bind:value=source/></label>
            <p class="muted">{t("deploy.source_hint")}</p>
            <FieldError value=shown field="package_source"/>
            <label>{t("deploy.planned")}<input type="datetime-local" name="planned_exec_time" bind:value=planned/></label>
            <FieldError value=shown field="planned_exec_time"/>
            <label>{t("deploy.checklist")}<textarea name="upgrade_checklist" rows="3" prop:value=move || checklist.get() on:input=move |ev| checklist.set(event_target_value(&ev))></textarea></label>
            <label>{t("deploy.steps")}<textarea name="upgrade_steps" rows="3" prop:value=move || steps.get() on:input=move |ev| steps.set(event_target_value(&ev))></textarea></label>
            <label>{t("deploy.rollback")}<textarea name="rollback_steps" rows="3" prop:value=move || rollback.get() on:input=move |ev| rollback.set(event_target_value(&ev))></textarea></label>
            <button class="btn btn-primary" type="submit" id="deploy-submit" disabled=move || create.pending().get()>{t("deploy.file")}</button>
            <ActionError value=shown/>
        </form>
    }
}

/// A `datetime-local` value (the browser's local time) as RFC 3339; empty: now.
fn local_to_rfc3339(v: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        if !v.is_empty() {
            let d = web_sys::js_sys::Date::new(&wasm_bindgen::JsValue::from_str(v));
            if !d.get_time().is_nan() {
                return String::from(d.to_iso_string());
            }
        }
        String::from(web_sys::js_sys::Date::new_0().to_iso_string())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        if v.is_empty() {
            "0".into()
        } else {
            format!("{v}:00Z")
        }
    }
}

/// `/deploy/tasks/:id` (the page mails link to).
#[component]
pub fn DeployTaskPage() -> impl IntoView {
    let id = crate::common::components::route_id();
    let version = RwSignal::new(0u32);
    let tick = RwSignal::new(0u32);
    let task = Resource::new(
        move || (id(), version.get(), tick.get()),
        |(id, _, _)| get_deploy_task(id),
    );
    // While a sub-task runs, the instances' states are read again every two seconds.
    Effect::new(move |_| {
        let running =
            matches!(task.get(), Some(Ok(d)) if d.sub_tasks.iter().any(|s| s.status == "running"));
        if running {
            set_timeout(move || tick.update(|n| *n += 1), Duration::from_secs(2));
        }
    });
    let act = Action::new(move |(a, reason): &(String, Option<String>)| {
        deploy_task_action(id(), a.clone(), reason.clone())
    });
    let reject = Action::new(move |reason: &String| {
        deploy_task_action(id(), "reject".into(), Some(reason.clone()))
    });
    for value in [act.value(), reject.value()] {
        Effect::new(move |_| {
            if matches!(value.get(), Some(Ok(_))) {
                version.update(|v| *v += 1);
            }
        });
    }
    let rejecting = RwSignal::new(false);
    let shown_sub = RwSignal::new(None::<i64>);
    // Once the page runs in the browser, the newest sub-task's output is shown.
    Effect::new(move |_| {
        if shown_sub.get_untracked().is_none() {
            if let Some(Ok(d)) = task.get() {
                if let Some(s) = d.sub_tasks.first() {
                    shown_sub.set(Some(s.id));
                }
            }
        }
    });
    view! {
        <p class="muted"><A href="/deploy/tasks">{t("deploy.tasks")}</A></p>
        <Loaded res=task render={move |d: DeployTaskDetail| view! {
            <DeployTaskView d act rejecting version shown_sub/>
        }}/>
        <ActionError value=act.value()/>
        <ReasonDialog open=rejecting action=reject title="approvals.reject_title" confirm="approvals.reject" required=false id="reject-dialog"/>
        {move || shown_sub.get().map(|s| view! {
            <h2 id="sub-task-output">{t("deploy.sub_task")} " #" {s}</h2>
            <TaskView id=Signal::derive(move || shown_sub.get().unwrap_or(s))/>
        })}
    }
}

#[component]
fn DeployTaskView(
    d: DeployTaskDetail,
    act: Action<(String, Option<String>), Result<crate::common::Message, AppError>>,
    rejecting: RwSignal<bool>,
    version: RwSignal<u32>,
    shown_sub: RwSignal<Option<i64>>,
) -> impl IntoView {
    let task = d.task.clone();
    let can = task.available_actions.clone();
    let id = task.id;
    let app_id = task.application_id;
    let run = move |a: &'static str, ask: &'static str| {
        move |_: leptos::ev::MouseEvent| {
            if confirm(t(ask)()) {
                act.dispatch((a.to_string(), None));
            }
        }
    };
    let pending = move || act.pending().get();
    let delegate_to = RwSignal::new(String::new());
    let delegate = Action::new(move |u: &i64| delegate_deploy_task(id, *u));
    let delegated = delegate.value();
    Effect::new(move |_| {
        if matches!(delegated.get(), Some(Ok(_))) {
            version.update(|v| *v += 1);
        }
    });
    view! {
        <h1 id="deploy-title">{t("deploy.task")} " #" {id} " · " {task.application_name.clone()} " " <span class="mono">{task.version.clone()}</span>
            " " <TaskStatus status=task.status.clone()/></h1>
        <div class="toolbar" id="deploy-actions">
            {can.approve.then(|| view! { <button class="btn btn-primary" id="action-approve" disabled=pending on:click=run("approve", "approvals.confirm_approve")>{t("approvals.approve")}</button> })}
            {can.reject.then(|| view! { <button class="btn btn-danger" id="action-reject" disabled=pending on:click=move |_| rejecting.set(true)>{t("approvals.reject")}</button> })}
            {can.start.then(|| view! { <button class="btn btn-primary" id="action-start" disabled=pending on:click=run("start", "deploy.confirm_start")>{t("deploy.start")}</button> })}
            {can.close.then(|| view! { <button class="btn" id="action-close" disabled=pending on:click=run("close", "deploy.confirm_close")>{t("deploy.close")}</button> })}
            {can.delegate.then(|| view! {
                <form class="inline" on:submit=move |ev| {
                    ev.prevent_default();
                    if let Ok(u) = delegate_to.get_untracked().trim().parse::<i64>() { delegate.dispatch(u); }
                }>
                    <input aria-label=t("deploy.delegate_to") placeholder=t("deploy.delegate_to") size="10" prop:value=move || delegate_to.get() on:input=move |ev| delegate_to.set(event_target_value(&ev))/>
                    <button class="btn" type="submit" id="action-delegate">{t("deploy.delegate")}</button>
                </form>
            })}
        </div>
        <ActionError value=delegated/>
        <FieldError value=delegated field="user_id"/>
        <dl class="facts" id="deploy-facts">
            <dt>{t("deploy.level")}</dt><dd>{task.level.clone()}</dd>
            <dt>{t("deploy.approvals")}</dt><dd id="deploy-approvals">{task.approvals_count} " / " {task.approvals_needed}</dd>
            <dt>{t("task.creator")}</dt><dd>{task.creator.clone()}</dd>
            {task.delegate.clone().map(|u| view! { <dt>{t("deploy.delegate")}</dt><dd>{u}</dd> })}
            <dt>{t("deploy.planned")}</dt><dd><LocalTime time=task.planned_exec_time.clone()/></dd>
            <dt>{t("deploy.source")}</dt><dd class="mono">{task.package_source.clone()}</dd>
            <dt>{t("deploy.settings")}</dt><dd><A href=format!("/applications/{app_id}/deploy")>{t("deploy.settings")}</A></dd>
            <dt>{t("deploy.description")}</dt><dd>{task.description.clone()}</dd>
        </dl>
        <details><summary>{t("deploy.checklist")} " · " {t("deploy.steps")} " · " {t("deploy.rollback")}</summary>
            <pre class="mono">{task.upgrade_checklist.clone()}</pre>
            <pre class="mono">{task.upgrade_steps.clone()}</pre>
            <pre class="mono">{task.rollback_steps.clone()}</pre>
        </details>
        <h2>{t("deploy.instances")}</h2>
        <Instances d=d.clone() app_id deploy=can.deploy version shown_sub/>
        <h2>{t("deploy.sub_tasks")}</h2>
        <table class="table" id="deploy-sub-tasks">
            <thead><tr><th>"#"</th><th>{t("deploy.kind")}</th><th>{t("deploy.version")}</th><th>{t("common.status")}</th><th>{t("task.creator")}</th><th>{t("task.created")}</th></tr></thead>
            <tbody>{d.sub_tasks.iter().map(|s| { let sid = s.id; view! {
                <tr>
                    <td><button class="link" on:click=move |_| shown_sub.set(Some(sid))>{sid}</button></td>
                    <td>{if s.kind.ends_with("revert") { t("deploy.revert") } else { t("deploy.upgrade") }}</td>
                    <td class="mono">{s.version.clone()}</td>
                    <td><span class=crate::exec::pages::status_class(&s.status)>{s.status.clone()}</span></td>
                    <td>{s.creator.clone()}</td>
                    <td><LocalTime time=s.created_time.clone()/></td>
                </tr>
            }}).collect_view()}</tbody>
        </table>
        <h2>{t("approvals.decisions")}</h2>
        <Decisions decisions=d.decisions.clone()/>
        <h2>{t("approvals.timeline")}</h2>
        <Timeline events=d.timeline.clone()/>
    }
}

/// The application's instances: select some, upgrade them or revert them to a kept version;
/// read an instance's log.
#[component]
fn Instances(
    d: DeployTaskDetail,
    app_id: i64,
    deploy: bool,
    version: RwSignal<u32>,
    shown_sub: RwSignal<Option<i64>>,
) -> impl IntoView {
    let id = d.task.id;
    let selected = RwSignal::new(Vec::<i64>::new());
    let to_version = RwSignal::new(d.task.version.clone());
    let revert_to = RwSignal::new(String::new());
    let concurrency = RwSignal::new(String::new());
    let sub = Action::new(move |(revert, input): &(bool, SubTaskInput)| {
        start_deploy_sub_task(id, *revert, input.clone())
    });
    let started = sub.value();
    Effect::new(move |_| {
        if let Some(Ok(s)) = started.get() {
            shown_sub.set(s.task_id.parse().ok());
            version.update(|v| *v += 1);
        }
    });
    let log_of = RwSignal::new(None::<i64>);
    let kept: Vec<String> = {
        let mut k: Vec<String> = d.instances.iter().flat_map(|i| i.kept.clone()).collect();
        k.sort();
        k.dedup();
        k.reverse();
        k
    };
    let input = move |v: String| SubTaskInput {
        instances: selected
            .get_untracked()
            .into_iter()
            .map(|id| InstanceRef { id })
            .collect(),
        version: Some(v),
        concurrency: concurrency.get_untracked().trim().parse().ok(),
        ..Default::default()
    };
    view! {
        <table class="table" id="deploy-instances">
            <thead><tr><th></th><th>"#"</th><th>{t("task.host")}</th><th>{t("common.status")}</th><th>{t("deploy.version")}</th><th>{t("deploy.kept")}</th><th></th></tr></thead>
            <tbody>{d.instances.iter().map(|i| { let iid = i.id; view! {
                <tr data-instance=iid>
                    <td><input type="checkbox" aria-label=format!("#{iid}") disabled=!deploy
                        prop:checked=move || selected.with(|s| s.contains(&iid))
                        on:change=move |ev| { let on = event_target_checked(&ev); selected.update(|s| { s.retain(|x| *x != iid); if on { s.push(iid); } }); }/></td>
                    <td>{iid}</td>
                    <td>{i.host_name.clone()}</td>
                    <td><span class="badge" data-status=i.status.clone()>{i.status.clone()}</span></td>
                    <td class="mono instance-version">{i.version.clone()}</td>
                    <td class="mono">{i.kept.join(", ")}</td>
                    <td><button class="btn" on:click=move |_| log_of.set(Some(iid))>{t("deploy.log")}</button></td>
                </tr>
            }}).collect_view()}</tbody>
        </table>
        {deploy.then(|| view! {
            <div class="toolbar" id="deploy-sub-actions">
                <input aria-label=t("deploy.version") class="mono" size="14" prop:value=move || to_version.get() on:input=move |ev| to_version.set(event_target_value(&ev))/>
                <input aria-label=t("deploy.concurrency") placeholder=t("deploy.concurrency") size="6" prop:value=move || concurrency.get() on:input=move |ev| concurrency.set(event_target_value(&ev))/>
                <button class="btn btn-primary" id="action-upgrade" disabled=move || selected.with(|s| s.is_empty()) || sub.pending().get()
                    on:click=move |_| { if confirm(t("deploy.confirm_upgrade")()) { sub.dispatch((false, input(to_version.get_untracked()))); } }>{t("deploy.upgrade")}</button>
                <select aria-label=t("deploy.revert_to") id="revert-version" on:change=move |ev| revert_to.set(event_target_value(&ev))>
                    <option value="">{t("deploy.revert_to")}</option>
                    {kept.iter().map(|v| view! { <option value=v.clone()>{v.clone()}</option> }).collect_view()}
                </select>
                <button class="btn" id="action-revert" disabled=move || selected.with(|s| s.is_empty()) || revert_to.with(|v| v.is_empty()) || sub.pending().get()
                    on:click=move |_| { if confirm(t("deploy.confirm_revert")()) { sub.dispatch((true, input(revert_to.get_untracked()))); } }>{t("deploy.revert")}</button>
            </div>
        })}
        <ActionError value=started/>
        <FieldError value=started field="instances"/>
        <FieldError value=started field="version"/>
        {move || log_of.get().map(|iid| view! { <InstanceLog app_id iid/> })}
    }
}

/// The last lines of an instance's log, read again every two seconds while `follow` is on.
#[component]
fn InstanceLog(app_id: i64, iid: i64) -> impl IntoView {
    let log_type = RwSignal::new("stdout".to_string());
    let follow = RwSignal::new(false);
    let tick = RwSignal::new(0u32);
    let log = Resource::new(
        move || (log_type.get(), tick.get()),
        move |(lt, _)| {
            read_instance_log(
                app_id,
                iid,
                LogQuery {
                    log_type: Some(lt),
                    mode: Some("lines".into()),
                    latest_lines: Some(200),
                    ..Default::default()
                },
            )
        },
    );
    Effect::new(move |_| {
        log.track();
        if follow.get() {
            set_timeout(move || tick.update(|n| *n += 1), Duration::from_secs(2));
        }
    });
    view! {
        <section class="card" id="instance-log">
            <h3>{t("deploy.log")} " · #" {iid}</h3>
            <div class="toolbar">
                <select aria-label=t("deploy.log_type") on:change=move |ev| log_type.set(event_target_value(&ev))>
                    <option value="stdout">"stdout"</option>
                    <option value="error">"error"</option>
                </select>
                <label class="check"><input type="checkbox" id="log-follow" prop:checked=move || follow.get() on:change=move |ev| follow.set(event_target_checked(&ev))/>{t("deploy.follow")}</label>
            </div>
            <Transition fallback=|| view! { <p class="muted">"…"</p> }>
                {move || Suspend::new(async move {
                    match log.await {
                        Ok(c) => view! { <pre class="terminal" id="instance-log-text" tabindex="0">{c.content}</pre> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
