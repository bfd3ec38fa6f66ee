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

/// Whether a host name can be a system's name (RFC 1123 labels, 63 characters at most).
pub fn system_hostname_ok(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 63
        && n.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The comment accounts Opsdeck creates for login users carry: only such accounts get keys,
/// and those whose users may no longer log in are emptied and expired.
const LOGIN_MARK: &str = "opsdeck-login";

/// The first step: the host's name, the running user, accounts of users who may no longer log
/// in (their keys removed, the account expired), the Zabbix agent's server and host name.
pub fn base_script(
    hostname: &str,
    running_user: &str,
    keep: &[String],
    zabbix_server: Option<&str>,
) -> String {
    let h = quote(hostname);
    let ru = quote(running_user);
    let keep = quote(&format!(" {} ", keep.join(" ")));
    // Runs as the account's user, so a symlink it planted can only reach its own files.
    let empty = quote(
        r#"f="$1/.ssh/authorized_keys"; [ -f "$f" ] && [ ! -L "$f" ] || exit 0; sed '/^# opsdeck-managed begin$/,/^# opsdeck-managed end$/d' "$f" > "$f.opsdeck" && mv -f "$f.opsdeck" "$f""#,
    );
    let mut s = format!(
        "set -eu\n\
         [ \"$(id -u)\" = 0 ] || {{ echo 'init needs to log in as root' >&2; exit 1; }}\n\
         h={h}\n\
         hostname -- \"$h\" 2>/dev/null || echo 'note: the running system keeps its name until reboot'\n\
         printf '%s\\n' \"$h\" > /etc/hostname\n\
         echo \"hostname: $h\"\n\
         id -u {ru} >/dev/null 2>&1 || {{ useradd -m -s /bin/bash -c opsdeck-running {ru} && echo 'created the running user '{ru}; }}\n\
         keep={keep}\n\
         getent passwd | awk -F: '$5==\"{LOGIN_MARK}\"{{print $1\":\"$6}}' | while IFS=: read -r u home; do\n\
           case \"$keep\" in *\" $u \"*) continue;; esac\n\
           runuser -u \"$u\" -- sh -c {empty} sh \"$home\" || true\n\
           usermod -e 1 \"$u\" && echo \"revoked $u: keys removed, account expired\"\n\
         done\n"
    );
    if let Some(server) = zabbix_server {
        s.push_str(&format!(
            "conf=/etc/zabbix/zabbix_agentd.conf; mkdir -p /etc/zabbix; [ -f \"$conf\" ] || : > \"$conf\"\n\
             awk -v s={srv} -v h=\"$h\" '/^Server=/{{print \"Server=\" s; a=1; next}} /^ServerActive=/{{print \"ServerActive=\" s; b=1; next}} /^Hostname=/{{print \"Hostname=\" h; c=1; next}} {{print}} END{{if(!a)print \"Server=\" s; if(!b)print \"ServerActive=\" s; if(!c)print \"Hostname=\" h}}' \"$conf\" > \"$conf.opsdeck\" && mv -f \"$conf.opsdeck\" \"$conf\"\n\
             echo \"zabbix agent: Server={server_echo}, Hostname=$h\"\n\
             if command -v zabbix_agentd >/dev/null 2>&1; then\n\
               (systemctl restart zabbix-agent || service zabbix-agent restart) >/dev/null 2>&1 || echo 'note: the Zabbix agent did not restart' >&2\n\
             else echo 'note: no Zabbix agent installed; its configuration is in place'; fi\n",
            srv = quote(server),
            server_echo = server.replace(['"', '$', '`', '\\'], ""),
        ));
    }
    s
}

/// One login user's step: their account (created by Opsdeck, or one it created before) and
/// their keys in a managed block of `~/.ssh/authorized_keys`, written as the user. A user whose
/// account cannot be set up is reported and skipped; the host still inits.
pub fn user_script(user: &str, keys: &[String]) -> String {
    let u = quote(user);
    let write = quote(
        r#"set -eu; d="$1/.ssh"; f="$d/authorized_keys"; shift; mkdir -p "$d"; chmod 700 "$d"; [ -L "$f" ] && rm -f "$f"; { [ -f "$f" ] && sed '/^# opsdeck-managed begin$/,/^# opsdeck-managed end$/d' "$f"; echo '# opsdeck-managed begin'; printf '%s\n' "$@"; echo '# opsdeck-managed end'; } > "$f.opsdeck"; chmod 600 "$f.opsdeck"; mv -f "$f.opsdeck" "$f""#,
    );
    let keys: Vec<String> = keys.iter().map(|k| quote(k)).collect();
    format!(
        "u={u}\n\
         if id -u \"$u\" >/dev/null 2>&1; then\n\
           [ \"$(getent passwd \"$u\" | cut -d: -f5)\" = {LOGIN_MARK} ] || {{ echo \"account $u exists and is not one Opsdeck made: no keys installed\" >&2; exit 0; }}\n\
         else\n\
           useradd -m -s /bin/bash -c {LOGIN_MARK} \"$u\" || {{ echo \"could not create the account $u\" >&2; exit 0; }}\n\
           echo \"created user $u\"\n\
         fi\n\
         usermod -e '' \"$u\" 2>/dev/null || true\n\
         home=$(getent passwd \"$u\" | cut -d: -f6)\n\
         runuser -u \"$u\" -- sh -c {write} sh \"$home\" {} || {{ echo \"could not install the keys of $u\" >&2; exit 0; }}\n\
         echo \"keys of $u: {}\"\n",
        keys.join(" "),
        keys.len()
    )
}

fn plan(ex: &Exec) -> InitPlan {
    serde_json::from_value(ex.extra.clone()).unwrap_or_default()
}

/// How long Zabbix enrolment of one host may take in all.
const ENROL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

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
    let zabbix = ctx.config.zabbix.as_ref();
    let wanted = !p.zabbix_groups.is_empty() || !p.zabbix_templates.is_empty();
    // Where Zabbix will watch the host, known before anything changes on it.
    let access = match host_access::Entity::find_by_id(h.id).one(&ctx.db).await {
        Ok(a) => a,
        Err(e) => return Outcome::failed(EXEC_FAILED, e.to_string()),
    };
    let ip = if zabbix.is_some() && wanted {
        match crate::credentials::service::address_of(&ctx.db, h.id, access.as_ref()).await {
            Ok(Some(ip)) if ip.parse::<std::net::IpAddr>().is_ok() => Some(ip),
            Ok(_) => {
                return Outcome::failed(
                    EXEC_FAILED,
                    "Zabbix watches an IP address and the host has none: nothing was changed",
                )
            }
            Err(e) => return failed(e),
        }
    } else {
        None
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
    let running_user = if p.running_user.is_empty() {
        DEFAULT_RUNNING_USER
    } else {
        &p.running_user
    };
    let keep: Vec<String> = ok.iter().map(|(u, _)| u.clone()).collect();
    let mut list = vec![Step {
        name: "init".into(),
        script: base_script(
            &h.hostname,
            running_user,
            &keep,
            zabbix.map(|z| z.agent_server.as_str()),
        ),
        timeout_secs: Some(300),
    }];
    for (u, keys) in &ok {
        list.push(Step {
            name: format!("keys of {u}"),
            script: user_script(u, keys),
            timeout_secs: Some(60),
        });
    }
    t.steps_total = list.len() as i32;
    let o = steps(ex, t, &list).await;
    if !o.ok {
        return o;
    }
    let (Some(z), Some(ip)) = (zabbix, ip) else {
        return o;
    };
    let known = access.as_ref().and_then(|a| a.zabbix_host_id.clone());
    let templates = (!p.zabbix_templates.is_empty()).then_some(p.zabbix_templates.as_slice());
    let mut cancel = ex.cancel.clone();
    let enrol = super::zabbix::enrol(
        z,
        &h.hostname,
        &ip,
        known.as_deref(),
        Some(&p.zabbix_groups),
        templates,
    );
    let r = tokio::select! {
        r = tokio::time::timeout(ENROL_DEADLINE, enrol) => r.unwrap_or_else(|_| Err(crate::error::AppError::new(
            crate::error::ErrorCode::ZabbixFailed,
            format!("Zabbix API: no answer within {} s", ENROL_DEADLINE.as_secs()),
        ))),
        c = cancel.wait_for(|c| c.is_some()) => {
            return Outcome::failed(EXEC_FAILED, c.map(|c| c.clone().unwrap_or_default()).unwrap_or_default());
        }
    };
    match r {
        Ok(id) => {
            ex.out
                .system(t.id, &format!("enrolled in Zabbix (host id {id}) at {ip}"));
            if let Err(e) = host_access::Entity::update_many()
                .col_expr(host_access::Column::ZabbixHostId, Expr::value(id))
                .filter(host_access::Column::HostId.eq(h.id))
                .exec(&ctx.db)
                .await
            {
                tracing::error!(host = h.id, error = %e, "recording a Zabbix host id");
            }
            o
        }
        Err(e) => failed(crate::error::AppError {
            message: format!(
                "the host is set up, but Zabbix enrolment failed: {} (init again, or set its Zabbix options)",
                e.message
            ),
            ..e
        }),
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
        record_zabbix(
            txn,
            t.host_id,
            given(&p.zabbix_groups),
            given(&p.zabbix_templates),
        )
        .await?;
    }
    crate::requests::service::hosts_inited(txn, &ex.ctx, t.host_id).await
}

/// A list of a task's Zabbix options, when it has one (empty: not given).
fn given(v: &[String]) -> Option<&[String]> {
    (!v.is_empty()).then_some(v)
}

/// Keeps a host's Zabbix groups and templates (those given) on the address Zabbix watches
/// (the CMDB's copy).
pub async fn record_zabbix<C: ConnectionTrait>(
    txn: &C,
    host_id: i64,
    groups: Option<&[String]>,
    templates: Option<&[String]>,
) -> AppResult<()> {
    let access = host_access::Entity::find_by_id(host_id).one(txn).await?;
    let Some(ip) = crate::credentials::service::address_of(txn, host_id, access.as_ref()).await?
    else {
        return Ok(());
    };
    let mut q = ip_address::Entity::update_many()
        .filter(ip_address::Column::HostId.eq(host_id))
        .filter(ip_address::Column::Address.eq(ip));
    if let Some(g) = groups {
        q = q.col_expr(
            ip_address::Column::ZabbixGroups,
            Expr::value(serde_json::json!(g).to_string()),
        );
    }
    if let Some(t) = templates {
        q = q.col_expr(
            ip_address::Column::ZabbixTemplates,
            Expr::value(serde_json::json!(t).to_string()),
        );
    }
    if groups.is_some() || templates.is_some() {
        q.exec(txn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_host_names() {
        assert!(system_hostname_ok("web-01.prod"));
        assert!(!system_hostname_ok("-n"));
        assert!(!system_hostname_ok("db_1"));
        assert!(!system_hostname_ok(&"a".repeat(64)));
        assert!(!system_hostname_ok("a..b"));
    }

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
