//! Authentication: passwords, throttling, sessions' user, password reset by mail.
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::{validate, Message};
use crate::ctx::{Actor, Ctx};
use crate::entities::{login_failure, password_reset, user};
use crate::error::{AppError, AppResult, ErrorCode};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, Set,
};
use serde_json::json;

/// Failures in this window count towards throttling.
const WINDOW_MINUTES: i64 = 15;
/// Failed logins of one user name from one address after which that pair is refused (429) for
/// the window. The limit is per account and address, so one person's typos behind an office NAT
/// lock out nobody else; attempts from many names or many addresses are slowed instead.
pub const MAX_FAILURES: u64 = 10;
/// Failures of one user name from one address after which each further attempt is delayed.
const SLOW_AFTER: u64 = 3;
/// Failures from one address (any user name), or of one user name (any address), after which each
/// attempt is delayed: a slow-down, never a lock-out.
const SLOW_AFTER_WIDE: u64 = 20;
/// The longest delay of one attempt.
const MAX_DELAY_MS: u64 = 2_000;

/// A fingerprint of the password hash kept in the session: a password change ends other sessions.
pub fn password_fingerprint(hash: &str) -> String {
    crate::security::sha256_hex(hash)[..16].to_string()
}

fn since() -> chrono::DateTime<chrono::Utc> {
    crate::time::now() - chrono::Duration::minutes(WINDOW_MINUTES)
}

fn too_many() -> AppError {
    AppError::new(
        ErrorCode::TooManyRequests,
        format!("too many failed logins; try again in {WINDOW_MINUTES} minutes"),
    )
}

/// Counts this attempt before the password is checked, atomically: in one write transaction
/// (`BEGIN IMMEDIATE` on SQLite; a transaction-scoped advisory lock per user name and address on
/// PostgreSQL) it counts the pair's recent failures and, under the cap, inserts this attempt as a
/// failure, which a successful login deletes again. Parallel guesses therefore cannot exceed the
/// cap. Answers the pair's earlier failures.
async fn reserve_attempt(ctx: &Ctx, username: &str, ip: &str) -> AppResult<u64> {
    let txn = crate::db::begin(&ctx.db).await?;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        let digest = crate::security::sha256_hex(&format!("login\n{username}\n{ip}"));
        let key = u64::from_str_radix(&digest[..16], 16).unwrap_or_default() as i64;
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({key})"))
            .await?;
    }
    let earlier = login_failure::Entity::find()
        .filter(login_failure::Column::Username.eq(username))
        .filter(login_failure::Column::Ip.eq(ip))
        .filter(login_failure::Column::CreatedAt.gt(since()))
        .count(&txn)
        .await?;
    if earlier >= MAX_FAILURES {
        return Err(too_many());
    }
    login_failure::ActiveModel {
        username: Set(username.to_string()),
        ip: Set(ip.to_string()),
        created_at: Set(crate::time::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(earlier)
}

/// How long to hold this attempt back: growing with the pair's failures, and with the failures
/// from the address (any name) or of the name (any address) beyond `SLOW_AFTER_WIDE`.
async fn delay_ms(ctx: &Ctx, username: &str, ip: &str, pair: u64) -> AppResult<u64> {
    let mut ms = if pair >= SLOW_AFTER {
        200 * (pair - SLOW_AFTER + 1)
    } else {
        0
    };
    let by_user = login_failure::Entity::find()
        .filter(login_failure::Column::Username.eq(username))
        .filter(login_failure::Column::CreatedAt.gt(since()))
        .count(&ctx.db)
        .await?;
    let by_ip = if ip.is_empty() {
        0
    } else {
        login_failure::Entity::find()
            .filter(login_failure::Column::Ip.eq(ip))
            .filter(login_failure::Column::CreatedAt.gt(since()))
            .count(&ctx.db)
            .await?
    };
    let wide = by_user.max(by_ip);
    if wide >= SLOW_AFTER_WIDE {
        ms = ms.max(100 * ((wide - SLOW_AFTER_WIDE) / 5 + 1));
    }
    Ok(ms.min(MAX_DELAY_MS))
}

/// Audits a failed attempt (already counted by `reserve_attempt`) and answers the error.
async fn fail(ctx: &Ctx, actor: &Actor, username: &str, reason: &str) -> AppResult<AppError> {
    let anon = Actor {
        username: username.to_string(),
        ..actor.clone()
    };
    record(
        &ctx.db,
        &anon,
        Entry::new("auth", "login_failed")
            .target("user", None, username)
            .detail(json!({"reason": reason})),
    )
    .await?;
    Ok(AppError::new(
        ErrorCode::Unauthenticated,
        "invalid username or password",
    ))
}

/// Checks a username and password. Attempts are counted before the check, per user name and
/// address; repeated failures are delayed, then refused (429) for the window; every success and
/// failure is audited. Password hashing runs on the blocking pool.
pub async fn login(ctx: &Ctx, actor: &Actor, input: LoginInput) -> AppResult<user::Model> {
    let username = input.username.trim();
    if username.is_empty() || input.password.is_empty() {
        return Err(AppError::invalid(
            "username",
            "username and password are required",
        ));
    }
    let pair = reserve_attempt(ctx, username, &actor.ip).await?;
    let ms = delay_ms(ctx, username, &actor.ip, pair).await?;
    if ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let found = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&ctx.db)
        .await?;
    let Some(u) = found else {
        crate::security::burn_password_check_off(&input.password).await;
        return Err(fail(ctx, actor, username, "unknown user").await?);
    };
    if !crate::security::verify_password_off(&input.password, &u.password_hash).await {
        return Err(fail(ctx, actor, username, "wrong password").await?);
    }
    if u.status != "enabled" {
        fail(ctx, actor, username, "disabled").await?;
        return Err(AppError::forbidden("this account is disabled"));
    }
    let txn = crate::db::begin(&ctx.db).await?;
    // This attempt and the pair's earlier failures; failures from elsewhere keep slowing guesses.
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Username.eq(username))
        .filter(login_failure::Column::Ip.eq(actor.ip.as_str()))
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
/// Forgot-password requests from one address per window (`WINDOW_MINUTES`); more answer 429,
/// whoever they name, so the limit reveals nothing about accounts.
pub const FORGOT_PER_ADDRESS: u64 = 10;
/// Reset mails to one user per window; further requests answer the same success and send nothing.
pub const FORGOT_PER_USER: u64 = 3;
/// Every forgot-password answer takes at least this long, whether the user exists or not.
const FORGOT_MIN_MS: u64 = 250;

