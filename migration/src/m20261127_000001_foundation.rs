use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(t: &mut TableCreateStatement) -> &mut TableCreateStatement {
    t.col(
        ColumnDef::new(Alias::new("id"))
            .big_integer()
            .not_null()
            .auto_increment()
            .primary_key(),
    )
}
fn ts(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.timestamp_with_time_zone();
    c
}
fn s(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.string();
    c
}
fn big(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.big_integer();
    c
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
        m.create_table(
            id(Table::create().table(Alias::new("users")))
                .col(s("username").not_null())
                .col(s("email").not_null().default(""))
                .col(s("phone").not_null().default(""))
                .col(s("display_name").not_null().default(""))
                .col(s("password_hash").not_null())
                .col(s("status").not_null().default("enabled"))
                .col(s("locale").not_null().default("en"))
                .col(ts("last_login_at").null())
                .col(ts("created_at").not_null())
                .col(ts("updated_at").not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(idx("users", "ux_users_username", &["username"], true))
            .await?;
        m.create_index(idx("users", "ix_users_email", &["email"], false))
            .await?;

        m.create_table(
            id(Table::create().table(Alias::new("roles")))
                .col(s("name").not_null())
                .col(s("description").not_null().default(""))
                .col(s("creator").not_null().default(""))
                .col(
                    ColumnDef::new(Alias::new("builtin"))
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(ts("created_at").not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(idx("roles", "ux_roles_name", &["name"], true))
            .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("user_roles"))
                .col(big("user_id").not_null())
                .col(big("role_id").not_null())
                .primary_key(
                    Index::create()
                        .col(Alias::new("user_id"))
                        .col(Alias::new("role_id")),
                )
                .foreign_key(&mut fk("user_roles", "user_id", "users"))
                .foreign_key(&mut fk("user_roles", "role_id", "roles"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx(
            "user_roles",
            "ix_user_roles_role",
            &["role_id", "user_id"],
            false,
        ))
        .await?;

        // One row per granted permission: the Casbin policy (p lines) in typed form.
        m.create_table(
            id(Table::create().table(Alias::new("perm_grants")))
                .col(s("subject_type").not_null())
                .col(big("subject_id").not_null())
                .col(s("resource_type").not_null())
                .col(s("resource_key").not_null())
                .col(s("perm").not_null())
                .col(big("granted_by").null())
                .col(ts("created_at").not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(idx(
            "perm_grants",
            "ux_perm_grants",
            &[
                "subject_type",
                "subject_id",
                "resource_type",
                "resource_key",
                "perm",
            ],
            true,
        ))
        .await?;
        m.create_index(idx(
            "perm_grants",
            "ix_perm_grants_resource",
            &["resource_type", "resource_key", "perm"],
            false,
        ))
        .await?;

        m.create_table(
            id(Table::create().table(Alias::new("api_tokens")))
                .col(big("user_id").not_null())
                .col(s("name").not_null())
                .col(s("description").not_null().default(""))
                .col(s("prefix").not_null())
                .col(s("token_hash").not_null())
                .col(ts("expires_at").null())
                .col(ts("last_used_at").null())
                .col(ts("created_at").not_null())
                .foreign_key(&mut fk("api_tokens", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx(
            "api_tokens",
            "ux_api_tokens_hash",
            &["token_hash"],
            true,
        ))
        .await?;
        m.create_index(idx("api_tokens", "ix_api_tokens_user", &["user_id"], false))
            .await?;

        m.create_table(
            id(Table::create().table(Alias::new("audit_logs")))
                .col(s("category").not_null())
                .col(s("op_type").not_null())
                .col(big("operator_id").null())
                .col(s("operator").not_null().default(""))
                .col(s("target_type").not_null().default(""))
                .col(big("target_id").null())
                .col(s("target_name").not_null().default(""))
                .col(s("module_name").not_null().default(""))
                .col(s("perm_name").not_null().default(""))
                .col(s("action").not_null().default(""))
                .col(s("authorized_target_type").not_null().default(""))
                .col(s("authorized_target_name").not_null().default(""))
                .col(
                    ColumnDef::new(Alias::new("detail"))
                        .text()
                        .not_null()
                        .default("{}"),
                )
                .col(s("request_id").not_null().default(""))
                .col(s("ip").not_null().default(""))
                .col(ts("op_time").not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(idx(
            "audit_logs",
            "ix_audit_category_time",
            &["category", "op_time"],
            false,
        ))
        .await?;
        m.create_index(idx(
            "audit_logs",
            "ix_audit_target",
            &["target_type", "target_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("sessions"))
                .col(s("id").not_null().primary_key())
                .col(ColumnDef::new(Alias::new("data")).text().not_null())
                .col(ts("expiry_date").not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(idx(
            "sessions",
            "ix_sessions_expiry",
            &["expiry_date"],
            false,
        ))
        .await?;

        m.create_table(
            id(Table::create().table(Alias::new("password_resets")))
                .col(big("user_id").not_null())
                .col(s("token_hash").not_null())
                .col(ts("expires_at").not_null())
                .col(ts("used_at").null())
                .col(ts("created_at").not_null())
                .foreign_key(&mut fk("password_resets", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx(
            "password_resets",
            "ux_password_resets_hash",
            &["token_hash"],
            true,
        ))
        .await?;

        m.create_table(
            id(Table::create().table(Alias::new("login_failures")))
                .col(s("username").not_null())
                .col(s("ip").not_null())
                .col(ts("created_at").not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(idx(
            "login_failures",
            "ix_login_failures_user",
            &["username", "created_at"],
            false,
        ))
        .await?;
        m.create_index(idx(
            "login_failures",
            "ix_login_failures_ip",
            &["ip", "created_at"],
            false,
        ))
        .await?;

        // Durable background jobs (mail now; deploys, host tasks and DNS pushes later).
        m.create_table(
            id(Table::create().table(Alias::new("jobs")))
                .col(s("kind").not_null())
                .col(ColumnDef::new(Alias::new("payload")).text().not_null())
                .col(s("status").not_null())
                .col(
                    ColumnDef::new(Alias::new("attempts"))
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(Alias::new("max_attempts"))
                        .integer()
                        .not_null()
                        .default(5),
                )
                .col(ColumnDef::new(Alias::new("last_error")).text().null())
                .col(ts("run_after").not_null())
                .col(ts("locked_until").null())
                .col(ts("created_at").not_null())
                .col(ts("updated_at").not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(idx(
            "jobs",
            "ix_jobs_status_run_after",
            &["status", "run_after"],
            false,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "jobs",
            "login_failures",
            "password_resets",
            "sessions",
            "audit_logs",
            "api_tokens",
            "perm_grants",
            "user_roles",
            "roles",
            "users",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
