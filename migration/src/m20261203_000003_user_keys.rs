//! Users' SSH public keys (issue 10, part 4): host init installs them for the users who may log
//! in to the host (`login_host`). `host_access.zabbix_host_id`: the Zabbix host a host was
//! enrolled as, so a same-named Zabbix host of someone else's is never taken over.
use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("user_ssh_keys"))
                .col(id())
                .col(big("user_id"))
                .col(text("name"))
                .col(text("public_key"))
                .col(text("fingerprint"))
                .col(time("created_at"))
                .foreign_key(&mut fk(
                    "user_ssh_keys",
                    "user_id",
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "user_ssh_keys",
            "ux_user_ssh_keys",
            &["user_id", "fingerprint"],
            true,
        )
        .await?;
        m.get_connection()
            .execute_unprepared("ALTER TABLE host_access ADD COLUMN zabbix_host_id TEXT NULL")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("ALTER TABLE host_access DROP COLUMN zabbix_host_id")
            .await?;
        m.drop_table(Table::drop().table(Alias::new("user_ssh_keys")).to_owned())
            .await
    }
}
