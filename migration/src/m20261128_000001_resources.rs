//! The resources permissions are granted on: product lines, applications, hosts (their core
//! columns; the CMDB adds the rest in later migrations), and `perm_grants.resource_id` so list
//! queries can filter by granted ids with an index.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn s(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.string();
    c
}
fn ts(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.timestamp_with_time_zone();
    c
}
fn id_col() -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new("id"));
    c.big_integer().not_null().auto_increment().primary_key();
    c
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("productions"))
                .col(id_col())
                .col(s("name").not_null())
                .col(s("description").not_null().default(""))
                .col(ts("created_at").not_null())
                .col(ts("updated_at").not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_productions_name")
                .table(Alias::new("productions"))
                .col(Alias::new("name"))
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("applications"))
                .col(id_col())
                .col(s("name").not_null())
                .col(s("full_name").not_null())
                .col(
                    ColumnDef::new(Alias::new("production_id"))
                        .big_integer()
                        .null(),
                )
                .col(ColumnDef::new(Alias::new("parent_id")).big_integer().null())
                .col(s("application_type").not_null().default("process"))
                .col(s("description").not_null().default(""))
                .col(ts("created_at").not_null())
                .col(ts("updated_at").not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Alias::new("applications"), Alias::new("production_id"))
                        .to(Alias::new("productions"), Alias::new("id")),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Alias::new("applications"), Alias::new("parent_id"))
                        .to(Alias::new("applications"), Alias::new("id")),
                )
                .to_owned(),
        )
        .await?;
        for (name, cols, unique) in [
            ("ux_applications_full_name", vec!["full_name"], true),
            ("ix_applications_production", vec!["production_id"], false),
            ("ix_applications_parent", vec!["parent_id"], false),
        ] {
            let mut i = Index::create();
            i.name(name).table(Alias::new("applications"));
            for c in cols {
                i.col(Alias::new(c));
            }
            if unique {
                i.unique();
            }
            m.create_index(i.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table(Alias::new("hosts"))
                .col(id_col())
                .col(s("hostname").not_null())
                .col(s("host_type").not_null().default(""))
                .col(s("status").not_null().default(""))
                .col(s("description").not_null().default(""))
                .col(ts("created_at").not_null())
                .col(ts("updated_at").not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_hosts_hostname")
                .table(Alias::new("hosts"))
                .col(Alias::new("hostname"))
                .unique()
                .to_owned(),
        )
        .await?;

        m.alter_table(
            Table::alter()
                .table(Alias::new("perm_grants"))
                .add_column(
                    ColumnDef::new(Alias::new("resource_id"))
                        .big_integer()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_perm_grants_resource_id")
                .table(Alias::new("perm_grants"))
                .col(Alias::new("resource_type"))
                .col(Alias::new("resource_id"))
                .col(Alias::new("perm"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_perm_grants_resource_id")
                .table(Alias::new("perm_grants"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("perm_grants"))
                .drop_column(Alias::new("resource_id"))
                .to_owned(),
        )
        .await?;
        for t in ["hosts", "applications", "productions"] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
