//! Host init runs (`host_init`): each host gets its name, the running user, an account with
//! the SSH keys of every user who may log in to it (`login_host`), and (with Zabbix configured)
//! the agent's configuration; then it is enrolled in Zabbix with the task's groups and
//! templates. A host that inited moves `raw` → `inited`, and an approved host request waiting
//! for its hosts is finished.
use super::runner::{quote, steps, Exec, Outcome, Step, EXEC_FAILED};
use crate::entities::{host, host_access, ip_address, run_target};
use crate::error::AppResult;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

/// The run kind.
pub const HOST_INIT: &str = "host_init";
/// The running user when the task names none.
pub const DEFAULT_RUNNING_USER: &str = "work";

/// What an init run does besides its fixed steps (`runs.opts.extra`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InitPlan {
    #[serde(default)]
    pub zabbix_groups: Vec<String>,
    #[serde(default)]
    pub zabbix_templates: Vec<String>,
    #[serde(default)]
    pub running_user: String,
}

/// Whether a name is a login name `useradd` takes and shells need no quoting for.
pub fn login_name_ok(n: &str) -> bool {
    let mut c = n.chars();
    matches!(c.next(), Some('a'..='z' | '_'))
        && n.len() <= 32
        && c.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-' | '.'))
}

/// The init script of one host.
pub fn script(
    hostname: &str,
    running_user: &str,
    logins: &[(String, Vec<String>)],
    zabbix_server: Option<&str>,
) -> String {
    let mut s = String::from(
        "set -eu\n\
         [ \"$(id -u)\" = 0 ] || { echo 'init needs to log in as root' >&2; exit 1; }\n\
         ensure_user() { id -u \"$1\" >/dev/null 2>&1 || { useradd -m -s /bin/bash \"$1\" && echo \"created user $1\"; }; }\n",
    );
    let h = quote(hostname);
    s.push_str(&format!(
        "hostname {h} 2>/dev/null || echo 'note: the running system kept its name until reboot'\n\
         echo {h} > /etc/hostname\necho \"hostname: $(cat /etc/hostname)\"\n"
    ));
    s.push_str(&format!("ensure_user {}\n", quote(running_user)));
    for (user, keys) in logins {
        let u = quote(user);
        let lines: Vec<String> = keys.iter().map(|k| quote(k)).collect();
        s.push_str(&format!(
            "ensure_user {u}\n\
             home=$(getent passwd {u} | cut -d: -f6)\n\
             install -d -m 700 -o {u} -g \"$(id -g {u})\" \"$home/.ssh\"\n\
             f=\"$home/.ssh/authorized_keys\"; touch \"$f\"\n\
             keep=$(sed '/^# opsdeck-managed begin$/,/^# opsdeck-managed end$/d' \"$f\")\n\
             {{ [ -n \"$keep\" ] && printf '%s\\n' \"$keep\"; echo '# opsdeck-managed begin'; printf '%s\\n' {}; echo '# opsdeck-managed end'; }} > \"$f\"\n\
             chown {u} \"$f\"; chmod 600 \"$f\"\n\
             echo \"keys of {user}: {}\"\n",
            lines.join(" "),
            keys.len()
        ));
    }
    if let Some(server) = zabbix_server {
        let srv = quote(server);
        s.push_str(&format!(
            "mkdir -p /etc/zabbix/zabbix_agentd.conf.d\n\
             printf 'Server=%s\\nServerActive=%s\\nHostname=%s\\n' {srv} {srv} {h} > /etc/zabbix/zabbix_agentd.conf.d/opsdeck.conf\n\
             if command -v zabbix_agentd >/dev/null 2>&1; then\n\
               (systemctl restart zabbix-agent || service zabbix-agent restart) >/dev/null 2>&1 || echo 'note: the Zabbix agent was not restarted'\n\
             else echo 'note: no Zabbix agent installed; its configuration is in place'; fi\n"
        ));
    }
    s.push_str("echo 'init done'\n");
    s
}

fn plan(ex: &Exec) -> InitPlan {
    serde_json::from_value(ex.extra.clone()).unwrap_or_default()
}

