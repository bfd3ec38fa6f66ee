//! SSH access to hosts: credentials, per-host access settings, pinned host keys.
//!
//! Who: everything here needs `host.manage_host` except reading a host's access settings
//! (`view_host` on it). Pointing a host at another address or credential, and accepting a new
//! host key, decide where a stored password or key is sent, so they are not `edit_host` work.
//!
//! Secrets (passwords, private keys, passphrases) are encrypted under `OPSDECK_SECRET_KEY`
//! (`crypto`), never answered (`secret` is `******`), never audited, and reach only the SSH
//! layer (`resolve`).
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::{Message, Page};
use crate::crypto::Keyring;
use crate::ctx::{Actor, Ctx};
use crate::entities::{host, host_access, host_key, ip_address, ssh_credential};
use crate::error::{AppError, AppResult};
use crate::exec::ssh::{self, HostKey, Login, Target};
use crate::perms::service::{authorize_module, authorize_resource};
use crate::perms::types::ResourceType;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;

mod cloud;
mod keys;
pub use cloud::*;
pub use keys::*;

const SECRET_CONTEXT: &str = "ssh_credentials.secret_enc";
const PASSPHRASE_CONTEXT: &str = "ssh_credentials.passphrase_enc";
/// Largest private key or password accepted.
const MAX_SECRET: usize = 16 << 10;

async fn manage(ctx: &Ctx, actor: &Actor) -> AppResult<()> {
    authorize_module(ctx, actor, "host", "manage_host").await
}

async fn wire(ctx: &Ctx, c: ssh_credential::Model, hosts: u64) -> AppResult<SshCredential> {
    let creator = ctx.names.name_of(&ctx.db, c.creator_id).await?;
    Ok(SshCredential {
        id: c.id,
        name: c.name,
        username: c.username,
        kind: c.kind,
        secret: crate::exec::output::MASK.into(),
        passphrase_set: c.passphrase_enc.is_some(),
        public_key: c.public_key,
        hosts,
        creator,
        created_at: crate::time::fmt(&c.created_at),
        updated_at: crate::time::fmt(&c.updated_at),
    })
}

async fn users_of<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<u64> {
    Ok(host_access::Entity::find()
        .filter(host_access::Column::CredentialId.eq(id))
        .count(db)
        .await?)
}

async fn load(ctx: &Ctx, id: i64) -> AppResult<ssh_credential::Model> {
    ssh_credential::Entity::find_by_id(id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::not_found("SSH credential"))
}

/// `GET /hosts/ssh-credentials/`: credentials, by name.
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    f: SshCredentialFilter,
) -> AppResult<Page<SshCredential>> {
    manage(ctx, actor).await?;
    let mut q = ssh_credential::Entity::find();
    if let Some(n) = f.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        q = q.filter(crate::db::contains_text(
            ctx.db.get_database_backend(),
            "ssh_credentials",
            "name",
            n,
        ));
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(ssh_credential::Column::Name)
        .offset((f.page.page() - 1) * f.page.size())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    // How many hosts use each credential of the page, in one query.
    let used: std::collections::HashMap<i64, i64> = host_access::Entity::find()
        .select_only()
        .column(host_access::Column::CredentialId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(host_access::Column::CredentialId.is_in(rows.iter().map(|r| r.id)))
        .group_by(host_access::Column::CredentialId)
        .into_tuple::<(i64, i64)>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let n = used.get(&r.id).copied().unwrap_or(0) as u64;
        out.push(wire(ctx, r, n).await?);
    }
    Ok(Page::new(count, &f.page, out))
}

