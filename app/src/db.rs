//! Opening the database, migrating it, and building the service context.
use crate::ctx::{Config, Ctx};
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use std::sync::Arc;

/// Connects to `url` (SQLite or PostgreSQL) with the default settings.
pub async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let d = Config::default();
    connect_with(url, d.db_pool, d.sqlite_mmap_mb, d.sqlite_cache_mb).await
}

/// Connects to `url` with `pool` connections. Every SQLite connection gets WAL, foreign keys, a
/// busy timeout, `cache_mb` of page cache and `mmap_mb` of memory-mapped reads.
pub async fn connect_with(
    url: &str,
    pool: Option<u32>,
    mmap_mb: u64,
    cache_mb: u64,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    open(url, pool, mmap_mb, cache_mb, None).await
}

/// `connect_with`, naming PostgreSQL connections `app_name` (`application_name`).
async fn open(
    url: &str,
    pool: Option<u32>,
    mmap_mb: u64,
    cache_mb: u64,
    app_name: Option<String>,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let file = path.split('?').next().unwrap_or("");
        if let Some(dir) = std::path::Path::new(file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            let _ = std::fs::create_dir_all(dir);
        }
    }
    let mut opts = ConnectOptions::new(url.to_string());
    let sqlite = url.starts_with("sqlite:");
    // SQLite: a few connections (each is a worker thread; more only add switching).
    // PostgreSQL: two per core. With 16 on two cores, server, backends and clients fought for
    // the CPU and the benchmark's p99 went from ~50 ms to 500+ ms in bursts.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
    opts.max_connections(pool.unwrap_or(if sqlite { 4 } else { (2 * cores).max(4) }))
        .min_connections(1)
        // A SQLite "ping" is a round trip to the connection's worker thread before every query,
        // and there is no network to test; PostgreSQL keeps it (connections can go stale).
        .test_before_acquire(!sqlite)
        .sqlx_logging(false)
        .connect_timeout(std::time::Duration::from_secs(10));
    if sqlite {
        // Set on every pooled connection, not just the first. mmap makes a page read a memory
        // access instead of a syscall, but its pages count in the process's RSS.
        opts.map_sqlx_sqlite_opts(move |o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(std::time::Duration::from_secs(15))
                .synchronous(SqliteSynchronous::Normal)
                .pragma("mmap_size", (mmap_mb << 20).to_string())
                .pragma("cache_size", format!("-{}", cache_mb * 1024))
                .row_buffer_size(1024)
        });
    }
    if let (false, Some(name)) = (sqlite, app_name) {
        opts.map_sqlx_postgres_opts(move |o| o.application_name(&name));
    }
    let db = Database::connect(opts).await?;
    Ok(db)
}

/// Begins a write transaction. On SQLite it takes the write lock at `BEGIN` (`IMMEDIATE`): a
/// deferred transaction that reads and then writes cannot wait for the lock (SQLite answers
/// "database is locked" at once, since waiting could deadlock), while `BEGIN IMMEDIATE` waits
/// through the busy timeout, so concurrent writers queue. Every service mutation starts here.
/// On PostgreSQL it is a plain `BEGIN`.
pub async fn begin<C: sea_orm::TransactionTrait>(db: &C) -> Result<C::Transaction, sea_orm::DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Serializes the writers of the permission-relevant structure (the application tree, product
/// lines of applications, dependencies, role memberships and grants) for the rest of `txn`:
/// a PostgreSQL transaction-scoped advisory lock. On SQLite the `BEGIN IMMEDIATE` of `begin`
/// already excludes every other writer. Checks that read the structure (cycles, "may hand
/// out") run after this call, inside the same transaction, so they see what they guard.
pub async fn lock_structure<C: ConnectionTrait>(txn: &C) -> Result<(), sea_orm::DbErr> {
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7305202601)")
            .await?;
    }
    Ok(())
}

/// Applies pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    Migrator::up(db, None).await
}

/// Connects, migrates and loads the permission policy: everything a running Opsdeck needs.
pub async fn context(config: Config) -> Result<Ctx, String> {
    let instance = format!("opsdeck-{}", crate::security::random_token(8));
    let db = open(
        &config.database_url,
        config.db_pool,
        config.sqlite_mmap_mb,
        config.sqlite_cache_mb,
        Some(instance.clone()),
    )
    .await
    .map_err(|e| format!("database: {e}"))?;
    migrate(&db).await.map_err(|e| format!("migrations: {e}"))?;
    let enforcer = crate::perms::casbin::enforcer(&db)
        .await
        .map_err(|e| format!("casbin: {e}"))?;
    Ok(Ctx {
        db,
        enforcer: Arc::new(tokio::sync::RwLock::new(enforcer)),
        config: Arc::new(config),
        jobs_notify: Arc::new(tokio::sync::Notify::new()),
        progress: Default::default(),
        visible: Default::default(),
        tokens: Default::default(),
        names: Default::default(),
        instance: instance.into(),
        structure: Default::default(),
        hub: Default::default(),
    })
}

