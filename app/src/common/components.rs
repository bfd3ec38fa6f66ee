//! Shared UI components: error boxes, inline field errors, pager, navigation helpers.
use super::i18n::t;
use super::Page;
use crate::error::AppError;
use leptos::prelude::*;

/// A whole-form or whole-page error.
#[component]
pub fn ErrorBox(error: AppError) -> impl IntoView {
    let forbidden = error.code == crate::error::ErrorCode::Forbidden;
    let msg = error.message.clone();
    view! {
        <div class="alert alert-error" role="alert">
            {move || if forbidden { t("error.forbidden")().to_string() } else { msg.clone() }}
        </div>
    }
}

/// The error of the last action result, if any, when it does not belong to a field.
#[component]
pub fn ActionError<T: Clone + Send + Sync + 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    move || match value.get() {
        Some(Err(e)) if e.field.is_none() => Some(view! { <ErrorBox error=e/> }),
        _ => None,
    }
}

/// The message of an error about `field`, shown under that input.
#[component]
pub fn FieldError<T: Clone + Send + Sync + 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Copy + Send + Sync + 'static,
    field: &'static str,
) -> impl IntoView {
    move || match value.get() {
        Some(Err(e)) if e.field.as_deref() == Some(field) => {
            Some(view! { <div class="field-error" role="alert">{e.message}</div> })
        }
        _ => None,
    }
}

/// Previous/next buttons for a page of results; `page` is the 1-based page signal.
#[component]
pub fn Pager<T: Clone + Send + Sync + 'static>(
    data: Page<T>,
    page: RwSignal<u64>,
) -> impl IntoView {
    let has_prev = data.prev.is_some();
    let has_next = data.next.is_some();
    let count = data.count;
    view! {
        <div class="pager">
            <span class="muted">{t("common.total")} " " {count}</span>
            <button class="btn" disabled=!has_prev on:click=move |_| page.update(|p| *p = p.saturating_sub(1).max(1))>
                {t("common.prev")}
            </button>
            <span class="page-no">{move || page.get()}</span>
            <button class="btn" disabled=!has_next on:click=move |_| page.update(|p| *p += 1)>
                {t("common.next")}
            </button>
        </div>
    }
}

/// The `:id` of the current route as a number (0 when it is not one): detail pages key their
/// resources on it.
pub fn route_id() -> impl Fn() -> i64 + Copy + Send + Sync + 'static {
    let params = leptos_router::hooks::use_params_map();
    move || {
        params
            .get()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    }
}

/// Asks the browser to confirm; always true on the server.
pub fn confirm(message: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.confirm_with_message(message).ok())
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = message;
        true
    }
}

/// A full page load to `path` (after login and logout, so every part of the page is fresh).
pub fn hard_redirect(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        if let Some(w) = web_sys::window() {
            let _ = w.location().set_href(path);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// Copies text to the clipboard.
pub fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        if let Some(w) = web_sys::window() {
            let _ = w.navigator().clipboard().write_text(text);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// Shows a loading resource: a loading line, the error, or `render(value)`.
#[component]
pub fn Loaded<T, V, F>(res: Resource<Result<T, AppError>>, render: F) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    V: IntoView + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
{
    view! {
        <Transition fallback=|| view! { <p class="muted">{t("common.loading")}</p> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match res.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(v) => render(v).into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// An action that bumps `version` when it succeeds, so resources keyed on it load again.
pub fn refreshing<I, O, F, Fut>(version: RwSignal<u32>, f: F) -> Action<I, Result<O, AppError>>
where
    I: Clone + Send + Sync + 'static,
    O: Send + Sync + 'static,
    F: Fn(I) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<O, AppError>> + Send + 'static,
{
    Action::new(move |input: &I| {
        let input = input.clone();
        async move {
            let r = f(input).await;
            if r.is_ok() {
                version.update(|v| *v += 1);
            }
            r
        }
    })
}

/// What a create form shows: its own pre-check errors (set directly) or the action's answer.
/// On success `on_ok` runs (clear the fields, close the form).
pub fn form_result<I, T>(
    action: Action<I, Result<T, AppError>>,
    on_ok: impl Fn() + Send + Sync + 'static,
) -> RwSignal<Option<Result<T, AppError>>>
where
    I: Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    let shown = RwSignal::new(None);
    let value = action.value();
    Effect::new(move |_| {
        if let Some(v) = value.get() {
            if v.is_ok() {
                on_ok();
            }
            shown.set(Some(v));
        }
    });
    shown
}

/// A text input that suggests values as one types (a `datalist` filled by `search`): for
/// choosing among more objects than a `select` can hold. The caller resolves the typed name.
#[component]
pub fn Suggest<F, Fut>(
    value: RwSignal<String>,
    name: &'static str,
    list_id: &'static str,
    search: F,
    /// The accessible name (usually the `t(…)` of the field's label).
    #[prop(into)]
    label: Signal<&'static str>,
) -> impl IntoView
where
    F: Fn(String) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = Vec<String>> + Send + 'static,
{
    let options = Resource::new(move || value.get(), search);
    view! {
        <input name=name list=list_id autocomplete="off" aria-label=label bind:value=value/>
        <datalist id=list_id>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    options.await.into_iter().map(|o| view! { <option value=o/> }).collect_view()
                })}
            </Transition>
        </datalist>
    }
}
