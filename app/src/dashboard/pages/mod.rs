//! The dashboard page: counts, and bar charts drawn as SVG on the server (no chart library).
use crate::common::components::Loaded;
use crate::common::i18n::t;
use crate::dashboard::api::dashboard_summary;
use crate::dashboard::types::*;
use leptos::prelude::*;
use leptos_router::components::A;

/// A horizontal bar chart: one labelled bar per bucket, scaled to the largest.
#[component]
pub fn BarChart(
    /// i18n key of the title.
    title: &'static str,
    buckets: Vec<Bucket>,
    /// Where a bar leads (the list filtered to it), if anywhere.
    #[prop(optional)]
    href: Option<fn(&str) -> String>,
) -> impl IntoView {
    const ROW: usize = 26;
    let max = buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let height = (buckets.len() * ROW).max(ROW);
    let id = title.replace('.', "-");
    view! {
        <figure class="chart card" id=id>
            <figcaption>{t(title)}</figcaption>
            {buckets.is_empty().then(|| view! { <p class="muted">{t("dash.none")}</p> })}
            <svg viewBox=format!("0 0 400 {height}") width="100%" role="img" aria-label=t(title)
                preserveAspectRatio="xMinYMin meet">
                {buckets.into_iter().enumerate().map(|(i, b)| {
                    let y = i * ROW;
                    let w = (b.count as f64 / max as f64 * 220.0).max(1.0);
                    let label = if b.key.is_empty() { "—".to_string() } else { b.key.clone() };
                    let bar = view! {
                        <g class="bar" data-key=b.key.clone() data-count=b.count>
                            <title>{format!("{label}: {}", b.count)}</title>
                            <text x="0" y=y + 17 class="bar-label">{label.clone()}</text>
                            <rect x="130" y=y + 5 width=format!("{w:.1}") height="16" rx="2"></rect>
                            <text x=format!("{:.1}", 136.0 + w) y=y + 18 class="bar-value">{b.count}</text>
                        </g>
                    };
                    match href {
                        Some(f) if !b.key.is_empty() => view! { <a href=f(&b.key)>{bar}</a> }.into_any(),
                        _ => bar.into_any(),
                    }
                }).collect_view()}
            </svg>
        </figure>
    }
}

fn hosts_of_type(k: &str) -> String {
    format!("/hosts?host_type={k}")
}
fn hosts_of_status(k: &str) -> String {
    format!("/hosts?status={k}")
}

/// Counts and charts of the estate the user may see.
#[component]
pub fn EstateSummary() -> impl IntoView {
    let summary = Resource::new(|| (), |_| dashboard_summary());
    view! {
        <Loaded res=summary render=|s: Summary| view! {
            <div class="stats" id="dash-stats">
                <A href="/productions" attr:class="stat card"><b>{s.productions}</b><span>{t("module.business")}</span></A>
                <A href="/applications" attr:class="stat card"><b id="stat-apps">{s.applications}</b><span>{t("module.application")}</span></A>
                <A href="/hosts" attr:class="stat card"><b id="stat-hosts">{s.hosts}</b><span>{t("module.host")}</span></A>
                <div class="stat card"><b>{s.instances}</b><span>{t("dash.instances")}</span></div>
            </div>
            <div class="charts">
                <BarChart title="dash.hosts_by_type" buckets=s.hosts_by_type href=hosts_of_type/>
                <BarChart title="dash.hosts_by_status" buckets=s.hosts_by_status href=hosts_of_status/>
                <BarChart title="dash.apps_by_production" buckets=s.apps_by_production/>
            </div>
        }/>
    }
}
