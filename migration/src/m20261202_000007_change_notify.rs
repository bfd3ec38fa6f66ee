//! Cross-process cache invalidation on PostgreSQL: statement triggers on the tables that
//! per-process caches are built from send `NOTIFY opsdeck_changes, '<what> <application_name>'`,
//! delivered to every listening Opsdeck process when the writing transaction commits
//! (`app::changes`). SQLite serves one process: nothing to do there.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (trigger, table, events, what): `what` is `policy`, `catalog:<kind>` or `tokens`.
const TRIGGERS: &[(&str, &str, &str, &str)] = &[
    (
        "perm_grants_notify",
        "perm_grants",
        "INSERT OR UPDATE OR DELETE OR TRUNCATE",
        "policy",
    ),
    (
        "user_roles_notify",
        "user_roles",
        "INSERT OR UPDATE OR DELETE OR TRUNCATE",
        "policy",
    ),
    (
        "roles_notify",
        "roles",
        "INSERT OR UPDATE OF name OR DELETE OR TRUNCATE",
        "policy",
    ),
    (
        "applications_notify_policy",
        "applications",
        "INSERT OR UPDATE OF parent_id, production_id OR DELETE OR TRUNCATE",
        "policy",
    ),
    (
        "applications_notify_catalog",
        "applications",
        "INSERT OR UPDATE OF name, full_name, parent_id, production_id OR DELETE OR TRUNCATE",
        "catalog:application",
    ),
    (
        "hosts_notify_catalog",
        "hosts",
        "INSERT OR UPDATE OF hostname OR DELETE OR TRUNCATE",
        "catalog:host",
    ),
    (
        "productions_notify_catalog",
        "productions",
        "INSERT OR UPDATE OF name OR DELETE OR TRUNCATE",
        "catalog:business",
    ),
    (
        "dns_domains_notify_catalog",
        "dns_domains",
        "INSERT OR UPDATE OF name OR DELETE OR TRUNCATE",
        "catalog:dns_domain",
    ),
    (
        "users_notify_tokens",
        "users",
        "UPDATE OF status, password_hash OR DELETE OR TRUNCATE",
        "tokens",
    ),
    (
        "api_tokens_notify_tokens",
        "api_tokens",
        "UPDATE OF token_hash, expires_at, user_id OR DELETE OR TRUNCATE",
        "tokens",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        db.execute_unprepared(
            r#"CREATE FUNCTION opsdeck_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('opsdeck_changes', TG_ARGV[0] || ' ' || current_setting('application_name'));
  RETURN NULL;
END $$"#,
        )
        .await?;
        for (name, table, events, what) in TRIGGERS {
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {name} AFTER {events} ON {table} FOR EACH STATEMENT \
                 EXECUTE FUNCTION opsdeck_notify_change('{what}')"
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
        for (name, table, _, _) in TRIGGERS {
            db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {name} ON {table}"))
                .await?;
        }
        db.execute_unprepared("DROP FUNCTION IF EXISTS opsdeck_notify_change()")
            .await?;
        Ok(())
    }
}
