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
/// Failed logins from one address (any user name; an IPv6 address counts by its /64) after which
/// each attempt from it is delayed, growing with the count: a slow-down, never a refusal, so
/// everybody behind one NAT, /64 or proxy can still sign in with a correct password.
pub const SLOW_AFTER_ADDRESS: u64 = 30;
/// Failures of one user name from one address after which each further attempt is delayed.
const SLOW_AFTER: u64 = 3;
/// Failures of one user name (any address) after which each attempt is delayed and attempts on
/// that name are checked one at a time: a slow-down, never a lock-out.
const SLOW_AFTER_WIDE: u64 = 20;
/// The longest delay of one attempt.
const MAX_DELAY_MS: u64 = 2_000;
/// How long an attempt on a much-guessed name waits for its turn before it is refused (429).
const TURN_WAIT_MS: u64 = 5_000;
/// Expired failure rows removed per attempt (oldest first, by primary key: no scan).
const PURGE_BATCH: u64 = 500;
/// The pseudo-address under which failed checks of the current password (change-password, own
/// e-mail change) are counted, per user and whatever the address.
const PASSWORD_CHECK: &str = "password-check";

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

fn invalid_login() -> AppError {
    AppError::new(ErrorCode::Unauthenticated, "invalid username or password")
}

/// Counts this attempt before the password is checked, atomically: in one write transaction
/// (`BEGIN IMMEDIATE` on SQLite; transaction-scoped advisory locks per address and per user name
/// and address on PostgreSQL) it counts the pair's and the address's recent failures and, under
/// the caps, inserts this attempt as a failure, which a successful login deletes again. Parallel
/// guesses therefore cannot exceed the caps. Expired rows are purged on the way. `ip` is the
/// throttled address (`security::throttle_address`). Answers the pair's earlier failures and the
/// address's (any name; 0 for `PASSWORD_CHECK`), which only slows attempts.
async fn reserve_attempt(ctx: &Ctx, username: &str, ip: &str) -> AppResult<(u64, u64)> {
    let txn = crate::db::begin(&ctx.db).await?;
    if !ip.is_empty() {
        crate::db::advisory_lock(&txn, &format!("login-address\n{ip}")).await?;
    }
    crate::db::advisory_lock(&txn, &format!("login\n{username}\n{ip}")).await?;
    let oldest = sea_orm::sea_query::Query::select()
        .column(login_failure::Column::Id)
        .from(login_failure::Entity)
        .order_by(login_failure::Column::Id, sea_orm::Order::Asc)
        .limit(PURGE_BATCH)
        .to_owned();
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Id.in_subquery(oldest))
        .filter(login_failure::Column::CreatedAt.lte(since()))
        .exec(&txn)
        .await?;
    let earlier = login_failure::Entity::find()
        .filter(login_failure::Column::Username.eq(username))
        .filter(login_failure::Column::Ip.eq(ip))
        .filter(login_failure::Column::CreatedAt.gt(since()))
        .count(&txn)
        .await?;
    if earlier >= MAX_FAILURES {
        return Err(too_many());
    }
    let by_address = if !ip.is_empty() && ip != PASSWORD_CHECK {
        login_failure::Entity::find()
            .filter(login_failure::Column::Ip.eq(ip))
            .filter(login_failure::Column::CreatedAt.gt(since()))
            .count(&txn)
            .await?
    } else {
        0
    };
    login_failure::ActiveModel {
        username: Set(username.to_string()),
        ip: Set(ip.to_string()),
        created_at: Set(crate::time::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok((earlier, by_address))
}

/// How long to hold this attempt back, growing with the pair's failures, with the address's
/// beyond `SLOW_AFTER_ADDRESS` and with the name's failures from anywhere beyond
/// `SLOW_AFTER_WIDE`; and whether the name is that much guessed (its checks then take turns,
/// `name_turn`).
async fn delay_ms(ctx: &Ctx, username: &str, pair: u64, by_address: u64) -> AppResult<(u64, bool)> {
    let mut ms = if pair >= SLOW_AFTER {
        200 * (pair - SLOW_AFTER + 1)
    } else {
        0
    };
    if by_address >= SLOW_AFTER_ADDRESS {
        ms = ms.max(100 * ((by_address - SLOW_AFTER_ADDRESS) / 10 + 1));
    }
    let by_user = login_failure::Entity::find()
        .filter(login_failure::Column::Username.eq(username))
        .filter(login_failure::Column::CreatedAt.gt(since()))
        .count(&ctx.db)
        .await?;
    let hot = by_user >= SLOW_AFTER_WIDE;
    if hot {
        ms = ms.max(100 * ((by_user - SLOW_AFTER_WIDE) / 5 + 1));
    }
    Ok((ms.min(MAX_DELAY_MS), hot))
}

/// The turn of an attempt on a much-guessed name: the password checks on one name (hashed onto
/// 64 stripes) run one at a time in this process. The turn is taken after the delay and held only
/// around the check, so an attacker's delayed attempts cannot hold a victim's login back until it
/// is refused. Refused (429) after `TURN_WAIT_MS`.
async fn name_turn(username: &str) -> AppResult<tokio::sync::MutexGuard<'static, ()>> {
    static STRIPES: std::sync::OnceLock<Vec<tokio::sync::Mutex<()>>> = std::sync::OnceLock::new();
    let stripes = STRIPES.get_or_init(|| (0..64).map(|_| tokio::sync::Mutex::new(())).collect());
    let digest = crate::security::sha256_hex(username);
    let i = usize::from_str_radix(&digest[..4], 16).unwrap_or_default() % stripes.len();
    tokio::time::timeout(
        std::time::Duration::from_millis(TURN_WAIT_MS),
        stripes[i].lock(),
    )
    .await
    .map_err(|_| too_many())
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
    Ok(invalid_login())
}