/// Refreshes the query planner's statistics. SQLite plans the permission joins well only with
/// statistics, so this runs after bulk loads (benchmark data, imports). On PostgreSQL it also
/// vacuums, which marks the loaded pages all-visible so index-only scans (the narrow name
/// indexes) work at once instead of after autovacuum's next pass.
pub async fn analyze(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    let sql = if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        "ANALYZE"
    } else {
        "VACUUM ANALYZE"
    };
    db.execute_unprepared(sql).await.map(|_| ())
}

/// SQLite's own upkeep: `PRAGMA optimize` (re-analyzes tables whose statistics went stale).
/// Nothing to do for PostgreSQL.
pub async fn optimize(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA optimize=0x10002").await?;
    }
    Ok(())
}

/// What a list knows about its size before counting.
#[derive(Clone, Debug)]
pub enum Known {
    /// Every row of this table (its `row_counts` entry, kept by triggers).
    Table(&'static str),
    /// Exactly this many rows (a permission set of existing ids, and no other filter).
    Rows(u64),
    /// As many rows as this subquery yields ids (distinct ids of existing rows).
    Ids(sea_orm::sea_query::SelectStatement),
    /// Nothing: `COUNT(*)`.
    Unknown,
}

/// Whether a list filter filters nothing: every field is absent or blank, apart from paging,
/// ordering and the named `except` fields. Read from the serialized filter, so a field added to
/// a filter type later counts as a filter without anyone remembering to list it here.
pub fn no_filter<F: serde::Serialize>(f: &F, except: &[&str]) -> bool {
    const NOT_FILTERS: &[&str] = &["page", "page_size", "ordering"];
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(f) else {
        return false;
    };
    fields.iter().all(|(k, v)| {
        NOT_FILTERS.contains(&k.as_str())
            || except.contains(&k.as_str())
            || v.is_null()
            || v.as_str().is_some_and(|s| s.trim().is_empty())
    })
}

/// How many rows a filtered list has: known without a scan where possible (an exact `COUNT(*)`
/// of every host scans 100k index entries on PostgreSQL on every page), else `COUNT(*)`.
pub async fn count_of<E: sea_orm::EntityTrait>(
    db: &DatabaseConnection,
    q: sea_orm::Select<E>,
    known: Known,
) -> crate::error::AppResult<u64>
where
    E::Model: Sync,
{
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    use sea_orm::PaginatorTrait;
    let n = Alias::new("n");
    let stmt = match known {
        Known::Rows(n) => return Ok(n),
        Known::Unknown => return Ok(q.count(db).await?),
        Known::Table(table) => Query::select()
            .column(n.clone())
            .from(Alias::new("row_counts"))
            .and_where(Expr::col(Alias::new("name")).eq(table))
            .to_owned(),
        Known::Ids(ids) => Query::select()
            .expr_as(Expr::cust("COUNT(*)"), n)
            .from_subquery(ids, Alias::new("x"))
            .to_owned(),
    };
    match db
        .query_one_raw(db.get_database_backend().build(&stmt))
        .await?
    {
        Some(row) => Ok(u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0)),
        None => Ok(q.count(db).await?),
    }
}

/// Rows of `table` whose `column` contains `v`, ignoring case: through the trigram index (SQLite:
/// the FTS5 table `<table>_fts` over that column, from 3 characters on; PostgreSQL: `pg_trgm`
/// with `ILIKE`), else a scan. `v` is data, never query syntax.
pub fn contains_text(backend: sea_orm::DbBackend, table: &str, column: &str, v: &str) -> Expr {
    if backend == sea_orm::DbBackend::Sqlite && v.chars().count() >= 3 {
        // A quoted FTS5 phrase matches as a substring of the trigram-indexed text.
        let phrase = format!("\"{}\"", v.replace('"', "\"\""));
        Expr::cust_with_values(
            format!("{table}.id IN (SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ?)"),
            [phrase],
        )
    } else {
        like_text(backend, table, column, v)
    }
}

/// "`table.column` contains `v`", case-insensitively, for columns without a search index.
pub fn like_text(backend: sea_orm::DbBackend, table: &str, column: &str, v: &str) -> Expr {
    if backend == sea_orm::DbBackend::Sqlite {
        Expr::cust_with_values(
            format!(r#""{table}"."{column}" LIKE ? ESCAPE '\'"#),
            [contains_pattern(v)],
        )
    } else {
        // `$1`: sea-query numbers PostgreSQL placeholders (and renders `ILIKE … ESCAPE` in
        // parentheses PostgreSQL refuses, hence the custom expression).
        Expr::cust_with_values(
            format!(r#""{table}"."{column}" ILIKE $1 ESCAPE '\'"#),
            [contains_pattern(v)],
        )
    }
}

/// `LIKE` pattern for "contains `v`", wildcards in `v` escaped with `\\`.
pub fn contains_pattern(v: &str) -> String {
    format!(
        "%{}%",
        v.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// A transaction-scoped PostgreSQL advisory lock keyed by `what` (nothing on SQLite, where the
/// write transaction of `db::begin` already excludes other writers).
pub async fn advisory_lock<C: sea_orm::ConnectionTrait>(
    txn: &C,
    what: &str,
) -> crate::error::AppResult<()> {
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        let digest = crate::security::sha256_hex(what);
        let key = u64::from_str_radix(&digest[..16], 16).unwrap_or_default() as i64;
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({key})"))
            .await?;
    }
    Ok(())
}
