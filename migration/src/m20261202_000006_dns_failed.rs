//! DNS, robustness: records the server refused, and what a domain request expects.
//! - `dns_records.push_error`: why the server refused the record's RRset (state `failed`: the
//!   set left the outbox, so one bad RRset no longer holds up its zone's queue; a later change
//!   of the set queues it again).
//! - `dns_records.request_total`: how many records the domain request that created the row
//!   wrote, so a request whose rows were deleted (or whose zone was removed) is never taken as
//!   served.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE dns_records ADD COLUMN push_error TEXT NULL",
    "ALTER TABLE dns_records ADD COLUMN request_total INTEGER NULL",
];

const DOWN: &[&str] = &[
    "ALTER TABLE dns_records DROP COLUMN request_total",
    "ALTER TABLE dns_records DROP COLUMN push_error",
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
