//! Live output of the runs this process executes: one broadcast channel per run. The runner
//! publishes each stored chunk (with its database id) and every target change; subscribers
//! replay what is stored, then follow (see `service::follow`). A run executed by another
//! process has no channel here: its subscribers read the database instead.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Frames a lagging subscriber may fall behind by before it re-reads the database.
const CAPACITY: usize = 1024;

/// A frame as sent to WebSocket subscribers, serialized once and shared by all of them.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The output chunk's id (output frames only): subscribers skip what they replayed.
    pub id: Option<i64>,
    pub target_id: Option<i64>,
    /// `output`, `target` or `end`.
    pub kind: &'static str,
    pub text: Arc<str>,
}

/// The channels of live runs.
#[derive(Default)]
pub struct Hub {
    runs: Mutex<HashMap<i64, broadcast::Sender<Frame>>>,
}

impl Hub {
    /// Opens the channel of a run this process starts executing.
    pub fn open(&self, run_id: i64) -> broadcast::Sender<Frame> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.entry(run_id)
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .clone()
    }

    /// Closes a run's channel once its end was published.
    pub fn close(&self, run_id: i64) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.remove(&run_id);
    }

    /// Follows a run this process executes; `None` when it does not (or no longer) execute it.
    pub fn subscribe(&self, run_id: i64) -> Option<broadcast::Receiver<Frame>> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.get(&run_id).map(|s| s.subscribe())
    }
}
