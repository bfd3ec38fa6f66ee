//! Hosts: the seed's host fields, IP addresses, and application instances on hosts.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(from: &str, col: &str, to: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Alias::new(from), Alias::new(col))
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}
fn idx(table: &str, name: &str, cols: &[&str], unique: bool) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(Alias::new(table));
    for c in cols {
        i.col(Alias::new(*c));
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut cols: Vec<ColumnDef> = vec![];
        for s in ["os_status", "os_type", "location"] {
            let mut c = ColumnDef::new(Alias::new(s));
            c.string().not_null().default("");
            cols.push(c);
        }
        for n in ["cpu", "memory"] {
            let mut c = ColumnDef::new(Alias::new(n));
            c.big_integer().not_null().default(0);
            cols.push(c);
        }
        for mut c in cols {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("hosts"))
                    .add_column(&mut c)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(idx(
            "hosts",
            "ix_hosts_status",
            &["status", "hostname"],
            false,
        ))
        .await?;
        m.create_index(idx(
            "hosts",
            "ix_hosts_type",
            &["host_type", "hostname"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("ip_addresses"))
                .col(
                    ColumnDef::new(Alias::new("id"))
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Alias::new("host_id"))
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Alias::new("owner"))
                        .string()
                        .not_null()
                        .default("HOST"),
                )
                .col(
                    ColumnDef::new(Alias::new("is_virtual"))
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(
                    ColumnDef::new(Alias::new("addr_type"))
                        .string()
                        .not_null()
                        .default("PRIVATE"),
                )
                .col(ColumnDef::new(Alias::new("network")).string().not_null())
                .col(ColumnDef::new(Alias::new("netmask")).string().not_null())
                .col(ColumnDef::new(Alias::new("address")).string().not_null())
                .col(
                    ColumnDef::new(Alias::new("zabbix_groups"))
                        .text()
                        .not_null()
                        .default("[]"),
                )
                .col(
                    ColumnDef::new(Alias::new("zabbix_templates"))
                        .text()
                        .not_null()
                        .default("[]"),
                )
                .foreign_key(&mut fk("ip_addresses", "host_id", "hosts"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx(
            "ip_addresses",
            "ux_ip_addresses_network_address",
            &["network", "address"],
            true,
        ))
        .await?;
        m.create_index(idx(
            "ip_addresses",
            "ix_ip_addresses_address",
            &["address"],
            false,
        ))
        .await?;
        m.create_index(idx(
            "ip_addresses",
            "ix_ip_addresses_host",
            &["host_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("application_instances"))
                .col(
                    ColumnDef::new(Alias::new("id"))
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Alias::new("app_id"))
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Alias::new("host_id"))
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Alias::new("status"))
                        .string()
                        .not_null()
                        .default("stopped"),
                )
                .col(
                    ColumnDef::new(Alias::new("version"))
                        .string()
                        .not_null()
                        .default(""),
                )
                .col(
                    ColumnDef::new(Alias::new("created_at"))
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(&mut fk("application_instances", "app_id", "applications"))
                .foreign_key(&mut fk("application_instances", "host_id", "hosts"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx(
            "application_instances",
            "ux_instances_app_host",
            &["app_id", "host_id"],
            true,
        ))
        .await?;
        m.create_index(idx(
            "application_instances",
            "ix_instances_host",
            &["host_id", "app_id"],
            false,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["application_instances", "ip_addresses"] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        for i in ["ix_hosts_status", "ix_hosts_type"] {
            m.drop_index(Index::drop().name(i).table(Alias::new("hosts")).to_owned())
                .await?;
        }
        for c in ["os_status", "os_type", "location", "cpu", "memory"] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("hosts"))
                    .drop_column(Alias::new(c))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
