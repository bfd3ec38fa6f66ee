//! WebSocket channels: live output of tasks (`/channel/{task_id}`, the seed's `task_output`
//! address, and `/api/channel/{task_id}/`) and instance logs followed
//! (`/api/application/{id}/instance/{iid}/log/follow/`). The handshake is authenticated like any request
//! (session cookie, or `Authorization: token …`; cross-site handshakes are refused by
//! `http::actor_layer`) and authorized before the upgrade, so a refused caller gets a plain
//! 401/404 and no socket. Frames are JSON texts (see `app::exec::service::follow`).
use crate::http::{Who, P, Q};
use app::ctx::Ctx;
use app::error::AppResult;
use app::exec::service;
use app::exec::types::OutputQuery;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use std::sync::Arc;
use tokio::sync::mpsc;

async fn channel(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    Q(q): Q<OutputQuery>,
    ws: WebSocketUpgrade,
) -> AppResult<Response> {
    let frames = service::follow(&ctx, &a, id, q).await?;
    Ok(ws.on_upgrade(move |socket| send(socket, frames)))
}

async fn log_follow(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P((app, iid)): P<(i64, i64)>,
    Q(q): Q<app::deploy::types::LogQuery>,
    ws: WebSocketUpgrade,
) -> AppResult<Response> {
    let frames = app::deploy::service::follow_log(&ctx, &a, app, iid, q).await?;
    Ok(ws.on_upgrade(move |socket| send(socket, frames)))
}

/// Sends frames until the stream ends (then closes normally) or the client goes away.
async fn send(mut socket: WebSocket, mut frames: mpsc::Receiver<Arc<str>>) {
    let ping = std::time::Duration::from_secs(30);
    loop {
        tokio::select! {
            f = frames.recv() => match f {
                Some(text) => {
                    if socket.send(Message::Text(text.as_ref().into())).await.is_err() {
                        return;
                    }
                }
                None => break,
            },
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = tokio::time::sleep(ping) => {
                if socket.send(Message::Text(r#"{"type":"ping"}"#.into())).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// The WebSocket routes.
pub fn routes() -> axum::Router<crate::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/channel/{id}", get(channel))
        .route("/channel/{id}/", get(channel))
        .route("/api/channel/{id}/", get(channel))
        .route("/api/channel/{id}", get(channel))
        .route(
            "/api/application/{app}/instance/{iid}/log/follow/",
            get(log_follow),
        )
        .route(
            "/api/applications/{app}/instance/{iid}/log/follow/",
            get(log_follow),
        )
}
