//! Mail about requests: plain text and HTML, in each recipient's language, queued as durable
//! `mail` jobs in the caller's transaction (so a mail exists only if the change committed, and
//! SMTP being down only delays it).
use super::types::RequestKind;
use crate::ctx::Ctx;
use crate::entities::{application_owner, perm_grant, role, user, user_role};
use crate::error::AppResult;
use crate::perms::casbin::{check, SUPERUSER_ROLE};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use std::collections::BTreeSet;

/// What happened, for the mail's wording.
#[derive(Debug, Clone)]
pub enum What {
    /// A new request waits for a decision (to approvers and associated applications' owners).
    Filed,
    Approved,
    /// Rejected, with the reason.
    Rejected(String),
    /// Fulfilment failed (will be retried), with the reason.
    FulfilmentFailed(String),
    /// Fulfilment is done; the detail says what was created.
    Fulfilled(String),
    /// An approver gave up the approved request, with the reason.
    Cancelled(String),
    /// A new request names an application the recipient owns (for their information).
    Associated,
}

fn kind_name(kind: RequestKind, zh: bool) -> &'static str {
    match (kind, zh) {
        (RequestKind::Host, false) => "Host request",
        (RequestKind::Domain, false) => "Domain request",
        (RequestKind::Ssl, false) => "SSL certificate request",
        (RequestKind::Host, true) => "主机申请",
        (RequestKind::Domain, true) => "域名申请",
        (RequestKind::Ssl, true) => "SSL 证书申请",
    }
}

/// Subject and plain-text sentence of a mail.
fn words(kind: RequestKind, id: i64, requester: &str, what: &What, zh: bool) -> (String, String) {
    let k = kind_name(kind, zh);
    match (what, zh) {
        (What::Filed, false) => (
            format!("[Opsdeck] {k} #{id} by {requester} waits for your approval"),
            format!("{requester} filed {k} #{id}. It waits for an approver's decision."),
        ),
        (What::Filed, true) => (
            format!("[Opsdeck] {requester} 提交的{k} #{id} 待审批"),
            format!("{requester} 提交了{k} #{id}，等待审批。"),
        ),
        (What::Approved, false) => (
            format!("[Opsdeck] {k} #{id} was approved"),
            format!("Your {k} #{id} was approved; Opsdeck is fulfilling it."),
        ),
        (What::Approved, true) => (
            format!("[Opsdeck] {k} #{id} 已批准"),
            format!("您的{k} #{id} 已批准，正在交付。"),
        ),
        (What::Rejected(r), false) => (
            format!("[Opsdeck] {k} #{id} was rejected"),
            format!("Your {k} #{id} was rejected. Reason: {r}"),
        ),
        (What::Rejected(r), true) => (
            format!("[Opsdeck] {k} #{id} 被拒绝"),
            format!("您的{k} #{id} 被拒绝。原因：{r}"),
        ),
        (What::FulfilmentFailed(r), false) => (
            format!("[Opsdeck] {k} #{id}: fulfilment is delayed"),
            format!("Fulfilling your {k} #{id} failed and will be retried: {r}"),
        ),
        (What::FulfilmentFailed(r), true) => (
            format!("[Opsdeck] {k} #{id} 交付延迟"),
            format!("您的{k} #{id} 交付失败，系统将自动重试：{r}"),
        ),
        (What::Fulfilled(d), false) => (
            format!("[Opsdeck] {k} #{id} is done"),
            format!("Your {k} #{id} is done. {d}"),
        ),
        (What::Fulfilled(d), true) => (
            format!("[Opsdeck] {k} #{id} 已完成"),
            format!("您的{k} #{id} 已完成。{d}"),
        ),
        (What::Cancelled(r), false) => (
            format!("[Opsdeck] {k} #{id} was cancelled"),
            format!("Your approved {k} #{id} was cancelled by an approver. Reason: {r}"),
        ),
        (What::Cancelled(r), true) => (
            format!("[Opsdeck] {k} #{id} 已取消"),
            format!("您已批准的{k} #{id} 被审批人取消。原因：{r}"),
        ),
        (What::Associated, false) => (
            format!("[Opsdeck] {requester} filed {k} #{id} for an application you own"),
            format!("{requester} filed {k} #{id} naming an application you own. No action is needed from you."),
        ),
        (What::Associated, true) => (
            format!("[Opsdeck] {requester} 为您负责的应用提交了{k} #{id}"),
            format!("{requester} 提交了{k} #{id}，关联了您负责的应用。您无需处理。"),
        ),
    }
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Builds one mail in a language (`zh` or English).
pub fn compose(
    ctx: &Ctx,
    to: &str,
    zh: bool,
    kind: RequestKind,
    id: i64,
    requester: &str,
    what: &What,
) -> crate::mail::Mail {
    let (subject, sentence) = words(kind, id, requester, what, zh);
    let link = format!(
        "{}/requests/{}/{id}",
        ctx.config.public_url.trim_end_matches('/'),
        kind.segment()
    );
    let open = if zh {
        "查看申请"
    } else {
        "Open the request"
    };
    linked_mail(to, subject, &sentence, open, &link)
}

/// A mail of one sentence and a link (`open`: the link's words), as text and HTML.
pub fn linked_mail(
    to: &str,
    subject: String,
    sentence: &str,
    open: &str,
    link: &str,
) -> crate::mail::Mail {
    crate::mail::Mail {
        to: to.to_string(),
        subject,
        body: format!("{sentence}\n\n{open}: {link}\n"),
        html: Some(format!(
            "<!doctype html><html><body><p>{}</p><p><a href=\"{}\">{open}</a></p></body></html>",
            escape(sentence),
            escape(link)
        )),
    }
}

/// Queues the mail to each user (enabled, with an e-mail address), in their language.
pub async fn send<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    user_ids: &BTreeSet<i64>,
    kind: RequestKind,
    id: i64,
    requester: &str,
    what: &What,
) -> AppResult<()> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids.iter().copied().collect::<Vec<_>>()))
        .filter(user::Column::Status.eq("enabled"))
        .all(db)
        .await?;
    for u in users {
        if u.email.trim().is_empty() {
            continue;
        }
        let zh = u.locale.starts_with("zh");
        let mail = compose(ctx, &u.email, zh, kind, id, requester, what);
        crate::jobs::enqueue(db, "mail", &mail).await?;
    }
    Ok(())
}

