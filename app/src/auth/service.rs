//! Authentication: passwords, throttling, sessions' user, password reset by mail.
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::{validate, Message};
use crate::ctx::{Actor, Ctx};
use crate::entities::{login_failure, password_reset, user};
use crate::error::{AppError, AppResult, ErrorCode};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde_json::json;

/// Failures in this window count towards throttling.
const WINDOW_MINUTES: i64 = 15;
/// Failures (per user name or per address) after which logins are refused for the window.
pub const MAX_FAILURES: u64 = 10;
/// Failures after which each further attempt is delayed.
const SLOW_AFTER: u64 = 3;

/// A fingerprint of the password hash kept in the session: a password change ends other sessions.
pub fn password_fingerprint(hash: &str) -> String {
    crate::security::sha256_hex(hash)[..16].to_string()
}

async fn recent_failures(ctx: &Ctx, username: &str, ip: &str) -> AppResult<u64> {
    let since = crate::time::now() - chrono::Duration::minutes(WINDOW_MINUTES);
    let by_user = login_failure::Entity::find()
        .filter(login_failure::Column::Username.eq(username))
        .filter(login_failure::Column::CreatedAt.gt(since))
        .count(&ctx.db)
        .await?;
    let by_ip = if ip.is_empty() {
        0
    } else {
        login_failure::Entity::find()
            .filter(login_failure::Column::Ip.eq(ip))
            .filter(login_failure::Column::CreatedAt.gt(since))
            .count(&ctx.db)
            .await?
            / 3 // an address may serve several people (NAT): allow it three times as many
    };
    Ok(by_user.max(by_ip))
}