/// Inits one host, then enrols it in Zabbix.
pub(super) async fn target(ex: &Exec, t: &mut run_target::Model) -> Outcome {
    let ctx = &ex.ctx;
    let p = plan(ex);
    let failed = |e: crate::error::AppError| Outcome::failed(e.error_code as i32, e.message);
    let h = match host::Entity::find_by_id(t.host_id).one(&ctx.db).await {
        Ok(Some(h)) => h,
        Ok(None) => return Outcome::failed(EXEC_FAILED, "the host was deleted"),
        Err(e) => return Outcome::failed(EXEC_FAILED, e.to_string()),
    };
    let logins = match crate::credentials::service::login_keys(ctx, h.id).await {
        Ok(l) => l,
        Err(e) => return failed(e),
    };
    let (ok, skipped): (Vec<_>, Vec<_>) = logins.into_iter().partition(|(u, _)| login_name_ok(u));
    for (u, _) in skipped {
        ex.out.system(
            t.id,
            &format!("user {u} may log in but is no valid login name: skipped"),
        );
    }
    let zabbix = ctx.config.zabbix.as_ref();
    let step = Step {
        name: "init".into(),
        script: script(
            &h.hostname,
            if p.running_user.is_empty() {
                DEFAULT_RUNNING_USER
            } else {
                &p.running_user
            },
            &ok,
            zabbix.map(|z| z.agent_server.as_str()),
        ),
        timeout_secs: Some(300),
    };
    let o = steps(ex, t, std::slice::from_ref(&step)).await;
    if !o.ok {
        return o;
    }
    let wanted = !p.zabbix_groups.is_empty() || !p.zabbix_templates.is_empty();
    let (Some(z), true) = (zabbix, wanted) else {
        return o;
    };
    let access = host_access::Entity::find_by_id(h.id).one(&ctx.db).await;
    let ip = match access {
        Ok(a) => crate::credentials::service::address_of(&ctx.db, h.id, a.as_ref()).await,
        Err(e) => Err(e.into()),
    };
    let ip = match ip {
        Ok(Some(ip)) => ip,
        Ok(None) => return Outcome::failed(EXEC_FAILED, "the host has no address for Zabbix"),
        Err(e) => return failed(e),
    };
    match super::zabbix::enrol(z, &h.hostname, &ip, &p.zabbix_groups, &p.zabbix_templates).await {
        Ok(id) => {
            ex.out
                .system(t.id, &format!("enrolled in Zabbix (host id {id}) at {ip}"));
            o
        }
        Err(e) => failed(e),
    }
}

/// What a host that inited changes, in the transaction of its result.
pub(super) async fn effects<C: ConnectionTrait>(
    txn: &C,
    ex: &Exec,
    t: &run_target::Model,
) -> AppResult<()> {
    if ex.run.kind != HOST_INIT {
        return Ok(());
    }
    host::Entity::update_many()
        .col_expr(host::Column::Status, Expr::value("inited"))
        .col_expr(host::Column::UpdatedAt, Expr::value(crate::time::now()))
        .filter(host::Column::Id.eq(t.host_id))
        .filter(host::Column::Status.eq("raw"))
        .exec(txn)
        .await?;
    let p = plan(ex);
    if ex.ctx.config.zabbix.is_some()
        && !(p.zabbix_groups.is_empty() && p.zabbix_templates.is_empty())
    {
        record_zabbix(txn, t.host_id, &p.zabbix_groups, &p.zabbix_templates).await?;
    }
    crate::requests::service::hosts_inited(txn, &ex.ctx, t.host_id).await
}

/// Keeps a host's Zabbix groups and templates on the address Zabbix watches (the CMDB's copy).
pub async fn record_zabbix<C: ConnectionTrait>(
    txn: &C,
    host_id: i64,
    groups: &[String],
    templates: &[String],
) -> AppResult<()> {
    let access = host_access::Entity::find_by_id(host_id).one(txn).await?;
    let Some(ip) = crate::credentials::service::address_of(txn, host_id, access.as_ref()).await?
    else {
        return Ok(());
    };
    ip_address::Entity::update_many()
        .col_expr(
            ip_address::Column::ZabbixGroups,
            Expr::value(serde_json::json!(groups).to_string()),
        )
        .col_expr(
            ip_address::Column::ZabbixTemplates,
            Expr::value(serde_json::json!(templates).to_string()),
        )
        .filter(ip_address::Column::HostId.eq(host_id))
        .filter(ip_address::Column::Address.eq(ip))
        .exec(txn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names() {
        assert!(login_name_ok("alice"));
        assert!(login_name_ok("_svc-1.x"));
        assert!(!login_name_ok("Alice"));
        assert!(!login_name_ok("a b"));
        assert!(!login_name_ok("-rf"));
        assert!(!login_name_ok(""));
        assert!(!login_name_ok("a;rm"));
    }
}
