//! Faster request and DNS lists (the issue 9 benchmark, docs/benchmarks.md):
//! - `request_counts`: requests per kind and status, kept by triggers, so an approver's list of a
//!   kind (40k rows) and its `status` filter do not count rows on every page; the inbox count is
//!   that count minus the caller's own and those they already approved (both small ranges of the
//!   new indexes `(kind, status, creator_id)` and `(kind, status, approvals_count, creator_id)`).
//! - `(kind, id)`: a kind's page in id order without sorting the kind (SQLite plans with
//!   `SQLITE_ENABLE_QPSG`, without the bound `LIMIT`, and chose to sort 40k rows by id).
//! - `dns_record_counts`: records per zone, kept by triggers (a 50k-record zone's list counted
//!   50k index entries on every page); the row goes with its zone (foreign key, cascade).
//! - Record names: a trigram index for the `name` filter (a substring match): SQLite FTS5
//!   `dns_records_fts` (`crate::db::contains_text`), PostgreSQL `pg_trgm`.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE request_counts (kind TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (kind, status))",
    "INSERT INTO request_counts (kind, status, n) SELECT kind, status, count(*) FROM resource_requests GROUP BY kind, status",
    "CREATE TRIGGER resource_requests_count_ai AFTER INSERT ON resource_requests BEGIN \
       INSERT INTO request_counts (kind, status, n) VALUES (new.kind, new.status, 1) \
       ON CONFLICT (kind, status) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER resource_requests_count_ad AFTER DELETE ON resource_requests BEGIN \
       UPDATE request_counts SET n = n - 1 WHERE kind = old.kind AND status = old.status; END",
    "CREATE TRIGGER resource_requests_count_au AFTER UPDATE OF kind, status ON resource_requests \
       WHEN old.kind IS NOT new.kind OR old.status IS NOT new.status BEGIN \
       UPDATE request_counts SET n = n - 1 WHERE kind = old.kind AND status = old.status; \
       INSERT INTO request_counts (kind, status, n) VALUES (new.kind, new.status, 1) \
       ON CONFLICT (kind, status) DO UPDATE SET n = n + 1; END",
    "CREATE INDEX ix_rr_kind_id ON resource_requests (kind, id)",
    "CREATE INDEX ix_rr_kind_status_creator ON resource_requests (kind, status, creator_id)",
    "CREATE INDEX ix_rr_kind_status_approvals ON resource_requests (kind, status, approvals_count, creator_id)",
    "CREATE TABLE dns_record_counts (domain_id INTEGER PRIMARY KEY NOT NULL \
       REFERENCES dns_domains (id) ON DELETE CASCADE, n INTEGER NOT NULL)",
    "INSERT INTO dns_record_counts (domain_id, n) SELECT domain_id, count(*) FROM dns_records GROUP BY domain_id",
    "CREATE TRIGGER dns_records_count_ai AFTER INSERT ON dns_records BEGIN \
       INSERT INTO dns_record_counts (domain_id, n) VALUES (new.domain_id, 1) \
       ON CONFLICT (domain_id) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER dns_records_count_ad AFTER DELETE ON dns_records BEGIN \
       UPDATE dns_record_counts SET n = n - 1 WHERE domain_id = old.domain_id; END",
    "CREATE TRIGGER dns_records_count_au AFTER UPDATE OF domain_id ON dns_records \
       WHEN old.domain_id IS NOT new.domain_id BEGIN \
       UPDATE dns_record_counts SET n = n - 1 WHERE domain_id = old.domain_id; \
       INSERT INTO dns_record_counts (domain_id, n) VALUES (new.domain_id, 1) \
       ON CONFLICT (domain_id) DO UPDATE SET n = n + 1; END",
    "CREATE VIRTUAL TABLE dns_records_fts USING fts5(name, content='dns_records', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER dns_records_fts_ai AFTER INSERT ON dns_records BEGIN \
       INSERT INTO dns_records_fts(rowid, name) VALUES (new.id, new.name); END",
    "CREATE TRIGGER dns_records_fts_ad AFTER DELETE ON dns_records BEGIN \
       INSERT INTO dns_records_fts(dns_records_fts, rowid, name) VALUES ('delete', old.id, old.name); END",
    "CREATE TRIGGER dns_records_fts_au AFTER UPDATE OF name ON dns_records BEGIN \
       INSERT INTO dns_records_fts(dns_records_fts, rowid, name) VALUES ('delete', old.id, old.name); \
       INSERT INTO dns_records_fts(rowid, name) VALUES (new.id, new.name); END",
    "INSERT INTO dns_records_fts(dns_records_fts) VALUES ('rebuild')",
];
const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER dns_records_fts_au",
    "DROP TRIGGER dns_records_fts_ad",
    "DROP TRIGGER dns_records_fts_ai",
    "DROP TABLE dns_records_fts",
    "DROP TRIGGER dns_records_count_au",
    "DROP TRIGGER dns_records_count_ad",
    "DROP TRIGGER dns_records_count_ai",
    "DROP TABLE dns_record_counts",
    "DROP INDEX ix_rr_kind_status_approvals",
    "DROP INDEX ix_rr_kind_status_creator",
    "DROP INDEX ix_rr_kind_id",
    "DROP TRIGGER resource_requests_count_au",
    "DROP TRIGGER resource_requests_count_ad",
    "DROP TRIGGER resource_requests_count_ai",
    "DROP TABLE request_counts",
];
// Inserts and deletes: statement-level triggers with transition tables (a bulk insert updates
// each count once). Updates: a row-level trigger only when the counted columns change; it writes
// the -1 and the +1 in one statement in key order, so two transitions never lock the same count
// rows in opposite orders.
const PG_UP: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE TABLE request_counts (kind TEXT NOT NULL, status TEXT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (kind, status))",
    "INSERT INTO request_counts (kind, status, n) SELECT kind, status, count(*) FROM resource_requests GROUP BY kind, status",
    r#"CREATE FUNCTION opsdeck_request_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO request_counts (kind, status, n)
      SELECT kind, status, count(*) FROM new_rows GROUP BY kind, status ORDER BY kind, status
      ON CONFLICT (kind, status) DO UPDATE SET n = request_counts.n + EXCLUDED.n;
  ELSE
    UPDATE request_counts c SET n = c.n - d.k
      FROM (SELECT kind, status, count(*) AS k FROM old_rows GROUP BY kind, status) d
      WHERE c.kind = d.kind AND c.status = d.status;
  END IF;
  RETURN NULL;