async fn fail(ctx: &Ctx, actor: &Actor, username: &str, reason: &str) -> AppResult<AppError> {
    let txn = ctx.db.begin().await?;
    login_failure::ActiveModel {
        username: Set(username.to_string()),
        ip: Set(actor.ip.clone()),
        created_at: Set(crate::time::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let anon = Actor {
        username: username.to_string(),
        ..actor.clone()
    };
    record(
        &txn,
        &anon,
        Entry::new("auth", "login_failed")
            .target("user", None, username)
            .detail(json!({"reason": reason})),
    )
    .await?;
    txn.commit().await?;
    Ok(AppError::new(
        ErrorCode::Unauthenticated,
        "invalid username or password",
    ))
}

/// Checks a username and password. Repeated failures are delayed, then refused (429) for the
/// window; every success and failure is audited.
pub async fn login(ctx: &Ctx, actor: &Actor, input: LoginInput) -> AppResult<user::Model> {
    let username = input.username.trim();
    if username.is_empty() || input.password.is_empty() {
        return Err(AppError::invalid(
            "username",
            "username and password are required",
        ));
    }
    let failures = recent_failures(ctx, username, &actor.ip).await?;
    if failures >= MAX_FAILURES {
        return Err(AppError::new(
            ErrorCode::TooManyRequests,
            format!("too many failed logins; try again in {WINDOW_MINUTES} minutes"),
        ));
    }
    if failures >= SLOW_AFTER {
        let ms = 200 * (failures - SLOW_AFTER + 1).min(10);
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let found = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&ctx.db)
        .await?;
    let Some(u) = found else {
        crate::security::burn_password_check(&input.password);
        return Err(fail(ctx, actor, username, "unknown user").await?);
    };
    if !crate::security::verify_password(&input.password, &u.password_hash) {
        return Err(fail(ctx, actor, username, "wrong password").await?);
    }
    if u.status != "enabled" {
        fail(ctx, actor, username, "disabled").await?;
        return Err(AppError::forbidden("this account is disabled"));
    }
    let txn = ctx.db.begin().await?;
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Username.eq(username))
        .exec(&txn)
        .await?;
    let mut am: user::ActiveModel = u.clone().into();
    am.last_login_at = Set(Some(crate::time::now()));
    let u = am.update(&txn).await?;
    let who = Actor {
        id: u.id,
        username: u.username.clone(),
        ..actor.clone()
    };
    record(
        &txn,
        &who,
        Entry::new("auth", "login").target("user", Some(u.id), &u.username),
    )
    .await?;
    txn.commit().await?;
    Ok(u)
}

/// Records a logout.
pub async fn logout(ctx: &Ctx, actor: &Actor) -> AppResult<Message> {
    if actor.id > 0 {
        record(
            &ctx.db,
            actor,
            Entry::new("auth", "logout").target("user", Some(actor.id), &actor.username),
        )
        .await?;
    }
    Ok(Message::success())
}

/// The user behind a session, if it still exists, is enabled and has the same password.
pub async fn session_user(
    ctx: &Ctx,
    user_id: i64,
    fingerprint: &str,
) -> AppResult<Option<user::Model>> {
    let u = user::Entity::find_by_id(user_id).one(&ctx.db).await?;
    Ok(
        u.filter(|u| {
            u.status == "enabled" && password_fingerprint(&u.password_hash) == fingerprint
        }),
    )
}

/// `GET /auth/me/`: the signed-in user and the modules they may use.
pub async fn me(ctx: &Ctx, actor: &Actor) -> AppResult<Me> {
    actor.require()?;
    let u = user::Entity::find_by_id(actor.id)
        .one(&ctx.db)
        .await?
        .ok_or_else(AppError::unauthenticated)?;
    Ok(Me {
        id: u.id,
        username: u.username,
        display_name: u.display_name,
        modules: crate::perms::service::my_modules(ctx, actor).await?,
    })
}

/// How long a reset link stays valid.
const RESET_MINUTES: i64 = 60;

/// `POST /auth/forgot-password/` (by username or e-mail) and `POST /users/{id}/actions/forget-password/`
/// (by id and e-mail): mails a single-use reset link. Always answers success, so it reveals nothing.
pub async fn forgot_password(
    ctx: &Ctx,
    actor: &Actor,
    user_id: Option<i64>,
    input: ForgotPassword,
) -> AppResult<Message> {
    let email = input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let username = input
        .username
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if email.is_none() && username.is_none() {
        return Err(AppError::invalid(
            "email",
            "give a username or an e-mail address",
        ));
    }
    if let Some(e) = email {
        validate::email(e, true)?;
    }
    let mut cond = Condition::all().add(user::Column::Status.eq("enabled"));
    if let Some(id) = user_id {
        cond = cond.add(user::Column::Id.eq(id));
    }
    if let Some(e) = email {
        cond = cond.add(user::Column::Email.eq(e));
    }
    if let Some(n) = username {
        cond = cond.add(user::Column::Username.eq(n));
    }
    let Some(u) = user::Entity::find().filter(cond).one(&ctx.db).await? else {
        return Ok(Message::success());
    };
    if u.email.is_empty() {
        return Ok(Message::success());
    }
    let token = crate::security::random_token(24);
    let now = crate::time::now();
    let link = format!(
        "{}/reset-password?token={token}",
        ctx.config.public_url.trim_end_matches('/')
    );
    let txn = ctx.db.begin().await?;
    password_reset::ActiveModel {
        user_id: Set(u.id),
        token_hash: Set(crate::security::sha256_hex(&token)),
        expires_at: Set(now + chrono::Duration::minutes(RESET_MINUTES)),
        used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    crate::jobs::enqueue(
        &txn,
        "mail",
        &crate::mail::Mail {
            to: u.email.clone(),
            subject: "Opsdeck password reset / 重置密码".into(),
            body: format!(
                "Hello {name},\n\nOpen this link within {RESET_MINUTES} minutes to choose a new password:\n{link}\n\n\
                 如需重置密码，请在 {RESET_MINUTES} 分钟内打开上面的链接。\n\nIf you did not ask for this, ignore this mail.\n",
                name = u.username
            ),
        },
    )
    .await?;
    record(
        &txn,
        actor,
        Entry::new("auth", "forgot_password").target("user", Some(u.id), &u.username),
    )
    .await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(Message::success())
}

/// `POST /auth/reset-password/`: sets a new password with a mailed token (single use, expiring).
pub async fn reset_password(ctx: &Ctx, actor: &Actor, input: ResetPassword) -> AppResult<Message> {
    validate::password("new_password", &input.new_password)?;
    let invalid = || AppError::invalid("token", "this reset link is invalid or has expired");
    let txn = ctx.db.begin().await?;
    let r = password_reset::Entity::find()
        .filter(
            password_reset::Column::TokenHash.eq(crate::security::sha256_hex(input.token.trim())),
        )
        .one(&txn)
        .await?
        .ok_or_else(invalid)?;
    if r.used_at.is_some() || r.expires_at <= crate::time::now() {
        return Err(invalid());
    }
    let u = user::Entity::find_by_id(r.user_id)
        .one(&txn)
        .await?
        .ok_or_else(invalid)?;
    let mut am: password_reset::ActiveModel = r.into();
    am.used_at = Set(Some(crate::time::now()));
    am.update(&txn).await?;
    let who = Actor {
        id: u.id,
        username: u.username.clone(),
        ..actor.clone()
    };
    crate::users::service::set_password(&txn, &who, u, &input.new_password, "reset_password")
        .await?;
    txn.commit().await?;
    Ok(Message::success())
}
