//! Applications: the product line → application tree (loaded a level at a time) with search,
//! and the application page (fields, edit, instances, owners, children, dependency picture).
use crate::applications::api::*;
use crate::applications::types::*;
use crate::common::components::{
    confirm, form_result, hard_redirect, refreshing, ActionError, FieldError, Loaded, Pager,
    Suggest,
};
use crate::common::i18n::t;
use crate::common::{IdRef, Page, PageQuery};
use crate::error::AppError;
use crate::hosts::types::{Instance, InstanceOnHost};
use crate::productions::api::{list_productions, production_by_name};
use crate::productions::types::{Production, ProductionFilter};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

/// Up to 20 product-line names containing `q` (the product-line picker).
async fn line_names(q: String) -> Vec<String> {
    let filter = ProductionFilter {
        name: Some(q),
        page: PageQuery {
            page: None,
            page_size: Some(20),
        },
    };
    list_productions(filter)
        .await
        .map(|p| p.results.into_iter().map(|l| l.name).collect())
        .unwrap_or_default()
}

/// The application named `full` (by the service), with its error shown under `field`.
async fn app_named(full: String, field: &str) -> Result<Application, AppError> {
    application_by_name(full).await.map_err(|e| AppError {
        field: e.field.map(|_| field.to_string()),
        ..e
    })
}

/// `/applications`: search, the tree, import/export and the create form.
#[component]
pub fn ApplicationsPage() -> impl IntoView {
    let query = use_query_map();
    let navigate = StoredValue::new(use_navigate());
    let q = move || query.with(|m| m.get("q").unwrap_or_default());
    let version = RwSignal::new(0u32);
    let (lines_page, found_page) = (RwSignal::new(1u64), RwSignal::new(1u64));
    let lines = Resource::new(
        move || (version.get(), lines_page.get()),
        |(_, n)| {
            list_productions(ProductionFilter {
                page: PageQuery {
                    page: Some(n),
                    page_size: Some(UI_PAGE),
                },
                ..Default::default()
            })
        },
    );
    let found = Resource::new(
        move || (q(), version.get(), found_page.get()),
        |(q, _, n)| async move {
            if q.is_empty() {
                return Ok(None);
            }
            list_applications(AppFilter {
                q: Some(q),
                page: PageQuery {
                    page: Some(n),
                    page_size: Some(UI_PAGE),
                },
                ..Default::default()
            })
            .await
            .map(Some)
        },
    );
    let filter = Signal::derive(move || {
        let v = q();
        if v.is_empty() {
            String::new()
        } else {
            format!("q={}", v.replace('&', "%26").replace(' ', "+"))
        }
    });
    view! {
        <h1>{t("module.application")}</h1>
        <NewAppForm version/>
        <div class="toolbar">
            <input type="search" id="app-search" placeholder=t("apps.search") aria-label=t("apps.search")
                prop:value=q on:change=move |ev| {
                    let v = event_target_value(&ev);
                    let url = if v.is_empty() { "/applications".to_string() } else { format!("/applications?q={}", v.replace('&', "%26")) };
                    navigate.with_value(|n| n(&url, Default::default()));
                }/>
        </div>
        <crate::bulk::pages::BulkPanel kind="applications" filter version/>
        <Loaded res=found render={move |r: Option<Page<Application>>| match r {
            Some(p) => view! {
                <table class="table" id="app-results">
                    <thead><tr><th>{t("apps.full_name")}</th><th>{t("apps.type")}</th><th>{t("common.description")}</th></tr></thead>
                    <tbody>{p.results.clone().into_iter().map(|a| view! {
                        <tr><td><A href=format!("/applications/{}", a.id)>{a.full_name}</A></td><td>{a.application_type}</td><td>{a.description}</td></tr>
                    }).collect_view()}</tbody>
                </table>
                <Pager data=p.clone() page=found_page/>
            }.into_any(),
            None => view! {
                <Loaded res=lines render={move |p: Page<Production>| view! {
                    <ul class="tree" id="app-tree">
                        {p.results.clone().into_iter().map(|l| view! { <LineNode id=l.id name=l.name count=l.application_count/> }).collect_view()}
                        <LineNode id=0 name=String::new() count=0/>
                    </ul>
                    {paged(&p).then(|| view! { <Pager data=p.clone() page=lines_page/> })}
                }}/>
            }.into_any(),
        }}/>
    }
}