/// Checks a username and password. A name that cannot exist answers like a wrong password
/// without touching the database. Attempts are counted before the check, per user name and
/// address and per address; repeated failures are delayed; a name and address pair is then
/// refused (429) for the window (an address as a whole is only slowed, never refused);
/// every success and failure is audited. A disabled account answers like a wrong password.
/// Password hashing runs on the blocking pool, a bounded number at once (503 when saturated).
pub async fn login(ctx: &Ctx, actor: &Actor, input: LoginInput) -> AppResult<user::Model> {
    let username = input.username.trim();
    if username.is_empty() || input.password.is_empty() {
        return Err(AppError::invalid(
            "username",
            "username and password are required",
        ));
    }
    if validate::username(username).is_err() {
        // No such account can exist: nothing to count, nothing to audit (the name may be 64 KB).
        crate::security::burn_password_check_if_idle(&input.password).await;
        return Err(invalid_login());
    }
    let address = crate::security::throttle_address(&actor.ip);
    let (pair, by_address) = reserve_attempt(ctx, username, &address).await?;
    let (ms, hot) = delay_ms(ctx, username, pair, by_address).await?;
    if ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    // Taken after the delay: the turn covers only the check (see `name_turn`).
    let turn = if hot {
        Some(name_turn(username).await?)
    } else {
        None
    };
    let found = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&ctx.db)
        .await?;
    let Some(u) = found else {
        crate::security::burn_password_check_off(&input.password).await?;
        drop(turn);
        return Err(fail(ctx, actor, username, "unknown user").await?);
    };
    let verified = crate::security::verify_password_off(&input.password, &u.password_hash).await?;
    drop(turn);
    if !verified {
        return Err(fail(ctx, actor, username, "wrong password").await?);
    }
    if u.status != "enabled" {
        // The same answer as a wrong password: a distinct one would confirm the password of a
        // disabled account. The audit record keeps the real reason.
        return Err(fail(ctx, actor, username, "disabled").await?);
    }
    let txn = crate::db::begin(&ctx.db).await?;
    // This attempt and the pair's earlier failures; failures from elsewhere keep slowing guesses.
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Username.eq(username))
        .filter(login_failure::Column::Ip.eq(address.as_str()))
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