/// The users who may decide on requests of `kind`: holders of its approve flag and the module's
/// enable flag (directly, through a role, or as superusers), checked against the enforcer.
pub async fn approvers<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    kind: RequestKind,
) -> AppResult<BTreeSet<i64>> {
    let grants = perm_grant::Entity::find()
        .filter(perm_grant::Column::ResourceType.eq("module"))
        .filter(perm_grant::Column::ResourceKey.eq("resource_request"))
        .filter(perm_grant::Column::Perm.eq(kind.approve_perm()))
        .all(db)
        .await?;
    let mut users: BTreeSet<i64> = BTreeSet::new();
    let mut roles: Vec<i64> = vec![];
    for g in grants {
        match g.subject_type.as_str() {
            "user" => {
                users.insert(g.subject_id);
            }
            _ => roles.push(g.subject_id),
        }
    }
    if let Some(su) = role::Entity::find()
        .filter(role::Column::Name.eq(SUPERUSER_ROLE))
        .one(db)
        .await?
    {
        roles.push(su.id);
    }
    for m in user_role::Entity::find()
        .filter(user_role::Column::RoleId.is_in(roles))
        .all(db)
        .await?
    {
        users.insert(m.user_id);
    }
    let e = ctx.enforcer.read().await;
    users.retain(|u| {
        let sub = format!("user:{u}");
        check(&e, &sub, "module:resource_request", "enable_resource_req")
            && check(&e, &sub, "module:resource_request", kind.approve_perm())
    });
    Ok(users)
}

/// The owners of the given applications.
pub async fn app_owners<C: ConnectionTrait>(db: &C, app_ids: &[i64]) -> AppResult<BTreeSet<i64>> {
    if app_ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    Ok(application_owner::Entity::find()
        .filter(application_owner::Column::AppId.is_in(app_ids.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.user_id)
        .collect())
}
