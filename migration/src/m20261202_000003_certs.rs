//! Certificates, second step:
//! - `certificate_apps`: which applications a certificate is for, as rows (the owners of those
//!   applications see and download it; `certificates.app_ids` keeps the list as requested), so
//!   "certificates this user may see" is one indexed subquery.
//! - One certificate per resource request (`ux_certificates_request`): a fulfilment that runs
//!   twice, or races an operator's upload, cannot store two.
//! - At most one active CA (`ux_cert_authorities_active`, partial): concurrent first issues
//!   create one CA; the others find it.
//! - `ix_certificates_owner`: "my certificates".
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE certificate_apps (
        certificate_id BIGINT NOT NULL REFERENCES certificates (id) ON DELETE CASCADE,
        app_id BIGINT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
        PRIMARY KEY (certificate_id, app_id)
    )",
    "CREATE INDEX ix_certificate_apps_app ON certificate_apps (app_id, certificate_id)",
    "CREATE UNIQUE INDEX ux_certificates_request ON certificates (request_id)",
    "CREATE UNIQUE INDEX ux_cert_authorities_active ON cert_authorities (active) WHERE active",
    "CREATE INDEX ix_certificates_owner ON certificates (owner_id, id)",
];

const DOWN: &[&str] = &[
    "DROP INDEX ix_certificates_owner",
    "DROP INDEX ux_cert_authorities_active",
    "DROP INDEX ux_certificates_request",
    "DROP TABLE certificate_apps",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for s in UP {
            db.execute_unprepared(s).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for s in DOWN {
            db.execute_unprepared(s).await?;
        }
        Ok(())
    }
}
