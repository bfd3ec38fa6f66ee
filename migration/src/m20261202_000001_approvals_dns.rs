//! Approvals (requests, their approvals and timeline), certificates and their authority, DNS
//! services, zones, records and the push outbox, and settings.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id() -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new("id"));
    c.big_integer().not_null().auto_increment().primary_key();
    c
}
fn text(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.text().not_null();
    c
}
fn text_null(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.text().null();
    c
}
fn big(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.big_integer().not_null();
    c
}
fn big_null(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.big_integer().null();
    c
}
fn int(name: &str, default: i32) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.integer().not_null().default(default);
    c
}
fn time(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.timestamp_with_time_zone().not_null();
    c
}
fn time_null(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.timestamp_with_time_zone().null();
    c
}
fn fk(table: &str, col: &str, to: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Alias::new(table), Alias::new(col))
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}
async fn index(
    m: &SchemaManager<'_>,
    table: &str,
    name: &str,
    cols: &[&str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut i = Index::create();
    i.name(name).table(Alias::new(table));
    for c in cols {
        i.col(Alias::new(*c));
    }
    if unique {
        i.unique();
    }
    m.create_index(i.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("settings"))
                .col(
                    ColumnDef::new(Alias::new("name"))
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(text("value"))
                .col(time("updated_at"))
                .to_owned(),
        )
        .await?;

        // Resource requests of every kind (`host`, `domain`, `ssl`); `payload` holds the
        // kind's own fields as JSON, `domain`/`certificate_type` are copies for the filters.
        m.create_table(
            Table::create()
                .table(Alias::new("resource_requests"))
                .col(id())
                .col(text("kind"))
                .col(big("creator_id"))
                .col(text("status"))
                .col(text("payload"))
                .col(text_null("domain"))
                .col(text_null("certificate_type"))
                .col(int("approvals_needed", 1))
                .col(int("approvals_count", 0))
                .col(text_null("fulfilment_note"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .col(time_null("finished_at"))
                .foreign_key(&mut fk("resource_requests", "creator_id", "users"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "resource_requests",
            "ix_rr_kind_status",
            &["kind", "status", "id"],
            false,
        )
        .await?;
        index(
            m,
            "resource_requests",
            "ix_rr_kind_creator",
            &["kind", "creator_id", "id"],
            false,
        )
        .await?;
        index(
            m,
            "resource_requests",
            "ix_rr_kind_created",
            &["kind", "created_at"],
            false,
        )
        .await?;

        // One decision per approver and subject (the unique index is what makes a quorum of two
        // need two people). `subject_type` is `resource_request` (and `deploy_task` later).
        m.create_table(
            Table::create()
                .table(Alias::new("approvals"))
                .col(id())
                .col(text("subject_type"))
                .col(big("subject_id"))
                .col(big("approver_id"))
                .col(text("decision"))
                .col(text("reason"))
                .col(time("created_at"))
                .foreign_key(&mut fk("approvals", "approver_id", "users"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "approvals",
            "ux_approvals_subject_approver",
            &["subject_type", "subject_id", "approver_id"],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("request_events"))
                .col(id())
                .col(text("subject_type"))
                .col(big("subject_id"))
                .col(text("event"))
                .col(big_null("actor_id"))
                .col(text("actor_name"))
                .col(text("detail"))
                .col(time("created_at"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "request_events",
            "ix_request_events_subject",
            &["subject_type", "subject_id", "id"],
            false,
        )
        .await?;

        // The certificate authority Opsdeck issues from (one active row; its key encrypted).
        m.create_table(
            Table::create()
                .table(Alias::new("cert_authorities"))
                .col(id())
                .col(text("cert_pem"))
                .col(text("key_enc"))
                .col(text("source"))
                .col(ColumnDef::new(Alias::new("active")).boolean().not_null())
                .col(time("created_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("certificates"))
                .col(id())
                .col(big_null("request_id"))
                .col(text("domain"))
                .col(text("names"))
                .col(text("certificate_type"))
                .col(text("serial"))
                .col(text("issuer"))
                .col(time("not_before"))
                .col(time("not_after"))
                .col(text("cert_pem"))
                .col(text("chain_pem"))
                .col(text_null("key_enc"))
                .col(text("source"))
                .col(text("app_ids"))
                .col(big("owner_id"))
                .col(int("expiry_notice", 0))
                .col(time("created_at"))
                .foreign_key(&mut fk("certificates", "request_id", "resource_requests"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "certificates",
            "ix_certificates_not_after",
            &["not_after"],
            false,
        )
        .await?;
        index(
            m,
            "certificates",
            "ix_certificates_request",
            &["request_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("dns_services"))
                .col(id())
                .col(text("name"))
                .col(text("service_type"))
                .col(text("api_endpoint"))
                .col(text("description"))
                .col(big_null("creator_id"))
                .col(text_null("api_key_enc"))
                .col(text("server_id"))
                .col(text_null("tsig_key_name"))
                .col(text_null("tsig_algorithm"))
                .col(text_null("tsig_secret_enc"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .to_owned(),
        )
        .await?;
        index(m, "dns_services", "ux_dns_services_name", &["name"], true).await?;

        m.create_table(
            Table::create()
                .table(Alias::new("dns_domains"))
                .col(id())
                .col(big("service_id"))
                .col(text("name"))
                .col(big_null("creator_id"))
                .col(text_null("push_error"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .foreign_key(&mut fk("dns_domains", "service_id", "dns_services"))
                .to_owned(),
        )
        .await?;
        index(m, "dns_domains", "ux_dns_domains_name", &["name"], true).await?;
        index(
            m,
            "dns_domains",
            "ix_dns_domains_service",
            &["service_id", "id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("dns_records"))
                .col(id())
                .col(big("domain_id"))
                .col(text("name"))
                .col(text("rtype"))
                .col(text("value"))
                .col(int("ttl", 600))
                .col(ColumnDef::new(Alias::new("priority")).integer().null())
                .col(
                    ColumnDef::new(Alias::new("disabled"))
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(text("state"))
                .col(big("push_seq"))
                .col(big_null("request_id"))
                .col(big_null("creator_id"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .foreign_key(&mut fk("dns_records", "domain_id", "dns_domains"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "dns_records",
            "ix_dns_records_domain_id",
            &["domain_id", "id"],
            false,
        )
        .await?;
        index(
            m,
            "dns_records",
            "ix_dns_records_rrset",
            &["domain_id", "name", "rtype"],
            false,
        )
        .await?;
        index(
            m,
            "dns_records",
            "ix_dns_records_state",
            &["domain_id", "state"],
            false,
        )
        .await?;

        // Changes waiting to reach the server: one row per changed RRset, pushed in id order per
        // zone, deleted once the server has it.
        m.create_table(
            Table::create()
                .table(Alias::new("dns_outbox"))
                .col(id())
                .col(big("domain_id"))
                .col(text("name"))
                .col(text("rtype"))
                .col(int("attempts", 0))
                .col(text_null("last_error"))
                .col(time("created_at"))
                .foreign_key(&mut fk("dns_outbox", "domain_id", "dns_domains"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "dns_outbox",
            "ix_dns_outbox_domain",
            &["domain_id", "id"],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "dns_outbox",
            "dns_records",
            "dns_domains",
            "dns_services",
            "certificates",
            "cert_authorities",
            "request_events",
            "approvals",
            "resource_requests",
            "settings",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
