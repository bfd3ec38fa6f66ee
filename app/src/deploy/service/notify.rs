//! Mail about deploy tasks, in each recipient's language, queued as `mail` jobs in the
//! caller's transaction (as requests' mail is).
use crate::ctx::Ctx;
use crate::entities::{deploy_task, user};
use crate::error::AppResult;
use crate::requests::notify::linked_mail;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use std::collections::BTreeSet;

/// What happened.
pub enum What {
    /// Waits for the recipient's approval.
    Filed,
    Approved,
    Rejected(String),
}

fn words(t: &deploy_task::Model, app: &str, who: &str, what: &What, zh: bool) -> (String, String) {
    let (id, v, l) = (t.id, &t.version, &t.level);
    match (what, zh) {
        (What::Filed, false) => (
            format!("[Opsdeck] Deploy task #{id} ({app} {v}, level {l}) by {who} waits for your approval"),
            format!("{who} filed deploy task #{id}: {app} version {v}, level {l}. It waits for an approver's decision."),
        ),
        (What::Filed, true) => (
            format!("[Opsdeck] {who} 提交的发布任务 #{id}（{app} {v}，{l} 级）待审批"),
            format!("{who} 提交了发布任务 #{id}：{app} 版本 {v}，{l} 级，等待审批。"),
        ),
        (What::Approved, false) => (
            format!("[Opsdeck] Deploy task #{id} ({app} {v}) was approved"),
            format!("Your deploy task #{id} ({app} {v}) was approved; start it at its planned time."),
        ),
        (What::Approved, true) => (
            format!("[Opsdeck] 发布任务 #{id}（{app} {v}）已批准"),
            format!("您的发布任务 #{id}（{app} {v}）已批准，可在计划时间开始发布。"),
        ),
        (What::Rejected(r), false) => (
            format!("[Opsdeck] Deploy task #{id} ({app} {v}) was rejected"),
            format!("Your deploy task #{id} ({app} {v}) was rejected by {who}. Reason: {r}"),
        ),
        (What::Rejected(r), true) => (
            format!("[Opsdeck] 发布任务 #{id}（{app} {v}）被拒绝"),
            format!("您的发布任务 #{id}（{app} {v}）被 {who} 拒绝。原因：{r}"),
        ),
    }
}

/// Queues the mail to each user (enabled, with an e-mail address).
pub async fn send<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    to: &BTreeSet<i64>,
    t: &deploy_task::Model,
    app: &str,
    who: &str,
    what: What,
) -> AppResult<()> {
    if to.is_empty() {
        return Ok(());
    }
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(to.iter().copied().collect::<Vec<_>>()))
        .filter(user::Column::Status.eq("enabled"))
        .all(db)
        .await?;
    let link = format!(
        "{}/deploy/tasks/{}",
        ctx.config.public_url.trim_end_matches('/'),
        t.id
    );
    for u in users {
        if u.email.trim().is_empty() {
            continue;
        }
        let zh = u.locale.starts_with("zh");
        let (subject, sentence) = words(t, app, who, &what, zh);
        let open = if zh {
            "查看发布任务"
        } else {
            "Open the task"
        };
        let mail = linked_mail(&u.email, subject, &sentence, open, &link);
        crate::jobs::enqueue(db, "mail", &mail).await?;
    }
    Ok(())
}
