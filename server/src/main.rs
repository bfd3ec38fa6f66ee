//! `opsdeck [serve|migrate|create-admin|rotate-secrets|bench-seed] [--log-json]`
#![recursion_limit = "512"]
use leptos::prelude::get_configuration;
use tracing_subscriber::EnvFilter;

// mimalloc: per-thread heaps instead of glibc's arenas, for Rust and (feature `override`) for
// the bundled SQLite too. Under load glibc malloc showed up as ~20% of the server's CPU (arena
// locks, consolidation) and kept freed memory; docs/benchmarks.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_env("OPSDECK_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let b = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

fn usage() -> ! {
    eprintln!("usage: opsdeck [serve|migrate|create-admin|rotate-secrets|bench-seed] [--log-json]\n  create-admin reads OPSDECK_ADMIN_USER, OPSDECK_ADMIN_PASSWORD and OPSDECK_ADMIN_EMAIL\n  rotate-secrets re-encrypts stored secrets under OPSDECK_SECRET_KEY (old keys: OPSDECK_SECRET_KEY_OLD)\n  bench-seed fills an empty database for docs/benchmarks.md");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cmd = "serve";
    let mut json = false;
    for a in &args {
        match a.as_str() {
            "--log-json" => json = true,
            "serve" | "migrate" | "create-admin" | "rotate-secrets" | "bench-seed" => cmd = a,
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let mut config = match server::config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration: {e}");
            std::process::exit(2)
        }
    };
    init_tracing(json || config.log_json);
    config.log_json = json || config.log_json;
    let ctx = match app::db::context(config.clone()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            std::process::exit(1)
        }
    };
    match cmd {
        "migrate" => tracing::info!("migrations applied"),
        "rotate-secrets" => match app::crypto::rotate(&ctx, app::crypto::SECRET_COLUMNS).await {
            Ok(n) => tracing::info!(
                values = n,
                columns = app::crypto::SECRET_COLUMNS.len(),
                "stored secrets re-encrypted under the current key"
            ),
            Err(e) => {
                tracing::error!("rotate-secrets: {}", e.message);
                std::process::exit(1)
            }
        },
        "bench-seed" => {
            let n = |k: &str, d: usize| {
                std::env::var(k)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(d)
            };
            let sizes = server::bench::Sizes {
                hosts: n("OPSDECK_BENCH_HOSTS", 100_000),
                apps: n("OPSDECK_BENCH_APPS", 10_000),
                instances: n("OPSDECK_BENCH_INSTANCES", 50_000),
                grants: n("OPSDECK_BENCH_GRANTS", 1_000),
                requests: n("OPSDECK_BENCH_REQUESTS", 0),
                records: n("OPSDECK_BENCH_RECORDS", 0),
                deploy_tasks: n("OPSDECK_BENCH_DEPLOY_TASKS", 0),
                pdns: std::env::var("OPSDECK_BENCH_PDNS_URL")
                    .ok()
                    .zip(std::env::var("OPSDECK_BENCH_PDNS_KEY").ok()),
            };
            let started = std::time::Instant::now();
            match server::bench::seed(&ctx, sizes).await {
                Ok(lines) => {
                    for (k, v) in lines {
                        println!("{k}={v}");
                    }
                    tracing::info!(
                        seconds = started.elapsed().as_secs_f64(),
                        "benchmark estate generated"
                    );
                }
                Err(e) => {
                    tracing::error!("bench-seed: {e}");
                    std::process::exit(1)
                }
            }
        }
        "create-admin" | "serve" => {
            match app::users::service::ensure_admin(&ctx, &config.admin_user, config.admin_password.as_deref()).await {
                Ok(Some(pw)) => println!("Created administrator '{}' with password: {pw}\n(shown once; change it after logging in)", config.admin_user),
                Ok(None) => tracing::info!(user = %config.admin_user, "administrator present"),
                Err(e) => {
                    tracing::error!("create admin: {}", e.message);
                    std::process::exit(1)
                }
            }
            if cmd == "serve" {
                serve(ctx).await;
            }
        }
        _ => usage(),
    }
}

async fn serve(ctx: app::ctx::Ctx) {
    let conf = get_configuration(None).expect("leptos configuration");
    let mut leptos = conf.leptos_options;
    let addr: std::net::SocketAddr = ctx.config.bind.parse().unwrap_or_else(|_| {
        eprintln!("OPSDECK_BIND must be host:port");
        std::process::exit(2)
    });
    leptos.site_addr = addr;
    server::spawn_background(ctx.clone());
    let app = server::app(ctx, leptos);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| {
            eprintln!("cannot listen on {addr}: {e}");
            std::process::exit(1)
        });
    tracing::info!("Opsdeck listening on http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .expect("server");
}
