//! Host task pages: the lists of start, stop and restart tasks, the power bar of the host list
//! (act on the selected hosts) and the actions of one host.
use crate::common::components::{confirm, ActionError, Loaded, Pager};
use crate::common::i18n::t;
use crate::common::{Page, PageQuery};
use crate::exec::pages::{status_class, ProgressBar};
use crate::exec::types::{Task, TaskStarted};
use crate::hosttasks::api::*;
use crate::hosttasks::types::*;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

const ACTIONS: &[(&str, &str)] = &[
    ("start", "task.start"),
    ("stop", "task.stop"),
    ("restart", "task.restart"),
];

/// Splits a comma-separated list of names.
fn names(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect()
}

/// Opens the task an init started.
fn open_init(r: Option<Result<Task, crate::error::AppError>>) {
    if let Some(Ok(t)) = r {
        let nav = use_navigate();
        nav(&format!("/tasks/{}", t.id), Default::default());
    }
}

/// Opens the task an action started.
fn open_task(r: Option<Result<TaskStarted, crate::error::AppError>>) {
    if let Some(Ok(s)) = r {
        let nav = use_navigate();
        nav(&format!("/tasks/{}", s.task_id), Default::default());
    }
}

/// `/hosts/tasks`: power tasks by action, newest first, with a status filter.
#[component]
pub fn HostTasksPage() -> impl IntoView {
    let action = RwSignal::new("stop".to_string());
    let status = RwSignal::new(String::new());
    let page = RwSignal::new(1u64);
    Effect::new(move |_| {
        action.track();
        status.track();
        page.set(1);
    });
    let tasks = Resource::new(
        move || (action.get(), status.get(), page.get()),
        |(a, s, p)| {
            list_power_tasks(
                a,
                HostTaskFilter {
                    status: (!s.is_empty()).then_some(s),
                    page: PageQuery {
                        page: Some(p),
                        page_size: Some(20),
                    },
                    ..Default::default()
                },
            )
        },
    );
    view! {
        <h1>{t("task.host_tasks")}</h1>
        <div class="tabs" role="tablist" id="task-kinds">
            {ACTIONS.iter().map(|(a, label)| {
                let a = *a;
                view! { <button class="tab" role="tab" aria-selected=move || (action.get() == a).to_string() on:click=move |_| action.set(a.to_string())>{t(label)}</button> }
            }).collect_view()}
        </div>
        <div class="toolbar">
            <select aria-label=t("common.status") on:change=move |ev| status.set(event_target_value(&ev))>
                <option value="">{t("common.status")} ": " {t("common.all")}</option>
                {TASK_STATUSES.iter().map(|s| view! { <option value=*s>{*s}</option> }).collect_view()}
            </select>
        </div>
        <Loaded res=tasks render={move |data: Page<Task>| { let rows = data.results.clone(); view! {
            <table class="table" id="host-tasks">
                <thead><tr><th>"#"</th><th>{t("task.hosts")}</th><th>{t("task.creator")}</th><th>{t("task.created")}</th><th>{t("common.status")}</th><th>{t("task.progress")}</th></tr></thead>
                <tbody>{rows.into_iter().map(|tk| {
                    let hosts = tk.hosts.iter().take(5).map(|h| h.name.clone()).collect::<Vec<_>>().join(", ");
                    let more = tk.hosts.len().saturating_sub(5);
                    view! {
                        <tr>
                            <td><A href=format!("/tasks/{}", tk.id)>{tk.id}</A></td>
                            <td>{hosts}{(more > 0).then(|| format!(" +{more}"))}</td>
                            <td>{tk.creator.clone()}</td>
                            <td>{tk.created_time.clone()}</td>
                            <td><span class=status_class(&tk.status)>{tk.status.clone()}</span></td>
                            <td><ProgressBar progress=tk.progress.clone()/></td>
                        </tr>
                    }
                }).collect_view()}</tbody>
            </table>
            <Pager data=data.clone() page/>
        }}}/>
    }
}