/// Checks the current password of user `u` (change-password, a change of one's own e-mail) under
/// the login throttle, counted per user whatever the address: after `MAX_FAILURES` failures in
/// the window further checks are refused (429). A wrong password answers 300001 on `field`.
pub async fn check_current_password(
    ctx: &Ctx,
    u: &user::Model,
    password: &str,
    field: &str,
) -> AppResult<()> {
    let key = format!("#{}", u.id);
    let (earlier, _) = reserve_attempt(ctx, &key, PASSWORD_CHECK)
        .await
        .map_err(|e| {
            if e.error_code == ErrorCode::TooManyRequests.number() {
                AppError::new(
                    ErrorCode::TooManyRequests,
                    format!("too many wrong passwords; try again in {WINDOW_MINUTES} minutes"),
                )
            } else {
                e
            }
        })?;
    if earlier >= SLOW_AFTER {
        let ms = (200 * (earlier - SLOW_AFTER + 1)).min(MAX_DELAY_MS);
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    if !crate::security::verify_password_off(password, &u.password_hash).await? {
        return Err(AppError::new(
            ErrorCode::WrongOriginalPassword,
            "the current password is wrong",
        )
        .with_field(field));
    }
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Username.eq(key))
        .filter(login_failure::Column::Ip.eq(PASSWORD_CHECK))
        .exec(&ctx.db)
        .await?;
    Ok(())
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
/// Forgot-password requests from one address per window (`WINDOW_MINUTES`; an IPv6 address counts
/// by its /64, `security::throttle_address`, kept as `address` in each request's audit detail);
/// more answer 429, whoever they name, so the limit reveals nothing about accounts.
pub const FORGOT_PER_ADDRESS: u64 = 10;
/// Reset mails to one user per window; further requests answer the same success and send nothing.
pub const FORGOT_PER_USER: u64 = 3;
/// Every forgot-password answer takes at least this long, whether the user exists or not.
const FORGOT_MIN_MS: u64 = 250;

/// `POST /auth/forgot-password/` (by username or e-mail) and `POST /users/{id}/actions/forget-password/`
/// (by id and e-mail): mails a single-use reset link. Always answers success, so it reveals nothing,
/// and takes the same time (at least `FORGOT_MIN_MS`) whether the user exists or not. Throttled per
/// address (429, counted over every request) and per user (silently: no further mail); both counts
/// and the request's own record are one transaction, so parallel requests cannot pass the caps.
pub async fn forgot_password(
    ctx: &Ctx,
    actor: &Actor,
    user_id: Option<i64>,
    input: ForgotPassword,
) -> AppResult<Message> {
    let started = tokio::time::Instant::now();
    let answer = request_reset(ctx, actor, user_id, input).await;
    if matches!(&answer, Err(e) if e.error_code == ErrorCode::TooManyRequests.number()) {
        return answer;
    }
    tokio::time::sleep_until(started + std::time::Duration::from_millis(FORGOT_MIN_MS)).await;
    answer
}

/// The work of `forgot_password`, in one write transaction (`BEGIN IMMEDIATE` on SQLite; advisory
/// locks per address, then per user, on PostgreSQL): the address's count, the user's count, and
/// the audit record that every outcome but bad input writes (which the per-address count reads)
/// with the reset row and its mail.
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
    if username.is_some_and(|n| n.chars().count() > 254) {
        return Err(AppError::invalid("username", "this is not a user name"));
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
    let address = crate::security::throttle_address(&actor.ip);
    let txn = crate::db::begin(&ctx.db).await?;
    crate::db::advisory_lock(&txn, &format!("forgot-address\n{address}")).await?;
    // Counted by the throttle address the audit detail keeps (the row's `ip` is the raw one).
    let tag = json!({ "address": address }).to_string();
    let tag = tag.trim_start_matches('{').trim_end_matches('}');
    let by_address = crate::entities::audit_log::Entity::find()
        .filter(crate::entities::audit_log::Column::Category.eq("auth"))
        .filter(crate::entities::audit_log::Column::OpType.eq("forgot_password"))
        .filter(crate::entities::audit_log::Column::Detail.contains(tag))
        .filter(crate::entities::audit_log::Column::OpTime.gt(since()))
        .count(&txn)
        .await?;
    if by_address >= FORGOT_PER_ADDRESS {
        return Err(AppError::new(
            ErrorCode::TooManyRequests,
            format!("too many password reset requests; try again in {WINDOW_MINUTES} minutes"),
        ));
    }
    let found = user::Entity::find()
        .filter(cond)
        .one(&txn)
        .await?
        .filter(|u| !u.email.is_empty());
    let recent = match &found {
        Some(u) => {
            crate::db::advisory_lock(&txn, &format!("forgot-user\n{}", u.id)).await?;
            password_reset::Entity::find()
                .filter(password_reset::Column::UserId.eq(u.id))
                .filter(password_reset::Column::CreatedAt.gt(since()))
                .count(&txn)
                .await?
        }
        None => 0,
    };
    let entry = Entry::new("auth", "forgot_password");
    let entry = match found {
        Some(u) if recent < FORGOT_PER_USER => {
            queue_reset_mail(&txn, ctx, &u, false).await?;
            entry
                .target("user", Some(u.id), &u.username)
                .detail(json!({"sent": true, "address": address}))
        }
        Some(u) => entry
            .target("user", Some(u.id), &u.username)
            .detail(json!({"sent": false, "reason": "throttled", "address": address})),
        None => entry.target("user", None, asked).detail(
            json!({"sent": false, "reason": "no such user with an e-mail", "address": address}),
        ),
    };
    record(&txn, actor, entry).await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(Message::success())
}

/// How long the link of a new account (`welcome`) stays valid.
const WELCOME_MINUTES: i64 = 3 * 24 * 60;

/// Stores a single-use reset link for `u` and queues the mail with it to `u.email`, in the
/// caller's transaction (the caller wakes the job runner after commit). `welcome`: the mail of a
/// new account created without a password (valid for three days instead of an hour).
pub async fn queue_reset_mail<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx,
    u: &user::Model,
    welcome: bool,
) -> AppResult<()> {
    let token = crate::security::random_token(24);
    let now = crate::time::now();
    let link = format!(
        "{}/reset-password?token={token}",
        ctx.config.public_url.trim_end_matches('/')
    );
    let minutes = if welcome {
        WELCOME_MINUTES
    } else {
        RESET_MINUTES
    };
    password_reset::ActiveModel {
        user_id: Set(u.id),
        token_hash: Set(crate::security::sha256_hex(&token)),
        expires_at: Set(now + chrono::Duration::minutes(minutes)),
        used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let (subject, body) = if welcome {
        (
            "Your Opsdeck account / 您的 Opsdeck 账号".to_string(),
            format!(
                "Hello {name},\n\nAn Opsdeck account was created for you. Open this link within {days} days to choose your password:\n{link}\n\n\
                 已为您创建 Opsdeck 账号，请在 {days} 天内打开上面的链接设置密码。\n",
                name = u.username,
                days = WELCOME_MINUTES / (24 * 60)
            ),
        )
    } else {
        (
            "Opsdeck password reset / 重置密码".to_string(),
            format!(
                "Hello {name},\n\nOpen this link within {RESET_MINUTES} minutes to choose a new password:\n{link}\n\n\
                 如需重置密码，请在 {RESET_MINUTES} 分钟内打开上面的链接。\n\nIf you did not ask for this, ignore this mail.\n",
                name = u.username
            ),
        )
    };
    crate::jobs::enqueue(
        txn,
        "mail",
        &crate::mail::Mail {
            to: u.email.clone(),
            subject,
            body,
            html: None,
        },
    )
    .await?;
    Ok(())
}

/// `POST /auth/reset-password/`: sets a new password with a mailed token (single use, expiring).
pub async fn reset_password(ctx: &Ctx, actor: &Actor, input: ResetPassword) -> AppResult<Message> {
    validate::password("new_password", &input.new_password)?;
    let invalid = || AppError::invalid("token", "this reset link is invalid or has expired");
    let token_hash = crate::security::sha256_hex(input.token.trim());
    let open = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(token_hash.as_str()))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(crate::time::now()))
        .one(&ctx.db)
        .await?;
    if open.is_none() {
        return Err(invalid());
    }
    // Hashed before the write transaction (Argon2 and its permit wait must not hold the writer
    // lock), and only for a link that exists; the link is checked again inside.
    let new_hash = crate::security::hash_password_off(&input.new_password).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let r = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(token_hash.as_str()))
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
    crate::users::service::set_password(&txn, &who, u, new_hash, "reset_password").await?;
    txn.commit().await?;
    crate::tokens::service::forget_tokens(ctx);
    Ok(Message::success())
}
