//! Instance logs (`view_app_log`): the application's `stdout_path` / `stderr_path` read on the
//! instance's host over SSH, as the deploy's running user (never root nor the login account, so
//! a log path cannot name a file only they may read). Relative paths are relative to the deploy path's `current`.
use super::config::effective;
use crate::ctx::{Actor, Ctx};
use crate::deploy::types::*;
use crate::entities::{application, instance};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::exec::runner::quote;
use crate::exec::ssh;
use crate::perms::types::ResourceType;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::time::Duration;

/// The largest block and line count one answer carries.
const MAX_BLOCK: i64 = 1 << 20;
const MAX_LINES: i64 = 10_000;

/// What a log request reads: the file, as whom, and the shell that prints `size lines\n`
/// then the content.
struct Read {
    path: String,
    user: String,
}

async fn read_of(
    ctx: &Ctx,
    actor: &Actor,
    app: i64,
    iid: i64,
    log_type: &str,
) -> AppResult<(Read, i64)> {
    crate::perms::service::authorize_resource(
        ctx,
        actor,
        ResourceType::Application,
        app,
        "view_app_log",
    )
    .await?;
    let a = application::Entity::find_by_id(app)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::not_found("application"))?;
    let i = instance::Entity::find_by_id(iid)
        .filter(instance::Column::AppId.eq(app))
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::not_found("instance"))?;
    let path = match log_type {
        "stdout" => a.stdout_path.trim().to_string(),
        "error" | "stderr" => a.stderr_path.trim().to_string(),
        _ => return Err(AppError::invalid("log_type", "stdout or error")),
    };
    if path.is_empty() {
        return Err(AppError::invalid(
            "log_type",
            "the application has no path for this log (stdout_path / stderr_path)",
        ));
    }
    let (_, _, cfg) = effective(&ctx.db, app).await?;
    let path = if path.starts_with('/') || cfg.deploy_path.is_empty() {
        path
    } else {
        format!("{}/current/{path}", cfg.deploy_path.trim_end_matches('/'))
    };
    // Read as the deploy's running user (chosen by deploy managers, allowed by the configuration).
    let user = cfg.script_running_user.clone();
    if !ctx.config.deploy_users.contains(&user) {
        return Err(AppError::conflict(format!(
            "logs are read as the deploy settings' running user {user}, which the configuration does not allow (OPSDECK_DEPLOY_USERS)"
        )));
    }
    Ok((Read { path, user }, i.host_id))
}

fn num(field: &str, v: Option<i64>, default: i64, max: i64) -> AppResult<i64> {
    let n = v.unwrap_or(default);
    if n < 0 || n > max {
        return Err(AppError::invalid(field, format!("0 to {max}")));
    }
    Ok(n)
}

