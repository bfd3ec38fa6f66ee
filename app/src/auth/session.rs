//! Browser sessions: what is kept in the session and how it starts and ends.
use crate::entities::user;
use crate::error::{AppError, AppResult};
use tower_sessions::Session;

pub const USER_ID: &str = "uid";
pub const FINGERPRINT: &str = "pwfp";

/// Starts an authenticated session: a new id (no fixation), the user and a password fingerprint.
pub async fn start(session: &Session, u: &user::Model) -> AppResult<()> {
    session.cycle_id().await.map_err(AppError::internal)?;
    session
        .insert(USER_ID, u.id)
        .await
        .map_err(AppError::internal)?;
    session
        .insert(
            FINGERPRINT,
            super::service::password_fingerprint(&u.password_hash),
        )
        .await
        .map_err(AppError::internal)?;
    Ok(())
}

/// Ends the session and deletes it from the store.
pub async fn end(session: &Session) -> AppResult<()> {
    session.flush().await.map_err(AppError::internal)
}

/// The user id and fingerprint of the session, if signed in.
pub async fn current(session: &Session) -> Option<(i64, String)> {
    let id = session.get::<i64>(USER_ID).await.ok().flatten()?;
    let fp = session.get::<String>(FINGERPRINT).await.ok().flatten()?;
    Some((id, fp))
}

/// Login for both adapters (REST and server function): checks, starts the session, answers `Me`.
pub async fn login(
    ctx: &crate::ctx::Ctx,
    actor: &crate::ctx::Actor,
    session: &Session,
    input: super::types::LoginInput,
) -> AppResult<super::types::Me> {
    let u = super::service::login(ctx, actor, input).await?;
    start(session, &u).await?;
    let who = crate::ctx::Actor {
        id: u.id,
        username: u.username.clone(),
        ..actor.clone()
    };
    super::service::me(ctx, &who).await
}

/// Logout for both adapters.
pub async fn logout(
    ctx: &crate::ctx::Ctx,
    actor: &crate::ctx::Actor,
    session: &Session,
) -> AppResult<crate::common::Message> {
    let m = super::service::logout(ctx, actor).await?;
    end(session).await?;
    Ok(m)
}

/// Change-password for both adapters: other sessions end (their fingerprint no longer matches),
/// while the caller's own browser session, if any, is re-issued with the new fingerprint.
pub async fn change_password(
    ctx: &crate::ctx::Ctx,
    actor: &crate::ctx::Actor,
    session: &Session,
    user_id: i64,
    input: crate::users::types::ChangePassword,
) -> AppResult<crate::common::Message> {
    use sea_orm::EntityTrait;
    let m = crate::users::service::change_password(ctx, actor, user_id, input).await?;
    if current(session).await.map(|(uid, _)| uid) == Some(actor.id) {
        if let Some(u) = user::Entity::find_by_id(actor.id).one(&ctx.db).await? {
            start(session, &u).await?;
        }
    }
    Ok(m)
}
