//! The task page: per-host progress and results, and the output in a terminal-like view with
//! one tab per host, followed while the task runs (the stored output is read after the last
//! chunk shown, every second; API clients follow the WebSocket instead).
use crate::common::components::{refreshing, route_id, ActionError, Loaded};
use crate::common::i18n::t;
use crate::exec::api::*;
use crate::exec::types::*;
use leptos::prelude::*;
use leptos_router::components::A;
use std::time::Duration;

mod ansi;
pub use ansi::ansi_runs;

/// The badge class of a task or target status.
pub fn status_class(s: &str) -> &'static str {
    match s {
        "finished" => "badge ok",
        "failed" => "badge off",
        "running" => "badge info",
        "skipped" => "badge",
        _ => "badge pending",
    }
}

/// A progress bar of done and failed out of total.
#[component]
pub fn ProgressBar(progress: Progress) -> impl IntoView {
    let total = progress.total.max(1) as f64;
    let done = 100.0 * progress.done as f64 / total;
    let failed = 100.0 * progress.failed as f64 / total;
    let label = format!(
        "{} / {} ({} ✗)",
        progress.done + progress.failed,
        progress.total,
        progress.failed
    );
    view! {
        <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax=progress.total
            aria-valuenow=progress.done + progress.failed aria-label=label.clone()>
            <span class="done" style=format!("width:{done:.1}%")></span>
            <span class="failed" style=format!("width:{failed:.1}%")></span>
        </div>
        <span class="muted progress-label">{label}</span>
    }
}

/// Renders output text with its ANSI colours as spans.
fn terminal_text(text: &str) -> impl IntoView {
    ansi_runs(text)
        .into_iter()
        .map(|(class, s)| {
            if class.is_empty() {
                view! { <span>{s}</span> }.into_any()
            } else {
                view! { <span class=class>{s}</span> }.into_any()
            }
        })
        .collect_view()
}

/// `/tasks/:id`.
#[component]
pub fn TaskPage() -> impl IntoView {
    let id = route_id();
    view! {
        <p><A href="/hosts/tasks">{t("task.all")}</A></p>
        <TaskView id=Signal::derive(id)/>
    }
}