/// `POST /auth/forgot-password/` (by username or e-mail) and `POST /users/{id}/actions/forget-password/`
/// (by id and e-mail): mails a single-use reset link. Always answers success, so it reveals nothing,
/// and takes the same time (at least `FORGOT_MIN_MS`) whether the user exists or not. Throttled per
/// address (429, counted over every request) and per user (silently: no further mail).
pub async fn forgot_password(
    ctx: &Ctx,
    actor: &Actor,
    user_id: Option<i64>,
    input: ForgotPassword,
) -> AppResult<Message> {
    let by_address = crate::entities::audit_log::Entity::find()
        .filter(crate::entities::audit_log::Column::Category.eq("auth"))
        .filter(crate::entities::audit_log::Column::OpType.eq("forgot_password"))
        .filter(crate::entities::audit_log::Column::Ip.eq(actor.ip.as_str()))
        .filter(crate::entities::audit_log::Column::OpTime.gt(since()))
        .count(&ctx.db)
        .await?;
    if by_address >= FORGOT_PER_ADDRESS {
        return Err(AppError::new(
            ErrorCode::TooManyRequests,
            format!("too many password reset requests; try again in {WINDOW_MINUTES} minutes"),
        ));
    }
    let started = tokio::time::Instant::now();
    let answer = request_reset(ctx, actor, user_id, input).await;
    tokio::time::sleep_until(started + std::time::Duration::from_millis(FORGOT_MIN_MS)).await;
    answer
}

/// The work of `forgot_password`; every outcome but bad input writes one audit record (which the
/// per-address count reads).
async fn request_reset(
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
    let asked = match (user_id, username, email) {
        (Some(id), _, _) => format!("#{id}"),
        (None, Some(n), _) => n.to_string(),
        (None, None, e) => e.unwrap_or_default().to_string(),
    };
    let found = user::Entity::find()
        .filter(cond)
        .one(&ctx.db)
        .await?
        .filter(|u| !u.email.is_empty());
    let recent = match &found {
        Some(u) => {
            password_reset::Entity::find()
                .filter(password_reset::Column::UserId.eq(u.id))
                .filter(password_reset::Column::CreatedAt.gt(since()))
                .count(&ctx.db)
                .await?
        }
        None => 0,
    };
    let u = match found {
        Some(u) if recent < FORGOT_PER_USER => u,
        other => {
            let entry = Entry::new("auth", "forgot_password");
            let entry = match other {
                Some(u) => entry
                    .target("user", Some(u.id), &u.username)
                    .detail(json!({"sent": false, "reason": "throttled"})),
                None => entry
                    .target("user", None, asked)
                    .detail(json!({"sent": false, "reason": "no such user with an e-mail"})),
            };
            record(&ctx.db, actor, entry).await?;
            return Ok(Message::success());
        }
    };
    let token = crate::security::random_token(24);
    let now = crate::time::now();
    let link = format!(
        "{}/reset-password?token={token}",
        ctx.config.public_url.trim_end_matches('/')
    );
    let txn = crate::db::begin(&ctx.db).await?;
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
        Entry::new("auth", "forgot_password")
            .target("user", Some(u.id), &u.username)
            .detail(json!({"sent": true})),
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
    let txn = crate::db::begin(&ctx.db).await?;
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
    crate::tokens::service::forget_tokens(ctx);
    Ok(Message::success())
}
