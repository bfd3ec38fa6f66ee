//! Output of runs: secrets masked, stored in chunks as it arrives, and published live.
//!
//! Each target's stdout and stderr pass a `Redactor` (every secret the run holds becomes
//! `******`, also when split across reads) on their way to the run's single writer task, which
//! stores what arrived every 250 ms (or 64 KB) in one transaction, then publishes each stored
//! chunk, with its id, to the run's hub channel. Stored output per target is capped
//! (`Config::output_max_bytes`); the rest is dropped with a note.
use super::hub::Frame;
use crate::ctx::Ctx;
use crate::entities::run_output;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// What secrets are replaced with.
pub const MASK: &str = "******";

/// Replaces secrets in a byte stream, keeping back just enough bytes to see a secret that a
/// later read completes, and never cutting a UTF-8 character in two.
pub struct Redactor {
    secrets: Vec<Vec<u8>>,
    carry: Vec<u8>,
}

impl Redactor {
    /// Masks each non-empty secret of `secrets`.
    pub fn new(secrets: &[String]) -> Self {
        let mut secrets: Vec<Vec<u8>> = secrets
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_bytes().to_vec())
            .collect();
        // Longest first: a secret that contains another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor {
            secrets,
            carry: Vec::new(),
        }
    }

    /// Masks `buf` from the start; stops (when `partial`) where the rest could be the start
    /// of a secret that the next read completes. Answers the shown bytes and where it stopped.
    fn scan(&self, buf: &[u8], partial: bool) -> (Vec<u8>, usize) {
        let mut out = Vec::with_capacity(buf.len());
        let mut i = 0;
        let mut raw_from = 0;
        'outer: while i < buf.len() {
            let rest = &buf[i..];
            // First: could a longer secret start here? Then wait for the next read.
            if partial
                && self
                    .secrets
                    .iter()
                    .any(|s| s.len() > rest.len() && s.starts_with(rest))
            {
                break;
            }
            for s in &self.secrets {
                if rest.starts_with(s) {
                    out.extend_from_slice(MASK.as_bytes());
                    i += s.len();
                    raw_from = i;
                    continue 'outer;
                }
            }
            out.push(buf[i]);
            i += 1;
        }
        if partial {
            // Keep back a character the read cut in two (only in raw bytes, never in a mask).
            let cut = utf8_cut(buf, i).max(raw_from);
            out.truncate(out.len() - (i - cut));
            i = cut;
        }
        (out, i)
    }

    /// Takes a read; answers what may be shown now.
    pub fn push(&mut self, data: &[u8]) -> Vec<u8> {
        self.carry.extend_from_slice(data);
        let (shown, used) = self.scan(&self.carry, true);
        self.carry.drain(..used);
        shown
    }

    /// Answers everything kept back (the stream ended).
    pub fn finish(&mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.carry);
        self.scan(&rest, false).0
    }
}

/// `cut`, moved back to the start of a UTF-8 character it would split (bytes that are not
/// UTF-8 are cut anywhere).
fn utf8_cut(b: &[u8], cut: usize) -> usize {
    let mut i = cut;
    let mut back = 0;
    while i > 0 && back < 3 && (b[i - 1] & 0xC0) == 0x80 {
        i -= 1;
        back += 1;
    }
    if i == 0 {
        return cut;
    }
    let len = match b[i - 1] {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    };
    if len > 1 && i - 1 + len > cut {
        i - 1
    } else {
        cut
    }
}

/// One piece of output on its way to the writer.
pub struct Piece {
    pub target_id: i64,
    /// `stdout`, `stderr` or `system`.
    pub stream: &'static str,
    pub data: Vec<u8>,
}

/// What the writer is sent.
pub enum Msg {
    Output(Piece),
    /// A target's state changed: published after the pending output, in order.
    Frame(Frame),
}

