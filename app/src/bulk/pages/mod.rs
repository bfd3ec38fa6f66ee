//! Bulk UI: export links and the import panel (file, all-or-nothing, live progress, per-row
//! errors) used on the host and application pages.
use crate::bulk::api::*;
use crate::bulk::types::*;
use crate::common::components::ActionError;
use crate::common::i18n::t;
use crate::error::AppError;
use leptos::prelude::*;

/// Reads the file chosen in the `<input type=file>` with id `input_id` (browser only).
async fn read_chosen_file(input_id: String) -> Result<(String, String), AppError> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let none = || AppError::invalid("csv", "choose a CSV file");
        let input = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(&input_id))
            .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
            .ok_or_else(none)?;
        let file = input.files().and_then(|f| f.get(0)).ok_or_else(none)?;
        let text = wasm_bindgen_futures::JsFuture::from(file.text())
            .await
            .map_err(|_| AppError::invalid("csv", "the file could not be read"))?
            .as_string()
            .unwrap_or_default();
        Ok((file.name(), text))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = input_id;
        Err(AppError::bad_request("files are read in the browser"))
    }
}

/// Export (for the current filter, given as a query string) and import of `kind`.
#[component]
pub fn BulkPanel(
    /// `hosts` or `applications`.
    kind: &'static str,
    /// The list's current filter as a query string (`status=raw&q=web`).
    filter: Signal<String>,
    /// Bumped when an import finished, so the list reloads.
    version: RwSignal<u32>,
) -> impl IntoView {
    let input_id = format!("import-file-{kind}");
    let all_or_nothing = RwSignal::new(false);
    let run = RwSignal::new(None::<ImportRun>);
    // Reading a file is browser-only work (its future is not Send): a local action.
    let start = Action::new_local(move |_: &()| {
        let input_id = format!("import-file-{kind}");
        let aon = all_or_nothing.get_untracked();
        async move {
            let (filename, csv) = read_chosen_file(input_id).await?;
            let input = ImportInput {
                kind: kind.into(),
                csv,
                all_or_nothing: aon,
                filename: Some(filename),
            };
            validate_import(&input)?;
            start_import(input).await
        }
    });
    let started = start.value();
    #[cfg(not(feature = "hydrate"))]
    let _ = version;
    // Follow the import until it finishes.
    Effect::new(move |_| {
        if let Some(Ok(r)) = started.get() {
            run.set(Some(r.clone()));
            #[cfg(feature = "hydrate")]
            leptos::task::spawn_local(async move {
                loop {
                    gloo_sleep(400).await;
                    match get_import(r.id).await {
                        Ok(now) => {
                            let done = now.finished();
                            run.set(Some(now));
                            if done {
                                version.update(|v| *v += 1);
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
            });
        }
    });
    let export_href = move || {
        let base = if kind == "hosts" {
            "/api/hosts/export.csv"
        } else {
            "/api/applications/export.csv"
        };
        let f = filter.get();
        if f.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{f}")
        }
    };
    view! {
        <details class="bulk card" id=format!("bulk-{kind}")>
            <summary>{t("bulk.title")}</summary>
            <p><a class="btn" id=format!("export-{kind}") href=export_href download=format!("{kind}.csv") rel="external">{t("bulk.export")}</a>
               " " <span class="muted">{t("bulk.export_hint")}</span></p>
            <form class="form" on:submit=move |ev| { ev.prevent_default(); run.set(None); start.dispatch(()); }>
                <label>{t("bulk.file")}<input type="file" accept=".csv,text/csv" id=input_id.clone() name="import-file"/></label>
                <label class="check"><input type="checkbox" name="all-or-nothing" prop:checked=move || all_or_nothing.get()
                    on:change=move |ev| all_or_nothing.set(event_target_checked(&ev))/>{t("bulk.all_or_nothing")}</label>
                <ActionError value=started/>
                {move || match started.get() { Some(Err(e)) if e.field.is_some() => Some(view! { <div class="field-error" role="alert">{e.message}</div> }), _ => None }}
                <button class="btn btn-primary" type="submit" id=format!("import-{kind}")>{t("bulk.import")}</button>
            </form>
            {move || run.get().map(|r| view! { <ImportStatus run=r/> })}
        </details>
    }
}

/// An import's progress bar, counts and refused rows.
#[component]
fn ImportStatus(run: ImportRun) -> impl IntoView {
    let pct = if run.total == 0 {
        100
    } else {
        run.processed * 100 / run.total
    };
    let finished = run.finished();
    let errors = run.errors.clone();
    view! {
        <div class="import-status" id="import-status" data-status=run.status.clone() role="status" aria-live="polite">
            <progress max="100" value=pct.to_string()></progress>
            <span>" " {run.processed} " / " {run.total}</span>
            {finished.then(|| view! {
                <p class="import-result">
                    {t("bulk.created")} " " <b class="n-created">{run.created}</b> " · "
                    {t("bulk.updated")} " " <b class="n-updated">{run.updated}</b> " · "
                    {t("bulk.unchanged")} " " <b>{run.unchanged}</b> " · "
                    {t("bulk.refused")} " " <b class="n-refused">{errors.len()}</b>
                </p>
            })}
            {run.message.clone().map(|m| view! { <div class="alert alert-error">{m}</div> })}
            {(!errors.is_empty()).then(|| view! {
                <table class="table" id="import-errors">
                    <thead><tr><th>{t("bulk.line")}</th><th>{t("bulk.field")}</th><th>{t("bulk.problem")}</th></tr></thead>
                    <tbody>{errors.into_iter().map(|e| view! {
                        <tr><td>{e.line}</td><td>{e.field.unwrap_or_default()}</td><td>{e.message}</td></tr>
                    }).collect_view()}</tbody>
                </table>
            })}
        </div>
    }
}

#[cfg(feature = "hydrate")]
async fn gloo_sleep(ms: i32) {
    let p = js_sys_promise(ms);
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

#[cfg(feature = "hydrate")]
fn js_sys_promise(ms: i32) -> web_sys::js_sys::Promise {
    web_sys::js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    })
}