/// The shell command printing `size lines` on a first line, then the part of the log asked
/// for; and whether it reads from the end (lines mode).
fn command(r: &Read, q: &LogQuery) -> AppResult<(String, bool)> {
    let mode = q.mode.as_deref().unwrap_or("bytes").trim();
    let f = quote(&r.path);
    let head = format!(
        "F={f}; [ -f \"$F\" ] && [ -r \"$F\" ] || {{ echo \"cannot read $F (not a readable file)\" >&2; exit 3; }}; printf '%s %s\\n' \"$(stat -c %s -- \"$F\")\" \"$(wc -l < \"$F\")\"; "
    );
    let body = match mode {
        "bytes" => {
            if q.from_position.is_some() && q.from_last_position.is_some() {
                return Err(AppError::invalid(
                    "from_last_position",
                    "not together with from_position",
                ));
            }
            let bs = num("block_size", q.block_size, 8192, MAX_BLOCK)?.max(1);
            if let Some(back) = q.from_last_position {
                let back = num("from_last_position", Some(back), 0, i64::MAX / 4)?;
                // The block that ends `back` bytes before the end.
                format!(
                    "T=$(stat -c %s -- \"$F\"); E=$((T-{back})); [ $E -gt 0 ] || E=0; S=$((E-{bs})); [ $S -gt 0 ] || S=0; echo $S; tail -c +$((S+1)) -- \"$F\" | head -c $((E-S))"
                )
            } else {
                let from = num("from_position", q.from_position, 0, i64::MAX / 4)?;
                format!(
                    "echo {from}; tail -c +{} -- \"$F\" | head -c {bs}",
                    from + 1
                )
            }
        }
        "lines" => {
            if q.lines.is_some() || q.from_lines.is_some() {
                let n = num("lines", q.lines, 1000, MAX_LINES)?;
                let from = num("from_lines", q.from_lines, 0, i64::MAX / 4)?;
                format!("echo {from}; tail -n +{} -- \"$F\" | head -n {n}", from + 1)
            } else {
                let n = num("latest_lines", q.latest_lines, 1000, MAX_LINES)?;
                let off = num(
                    "latest_lines_offset",
                    q.latest_lines_offset,
                    0,
                    i64::MAX / 4,
                )?;
                return Ok((
                    format!(
                        "{head}echo {off}; tail -n {} -- \"$F\" | head -n {n}",
                        n + off
                    ),
                    true,
                ));
            }
        }
        _ => return Err(AppError::invalid("mode", "bytes or lines")),
    };
    Ok((format!("{head}{body}"), false))
}

/// Opens an SSH session to an instance's host for reading (its key must be pinned already).
async fn session(ctx: &Ctx, host_id: i64) -> AppResult<ssh::Session> {
    let failed = |m: String| AppError::new(ErrorCode::ExecFailed, m);
    let resolved = crate::credentials::service::resolve(ctx, host_id)
        .await
        .map_err(failed)?;
    let endpoint = resolved.target.endpoint();
    let pinned = crate::credentials::service::pinned(ctx, host_id, &endpoint).await?;
    if pinned.is_none() {
        return Err(failed(format!(
            "no host key is pinned for {endpoint} yet: check the host's SSH access first"
        )));
    }
    ssh::connect(
        &ssh::Options::of(&ctx.config),
        &resolved.target,
        pinned.as_deref(),
    )
    .await
    .map_err(|e| failed(e.message()))
}

/// `GET /application/{id}/instance/{iid}/log/`: a block of bytes (`mode=bytes`: from
/// `from_position`, or ending `from_last_position` bytes before the end) or lines (`lines`
/// from `from_lines`, or the `latest_lines` before the last `latest_lines_offset`).
pub async fn instance_log(
    ctx: &Ctx,
    actor: &Actor,
    app: i64,
    iid: i64,
    q: LogQuery,
) -> AppResult<LogChunk> {
    let log_type = q.log_type.clone().unwrap_or_else(|| "stdout".into());
    let (r, host_id) = read_of(ctx, actor, app, iid, log_type.trim()).await?;
    let (cmd, from_end) = command(&r, &q)?;
    let s = session(ctx, host_id).await?;
    // Logged in as root: runuser; otherwise as the user itself or through sudo.
    let full = format!(
        "{}\nas_user {} timeout 10 sh -c {}",
        crate::exec::deploy::AS_USER,
        quote(&r.user),
        quote(&cmd)
    );
    let out = tokio::time::timeout(Duration::from_secs(15), s.run(&full)).await;
    s.close().await;
    let (exit, stdout, stderr) = match out {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(AppError::new(ErrorCode::ExecFailed, e.message())),
        Err(_) => {
            return Err(AppError::new(
                ErrorCode::ExecFailed,
                "reading the log timed out",
            ))
        }
    };
    if !exit.success() {
        let why = String::from_utf8_lossy(&stderr);
        let why = why.lines().next().unwrap_or("reading the log failed");
        return Err(AppError::new(
            ErrorCode::ExecFailed,
            format!("{}: {}", r.path, why.chars().take(200).collect::<String>()),
        ));
    }
    parse(&stdout, from_end, q.mode.as_deref() == Some("lines"))
}