/// `GET /hosts/ssh-credentials/{id}/`.
pub async fn get(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<SshCredential> {
    manage(ctx, actor).await?;
    let c = load(ctx, id).await?;
    let n = users_of(&ctx.db, id).await?;
    wire(ctx, c, n).await
}

/// The secret columns of a credential input, checked and encrypted: (kind, secret, passphrase,
/// public key).
async fn secrets_of(
    keys: &Keyring,
    kind: &str,
    input: &SshCredentialInput,
) -> AppResult<(String, Option<String>, Option<String>)> {
    match kind {
        "password" => {
            let p = input.password.as_deref().unwrap_or_default();
            if p.is_empty() {
                return Err(AppError::invalid(
                    "password",
                    "a password credential needs a password",
                ));
            }
            if p.len() > MAX_SECRET || p.contains(['\n', '\r', '\0']) {
                return Err(AppError::invalid("password", "not a usable password"));
            }
            Ok((keys.encrypt(p, SECRET_CONTEXT)?, None, None))
        }
        "private_key" => {
            let k = input.private_key.as_deref().unwrap_or_default().trim();
            if k.is_empty() {
                return Err(AppError::invalid(
                    "private_key",
                    "a key credential needs a private key",
                ));
            }
            if k.len() > MAX_SECRET {
                return Err(AppError::invalid(
                    "private_key",
                    "the private key is too large",
                ));
            }
            let pass = input.passphrase.as_deref().filter(|p| !p.is_empty());
            // Decoding an encrypted key runs bcrypt: off the runtime's threads.
            let (key, phrase) = (k.to_string(), pass.map(str::to_string));
            let public =
                tokio::task::spawn_blocking(move || ssh::public_key_of(&key, phrase.as_deref()))
                    .await
                    .map_err(AppError::internal)?
                    .map_err(|e| AppError::invalid("private_key", e.message()))?;
            let pass_enc = match pass {
                Some(p) => Some(keys.encrypt(p, PASSPHRASE_CONTEXT)?),
                None => None,
            };
            Ok((
                keys.encrypt(&format!("{k}\n"), SECRET_CONTEXT)?,
                pass_enc,
                Some(public),
            ))
        }
        _ => Err(AppError::invalid(
            "kind",
            "kind must be password or private_key",
        )),
    }
}

fn check_username(u: &str) -> AppResult<()> {
    let ok = !u.is_empty()
        && u.len() <= 32
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !u.starts_with('-');
    ok.then_some(())
        .ok_or_else(|| AppError::invalid("username", "not a valid login name"))
}

/// `POST /hosts/ssh-credentials/`.
pub async fn create(
    ctx: &Ctx,
    actor: &Actor,
    input: SshCredentialInput,
) -> AppResult<SshCredential> {
    manage(ctx, actor).await?;
    let name = input.name.clone().unwrap_or_default().trim().to_string();
    crate::common::validate::name("name", &name)?;
    let username = input
        .username
        .clone()
        .unwrap_or_default()
        .trim()
        .to_string();
    check_username(&username)?;
    let kind = input.kind.clone().unwrap_or_else(|| "password".into());
    let keys = Keyring::from_config(&ctx.config)?;
    let (secret, pass, public) = secrets_of(&keys, &kind, &input).await?;
    let now = crate::time::now();
    let txn = crate::db::begin(&ctx.db).await?;
    let c = ssh_credential::ActiveModel {
        name: Set(name.clone()),
        username: Set(username),
        kind: Set(kind),
        secret_enc: Set(secret),
        passphrase_enc: Set(pass),
        public_key: Set(public),
        creator_id: Set((actor.id > 0).then_some(actor.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| name_taken(e.into(), &name))?;
    record(
        &txn,
        actor,
        Entry::new("host", "ssh_credential_create")
            .target("ssh_credential", Some(c.id), &c.name)
            .detail(json!({"username": c.username, "kind": c.kind})),
    )
    .await?;
    txn.commit().await?;
    wire(ctx, c, 0).await
}

fn name_taken(e: AppError, name: &str) -> AppError {
    e.taken("name", format!("an SSH credential named {name} exists"))
}

/// `PATCH /hosts/ssh-credentials/{id}/`: a new secret replaces the old one (it is never read back).
pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    input: SshCredentialInput,
) -> AppResult<SshCredential> {
    manage(ctx, actor).await?;
    let old = load(ctx, id).await?;
    let mut am: ssh_credential::ActiveModel = old.clone().into();
    if let Some(n) = &input.name {
        crate::common::validate::name("name", n)?;
        am.name = Set(n.trim().to_string());
    }
    if let Some(u) = &input.username {
        check_username(u.trim())?;
        am.username = Set(u.trim().to_string());
    }
    let kind = input.kind.clone().unwrap_or_else(|| old.kind.clone());
    let new_secret = input.password.is_some() || input.private_key.is_some() || kind != old.kind;
    if new_secret {
        let keys = Keyring::from_config(&ctx.config)?;
        let (secret, pass, public) = secrets_of(&keys, &kind, &input).await?;
        am.kind = Set(kind);
        am.secret_enc = Set(secret);
        am.passphrase_enc = Set(pass);
        am.public_key = Set(public);
    } else if input.passphrase.is_some() {
        return Err(AppError::invalid(
            "passphrase",
            "send the private key with its new passphrase",
        ));
    }
    am.updated_at = Set(crate::time::now());
    let txn = crate::db::begin(&ctx.db).await?;
    let c = am
        .update(&txn)
        .await
        .map_err(|e| name_taken(e.into(), input.name.as_deref().unwrap_or_default()))?;
    record(
        &txn,
        actor,
        Entry::new("host", "ssh_credential_update")
            .target("ssh_credential", Some(c.id), &c.name)
            .detail(json!({
                "before": {"name": old.name, "username": old.username, "kind": old.kind},
                "after": {"name": c.name, "username": c.username, "kind": c.kind},
                "secret_replaced": new_secret,
            })),
    )
    .await?;
    txn.commit().await?;
    let n = users_of(&ctx.db, id).await?;
    wire(ctx, c, n).await
}

/// `DELETE /hosts/ssh-credentials/{id}/`: refused while hosts log in with it.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    manage(ctx, actor).await?;
    let c = load(ctx, id).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let n = users_of(&txn, id).await?;
    if n > 0 {
        return Err(AppError::conflict(format!(
            "{n} host(s) log in with SSH credential {}; give them another first",
            c.name
        )));
    }
    ssh_credential::Entity::delete_by_id(id).exec(&txn).await?;
    record(
        &txn,
        actor,
        Entry::new("host", "ssh_credential_delete").target("ssh_credential", Some(id), &c.name),
    )
    .await?;
    txn.commit().await?;
    Ok(Message::success())
}

// ---------------------------------------------------------------- host access

async fn host_of<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<host::Model> {
    host::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("host"))
}