/// A product line in the tree; its top-level applications load when it opens.
#[component]
fn LineNode(id: i64, name: String, count: u64) -> impl IntoView {
    let open = RwSignal::new(false);
    let page = RwSignal::new(1u64);
    let apps = Resource::new(
        move || (open.get(), page.get()),
        move |(o, n)| async move {
            if !o {
                return Ok(None);
            }
            list_applications(AppFilter {
                production: Some(id),
                has_parent: Some(0),
                page: PageQuery {
                    page: Some(n),
                    page_size: Some(UI_PAGE),
                },
                ..Default::default()
            })
            .await
            .map(Some)
        },
    );
    let label = if id == 0 {
        t("apps.no_line")().to_string()
    } else {
        format!("{name} ({count})")
    };
    view! {
        <li class="tree-line" data-line=name.clone()>
            <details on:toggle=move |_| open.update(|o| *o = !*o)>
                <summary>{label}</summary>
                <AppList apps page/>
            </details>
        </li>
    }
}

/// The applications of one open tree node, a page at a time (with a pager when there are more).
#[component]
fn AppList(
    apps: Resource<Result<Option<Page<Application>>, AppError>>,
    page: RwSignal<u64>,
) -> impl IntoView {
    view! {
        <Loaded res=apps render={move |p: Option<Page<Application>>| view! {
            {p.as_ref().and_then(|p| paged(p).then(|| view! { <Pager data=p.clone() page/> }))}
            <ul class="tree">
                {p.map(|p| p.results.into_iter().map(|a| view! { <AppNode app=a/> }).collect_view())}
            </ul>
        }}/>
    }
}

/// Whether a list has more than one page (then it shows a pager).
fn paged<T>(p: &Page<T>) -> bool {
    p.next.is_some() || p.prev.is_some()
}

/// An application in the tree; its children load when it opens.
#[component]
fn AppNode(app: Application) -> impl IntoView {
    let id = app.id;
    let open = RwSignal::new(false);
    let page = RwSignal::new(1u64);
    let kids = Resource::new(
        move || (open.get(), page.get()),
        move |(o, n)| async move {
            if !o {
                return Ok(None);
            }
            application_children(id, n).await.map(Some)
        },
    );
    let link = view! { <A href=format!("/applications/{id}") attr:data-app=app.full_name.clone()>{app.name.clone()}</A> };
    if app.has_child {
        view! {
            <li data-node=app.full_name.clone()><details on:toggle=move |_| open.update(|o| *o = !*o)>
                <summary>{link}</summary>
                <AppList apps=kids page/>
            </details></li>
        }
        .into_any()
    } else {
        view! { <li class="leaf">{link}</li> }.into_any()
    }
}

