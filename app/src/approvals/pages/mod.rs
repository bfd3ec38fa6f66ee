//! UI pieces shared by every kind of request: the status badge, the decisions, the timeline and
//! the dialog that asks for a reason (reject: required) before it runs an action.
use crate::approvals::types::{validate_reason, Decision, TimelineEvent, STATUSES};
use crate::common::components::ErrorBox;
use crate::common::i18n::t;
use crate::error::AppError;
use leptos::prelude::*;

/// The text key of a request status (the status itself when unknown).
pub fn status_key(status: &str) -> &'static str {
    match status {
        "wait_review" => "status.wait_review",
        "approved" => "status.approved",
        "finished" => "status.finished",
        "rejected" => "status.rejected",
        "closed" => "status.closed",
        _ => "status.unknown",
    }
}

/// The options of a status filter: every status the engine knows.
pub fn status_options() -> &'static [&'static str] {
    STATUSES
}

/// A request's status as a coloured badge (`data-status` carries the raw value for tests).
#[component]
pub fn StatusBadge(#[prop(into)] status: String) -> impl IntoView {
    let class = match status.as_str() {
        "wait_review" => "badge warn",
        "approved" => "badge info",
        "finished" => "badge ok",
        "rejected" => "badge off",
        _ => "badge",
    };
    let key = status_key(&status);
    view! { <span class=class data-status=status.clone()>{t(key)}</span> }
}

/// The text key of a timeline event.
fn event_key(event: &str) -> &'static str {
    match event {
        "filed" => "timeline.filed",
        "edited" => "timeline.edited",
        "approved" => "timeline.approved",
        "rejected" => "timeline.rejected",
        "closed" => "timeline.closed",
        "fulfilment_started" => "timeline.fulfilment_started",
        "fulfilment_failed" => "timeline.fulfilment_failed",
        "fulfilled" => "timeline.fulfilled",
        "finished" => "timeline.finished",
        "cancelled" => "timeline.cancelled",
        "started" => "timeline.started",
        "delegated" => "timeline.delegated",
        "upgrade" => "timeline.upgrade",
        "revert" => "timeline.revert",
        _ => "timeline.other",
    }
}

/// Who decided what, with reasons.
#[component]
pub fn Decisions(decisions: Vec<Decision>) -> impl IntoView {
    if decisions.is_empty() {
        return view! { <p class="muted" id="request-decisions">{t("approvals.no_decisions")}</p> }
            .into_any();
    }
    view! {
        <table class="table" id="request-decisions">
            <thead><tr>
                <th>{t("approvals.approver")}</th><th>{t("approvals.decision")}</th>
                <th>{t("approvals.reason")}</th><th>{t("audit.time")}</th>
            </tr></thead>
            <tbody>{decisions.into_iter().map(|d| {
                let key = if d.decision == "approve" { "approvals.approve" } else { "approvals.reject" };
                view! {
                    <tr data-decision=d.decision.clone()>
                        <td>{d.approver}</td><td>{t(key)}</td><td>{d.reason}</td>
                        <td class="nowrap"><LocalTime time=d.time/></td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
    }
    .into_any()
}

/// The history of a request, oldest first.
#[component]
pub fn Timeline(events: Vec<TimelineEvent>) -> impl IntoView {
    view! {
        <ol class="timeline" id="request-timeline">
            {events.into_iter().map(|e| {
                let key = event_key(&e.event);
                let label = if key == "timeline.other" { Some(e.event.clone()) } else { None };
                let failed = matches!(e.event.as_str(), "fulfilment_failed" | "rejected" | "cancelled");
                view! {
                    <li data-event=e.event.clone() class:bad=failed>
                        <span class="when nowrap"><LocalTime time=e.time/></span>
                        <span class="what">
                            <b>{move || label.clone().unwrap_or_else(|| t(key)().to_string())}</b>
                            " · " <span class="who">{e.actor}</span>
                        </span>
                        {(!e.detail.is_empty()).then(|| view! { <span class="detail">{e.detail}</span> })}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}

/// An RFC 3339 time shown as `YYYY-MM-DD HH:MM` (as the server wrote it; the full value on hover).
#[component]
pub fn LocalTime(#[prop(into)] time: String) -> impl IntoView {
    let short: String = time.replacen('T', " ", 1).chars().take(16).collect();
    view! { <time datetime=time.clone() title=time>{short}</time> }
}

/// A modal dialog that asks for a reason and runs `action` with it. With `required` an empty
/// reason is refused inline before anything is sent; the action's own refusal shows inline
/// too. Escape or Cancel closes it; it closes itself when the action succeeds.
#[component]
pub fn ReasonDialog<T: Clone + Send + Sync + 'static>(
    open: RwSignal<bool>,
    action: Action<String, Result<T, AppError>>,
    /// Text key of the title.
    title: &'static str,
    /// Text key of the confirm button.
    confirm: &'static str,
    required: bool,
    /// `id` of the dialog element.
    id: &'static str,
) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let local: RwSignal<Option<String>> = RwSignal::new(None);
    let shown: RwSignal<Option<AppError>> = RwSignal::new(None);
    let value = action.value();
    Effect::new(move |_| match value.get() {
        Some(Ok(_)) => {
            open.set(false);
            reason.set(String::new());
        }
        Some(Err(e)) => shown.set(Some(e)),
        None => {}
    });
    let area = NodeRef::<leptos::html::Textarea>::new();
    Effect::new(move |_| {
        if open.get() {
            local.set(None);
            shown.set(None);
        }
    });
    // Focus the reason when the dialog appears (keyboard users start typing at once).
    Effect::new(move |_| {
        if let Some(el) = area.get() {
            request_animation_frame(move || {
                let _ = el.focus();
            });
        }
    });
    let title_id = format!("{id}-title");
    view! {
        <Show when=move || open.get()>
            <div class="modal-backdrop" on:click=move |_| open.set(false)></div>
            <div class="modal card" role="dialog" aria-modal="true" aria-labelledby=title_id.clone() id=id
                on:keydown=move |ev| { if ev.key() == "Escape" { ev.prevent_default(); open.set(false); } }>
                <h2 id=title_id.clone()>{t(title)}</h2>
                <form class="form" novalidate=true on:submit=move |ev| {
                    ev.prevent_default();
                    let r = reason.get();
                    match validate_reason(&r, required) {
                        Err(m) => local.set(Some(m)),
                        Ok(()) => { local.set(None); shown.set(None); action.dispatch(r.trim().to_string()); }
                    }
                }>
                    <label>{t("approvals.reason")}
                        <textarea name="reason" rows="4" node_ref=area aria-required=required.to_string()
                            prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
                    </label>
                    {move || {
                        let m = local.get().or_else(|| shown.get().filter(|e| e.field.as_deref() == Some("reason")).map(|e| e.message));
                        m.map(|m| view! { <div class="field-error" role="alert">{m}</div> })
                    }}
                    {move || shown.get().filter(|e| e.field.as_deref() != Some("reason")).map(|e| view! { <ErrorBox error=e/> })}
                    <div class="toolbar">
                        <button class="btn btn-danger" type="submit" disabled=move || action.pending().get()>{t(confirm)}</button>
                        <button class="btn" type="button" on:click=move |_| open.set(false)>{t("common.cancel")}</button>
                    </div>
                </form>
            </div>
        </Show>
    }
}
