//! Bulk imports: one row per uploaded CSV file, its state and its per-row result. The work runs
//! as a durable job (`jobs` kind `import`).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn text(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.text().not_null();
    c
}
fn count(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.big_integer().not_null().default(0);
    c
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("imports"))
                .col(
                    ColumnDef::new(Alias::new("id"))
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(text("kind"))
                .col(text("filename"))
                .col(text("status"))
                .col(
                    ColumnDef::new(Alias::new("all_or_nothing"))
                        .boolean()
                        .not_null(),
                )
                .col(text("content"))
                .col(count("total"))
                .col(count("created"))
                .col(count("updated"))
                .col(count("unchanged"))
                .col(text("errors"))
                .col(ColumnDef::new(Alias::new("message")).text().null())
                .col(
                    ColumnDef::new(Alias::new("created_by"))
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Alias::new("created_at"))
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Alias::new("finished_at"))
                        .timestamp_with_time_zone()
                        .null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Alias::new("imports"), Alias::new("created_by"))
                        .to(Alias::new("users"), Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_imports_created_by")
                .table(Alias::new("imports"))
                .col(Alias::new("created_by"))
                .col(Alias::new("id"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Alias::new("imports")).to_owned())
            .await
    }
}