/// The frame of a stored chunk.
pub fn output_frame(id: i64, target_id: i64, stream: &str, data: &[u8]) -> Frame {
    Frame {
        id: Some(id),
        target_id: Some(target_id),
        kind: "output",
        text: json!({
            "type": "output",
            "id": id,
            "target_id": target_id,
            "stream": stream,
            "data": String::from_utf8_lossy(data),
        })
        .to_string()
        .into(),
    }
}

const FLUSH_EVERY: Duration = Duration::from_millis(250);
const FLUSH_BYTES: usize = 64 << 10;

/// Stores and publishes a run's output until every sender is gone. Storage errors are logged
/// and the output is dropped (the run goes on; its result does not depend on its output).
pub async fn writer(
    ctx: Ctx,
    run_id: i64,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    live: broadcast::Sender<Frame>,
) {
    let cap = ctx.config.output_max_bytes;
    let mut stored: HashMap<i64, u64> = HashMap::new();
    let mut open = true;
    while open {
        let Some(first) = rx.recv().await else { break };
        let mut batch = vec![first];
        let mut bytes = 0usize;
        let deadline = tokio::time::Instant::now() + FLUSH_EVERY;
        while bytes < FLUSH_BYTES {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(m)) => {
                    if let Msg::Output(p) = &m {
                        bytes += p.data.len();
                    }
                    batch.push(m);
                }
                Ok(None) => {
                    open = false;
                    break;
                }
                Err(_) => break,
            }
        }
        let frames = store(&ctx, run_id, batch, cap, &mut stored).await;
        for f in frames {
            let _ = live.send(f);
        }
    }
}

/// Stores a batch in one transaction; answers the frames to publish, in order.
async fn store(
    ctx: &Ctx,
    run_id: i64,
    batch: Vec<Msg>,
    cap: u64,
    stored: &mut HashMap<i64, u64>,
) -> Vec<Frame> {
    let batch = coalesce(batch);
    let now = crate::time::now();
    let mut frames = Vec::with_capacity(batch.len());
    let txn = match crate::db::begin(&ctx.db).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(run = run_id, error = %e, "storing task output");
            return batch
                .into_iter()
                .filter_map(|m| match m {
                    Msg::Frame(f) => Some(f),
                    Msg::Output(_) => None,
                })
                .collect();
        }
    };
    for m in batch {
        let p = match m {
            Msg::Frame(f) => {
                frames.push(f);
                continue;
            }
            Msg::Output(p) => p,
        };
        let so_far = stored.entry(p.target_id).or_insert(0);
        if *so_far > cap {
            continue;
        }
        let (stream, data) = if *so_far + p.data.len() as u64 > cap {
            *so_far = cap + 1;
            (
                "system",
                format!("\n[opsdeck] output beyond {} MB is not kept\n", cap >> 20).into_bytes(),
            )
        } else {
            *so_far += p.data.len() as u64;
            (p.stream, p.data)
        };
        let row = run_output::ActiveModel {
            run_id: Set(run_id),
            target_id: Set(p.target_id),
            stream: Set(stream.into()),
            data: Set(data),
            created_at: Set(now),
            ..Default::default()
        };
        match row.insert(&txn).await {
            Ok(r) => frames.push(output_frame(r.id, r.target_id, &r.stream, &r.data)),
            Err(e) => tracing::error!(run = run_id, error = %e, "storing task output"),
        }
    }
    if let Err(e) = txn.commit().await {
        tracing::error!(run = run_id, error = %e, "storing task output");
        frames.retain(|f| f.kind != "output");
    }
    frames
}

/// Joins consecutive pieces of one target's stream into one (a host writing a byte at a time
/// makes one row per flush, not one per byte).
fn coalesce(batch: Vec<Msg>) -> Vec<Msg> {
    let mut out: Vec<Msg> = Vec::with_capacity(batch.len());
    for m in batch {
        if let (Some(Msg::Output(last)), Msg::Output(p)) = (out.last_mut(), &m) {
            if last.target_id == p.target_id && last.stream == p.stream {
                last.data.extend_from_slice(&p.data);
                continue;
            }
        }
        out.push(m);
    }
    out
}

/// A handle to send a run's output and frames to its writer.
#[derive(Clone)]
pub struct Out {
    pub tx: mpsc::UnboundedSender<Msg>,
}