/// A task: its per-host progress and its output, followed while it runs (also embedded in a
/// deploy task's page for its sub-tasks).
#[component]
pub fn TaskView(#[prop(into)] id: Signal<i64>) -> impl IntoView {
    let id = move || id.get();
    let tick = RwSignal::new(0u32);
    let version = RwSignal::new(0u32);
    let task = Resource::new(
        move || (id(), tick.get(), version.get()),
        |(id, _, _)| get_task(id),
    );
    // Output read so far, and where the next read starts.
    let chunks = RwSignal::new(Vec::<OutputChunk>::new());
    let cursor = RwSignal::new(0i64);
    // Another task shown in the same place starts from its beginning.
    Effect::new(move |prev: Option<i64>| {
        let now = id();
        if prev.is_some_and(|p| p != now) {
            chunks.set(vec![]);
            cursor.set(0);
        }
        now
    });
    let output = Resource::new(
        move || (id(), tick.get()),
        move |(id, _)| {
            task_output(
                id,
                OutputQuery {
                    after: Some(cursor.get_untracked()),
                    limit: Some(1000),
                    target: None,
                },
            )
        },
    );
    let more = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(p)) = output.get() {
            let last = chunks.with_untracked(|c| c.last().map_or(0, |c| c.id));
            let fresh: Vec<OutputChunk> = p.chunks.into_iter().filter(|c| c.id > last).collect();
            more.set(fresh.len() >= 1000);
            if !fresh.is_empty() {
                chunks.update(|c| c.extend(fresh));
            }
            cursor.set(p.next_after.max(last));
        }
    });
    // While the task runs (or output remains), look again in a second.
    Effect::new(move |_| {
        let running = matches!(task.get(), Some(Ok(t)) if t.status == "running");
        if running || more.get() {
            set_timeout(move || tick.update(|n| *n += 1), Duration::from_secs(1));
        }
    });
    let tab = RwSignal::new(None::<i64>);
    let cancel = refreshing(version, cancel_task);
    let cancelled = cancel.value();
    view! {
        <Loaded res=task render={move |tk: Task| {
            let tid = tk.id;
            let running = tk.status == "running";
            let hosts: Vec<(i64, String)> = tk.results.iter().map(|r| (r.id, r.host.name.clone())).collect();
            let names = StoredValue::new(hosts.clone());
            view! {
                <h1 id="task-title">{t("task.title")} " #" {tid} " · " {tk.kind.clone()}</h1>
                <dl class="facts">
                    <dt>{t("common.status")}</dt><dd><span class=status_class(&tk.status) id="task-status">{tk.status.clone()}</span></dd>
                    <dt>{t("task.creator")}</dt><dd>{tk.creator.clone()}</dd>
                    <dt>{t("task.created")}</dt><dd>{tk.created_time.clone()}</dd>
                    <dt>{t("task.finished")}</dt><dd>{tk.finished_time.clone().unwrap_or_default()}</dd>
                    {tk.error.clone().map(|e| view! { <dt>{t("task.error")}</dt><dd class="err-text">{e}</dd> })}
                </dl>
                <ProgressBar progress=tk.progress.clone()/>
                {(running && !tk.cancel_requested).then(|| view! {
                    <button class="btn btn-danger" id="task-cancel" on:click=move |_| { cancel.dispatch(tid); }>{t("task.cancel")}</button>
                })}
                <table class="table" id="task-targets">
                    <thead><tr><th>{t("task.host")}</th><th>{t("common.status")}</th><th>{t("task.step")}</th><th>{t("task.exit")}</th><th>{t("task.error")}</th><th>{t("task.finished")}</th></tr></thead>
                    <tbody>{tk.results.iter().map(|r| view! {
                        <tr data-target=r.id>
                            <td>{r.host.name.clone()}</td>
                            <td><span class=status_class(&r.status)>{r.status.clone()}</span></td>
                            <td>{format!("{}/{} {}", r.step, r.steps_total, r.step_name)}</td>
                            <td>{r.exit_code.map(|c| c.to_string()).unwrap_or_default()}</td>
                            <td class="err-text">{r.error.clone().map(|e| match r.error_code { Some(c) => format!("[{c}] {e}"), None => e }).unwrap_or_default()}</td>
                            <td>{r.finished_time.clone().unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
                <div class="tabs" role="tablist" id="output-tabs">
                    <button class="tab" role="tab" aria-selected=move || tab.get().is_none().to_string() on:click=move |_| tab.set(None)>{t("common.all")}</button>
                    {hosts.into_iter().map(|(target, name)| view! {
                        <button class="tab" role="tab" aria-selected=move || (tab.get() == Some(target)).to_string() on:click=move |_| tab.set(Some(target))>{name}</button>
                    }).collect_view()}
                </div>
                <pre class="terminal" id="task-output" tabindex="0" aria-live="polite">{move || {
                    let only = tab.get();
                    let mut prev = None;
                    chunks.with(|cs| cs.iter().filter(|c| only.is_none_or(|o| o == c.target_id)).map(|c| {
                        // In the "all" view, a line names the host whenever the host changes.
                        let head = (only.is_none() && prev != Some(c.target_id)).then(|| {
                            let name = names.with_value(|n| n.iter().find(|(i, _)| *i == c.target_id).map(|(_, n)| n.clone()).unwrap_or_default());
                            view! { <span class="host-head">{format!("── {name} ──\n")}</span> }
                        });
                        prev = Some(c.target_id);
                        let class = if c.stream == "system" { "sys" } else if c.stream == "stderr" { "stderr" } else { "" };
                        view! { {head}<span class=class>{terminal_text(&c.data)}</span> }
                    }).collect_view())
                }}</pre>
            }
        }}/>
        <ActionError value=cancelled/>
    }
}
