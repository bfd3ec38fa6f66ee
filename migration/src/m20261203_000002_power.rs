//! Host power (issue 10, part 3):
//! - `cloud_accounts`: API accounts of the clouds that start, stop and restart hosts
//!   (CloudStack, Tencent Cloud CVM and CPM); the secret is encrypted under `OPSDECK_SECRET_KEY`.
//! - `host_access.cloud_account_id`, `host_access.cloud_instance_id`: which account powers a
//!   host, and the host's id in that cloud. Hosts without one use the `ssh` provider.
use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("cloud_accounts"))
                .col(id())
                .col(text("name"))
                .col(text("provider"))
                .col(text("endpoint"))
                .col(text("region"))
                .col(text("secret_id"))
                .col(text("secret_enc"))
                .col(big_null("creator_id"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "cloud_accounts",
            "ux_cloud_accounts_name",
            &["name"],
            true,
        )
        .await?;
        // One statement both databases take: SQLite cannot add a foreign key any other way.
        let db = m.get_connection();
        db.execute_unprepared(
            "ALTER TABLE host_access ADD COLUMN cloud_account_id BIGINT NULL REFERENCES cloud_accounts(id)",
        )
        .await?;
        db.execute_unprepared("ALTER TABLE host_access ADD COLUMN cloud_instance_id TEXT NULL")
            .await?;
        index(
            m,
            "host_access",
            "ix_host_access_cloud_account",
            &["cloud_account_id"],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("DROP INDEX ix_host_access_cloud_account")
            .await?;
        for c in ["cloud_instance_id", "cloud_account_id"] {
            db.execute_unprepared(&format!("ALTER TABLE host_access DROP COLUMN {c}"))
                .await?;
        }
        m.drop_table(Table::drop().table(Alias::new("cloud_accounts")).to_owned())
            .await
    }
}
