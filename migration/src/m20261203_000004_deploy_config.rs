//! Deploy configuration (issue 10, part 5): scripts, repository credentials (the password
//! encrypted under `OPSDECK_SECRET_KEY`), templates, per-application settings, and the index of
//! which scripts hooks run (so a used script is not deleted).
use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: &[&str] = &[
    "deploy_hook_scripts",
    "deploy_settings",
    "deploy_templates",
    "repository_credentials",
    "deploy_scripts",
];

fn flag(name: &str) -> ColumnDef {
    col(name).boolean().not_null().default(true).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, NoAction};
        m.create_table(
            Table::create()
                .table(Alias::new("deploy_scripts"))
                .col(id())
                .col(text("name"))
                .col(text("language"))
                .col(text("content"))
                .col(text("template_engine"))
                .col(big_null("creator_id"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "deploy_scripts",
            "ux_deploy_scripts_name",
            &["name"],
            true,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("repository_credentials"))
                .col(id())
                .col(text("name"))
                .col(text("kind"))
                .col(text("username"))
                .col(text("password_enc"))
                .col(big_null("creator_id"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "repository_credentials",
            "ux_repository_credentials_name",
            &["name"],
            true,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("deploy_templates"))
                .col(id())
                .col(text("name"))
                .col(flag("enabled"))
                .col(text("config"))
                .col(big_null("repo_credential_id"))
                .col(big_null("creator_id"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .foreign_key(&mut fk(
                    "deploy_templates",
                    "repo_credential_id",
                    "repository_credentials",
                    NoAction,
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "deploy_templates",
            "ux_deploy_templates_name",
            &["name"],
            true,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("deploy_settings"))
                .col(
                    col("app_id")
                        .big_integer()
                        .not_null()
                        .primary_key()
                        .to_owned(),
                )
                .col(flag("enabled"))
                .col(big_null("template_id"))
                .col(text("config"))
                .col(big_null("repo_credential_id"))
                .col(big_null("updated_by"))
                .col(time("updated_at"))
                .foreign_key(&mut fk(
                    "deploy_settings",
                    "app_id",
                    "applications",
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "deploy_settings",
                    "template_id",
                    "deploy_templates",
                    NoAction,
                ))
                .foreign_key(&mut fk(
                    "deploy_settings",
                    "repo_credential_id",
                    "repository_credentials",
                    NoAction,
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "deploy_settings",
            "ix_deploy_settings_template",
            &["template_id"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("deploy_hook_scripts"))
                .col(id())
                .col(text("owner_type"))
                .col(big("owner_id"))
                .col(text("hook"))
                .col(big("script_id"))
                .foreign_key(&mut fk(
                    "deploy_hook_scripts",
                    "script_id",
                    "deploy_scripts",
                    NoAction,
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "deploy_hook_scripts",
            "ux_deploy_hook_scripts",
            &["owner_type", "owner_id", "hook"],
            true,
        )
        .await?;
        index(
            m,
            "deploy_hook_scripts",
            "ix_deploy_hook_scripts_script",
            &["script_id"],
            false,
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in TABLES {
            m.drop_table(Table::drop().table(Alias::new(*t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