#[component]
fn NewAppForm(version: RwSignal<u32>) -> impl IntoView {
    let open = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let parent = RwSignal::new(String::new());
    let line = RwSignal::new(String::new());
    let kind = RwSignal::new("process".to_string());
    let create = refreshing(
        version,
        |(input, parent, line): (AppInput, String, String)| async move {
            let mut input = input;
            if !line.trim().is_empty() {
                input.production =
                    Some(Some(production_by_name(line.trim().to_string()).await?.id));
            }
            if !parent.trim().is_empty() {
                input.parent_app = Some(Some(
                    app_named(parent.trim().to_string(), "parent_app").await?.id,
                ));
            }
            create_application(input).await
        },
    );
    let shown = form_result(create, move || {
        name.set(String::new());
        open.set(false);
    });
    view! {
        <button class="btn btn-primary" id="new-app" on:click=move |_| open.update(|o| *o = !*o)>{t("apps.new")}</button>
        <Show when=move || open.get()>
            <form class="form card" id="new-app-form" on:submit=move |ev| {
                ev.prevent_default();
                let input = AppInput {
                    name: Some(name.get()),
                    application_type: Some(kind.get()),
                    ..Default::default()
                };
                match validate_name(name.get().trim()) {
                    Err(e) => shown.set(Some(Err(e))),
                    Ok(()) => { shown.set(None); create.dispatch((input, parent.get(), line.get())); }
                }
            }>
                <label>{t("common.name")}<input name="app-name" required bind:value=name/></label>
                <FieldError value=shown field="name"/>
                <label>{t("apps.parent")}<input name="app-parent" placeholder="shop.api" bind:value=parent/></label>
                <FieldError value=shown field="parent_app"/>
                <label>{t("module.business")}
                    <Suggest value=line name="app-line" list_id="app-line-options" search=line_names label=Signal::derive(t("module.business"))/>
                </label>
                <FieldError value=shown field="production"/>
                <label>{t("apps.type")}
                    <select name="app-type" on:change=move |ev| kind.set(event_target_value(&ev))>
                        {APP_TYPES.iter().map(|k| view! { <option value=*k>{*k}</option> }).collect_view()}
                    </select>
                </label>
                <ActionError value=shown/>
                <button class="btn btn-primary" type="submit">{t("common.create")}</button>
            </form>
        </Show>
    }
}

/// `/applications/:id`. Every resource is created here, at the top of the page, so the server
/// and the hydrating browser create them in the same order.
#[component]
pub fn ApplicationDetailPage() -> impl IntoView {
    let id = crate::common::components::route_id();
    let version = RwSignal::new(0u32);
    let key = move || (id(), version.get());
    // The lists page (never truncate): one page signal each.
    let (kids_page, inst_page, owners_page) = (
        RwSignal::new(1u64),
        RwSignal::new(1u64),
        RwSignal::new(1u64),
    );
    let app = Resource::new(key, |(id, _)| get_application(id));
    let kids = Resource::new(
        move || (id(), version.get(), kids_page.get()),
        |(id, _, n)| application_children(id, n),
    );
    let instances = Resource::new(
        move || (id(), version.get(), inst_page.get()),
        |(id, _, n)| application_instances(id, n),
    );
    let owners = Resource::new(
        move || (id(), version.get(), owners_page.get()),
        |(id, _, n)| application_owners(id, n),
    );
    let graph = Resource::new(key, |(id, _)| application_graph(id));
    let editable = |a: &Application| {
        a.available_actions
            .get("edit_app")
            .copied()
            .unwrap_or(false)
    };
    let aid = id();
    view! {
        <p class="muted"><A href="/applications">{t("module.application")}</A></p>
        <Loaded res=app render={move |a: Application| view! { <AppHeader a version/> }}/>

        <h2>{t("apps.dependencies")}</h2>
        <Loaded res=graph render={move |g: DepGraph| view! { <DepPicture g/> }}/>
        <Loaded res=app render={move |a: Application| editable(&a).then(|| view! { <AddDependency id=aid version/> })}/>

        <h2>{t("apps.children")}</h2>
        <Loaded res=kids render={move |p: Page<Application>| view! {
            {paged(&p).then(|| view! { <Pager data=p.clone() page=kids_page/> })}
            <ul class="chips" id="app-children">{p.results.into_iter().map(|c| view! {
                <li class="chip"><A href=format!("/applications/{}", c.id)>{c.name}</A></li>
            }).collect_view()}</ul>
        }}/>

        <h2>{t("apps.instances")}</h2>
        <Loaded res=app render={move |a: Application| {
            let can_edit = editable(&a);
            view! {
                <Loaded res=instances render={move |p: Page<Instance>| view! {
                    {paged(&p).then(|| view! { <Pager data=p.clone() page=inst_page/> })}
                    <InstanceTable p id=aid version can_edit/>
                }}/>
                {can_edit.then(|| view! { <AttachInstance id=aid version/> })}
            }
        }}/>

        <h2>{t("apps.owners")}</h2>
        <Loaded res=owners render={move |p: Page<crate::applications::types::Owner>| view! {
            {paged(&p).then(|| view! { <Pager data=p.clone() page=owners_page/> })}
            <ul class="chips" id="app-owners">{p.results.into_iter().map(|o| view! {
                <li class="chip">{o.owner_type} ": " {o.username}</li>
            }).collect_view()}</ul>
        }}/>
    }
}