/// Reads the command's answer: `size lines`, the start, then the content.
fn parse(out: &[u8], from_end: bool, lines_mode: bool) -> AppResult<LogChunk> {
    let bad = || AppError::new(ErrorCode::ExecFailed, "the log could not be read");
    let mut parts = out.splitn(3, |b| *b == b'\n');
    let head = std::str::from_utf8(parts.next().ok_or_else(bad)?).map_err(|_| bad())?;
    let start: i64 = std::str::from_utf8(parts.next().ok_or_else(bad)?)
        .map_err(|_| bad())?
        .trim()
        .parse()
        .map_err(|_| bad())?;
    let content = parts.next().unwrap_or_default();
    let mut h = head.split_whitespace();
    let total: i64 = h.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let total_lines: i64 = h.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let text = String::from_utf8_lossy(content).into_owned();
    let length = content.len() as i64;
    if !lines_mode {
        return Ok(LogChunk {
            content: text,
            length,
            total_length: total,
            position: start + length,
            lines: None,
        });
    }
    let n = content.iter().filter(|b| **b == b'\n').count() as i64
        + i64::from(!content.is_empty() && !content.ends_with(b"\n"));
    let position = if from_end {
        // The line after the content: the file's lines less the offset.
        (total_lines - start).max(0)
    } else {
        start + n
    };
    Ok(LogChunk {
        content: text,
        length,
        total_length: total,
        position,
        lines: Some(n),
    })
}

/// How long one log follow may last.
const FOLLOW_SECS: u64 = 3600;

/// `GET /application/{id}/instance/{iid}/log/follow/` (WebSocket, an addition): the last
/// `latest_lines` lines of the log, then every line appended (`tail -F`), as JSON frames
/// `{"type":"output","data":…}`; `{"type":"end"}` when the host ends it (an hour at most).
/// Authorized now, like the log itself; the stream ends when the receiver is dropped.
pub async fn follow_log(
    ctx: &Ctx,
    actor: &Actor,
    app: i64,
    iid: i64,
    q: LogQuery,
) -> AppResult<tokio::sync::mpsc::Receiver<std::sync::Arc<str>>> {
    let log_type = q.log_type.clone().unwrap_or_else(|| "stdout".into());
    let (r, host_id) = read_of(ctx, actor, app, iid, log_type.trim()).await?;
    let n = num("latest_lines", q.latest_lines, 100, MAX_LINES)?;
    let cmd = format!(
        "F={}; [ -f \"$F\" ] && [ -r \"$F\" ] || {{ echo \"cannot read $F (not a readable file)\" >&2; exit 3; }}; exec tail -n {n} -F -- \"$F\"",
        quote(&r.path)
    );
    let full = format!(
        "{}\nas_user {} timeout {FOLLOW_SECS} sh -c {}",
        crate::exec::deploy::AS_USER,
        quote(&r.user),
        quote(&cmd)
    );
    let s = session(ctx, host_id).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        let frame = |kind: &str, data: &[u8]| -> std::sync::Arc<str> {
            serde_json::json!({"type": kind, "data": String::from_utf8_lossy(data)})
                .to_string()
                .into()
        };
        let out = tx.clone();
        let exec = s.exec(&full, |stream, d| {
            let kind = match stream {
                ssh::Stream::Stdout => "output",
                ssh::Stream::Stderr => "error",
            };
            // A reader too slow for the log loses lines rather than stalling the host's tail.
            let _ = out.try_send(frame(kind, d));
        });
        tokio::select! {
            _ = exec => {
                let _ = tx.send(r#"{"type":"end"}"#.into()).await;
            }
            _ = tx.closed() => {}
        }
        s.close().await;
    });
    Ok(rx)
}
