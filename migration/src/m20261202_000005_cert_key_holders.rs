//! Certificates, third step: `certificate_key_holders`, the people who may download a
//! certificate's private key, fixed when it is issued or uploaded (its owner and the owners of
//! its associated applications at that moment). Becoming an application's owner later (anyone
//! with `edit_app` may add themselves) shows the certificate, never its key.
//!
//! Existing certificates get their owner and the current owners of their applications: what
//! could download the key the moment before this migration (owner changes are in the audit log).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE certificate_key_holders (
        certificate_id BIGINT NOT NULL REFERENCES certificates (id) ON DELETE CASCADE,
        user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        PRIMARY KEY (certificate_id, user_id)
    )",
    "CREATE INDEX ix_certificate_key_holders_user ON certificate_key_holders (user_id, certificate_id)",
    "INSERT INTO certificate_key_holders (certificate_id, user_id)
        SELECT c.id, c.owner_id FROM certificates c
        WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = c.owner_id)
        UNION
        SELECT ca.certificate_id, o.user_id
        FROM certificate_apps ca JOIN application_owners o ON o.app_id = ca.app_id",
];

const DOWN: &[&str] = &[
    "DROP INDEX ix_certificate_key_holders_user",
    "DROP TABLE certificate_key_holders",
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
