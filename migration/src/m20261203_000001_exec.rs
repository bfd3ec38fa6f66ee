//! Execution over SSH (issue 10), first part:
//! - `ssh_credentials`: how Opsdeck logs in to hosts (a password or a private key, encrypted
//!   under `OPSDECK_SECRET_KEY`; never answered).
//! - `host_access`: per host, the address and port to use and the credential.
//! - `host_keys`: the host key pinned per host and endpoint, and a different key a host offered
//!   (refused until an operator accepts it).
//! - `runs`, `run_targets`, `run_output`: durable runs of steps on hosts, their per-host results
//!   and their output in chunks (ids are the replay cursor of live output).
use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: &[&str] = &[
    "run_output",
    "run_targets",
    "runs",
    "host_keys",
    "host_access",
    "ssh_credentials",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::Cascade;
        m.create_table(
            Table::create()
                .table(Alias::new("ssh_credentials"))
                .col(id())
                .col(text("name"))
                .col(text("username"))
                .col(text("kind"))
                .col(text("secret_enc"))
                .col(text_null("passphrase_enc"))
                .col(text_null("public_key"))
                .col(big_null("creator_id"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ssh_credentials",
            "ux_ssh_credentials_name",
            &["name"],
            true,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("host_access"))
                .col(
                    col("host_id")
                        .big_integer()
                        .not_null()
                        .primary_key()
                        .to_owned(),
                )
                .col(text_null("address"))
                .col(int("port", 22))
                // No cascade: a credential in use is not deleted (the service says by whom).
                .col(big_null("credential_id"))
                .col(text_null("stop_cmd"))
                .col(text_null("restart_cmd"))
                .col(time("updated_at"))
                .foreign_key(&mut fk("host_access", "host_id", "hosts", Cascade))
                .foreign_key(&mut fk(
                    "host_access",
                    "credential_id",
                    "ssh_credentials",
                    ForeignKeyAction::NoAction,
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "host_access",
            "ix_host_access_credential",
            &["credential_id"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("host_keys"))
                .col(id())
                .col(big("host_id"))
                .col(text("endpoint"))
                .col(text("algorithm"))
                .col(text("public_key"))
                .col(text("fingerprint"))
                .col(time("pinned_at"))
                .col(big_null("pinned_by"))
                .col(text_null("offered_key"))
                .col(text_null("offered_fingerprint"))
                .col(time_null("offered_at"))
                .foreign_key(&mut fk("host_keys", "host_id", "hosts", Cascade))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "host_keys",
            "ux_host_keys_endpoint",
            &["host_id", "endpoint"],
            true,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("runs"))
                .col(id())
                .col(text("kind"))
                .col(text("status"))
                .col(big_null("creator_id"))
                .col(text_null("subject_type"))
                .col(big_null("subject_id"))
                .col(text("opts"))
                .col(int("concurrency", 10))
                .col(text("on_failure"))
                .col(int("timeout_secs", 120))
                .col(
                    col("cancel_requested")
                        .boolean()
                        .not_null()
                        .default(false)
                        .to_owned(),
                )
                .col(big_null("cancelled_by"))
                .col(text_null("error"))
                .col(text_null("owner"))
                .col(time_null("lease_until"))
                .col(int("total", 0))
                .col(int("done", 0))
                .col(int("failed", 0))
                .col(time("created_at"))
                .col(time_null("started_at"))
                .col(time_null("finished_at"))
                .to_owned(),
        )
        .await?;
        index(m, "runs", "ix_runs_kind", &["kind", "id"], false).await?;
        index(
            m,
            "runs",
            "ix_runs_kind_status",
            &["kind", "status", "id"],
            false,
        )
        .await?;
        index(
            m,
            "runs",
            "ix_runs_kind_creator",
            &["kind", "creator_id", "id"],
            false,
        )
        .await?;
        index(
            m,
            "runs",
            "ix_runs_kind_created",
            &["kind", "created_at"],
            false,
        )
        .await?;
        index(
            m,
            "runs",
            "ix_runs_subject",
            &["subject_type", "subject_id", "id"],
            false,
        )
        .await?;
        index(
            m,
            "runs",
            "ix_runs_status_lease",
            &["status", "lease_until"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("run_targets"))
                .col(id())
                .col(big("run_id"))
                .col(int("seq", 0))
                .col(big("host_id"))
                .col(text("host_name"))
                .col(big_null("instance_id"))
                .col(text("status"))
                .col(int("step", 0))
                .col(int("steps_total", 0))
                .col(text("step_name"))
                .col(int_null("exit_code"))
                .col(int_null("error_code"))
                .col(text_null("error"))
                .col(time_null("started_at"))
                .col(time_null("finished_at"))
                .foreign_key(&mut fk("run_targets", "run_id", "runs", Cascade))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "run_targets",
            "ux_run_targets_seq",
            &["run_id", "seq"],
            true,
        )
        .await?;
        index(
            m,
            "run_targets",
            "ix_run_targets_host",
            &["host_id", "run_id"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("run_output"))
                .col(id())
                .col(big("run_id"))
                .col(big("target_id"))
                .col(text("stream"))
                .col(col("data").blob().not_null().to_owned())
                .col(time("created_at"))
                .foreign_key(&mut fk("run_output", "run_id", "runs", Cascade))
                .foreign_key(&mut fk("run_output", "target_id", "run_targets", Cascade))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "run_output",
            "ix_run_output_run",
            &["run_id", "id"],
            false,
        )
        .await?;
        index(
            m,
            "run_output",
            "ix_run_output_target",
            &["target_id", "id"],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in TABLES {
            m.drop_table(Table::drop().table(Alias::new(*t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