/// Title, fields, edit form and delete of an application.
#[component]
fn AppHeader(a: Application, version: RwSignal<u32>) -> impl IntoView {
    let id = a.id;
    let can = |p: &str| a.available_actions.get(p).copied().unwrap_or(false);
    let (can_edit, can_delete) = (can("edit_app"), can("delete_app"));
    let remove = Action::new(move |force: &bool| delete_application(id, *force));
    let removed = remove.value();
    Effect::new(move |_| {
        if matches!(removed.get(), Some(Ok(_))) {
            hard_redirect("/applications");
        }
    });
    let refused = move || matches!(removed.get(), Some(Err(ref e)) if e.code == crate::error::ErrorCode::Conflict);
    let facts = [
        ("apps.full_name", a.full_name.clone()),
        ("apps.type", a.application_type.clone()),
        ("common.description", a.description.clone()),
        ("apps.run_user", a.run_user.clone()),
        ("apps.directory", a.directory.clone()),
        ("apps.startup_cmd", a.startup_cmd.clone()),
        ("apps.stop_cmd", a.stop_cmd.clone()),
    ];
    view! {
        <h1 id="app-title">{a.full_name.clone()}</h1>
        <dl class="facts">
            {facts.into_iter().map(|(k, v)| view! { <dt>{t(k)}</dt><dd class="mono">{v}</dd> }).collect_view()}
        </dl>
        <div class="toolbar">
            {can_edit.then(|| view! { <EditAppForm a=a.clone() version/> })}
            {can_delete.then(|| view! {
                <button class="btn btn-danger" id="delete-app" on:click=move |_| {
                    if confirm(&t("common.confirm_delete")()) { remove.dispatch(false); }
                }>{t("common.delete")}</button>
            })}
            <Show when=refused>
                <button class="btn btn-danger" id="force-delete-app" on:click=move |_| {
                    if confirm(&t("apps.confirm_force")()) { remove.dispatch(true); }
                }>{t("apps.force_delete")}</button>
            </Show>
        </div>
        <ActionError value=removed/>
    }
}

