//! Deploy tasks (issue 10, part 6): tasks with approval (an approvals engine subject), the
//! artifact store's index, and each instance's releases (what `current` points at, what is
//! kept for a revert, what was pruned).
use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: &[&str] = &["instance_releases", "deploy_tasks", "artifacts"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        m.create_table(
            Table::create()
                .table(Alias::new("artifacts"))
                .col(id())
                .col(text("sha256"))
                .col(big("size"))
                .col(text("filename"))
                .col(big_null("uploaded_by"))
                .col(time("created_at"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "artifacts",
            "ix_artifacts_sha256",
            &["sha256", "uploaded_by"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("deploy_tasks"))
                .col(id())
                .col(big("app_id"))
                .col(big("creator_id"))
                .col(big_null("delegate_id"))
                .col(text("status"))
                .col(int("approvals_needed", 1))
                .col(int("approvals_count", 0))
                .col(text("version"))
                .col(text("description"))
                .col(text("level"))
                .col(text("package_source"))
                .col(time("planned_exec_time"))
                .col(text("upgrade_checklist"))
                .col(text("upgrade_steps"))
                .col(text("rollback_steps"))
                .col(time_null("started_at"))
                .col(big_null("started_by"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .col(time_null("finished_at"))
                .foreign_key(&mut fk("deploy_tasks", "app_id", "applications", Cascade))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "deploy_tasks",
            "ix_deploy_tasks_status",
            &["status", "id"],
            false,
        )
        .await?;
        index(
            m,
            "deploy_tasks",
            "ix_deploy_tasks_app",
            &["app_id", "id"],
            false,
        )
        .await?;
        index(
            m,
            "deploy_tasks",
            "ix_deploy_tasks_app_status",
            &["app_id", "status", "id"],
            false,
        )
        .await?;
        index(
            m,
            "deploy_tasks",
            "ix_deploy_tasks_creator",
            &["creator_id", "id"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("instance_releases"))
                .col(id())
                .col(big("instance_id"))
                .col(text("version"))
                .col(text("sha256"))
                .col(text("filename"))
                .col(big_null("run_id"))
                .col(text("state"))
                .col(time("deployed_at"))
                .foreign_key(&mut fk(
                    "instance_releases",
                    "instance_id",
                    "application_instances",
                    Cascade,
                ))
                .foreign_key(&mut fk("instance_releases", "run_id", "runs", SetNull))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "instance_releases",
            "ux_instance_releases",
            &["instance_id", "version"],
            true,
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
