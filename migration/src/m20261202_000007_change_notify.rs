//! Cross-process cache invalidation on PostgreSQL: triggers on the tables that per-process
//! caches are built from send `NOTIFY opsdeck_changes, '<what> <application_name>'`, delivered to
//! every listening Opsdeck process when the writing transaction commits (`app::changes`).
//! Inserts and deletes notify once per statement that touched rows; updates only when a column
//! the caches use changed (a row trigger with a `WHEN`; identical notifications of one
//! transaction reach listeners once). SQLite serves one process: nothing to do there.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, what, notify on insert, the columns whose change notifies, none: any): `what` is
/// `policy`, `catalog:<kind>` or `tokens`. Deletes and truncates always notify.
const SOURCES: &[(&str, &str, bool, &[&str])] = &[
    ("perm_grants", "policy", true, &[]),
    ("user_roles", "policy", true, &[]),
    ("roles", "policy", true, &["name", "builtin"]),
    (
        "applications",
        "policy",
        true,
        &["parent_id", "production_id"],
    ),
    (
        "applications",
        "catalog:application",
        true,
        &["name", "full_name", "parent_id", "production_id"],
    ),
    ("hosts", "catalog:host", true, &["hostname"]),
    ("productions", "catalog:business", true, &["name"]),
    ("dns_domains", "catalog:dns_domain", true, &["name"]),
    ("users", "tokens", false, &["status", "password_hash"]),
    (
        "api_tokens",
        "tokens",
        false,
        &["token_hash", "expires_at", "user_id"],
    ),
];

/// The trigger names' stem for a source: `<table>_<what>` with `:` made `_`.
fn stem(table: &str, what: &str) -> String {
    format!("{table}_{}", what.replace(':', "_"))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        // Statements: only when they touched a row (a delete of nothing changes nothing).
        db.execute_unprepared(
            r#"CREATE FUNCTION opsdeck_notify_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;
  ELSIF TG_OP = 'DELETE' THEN
    IF NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;
  END IF;
  PERFORM pg_notify('opsdeck_changes', TG_ARGV[0] || ' ' || current_setting('application_name'));
  RETURN NULL;
END $$"#,
        )
        .await?;
        for (table, what, on_insert, cols) in SOURCES {
            let s = stem(table, what);
            if *on_insert {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER {s}_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows \
                     FOR EACH STATEMENT EXECUTE FUNCTION opsdeck_notify_rows('{what}')"
                ))
                .await?;
            }
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {s}_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows \
                 FOR EACH STATEMENT EXECUTE FUNCTION opsdeck_notify_rows('{what}')"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {s}_trunc AFTER TRUNCATE ON {table} \
                 FOR EACH STATEMENT EXECUTE FUNCTION opsdeck_notify_rows('{what}')"
            ))
            .await?;
            let changed = if cols.is_empty() {
                "OLD.* IS DISTINCT FROM NEW.*".to_string()
            } else {
                cols.iter()
                    .map(|c| format!("OLD.{c} IS DISTINCT FROM NEW.{c}"))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            };
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {s}_upd AFTER UPDATE ON {table} FOR EACH ROW WHEN ({changed}) \
                 EXECUTE FUNCTION opsdeck_notify_rows('{what}')"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        for (table, what, _, _) in SOURCES {
            let s = stem(table, what);
            for suffix in ["ins", "del", "trunc", "upd"] {
                db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {s}_{suffix} ON {table}"))
                    .await?;
            }
        }
        db.execute_unprepared("DROP FUNCTION IF EXISTS opsdeck_notify_rows()")
            .await?;
        Ok(())
    }
}
