//! Applications: process fields, the ancestor closure (for inherited permissions and fast
//! visibility filtering), dependencies and owners (the seed's "response persons").
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn s(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.string().not_null().default("");
    c
}
fn big(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.big_integer().not_null();
    c
}
fn fk(from: &str, col: &str, to: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Alias::new(from), Alias::new(col))
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column at a time.
        for col in [
            "run_user",
            "directory",
            "startup_cmd",
            "stop_cmd",
            "stdout_path",
            "stderr_path",
            "pid_path",
        ] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("applications"))
                    .add_column(s(col))
                    .to_owned(),
            )
            .await?;
        }

        // One row per (application, ancestor), the application itself included: ancestors are
        // `application` rows (self, parents) and `business` rows (product lines on the way up).
        m.create_table(
            Table::create()
                .table(Alias::new("application_paths"))
                .col(big("app_id"))
                .col(
                    ColumnDef::new(Alias::new("ancestor_type"))
                        .string()
                        .not_null(),
                )
                .col(big("ancestor_id"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("app_id"))
                        .col(Alias::new("ancestor_type"))
                        .col(Alias::new("ancestor_id")),
                )
                .foreign_key(&mut fk("application_paths", "app_id", "applications"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_application_paths_ancestor")
                .table(Alias::new("application_paths"))
                .col(Alias::new("ancestor_type"))
                .col(Alias::new("ancestor_id"))
                .col(Alias::new("app_id"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("application_dependencies"))
                .col(big("app_id"))
                .col(big("required_id"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("app_id"))
                        .col(Alias::new("required_id")),
                )
                .foreign_key(&mut fk(
                    "application_dependencies",
                    "app_id",
                    "applications",
                ))
                .foreign_key(&mut fk(
                    "application_dependencies",
                    "required_id",
                    "applications",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_application_dependencies_required")
                .table(Alias::new("application_dependencies"))
                .col(Alias::new("required_id"))
                .col(Alias::new("app_id"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("application_owners"))
                .col(big("app_id"))
                .col(big("user_id"))
                .col(ColumnDef::new(Alias::new("owner_type")).string().not_null())
                .primary_key(
                    Index::create()
                        .col(Alias::new("app_id"))
                        .col(Alias::new("user_id"))
                        .col(Alias::new("owner_type")),
                )
                .foreign_key(&mut fk("application_owners", "app_id", "applications"))
                .foreign_key(&mut fk("application_owners", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_application_owners_user")
                .table(Alias::new("application_owners"))
                .col(Alias::new("user_id"))
                .col(Alias::new("app_id"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "application_owners",
            "application_dependencies",
            "application_paths",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        for col in [
            "run_user",
            "directory",
            "startup_cmd",
            "stop_cmd",
            "stdout_path",
            "stderr_path",
            "pid_path",
        ] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("applications"))
                    .drop_column(Alias::new(col))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
