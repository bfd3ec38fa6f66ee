//! Faster lists (the CMDB benchmark, docs/benchmarks.md):
//! - `row_counts`: the number of hosts and applications, kept by triggers, so an unfiltered list
//!   of everything does not count 100k rows on every page (PostgreSQL's `COUNT(*)` is a scan).
//! - Host search text without addresses: `q` matches addresses by prefix through the address
//!   index, and names and descriptions through the trigram index (digits and dots made the
//!   trigrams of a text that held addresses match most hosts).
//! - PostgreSQL: an address index in byte order (`COLLATE "C"`), so an address prefix is a range
//!   scan whatever the database's collation (locale collations skip dots).
//! - Application names: a trigram index for the `name` filter (a substring match), as for hosts.
//! - Narrow covering indexes for sorting a filtered set by name: `(id, hostname)`,
//!   `(id, full_name)` (a page sorts its candidates by name; reading the wide rows missed the page
//!   cache), and `(address, host_id)` so an address prefix yields host ids from the index alone.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE row_counts (name TEXT PRIMARY KEY NOT NULL, n INTEGER NOT NULL)",
    "INSERT INTO row_counts (name, n) SELECT 'hosts', count(*) FROM hosts",
    "INSERT INTO row_counts (name, n) SELECT 'applications', count(*) FROM applications",
    "CREATE TRIGGER hosts_count_ai AFTER INSERT ON hosts BEGIN UPDATE row_counts SET n = n + 1 WHERE name = 'hosts'; END",
    "CREATE TRIGGER hosts_count_ad AFTER DELETE ON hosts BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'hosts'; END",
    "CREATE TRIGGER applications_count_ai AFTER INSERT ON applications BEGIN UPDATE row_counts SET n = n + 1 WHERE name = 'applications'; END",
    "CREATE TRIGGER applications_count_ad AFTER DELETE ON applications BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'applications'; END",
    "CREATE VIRTUAL TABLE applications_fts USING fts5(name, content='applications', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER applications_fts_ai AFTER INSERT ON applications BEGIN INSERT INTO applications_fts(rowid, name) VALUES (new.id, new.name); END",
    "CREATE TRIGGER applications_fts_ad AFTER DELETE ON applications BEGIN INSERT INTO applications_fts(applications_fts, rowid, name) VALUES ('delete', old.id, old.name); END",
    "CREATE TRIGGER applications_fts_au AFTER UPDATE OF name ON applications BEGIN INSERT INTO applications_fts(applications_fts, rowid, name) VALUES ('delete', old.id, old.name); INSERT INTO applications_fts(rowid, name) VALUES (new.id, new.name); END",
    "INSERT INTO applications_fts(applications_fts) VALUES ('rebuild')",
    "CREATE INDEX ix_hosts_id_hostname ON hosts (id, hostname)",
    "CREATE INDEX ix_applications_id_full_name ON applications (id, full_name)",
    "DROP INDEX ix_ip_addresses_address",
    "CREATE INDEX ix_ip_addresses_address_host ON ip_addresses (address, host_id)",
];
const SQLITE_DOWN: &[&str] = &[
    "DROP INDEX ix_ip_addresses_address_host",
    "CREATE INDEX ix_ip_addresses_address ON ip_addresses (address)",
    "DROP INDEX ix_applications_id_full_name",
    "DROP INDEX ix_hosts_id_hostname",
    "DROP TRIGGER applications_fts_au",
    "DROP TRIGGER applications_fts_ad",
    "DROP TRIGGER applications_fts_ai",
    "DROP TABLE applications_fts",
    "DROP TRIGGER applications_count_ad",
    "DROP TRIGGER applications_count_ai",
    "DROP TRIGGER hosts_count_ad",
    "DROP TRIGGER hosts_count_ai",
    "DROP TABLE row_counts",
];
// Statement-level triggers with transition tables: a bulk insert updates the count once.
const PG_UP: &[&str] = &[
    "CREATE TABLE row_counts (name TEXT PRIMARY KEY NOT NULL, n BIGINT NOT NULL)",
    "INSERT INTO row_counts (name, n) SELECT 'hosts', count(*) FROM hosts",
    "INSERT INTO row_counts (name, n) SELECT 'applications', count(*) FROM applications",
    r#"CREATE FUNCTION opsdeck_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE row_counts SET n = n + (SELECT count(*) FROM new_rows) WHERE name = TG_TABLE_NAME;
  ELSE
    UPDATE row_counts SET n = n - (SELECT count(*) FROM old_rows) WHERE name = TG_TABLE_NAME;
  END IF;
  RETURN NULL;
END $$"#,
    "CREATE TRIGGER hosts_count_ai AFTER INSERT ON hosts REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION opsdeck_count_rows()",
    "CREATE TRIGGER hosts_count_ad AFTER DELETE ON hosts REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION opsdeck_count_rows()",
    "CREATE TRIGGER applications_count_ai AFTER INSERT ON applications REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION opsdeck_count_rows()",
    "CREATE TRIGGER applications_count_ad AFTER DELETE ON applications REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION opsdeck_count_rows()",
    r#"CREATE INDEX ix_ip_addresses_address_c ON ip_addresses (address COLLATE "C", host_id)"#,
    "CREATE INDEX ix_hosts_id_hostname ON hosts (id, hostname)",
    "CREATE INDEX ix_applications_id_full_name ON applications (id, full_name)",
    "CREATE INDEX ix_applications_name_trgm ON applications USING gin (name gin_trgm_ops)",
];
const PG_DOWN: &[&str] = &[
    "DROP INDEX ix_applications_id_full_name",
    "DROP INDEX ix_hosts_id_hostname",
    "DROP INDEX ix_applications_name_trgm",
    "DROP INDEX ix_ip_addresses_address_c",
    "DROP TRIGGER applications_count_ad ON applications",
    "DROP TRIGGER applications_count_ai ON applications",
    "DROP TRIGGER hosts_count_ad ON hosts",
    "DROP TRIGGER hosts_count_ai ON hosts",
    "DROP FUNCTION opsdeck_count_rows()",
    "DROP TABLE row_counts",
];

async fn run(m: &SchemaManager<'_>, sql: &[&str]) -> Result<(), DbErr> {
    for s in sql {
        m.get_connection().execute_unprepared(s).await?;
    }
    Ok(())
}

/// Recomputes every host's search text as the host service now writes it: lower-cased name and
/// description (Rust's lower-casing, which also folds non-ASCII letters, unlike SQLite's `lower`).
async fn search_text_without_addresses(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = m.get_connection();
    let backend = m.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, hostname, description FROM hosts",
        ))
        .await?;
    let update = match backend {
        DbBackend::Sqlite => "UPDATE hosts SET search_text = ? WHERE id = ?",
        _ => "UPDATE hosts SET search_text = $1 WHERE id = $2",
    };
    for r in rows {
        let id: i64 = r.try_get("", "id")?;
        let name: String = r.try_get("", "hostname")?;
        let description: String = r.try_get("", "description")?;
        let text = format!("{} {}", name.to_lowercase(), description.to_lowercase());
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            update,
            [text.into(), id.into()],
        ))
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        search_text_without_addresses(m).await?;
        match m.get_database_backend() {
            DbBackend::Sqlite => run(m, SQLITE_UP).await,
            _ => run(m, PG_UP).await,
        }
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        match m.get_database_backend() {
            DbBackend::Sqlite => run(m, SQLITE_DOWN).await,
            _ => run(m, PG_DOWN).await,
        }
    }
}
