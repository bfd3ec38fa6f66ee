//! Free-text host search (`q`): a lower-cased search text per host (name, addresses,
//! description) with a trigram index, so `q=<fragment>` is an index lookup, not a scan of 100k
//! hosts and 200k addresses. SQLite: an FTS5 `trigram` table over `hosts.search_text`, kept in
//! step by triggers. PostgreSQL: a `pg_trgm` GIN index (the extension is trusted: the database
//! owner may create it).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "UPDATE hosts SET search_text = lower(hostname || ' ' || coalesce((SELECT group_concat(address, ' ') FROM ip_addresses WHERE host_id = hosts.id), '') || ' ' || description)",
    "CREATE VIRTUAL TABLE hosts_fts USING fts5(search_text, content='hosts', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER hosts_fts_ai AFTER INSERT ON hosts BEGIN INSERT INTO hosts_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER hosts_fts_ad AFTER DELETE ON hosts BEGIN INSERT INTO hosts_fts(hosts_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER hosts_fts_au AFTER UPDATE OF search_text ON hosts BEGIN INSERT INTO hosts_fts(hosts_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); INSERT INTO hosts_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO hosts_fts(hosts_fts) VALUES ('rebuild')",
];
const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER hosts_fts_au",
    "DROP TRIGGER hosts_fts_ad",
    "DROP TRIGGER hosts_fts_ai",
    "DROP TABLE hosts_fts",
];
const PG_UP: &[&str] = &[
    "UPDATE hosts SET search_text = lower(hostname || ' ' || coalesce((SELECT string_agg(address, ' ' ORDER BY id) FROM ip_addresses WHERE host_id = hosts.id), '') || ' ' || description)",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_hosts_search_trgm ON hosts USING gin (search_text gin_trgm_ops)",
];
const PG_DOWN: &[&str] = &["DROP INDEX ix_hosts_search_trgm"];

async fn run(m: &SchemaManager<'_>, sql: &[&str]) -> Result<(), DbErr> {
    for s in sql {
        m.get_connection().execute_unprepared(s).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("hosts"))
                .add_column(
                    ColumnDef::new(Alias::new("search_text"))
                        .text()
                        .not_null()
                        .default(""),
                )
                .to_owned(),
        )
        .await?;
        match m.get_database_backend() {
            DbBackend::Sqlite => run(m, SQLITE_UP).await,
            _ => run(m, PG_UP).await,
        }
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        match m.get_database_backend() {
            DbBackend::Sqlite => run(m, SQLITE_DOWN).await?,
            _ => run(m, PG_DOWN).await?,
        }
        m.alter_table(
            Table::alter()
                .table(Alias::new("hosts"))
                .drop_column(Alias::new("search_text"))
                .to_owned(),
        )
        .await
    }
}