/// The host list's actions on the selected hosts.
#[component]
pub fn PowerBar(selected: RwSignal<Vec<i64>>) -> impl IntoView {
    let force = RwSignal::new(false);
    let act =
        Action::new(|(a, items): &(String, Vec<PowerItem>)| power_hosts(a.clone(), items.clone()));
    let result = act.value();
    Effect::new(move |_| open_task(result.get()));
    let groups = RwSignal::new(String::new());
    let templates = RwSignal::new(String::new());
    let init = Action::new(|i: &InitInput| init_hosts(i.clone()));
    let inited = init.value();
    Effect::new(move |_| open_init(inited.get()));
    view! {
        <Show when=move || !selected.with(|s| s.is_empty())>
            <div class="toolbar power-bar" id="power-bar">
                <span>{t("task.selected")} ": " {move || selected.with(|s| s.len())}</span>
                {ACTIONS.iter().map(|(a, label)| {
                    let a = *a;
                    view! {
                        <button class="btn" id=format!("power-{a}") on:click=move |_| {
                            if !confirm(&format!("{} ({})", t(label)(), selected.with_untracked(|s| s.len()))) { return; }
                            let items = selected.get_untracked().into_iter()
                                .map(|host_id| PowerItem { host_id, force: force.get_untracked() }).collect();
                            act.dispatch((a.to_string(), items));
                        }>{t(label)}</button>
                    }
                }).collect_view()}
                <label class="check"><input type="checkbox" bind:checked=force/>{t("task.force")}</label>
                <input aria-label=t("task.zabbix_groups") placeholder=t("task.zabbix_groups") bind:value=groups/>
                <input aria-label=t("task.zabbix_templates") placeholder=t("task.zabbix_templates") bind:value=templates/>
                <button class="btn" id="power-init" on:click=move |_| {
                    if !confirm(&format!("{} ({})", t("task.init")(), selected.with_untracked(|s| s.len()))) { return; }
                    let hosts = selected.get_untracked().into_iter().map(|id| HostRef { id }).collect();
                    let (g, tp) = (names(&groups.get_untracked()), names(&templates.get_untracked()));
                    init.dispatch(InitInput {
                        hosts,
                        opts: ZabbixOpts { zabbix_groups: Some(g), zabbix_templates: Some(tp) },
                        running_user: None,
                    });
                }>{t("task.init")}</button>
                <A href="/hosts/tasks">{t("task.host_tasks")}</A>
            </div>
        </Show>
        <ActionError value=result/>
        <ActionError value=inited/>
    }
}

/// One host's power and status actions (shown to who may use them).
#[component]
pub fn HostActions(host_id: i64, status: String, may_power: bool, may_edit: bool) -> impl IntoView {
    let power = Action::new(move |a: &String| power_host(host_id, a.clone(), false));
    let powered = power.value();
    Effect::new(move |_| open_task(powered.get()));
    let change = Action::new(move |s: &String| change_host_status(host_id, s.clone()));
    let changed = change.value();
    Effect::new(move |_| {
        if matches!(changed.get(), Some(Ok(_))) {
            crate::common::components::hard_redirect(&format!("/hosts/{host_id}"));
        }
    });
    let groups = RwSignal::new(String::new());
    let templates = RwSignal::new(String::new());
    let zabbix = Action::new(move |o: &ZabbixOpts| change_zabbix_opts(host_id, o.clone()));
    let zabbixed = zabbix.value();
    let moves: Vec<&'static str> = STATUS_MOVES
        .iter()
        .filter(|(f, _)| *f == status)
        .map(|(_, to)| *to)
        .collect();
    view! {
        <div class="toolbar" id="host-actions">
            {may_power.then(|| ACTIONS.iter().map(|(a, label)| {
                let a = *a;
                view! { <button class="btn" id=format!("host-{a}") on:click=move |_| {
                    if confirm(&t(label)()) { power.dispatch(a.to_string()); }
                }>{t(label)}</button> }
            }).collect_view())}
            {may_edit.then(|| view! {
                <select id="host-status-move" aria-label=t("task.change_status") on:change=move |ev| {
                    let to = event_target_value(&ev);
                    if !to.is_empty() { change.dispatch(to); }
                }>
                    <option value="">{t("task.change_status")}</option>
                    {moves.iter().map(|m| view! { <option value=*m>{*m}</option> }).collect_view()}
                </select>
            })}
        </div>
        {may_edit.then(|| view! {
            <form class="form card inline" id="zabbix-form" on:submit=move |ev| {
                ev.prevent_default();
                zabbix.dispatch(ZabbixOpts {
                    zabbix_groups: Some(names(&groups.get())),
                    zabbix_templates: Some(names(&templates.get())),
                });
            }>
                <label>{t("task.zabbix_groups")}<input name="zabbix-groups" bind:value=groups/></label>
                <label>{t("task.zabbix_templates")}<input name="zabbix-templates" bind:value=templates/></label>
                <button class="btn" type="submit">{t("task.zabbix_save")}</button>
                {move || matches!(zabbixed.get(), Some(Ok(_))).then(|| view! { <span class="badge ok">{t("task.saved")}</span> })}
            </form>
        })}
        <ActionError value=powered/>
        <ActionError value=changed/>
        <ActionError value=zabbixed/>
    }
}