END $$"#,
    r#"CREATE FUNCTION opsdeck_request_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO request_counts (kind, status, n)
    SELECT k, s, d FROM (VALUES (OLD.kind, OLD.status, -1), (NEW.kind, NEW.status, 1)) v (k, s, d)
    ORDER BY k, s
    ON CONFLICT (kind, status) DO UPDATE SET n = request_counts.n + EXCLUDED.n;
  RETURN NULL;
END $$"#,
    "CREATE TRIGGER resource_requests_count_ai AFTER INSERT ON resource_requests REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION opsdeck_request_counts()",
    "CREATE TRIGGER resource_requests_count_ad AFTER DELETE ON resource_requests REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION opsdeck_request_counts()",
    "CREATE TRIGGER resource_requests_count_au AFTER UPDATE OF kind, status ON resource_requests FOR EACH ROW \
       WHEN (OLD.kind IS DISTINCT FROM NEW.kind OR OLD.status IS DISTINCT FROM NEW.status) \
       EXECUTE FUNCTION opsdeck_request_counts_moved()",
    "CREATE INDEX ix_rr_kind_id ON resource_requests (kind, id)",
    "CREATE INDEX ix_rr_kind_status_creator ON resource_requests (kind, status, creator_id)",
    "CREATE INDEX ix_rr_kind_status_approvals ON resource_requests (kind, status, approvals_count, creator_id)",
    "CREATE TABLE dns_record_counts (domain_id BIGINT PRIMARY KEY NOT NULL \
       REFERENCES dns_domains (id) ON DELETE CASCADE, n BIGINT NOT NULL)",
    "INSERT INTO dns_record_counts (domain_id, n) SELECT domain_id, count(*) FROM dns_records GROUP BY domain_id",
    r#"CREATE FUNCTION opsdeck_dns_record_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO dns_record_counts (domain_id, n)
      SELECT domain_id, count(*) FROM new_rows GROUP BY domain_id ORDER BY domain_id
      ON CONFLICT (domain_id) DO UPDATE SET n = dns_record_counts.n + EXCLUDED.n;
  ELSE
    UPDATE dns_record_counts c SET n = c.n - d.k
      FROM (SELECT domain_id, count(*) AS k FROM old_rows GROUP BY domain_id) d
      WHERE c.domain_id = d.domain_id;
  END IF;
  RETURN NULL;
END $$"#,
    r#"CREATE FUNCTION opsdeck_dns_record_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO dns_record_counts (domain_id, n)
    SELECT z, d FROM (VALUES (OLD.domain_id, -1), (NEW.domain_id, 1)) v (z, d) ORDER BY z
    ON CONFLICT (domain_id) DO UPDATE SET n = dns_record_counts.n + EXCLUDED.n;
  RETURN NULL;
END $$"#,
    "CREATE TRIGGER dns_records_count_ai AFTER INSERT ON dns_records REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION opsdeck_dns_record_counts()",
    "CREATE TRIGGER dns_records_count_ad AFTER DELETE ON dns_records REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION opsdeck_dns_record_counts()",
    "CREATE TRIGGER dns_records_count_au AFTER UPDATE OF domain_id ON dns_records FOR EACH ROW \
       WHEN (OLD.domain_id IS DISTINCT FROM NEW.domain_id) \
       EXECUTE FUNCTION opsdeck_dns_record_counts_moved()",
    "CREATE INDEX ix_dns_records_name_trgm ON dns_records USING gin (name gin_trgm_ops)",
];
const PG_DOWN: &[&str] = &[
    "DROP INDEX ix_dns_records_name_trgm",
    "DROP TRIGGER dns_records_count_au ON dns_records",
    "DROP TRIGGER dns_records_count_ad ON dns_records",
    "DROP TRIGGER dns_records_count_ai ON dns_records",
    "DROP FUNCTION opsdeck_dns_record_counts_moved()",
    "DROP FUNCTION opsdeck_dns_record_counts()",
    "DROP TABLE dns_record_counts",
    "DROP INDEX ix_rr_kind_status_approvals",
    "DROP INDEX ix_rr_kind_status_creator",
    "DROP INDEX ix_rr_kind_id",
    "DROP TRIGGER resource_requests_count_au ON resource_requests",
    "DROP TRIGGER resource_requests_count_ad ON resource_requests",
    "DROP TRIGGER resource_requests_count_ai ON resource_requests",
    "DROP FUNCTION opsdeck_request_counts_moved()",
    "DROP FUNCTION opsdeck_request_counts()",
    "DROP TABLE request_counts",
];

async fn run(m: &SchemaManager<'_>, sql: &[&str]) -> Result<(), DbErr> {
    for s in sql {
        m.get_connection().execute_unprepared(s).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
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
