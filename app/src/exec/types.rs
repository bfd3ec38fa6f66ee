//! Wire types of runs (tasks): durable executions of steps on hosts, their per-host results
//! and their output.
use serde::{Deserialize, Serialize};

/// A host a task touches: `{id, name}` (seed 003 task objects).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TaskHost {
    pub id: i64,
    pub name: String,
}

/// One host's (or instance's) part of a task.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TargetResult {
    /// The target id: `?target=` of the output, `target_id` of live frames.
    pub id: i64,
    pub host: TaskHost,
    #[serde(default)]
    pub instance_id: Option<i64>,
    /// `pending`, `running`, `finished`, `failed` or `skipped`.
    pub status: String,
    /// The step running or last run (1-based; 0 before the first).
    pub step: i32,
    pub steps_total: i32,
    pub step_name: String,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The error code of a failure (`host_key_changed` 40910, an executor failure 30001, …).
    #[serde(default)]
    pub error_code: Option<i32>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub started_time: Option<String>,
    #[serde(default)]
    pub finished_time: Option<String>,
}

/// How far a task got.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Progress {
    pub total: i32,
    pub done: i32,
    pub failed: i32,
}

/// A task: `running`, `finished` (every target finished) or `failed`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Task {
    pub id: i64,
    /// `ssh_check`, `host_init`, `host_start`, `host_stop`, `host_restart`, `host_status`, …
    pub kind: String,
    pub status: String,
    /// The creator's username (empty for the system).
    pub creator: String,
    pub hosts: Vec<TaskHost>,
    pub created_time: String,
    #[serde(default)]
    pub finished_time: Option<String>,
    /// Why the task failed as a whole (`interrupted`, `cancelled by …`).
    #[serde(default)]
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub progress: Progress,
    pub results: Vec<TargetResult>,
    /// The live output address (WebSocket).
    pub task_output: String,
    /// Init tasks: `{zabbix_groups, zabbix_templates}` (seed 003 "Host init task options").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opts: Option<serde_json::Value>,
}

/// What an action that starts a task answers (seed 003: `{"task_id": "…"}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TaskStarted {
    pub task_id: String,
    /// `ws(s)://<public url>/channel/<task_id>`: live output.
    pub task_output: String,
}

/// A piece of output as it was written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OutputChunk {
    /// Increasing within a task: resume after it with `?after=`.
    pub id: i64,
    pub target_id: i64,
    /// `stdout`, `stderr` or `system` (Opsdeck's own lines).
    pub stream: String,
    /// The bytes as text (invalid UTF-8 replaced); ANSI colour codes are kept.
    pub data: String,
}

/// `GET /tasks/{id}/output/`: output written after `after`, oldest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OutputQuery {
    /// Only this target's output.
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub target: Option<i64>,
    /// Output after this chunk id (0: from the start).
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub after: Option<i64>,
    /// Chunks per answer (default 256, at most 1000).
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub limit: Option<i64>,
}

/// A page of output, and whether more may come.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OutputPage {
    pub chunks: Vec<OutputChunk>,
    /// Pass as `after` for the next page.
    pub next_after: i64,
    /// The task's status when read: output is complete once it is not `running` and
    /// `chunks` is empty.
    pub status: String,
}