/// The address SSH uses for a host: its override, else its first HOST/PRIVATE address, else
/// its first PRIVATE one, else its first one.
pub(crate) async fn address_of<C: ConnectionTrait>(
    db: &C,
    host_id: i64,
    access: Option<&host_access::Model>,
) -> AppResult<Option<String>> {
    if let Some(a) = access.and_then(|a| a.address.clone()) {
        return Ok(Some(a));
    }
    let ips = ip_address::Entity::find()
        .filter(ip_address::Column::HostId.eq(host_id))
        .order_by_asc(ip_address::Column::Id)
        .all(db)
        .await?;
    let rank = |i: &ip_address::Model| match (i.owner.as_str(), i.addr_type.as_str()) {
        ("HOST", "PRIVATE") => 0,
        (_, "PRIVATE") => 1,
        _ => 2,
    };
    Ok(ips
        .iter()
        .min_by_key(|i| rank(i))
        .map(|i| i.address.clone()))
}

async fn access_row<C: ConnectionTrait>(
    db: &C,
    host_id: i64,
) -> AppResult<Option<host_access::Model>> {
    Ok(host_access::Entity::find_by_id(host_id).one(db).await?)
}

fn key_info(k: host_key::Model) -> HostKeyInfo {
    HostKeyInfo {
        endpoint: k.endpoint,
        algorithm: k.algorithm,
        fingerprint: k.fingerprint,
        pinned_at: crate::time::fmt(&k.pinned_at),
        offered_fingerprint: k.offered_fingerprint,
        offered_at: k.offered_at.as_ref().map(crate::time::fmt),
    }
}