impl Out {
    /// Sends Opsdeck's own line (`system` stream) for a target.
    pub fn system(&self, target_id: i64, line: &str) {
        let _ = self.tx.send(Msg::Output(Piece {
            target_id,
            stream: "system",
            data: format!("[opsdeck] {line}\n").into_bytes(),
        }));
    }
    pub fn output(&self, target_id: i64, stream: &'static str, data: Vec<u8>) {
        if !data.is_empty() {
            let _ = self.tx.send(Msg::Output(Piece {
                target_id,
                stream,
                data,
            }));
        }
    }
    pub fn frame(&self, f: Frame) {
        let _ = self.tx.send(Msg::Frame(f));
    }
}

/// Shared text of a frame that is not output.
pub fn event_frame(kind: &'static str, target_id: Option<i64>, v: serde_json::Value) -> Frame {
    Frame {
        id: None,
        target_id,
        kind,
        text: Arc::from(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(secrets: &[&str], reads: &[&[u8]]) -> String {
        let s: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let mut r = Redactor::new(&s);
        let mut out = Vec::new();
        for d in reads {
            out.extend(r.push(d));
        }
        out.extend(r.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn masks_whole_and_split_secrets() {
        assert_eq!(run(&["hunter2"], &[b"pw=hunter2 ok"]), "pw=****** ok");
        assert_eq!(run(&["hunter2"], &[b"pw=hun", b"ter2 ok"]), "pw=****** ok");
        assert_eq!(
            run(&["hunter2"], &[b"h", b"u", b"n", b"t", b"e", b"r", b"2"]),
            "******"
        );
        assert_eq!(run(&["hunter2"], &[b"hunter hunter2"]), "hunter ******");
        assert_eq!(run(&[], &[b"plain"]), "plain");
        assert_eq!(run(&["ab", "abcd"], &[b"xabcdx ab"]), "x******x ******");
        // A shorter secret at the end of a read waits: it may be the start of a longer one.
        assert_eq!(run(&["ab", "abcd"], &[b"x ab", b"cd y"]), "x ****** y");
        // A secret that repeats itself does not hold back the stream.
        let mut r = Redactor::new(&["aaaa".to_string()]);
        assert_eq!(r.push(b"aaaaaaaaaab"), b"************aab".to_vec());
    }

    #[test]
    fn keeps_back_only_what_may_start_a_secret() {
        let mut r = Redactor::new(&["deploy-pass-123".to_string()]);
        // A quiet process after a line: the line is shown at once.
        assert_eq!(r.push(b"marker-before-kill\n"), b"marker-before-kill\n");
        assert_eq!(r.push(b"pw=deploy-pa"), b"pw=");
        assert_eq!(r.push(b"ss-123!"), b"******!");
        assert_eq!(r.push(b"deploy-pa"), b"");
        assert_eq!(r.push(b"rty\n"), b"deploy-party\n");
        assert_eq!(r.finish(), b"");
    }

    #[test]
    fn never_cuts_a_character() {
        let mut r = Redactor::new(&["zzzz".to_string()]);
        let text = "主机重启完成";
        let mut shown = Vec::new();
        for b in text.as_bytes().chunks(1) {
            let piece = r.push(b);
            assert!(std::str::from_utf8(&piece).is_ok(), "{piece:?}");
            shown.extend(piece);
        }
        shown.extend(r.finish());
        assert_eq!(String::from_utf8(shown).unwrap(), text);
    }
}

/// Stores one `system` line for a target on `db` (outside a live run: recovery).
pub async fn system_row<C: sea_orm::ConnectionTrait>(
    db: &C,
    run_id: i64,
    target_id: i64,
    line: &str,
) -> crate::error::AppResult<()> {
    run_output::ActiveModel {
        run_id: Set(run_id),
        target_id: Set(target_id),
        stream: Set("system".into()),
        data: Set(format!("\n[opsdeck] {line}\n").into_bytes()),
        created_at: Set(crate::time::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