#[component]
fn InstanceTable(
    p: Page<Instance>,
    id: i64,
    version: RwSignal<u32>,
    can_edit: bool,
) -> impl IntoView {
    let detach = refreshing(version, move |iid: i64| {
        detach_instances(id, vec![IdRef { id: iid }])
    });
    view! {
        <table class="table" id="app-instances">
            <thead><tr><th>{t("apps.host")}</th><th>{t("common.status")}</th><th>{t("apps.version")}</th><th></th></tr></thead>
            <tbody>{p.results.into_iter().map(|i| {
                let (iid, host, label) = (i.id, i.hostname.clone(), i.hostname);
                view! {
                    <tr data-host=host>
                        <td><A href=format!("/hosts/{}", i.hostid)>{label}</A></td>
                        <td>{i.status}</td><td>{i.version}</td>
                        <td>{can_edit.then(|| view! {
                            <button class="btn" on:click=move |_| { if confirm(&t("apps.confirm_detach")()) { detach.dispatch(iid); } }>{t("apps.detach")}</button>
                        })}</td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
        <ActionError value=detach.value()/>
    }
}

#[component]
fn AttachInstance(id: i64, version: RwSignal<u32>) -> impl IntoView {
    let host = RwSignal::new(String::new());
    let attach = refreshing(version, move |name: String| async move {
        let h = crate::hosts::api::host_by_name(name)
            .await
            .map_err(|e| AppError {
                field: e.field.map(|_| "hostid".to_string()),
                ..e
            })?;
        attach_instances(
            id,
            vec![InstanceOnHost {
                hostid: h.id,
                hostname: None,
            }],
        )
        .await
    });
    let shown = form_result(attach, move || host.set(String::new()));
    view! {
        <form class="form inline" id="attach-instance" on:submit=move |ev| { ev.prevent_default(); attach.dispatch(host.get().trim().to_string()); }>
            <label>{t("apps.attach_on")}<input name="instance-host" required bind:value=host/></label>
            <button class="btn" type="submit">{t("apps.attach")}</button>
            <FieldError value=shown field="hostid"/>
            <ActionError value=shown/>
        </form>
    }
}

#[component]
fn AddDependency(id: i64, version: RwSignal<u32>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let add = refreshing(version, move |full: String| async move {
        let target = app_named(full, "id").await?;
        add_dependency(id, vec![IdRef { id: target.id }]).await
    });
    let shown = form_result(add, move || name.set(String::new()));
    view! {
        <form class="form inline" id="add-dependency" on:submit=move |ev| { ev.prevent_default(); add.dispatch(name.get().trim().to_string()); }>
            <label>{t("apps.depends_on")}<input name="dependency" placeholder="shop.db" required bind:value=name/></label>
            <button class="btn" type="submit">{t("common.add")}</button>
            <FieldError value=shown field="id"/>
            <ActionError value=shown/>
        </form>
    }
}

/// The dependency picture: dependants on the left, the application in the middle, what it
/// depends on to the right; an arrow points from an application to what it needs.
#[component]
fn DepPicture(g: DepGraph) -> impl IntoView {
    const W: i32 = 190;
    const H: i32 = 34;
    let min = g.nodes.iter().map(|n| n.level).min().unwrap_or(0);
    let max = g.nodes.iter().map(|n| n.level).max().unwrap_or(0);
    let mut rows: std::collections::HashMap<i32, i32> = Default::default();
    let mut pos: std::collections::HashMap<i64, (i32, i32)> = Default::default();
    for n in &g.nodes {
        let r = rows.entry(n.level).or_default();
        pos.insert(n.id, ((n.level - min) * W + 4, *r * H + 4));
        *r += 1;
    }
    let height = rows.values().max().copied().unwrap_or(1) * H + 8;
    let width = (max - min + 1) * W + 8;
    let dependants: Vec<GraphNode> = g.nodes.iter().filter(|n| n.level < 0).cloned().collect();
    let lonely = g.nodes.len() <= 1;
    view! {
        {lonely.then(|| view! { <p class="muted">{t("apps.no_dependencies")}</p> })}
        {(!lonely).then(|| view! {
            <div class="graph-wrap">
            <svg class="dep-graph" id="dep-graph" viewBox=format!("0 0 {width} {height}") width=width height=height role="img" aria-label=t("apps.dependencies")>
                <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"></path></marker></defs>
                {g.edges.iter().filter_map(|[a, b]| {
                    let (x1, y1) = pos.get(a)?;
                    let (x2, y2) = pos.get(b)?;
                    let (sx, ex) = if x1 < x2 { (x1 + 160, *x2) } else { (*x1, x2 + 160) };
                    Some(view! { <line x1=sx y1=y1 + 13 x2=ex y2=y2 + 13 marker-end="url(#arrow)"></line> })
                }).collect_view()}
                {g.nodes.iter().map(|n| {
                    let (x, y) = pos[&n.id];
                    let center = n.id == g.center;
                    let label = if n.full_name.is_empty() { format!("#{} ({})", n.id, t("apps.hidden")()) } else { n.full_name.clone() };
                    let short: String = label.chars().take(24).collect();
                    let node = view! {
                        <g class=if center { "node center" } else { "node" } data-app=n.full_name.clone()>
                            <title>{label.clone()}</title>
                            <rect x=x y=y width="160" height="26" rx="4"></rect>
                            <text x=x + 8 y=y + 17>{short}</text>
                        </g>
                    };
                    // The link sits inside a `<g>` so the view macro makes it an SVG `<a>`: alone
                    // it is an HTML `<a>`, which the browser does not draw inside an `<svg>` (nor
                    // its node) when the picture is built in the browser.
                    if n.full_name.is_empty() || center { node.into_any() } else {
                        view! { <g class="node-link"><a href=format!("/applications/{}", n.id)>{node}</a></g> }.into_any()
                    }
                }).collect_view()}
            </svg>
            </div>
        })}
        {g.truncated.then(|| view! { <p class="muted">{t("apps.graph_truncated")}</p> })}
        <h3>{t("apps.what_depends")}</h3>
        {dependants.is_empty().then(|| view! { <p class="muted">{t("apps.nothing_depends")}</p> })}
        <ul id="app-dependants">{dependants.into_iter().map(|n| {
            let steps = -n.level;
            let label = if n.full_name.is_empty() { format!("#{} ({})", n.id, t("apps.hidden")()) } else { n.full_name.clone() };
            view! { <li>{label} <span class="muted">" · " {steps} " " {t("apps.steps")}</span></li> }
        }).collect_view()}</ul>
    }
}

#[component]
fn EditAppForm(a: Application, version: RwSignal<u32>) -> impl IntoView {
    let open = RwSignal::new(false);
    let name = RwSignal::new(a.name.clone());
    let description = RwSignal::new(a.description.clone());
    let kind = RwSignal::new(a.application_type.clone());
    let run_user = RwSignal::new(a.run_user.clone());
    let directory = RwSignal::new(a.directory.clone());
    let startup = RwSignal::new(a.startup_cmd.clone());
    let stop = RwSignal::new(a.stop_cmd.clone());
    let id = a.id;
    let save = refreshing(version, move |input: AppInput| {
        update_application(id, input)
    });
    let shown = form_result(save, move || open.set(false));
    view! {
        <button class="btn" id="edit-app" on:click=move |_| open.update(|o| *o = !*o)>{t("common.edit")}</button>
        <Show when=move || open.get()>
            <form class="form card" id="edit-app-form" on:submit=move |ev| {
                ev.prevent_default();
                let input = AppInput {
                    name: Some(name.get().trim().to_string()),
                    application_type: Some(kind.get()),
                    description: Some(description.get()),
                    run_user: Some(run_user.get()),
                    directory: Some(directory.get()),
                    startup_cmd: Some(startup.get()),
                    stop_cmd: Some(stop.get()),
                    ..Default::default()
                };
                match validate_name(name.get().trim()) {
                    Err(e) => shown.set(Some(Err(e))),
                    Ok(()) => { shown.set(None); save.dispatch(input); }
                }
            }>
                <label>{t("common.name")}<input name="edit-app-name" required bind:value=name/></label>
                <FieldError value=shown field="name"/>
                <label>{t("apps.type")}
                    <select name="edit-app-type" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                        {APP_TYPES.iter().map(|k| view! { <option value=*k>{*k}</option> }).collect_view()}
                    </select>
                </label>
                <label>{t("common.description")}<input name="edit-app-description" bind:value=description/></label>
                <FieldError value=shown field="description"/>
                <Show when=move || kind.get() == "process">
                    <label>{t("apps.run_user")}<input name="edit-app-run-user" bind:value=run_user/></label>
                    <label>{t("apps.directory")}<input name="edit-app-directory" bind:value=directory/></label>
                    <label>{t("apps.startup_cmd")}<input name="edit-app-start" bind:value=startup/></label>
                    <label>{t("apps.stop_cmd")}<input name="edit-app-stop" bind:value=stop/></label>
                </Show>
                <ActionError value=shown/>
                <button class="btn btn-primary" type="submit">{t("common.save")}</button>
            </form>
        </Show>
    }
}