async fn access_wire(ctx: &Ctx, host_id: i64) -> AppResult<HostAccess> {
    let a = access_row(&ctx.db, host_id).await?;
    let credential = match a.as_ref().and_then(|a| a.credential_id) {
        Some(id) => ssh_credential::Entity::find_by_id(id)
            .one(&ctx.db)
            .await?
            .map(|c| CredentialRef {
                id: c.id,
                name: c.name,
                username: c.username,
            }),
        None => None,
    };
    let keys = host_key::Entity::find()
        .filter(host_key::Column::HostId.eq(host_id))
        .order_by_asc(host_key::Column::Id)
        .all(&ctx.db)
        .await?;
    Ok(HostAccess {
        host_id,
        address: a.as_ref().and_then(|a| a.address.clone()),
        effective_address: address_of(&ctx.db, host_id, a.as_ref()).await?,
        port: a.as_ref().map_or(22, |a| a.port),
        credential,
        stop_cmd: a.as_ref().and_then(|a| a.stop_cmd.clone()),
        restart_cmd: a.as_ref().and_then(|a| a.restart_cmd.clone()),
        cloud_account: cloud_ref(&ctx.db, a.as_ref().and_then(|a| a.cloud_account_id)).await?,
        cloud_instance_id: a.as_ref().and_then(|a| a.cloud_instance_id.clone()),
        host_keys: keys.into_iter().map(key_info).collect(),
    })
}

/// `GET /hosts/{id}/access/`: how Opsdeck reaches the host (no secrets).
pub async fn get_access(ctx: &Ctx, actor: &Actor, host_id: i64) -> AppResult<HostAccess> {
    authorize_resource(ctx, actor, ResourceType::Host, host_id, "view_host").await?;
    host_of(&ctx.db, host_id).await?;
    access_wire(ctx, host_id).await
}

fn check_command(field: &str, v: &str) -> AppResult<()> {
    if v.len() > 1024 || v.contains(['\n', '\r', '\0']) {
        return Err(AppError::invalid(
            field,
            "one line of at most 1024 characters",
        ));
    }
    Ok(())
}

/// `PUT /hosts/{id}/access/`.
pub async fn set_access(
    ctx: &Ctx,
    actor: &Actor,
    host_id: i64,
    input: HostAccessInput,
) -> AppResult<HostAccess> {
    manage(ctx, actor).await?;
    let h = host_of(&ctx.db, host_id).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let old = access_row(&txn, host_id).await?;
    let mut am = match &old {
        Some(o) => host_access::ActiveModel::from(o.clone()),
        None => host_access::ActiveModel {
            host_id: Set(host_id),
            address: Set(None),
            port: Set(22),
            credential_id: Set(None),
            stop_cmd: Set(None),
            restart_cmd: Set(None),
            cloud_account_id: Set(None),
            cloud_instance_id: Set(None),
            zabbix_host_id: Set(None),
            updated_at: Set(crate::time::now()),
        },
    };
    if let Some(a) = &input.address {
        let a = a.trim();
        if a.is_empty() {
            am.address = Set(None);
        } else {
            let ok = a.parse::<std::net::IpAddr>().is_ok()
                || (a.len() <= 253
                    && a.split('.').all(|l| {
                        !l.is_empty()
                            && l.len() <= 63
                            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                            && !l.starts_with('-')
                    }));
            if !ok {
                return Err(AppError::invalid("address", "an IP address or a host name"));
            }
            am.address = Set(Some(a.to_ascii_lowercase()));
        }
    }
    if let Some(p) = input.port {
        if !(1..=65535).contains(&p) {
            return Err(AppError::invalid("port", "a port from 1 to 65535"));
        }
        am.port = Set(p);
    }
    if let Some(c) = input.credential_id {
        if c == 0 {
            am.credential_id = Set(None);
        } else {
            ssh_credential::Entity::find_by_id(c)
                .one(&txn)
                .await?
                .ok_or_else(|| AppError::invalid("credential_id", "no such SSH credential"))?;
            am.credential_id = Set(Some(c));
        }
    }
    for (field, v, slot) in [
        ("stop_cmd", &input.stop_cmd, &mut am.stop_cmd),
        ("restart_cmd", &input.restart_cmd, &mut am.restart_cmd),
    ] {
        if let Some(v) = v {
            check_command(field, v)?;
            *slot = Set((!v.trim().is_empty()).then(|| v.trim().to_string()));
        }
    }
    if let Some(c) = input.cloud_account_id {
        if c == 0 {
            am.cloud_account_id = Set(None);
        } else {
            check_for_host(&txn, c, &h.host_type).await?;
            am.cloud_account_id = Set(Some(c));
        }
    }
    if let Some(i) = &input.cloud_instance_id {
        let i = i.trim();
        if i.len() > 128
            || !i
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            return Err(AppError::invalid(
                "cloud_instance_id",
                "letters, digits and - _ . : (at most 128)",
            ));
        }
        am.cloud_instance_id = Set((!i.is_empty()).then(|| i.to_string()));
    }
    // A cloud account without an instance id (or the reverse) powers nothing: refused, so a
    // half-set host never falls back to the ssh provider unnoticed.
    if am.cloud_account_id.as_ref().is_some() != am.cloud_instance_id.as_ref().is_some() {
        return Err(AppError::invalid(
            "cloud_instance_id",
            "set the cloud account and the host's instance id together (or clear both)",
        ));
    }
    am.updated_at = Set(crate::time::now());
    let new = if old.is_some() {
        am.update(&txn).await?
    } else {
        am.insert(&txn).await?
    };
    let snap = |a: Option<&host_access::Model>| {
        a.map(|a| {
            json!({"address": a.address, "port": a.port, "credential_id": a.credential_id,
                   "stop_cmd": a.stop_cmd, "restart_cmd": a.restart_cmd,
                   "cloud_account_id": a.cloud_account_id, "cloud_instance_id": a.cloud_instance_id})
        })
        .unwrap_or(json!(null))
    };
    record(
        &txn,
        actor,
        Entry::new("host", "access_update")
            .target("host", Some(host_id), &h.hostname)
            .change(snap(old.as_ref()), snap(Some(&new))),
    )
    .await?;
    txn.commit().await?;
    access_wire(ctx, host_id).await
}

/// `POST /hosts/{id}/host-key/actions/accept/`: pins the key the host offered instead of the
/// pinned one; the caller quotes its fingerprint, so what was checked is what is pinned.
pub async fn accept_host_key(
    ctx: &Ctx,
    actor: &Actor,
    host_id: i64,
    input: AcceptHostKey,
) -> AppResult<HostAccess> {
    manage(ctx, actor).await?;
    let h = host_of(&ctx.db, host_id).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let mut q = host_key::Entity::find()
        .filter(host_key::Column::HostId.eq(host_id))
        .filter(host_key::Column::OfferedFingerprint.is_not_null());
    if let Some(e) = &input.endpoint {
        q = q.filter(host_key::Column::Endpoint.eq(e.clone()));
    }
    let offered = q.all(&txn).await?;
    let k = offered
        .into_iter()
        .find(|k| k.offered_fingerprint.as_deref() == Some(input.fingerprint.trim()))
        .ok_or_else(|| {
            AppError::invalid(
                "fingerprint",
                "the host offered no key with this fingerprint; run a check to see what it offers",
            )
        })?;
    let line = k.offered_key.clone().unwrap_or_default();
    let now = crate::time::now();
    host_key::Entity::update_many()
        .col_expr(host_key::Column::PublicKey, Expr::value(line.clone()))
        .col_expr(
            host_key::Column::Algorithm,
            Expr::value(algorithm_of(&line)),
        )
        .col_expr(
            host_key::Column::Fingerprint,
            Expr::value(input.fingerprint.trim()),
        )
        .col_expr(host_key::Column::PinnedAt, Expr::value(now))
        .col_expr(host_key::Column::PinnedBy, Expr::value(actor.id))
        .col_expr(
            host_key::Column::OfferedKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            host_key::Column::OfferedFingerprint,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            host_key::Column::OfferedAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(host_key::Column::Id.eq(k.id))
        .exec(&txn)
        .await?;
    record(
        &txn,
        actor,
        Entry::new("host", "host_key_accept")
            .target("host", Some(host_id), &h.hostname)
            .detail(json!({
                "endpoint": k.endpoint,
                "before": k.fingerprint,
                "after": input.fingerprint.trim(),
            })),
    )
    .await?;
    txn.commit().await?;
    access_wire(ctx, host_id).await
}

fn algorithm_of(line: &str) -> String {
    line.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------- for the executor

/// What the executor needs to reach a host: the SSH target and the secrets to mask in output.
pub(crate) struct Resolved {
    pub target: Target,
    pub secrets: Vec<String>,
}

/// How to reach a host (no authorization: the executor runs what was authorized when the task
/// was created). Errors are clear, secret-free messages.
pub(crate) async fn resolve(ctx: &Ctx, host_id: i64) -> Result<Resolved, String> {
    let db = &ctx.db;
    let err = |e: AppError| e.message;
    let h = host_of(db, host_id).await.map_err(err)?;
    let a = access_row(db, host_id).await.map_err(err)?;
    let address = address_of(db, host_id, a.as_ref())
        .await
        .map_err(err)?
        .ok_or_else(|| format!("host {} has no address to connect to", h.hostname))?;
    let cid = a
        .as_ref()
        .and_then(|a| a.credential_id)
        .ok_or_else(|| format!("host {} has no SSH credential", h.hostname))?;
    let c = ssh_credential::Entity::find_by_id(cid)
        .one(db)
        .await
        .map_err(|e| AppError::from(e).message)?
        .ok_or_else(|| format!("host {} has no SSH credential", h.hostname))?;
    let keys = Keyring::from_config(&ctx.config).map_err(err)?;
    let cannot = |_| {
        format!(
            "SSH credential {} cannot be decrypted (was OPSDECK_SECRET_KEY changed?)",
            c.name
        )
    };
    let secret = keys
        .decrypt(&c.secret_enc, SECRET_CONTEXT)
        .map_err(cannot)?;
    let (login, secrets) = if c.kind == "private_key" {
        let pass = match &c.passphrase_enc {
            Some(p) => Some(keys.decrypt(p, PASSPHRASE_CONTEXT).map_err(cannot)?),
            None => None,
        };
        let secrets = pass.iter().cloned().collect();
        (
            Login::Key {
                pem: secret,
                passphrase: pass,
            },
            secrets,
        )
    } else {
        (Login::Password(secret.clone()), vec![secret])
    };
    Ok(Resolved {
        target: Target {
            address,
            port: a.as_ref().map_or(22, |a| a.port.clamp(1, 65535) as u16),
            username: c.username,
            login,
        },
        secrets,
    })
}

/// The key a connection to `endpoint` of a host must present: the one pinned for that
/// endpoint, else the host's most recently pinned key (a host that moved keeps its key; a new
/// address with another key is refused until accepted). `None`: the host was never contacted.
pub(crate) async fn pinned(ctx: &Ctx, host_id: i64, endpoint: &str) -> AppResult<Option<String>> {
    let keys = host_key::Entity::find()
        .filter(host_key::Column::HostId.eq(host_id))
        .order_by_desc(host_key::Column::PinnedAt)
        .all(&ctx.db)
        .await?;
    Ok(keys
        .iter()
        .find(|k| k.endpoint == endpoint)
        .or(keys.first())
        .map(|k| k.public_key.clone()))
}

/// Pins a key line for a host's endpoint unless one is pinned there; answers rows inserted.
async fn insert_pin<C: ConnectionTrait>(
    db: &C,
    host_id: i64,
    endpoint: &str,
    line: &str,
    fingerprint: &str,
) -> AppResult<u64> {
    Ok(host_key::Entity::insert(host_key::ActiveModel {
        host_id: Set(host_id),
        endpoint: Set(endpoint.into()),
        algorithm: Set(algorithm_of(line)),
        public_key: Set(line.into()),
        fingerprint: Set(fingerprint.into()),
        pinned_at: Set(crate::time::now()),
        pinned_by: Set(None),
        offered_key: Set(None),
        offered_fingerprint: Set(None),
        offered_at: Set(None),
        ..Default::default()
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::columns([
            host_key::Column::HostId,
            host_key::Column::Endpoint,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?)
}

/// Pins `key` for a host's endpoint (audited as the system): on first contact, or when a known
/// key answered at a new endpoint. Answers the key pinned for the endpoint, which is another
/// caller's when it pinned first.
pub(crate) async fn pin(
    ctx: &Ctx,
    host_id: i64,
    endpoint: &str,
    key: &HostKey,
) -> AppResult<String> {
    let txn = crate::db::begin(&ctx.db).await?;
    let inserted = insert_pin(&txn, host_id, endpoint, &key.openssh, &key.fingerprint).await?;
    if inserted == 1 {
        let name = host_of(&txn, host_id).await?.hostname;
        record(
            &txn,
            &Actor::system(),
            Entry::new("host", "host_key_pin")
                .target("host", Some(host_id), name)
                .detail(json!({"endpoint": endpoint, "fingerprint": key.fingerprint})),
        )
        .await?;
    }
    let k = host_key::Entity::find()
        .filter(host_key::Column::HostId.eq(host_id))
        .filter(host_key::Column::Endpoint.eq(endpoint))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::internal("host key vanished"))?;
    txn.commit().await?;
    Ok(k.public_key)
}

/// Records a different key a host offered at an endpoint, for a host manager to check and
/// accept; the endpoint keeps the key it must present meanwhile (`pinned`).
pub(crate) async fn offered(
    ctx: &Ctx,
    host_id: i64,
    endpoint: &str,
    expected: &str,
    key: &HostKey,
) -> AppResult<()> {
    let txn = crate::db::begin(&ctx.db).await?;
    let fingerprint = ssh::fingerprint_of(expected).unwrap_or_default();
    insert_pin(&txn, host_id, endpoint, expected, &fingerprint).await?;
    host_key::Entity::update_many()
        .col_expr(
            host_key::Column::OfferedKey,
            Expr::value(key.openssh.clone()),
        )
        .col_expr(
            host_key::Column::OfferedFingerprint,
            Expr::value(key.fingerprint.clone()),
        )
        .col_expr(host_key::Column::OfferedAt, Expr::value(crate::time::now()))
        .filter(host_key::Column::HostId.eq(host_id))
        .filter(host_key::Column::Endpoint.eq(endpoint))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Whether runs of this user may trust a host key on first contact: host managers and
/// superusers only. Anyone who may edit a host may change its addresses; trusting whatever
/// answers at a new address would let them collect the stored credential with their own server.
pub(crate) async fn may_pin_first(ctx: &Ctx, user_id: Option<i64>) -> bool {
    let Some(id) = user_id else { return false };
    let actor = Actor {
        id,
        ..Default::default()
    };
    crate::perms::service::is_superuser(ctx, id).await
        || crate::perms::service::may_module(ctx, &actor, "host", "manage_host").await
}

/// `POST /hosts/{id}/actions/check-ssh/`: a task that logs in to the host and runs
/// `uname -a; id` (pinning its key on first contact); needs `edit_host` on it.
pub async fn check_ssh(
    ctx: &Ctx,
    actor: &Actor,
    host_id: i64,
) -> AppResult<crate::exec::types::TaskStarted> {
    use crate::exec::runner::{self, NewRun, NewTarget, Step};
    authorize_resource(ctx, actor, ResourceType::Host, host_id, "edit_host").await?;
    let h = host_of(&ctx.db, host_id).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let busy = crate::entities::run::Entity::find()
        .filter(crate::entities::run::Column::Kind.eq(crate::exec::runner::SSH_CHECK))
        .filter(crate::entities::run::Column::Status.eq("running"))
        .filter(crate::entities::run::Column::SubjectType.eq("host"))
        .filter(crate::entities::run::Column::SubjectId.eq(host_id))
        .one(&txn)
        .await?;
    if let Some(b) = busy {
        return Err(AppError::conflict(format!(
            "an SSH check of {} is running already (task {})",
            h.hostname, b.id
        )));
    }
    let r = runner::create(
        &txn,
        actor,
        NewRun {
            kind: crate::exec::runner::SSH_CHECK.into(),
            subject: Some(("host".into(), host_id)),
            steps: vec![Step {
                name: "check".into(),
                script: "uname -a; id".into(),
                timeout_secs: Some(30),
            }],
            targets: vec![NewTarget {
                host_id,
                host_name: h.hostname,
                instance_id: None,
            }],
            concurrency: 1,
            stop_on_failure: false,
            timeout_secs: 30,
            extra: json!({}),
        },
    )
    .await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(crate::exec::service::started(ctx, &r))
}
