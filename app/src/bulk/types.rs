//! Wire types of bulk CSV import and export (hosts and applications), and the CSV layout both
//! directions share, so an exported file edited in a spreadsheet imports back.
use crate::error::{AppError, AppResult};
use serde::{Deserialize, Serialize};

/// What can be imported.
pub const IMPORT_KINDS: &[&str] = &["hosts", "applications"];
/// Columns of the hosts CSV. `ip_addresses`: `address/netmask` entries separated by `;`, each
/// optionally followed by `virtual`, `PUBLIC`/`PRIVATE`, `LB`/`HOST` (space separated).
pub const HOST_COLUMNS: &[&str] = &[
    "name",
    "host_type",
    "status",
    "os_status",
    "os_type",
    "cpu",
    "memory",
    "location",
    "description",
    "ip_addresses",
];
/// Columns of the applications CSV. `full_name` places the application (A.B.C: C under A.B);
/// `production` is a product line name; `required_apps`: full names separated by `;`.
pub const APP_COLUMNS: &[&str] = &[
    "full_name",
    "production",
    "application_type",
    "description",
    "run_user",
    "directory",
    "startup_cmd",
    "stop_cmd",
    "stdout_path",
    "stderr_path",
    "pid_path",
    "required_apps",
];
/// The largest file an import takes.
pub const MAX_IMPORT_BYTES: usize = 20 * 1024 * 1024;
/// Most data rows in one import file (split larger files).
pub const MAX_IMPORT_ROWS: usize = 50_000;
/// Most refused rows an import lists (`errors`); its `message` counts all of them.
pub const MAX_IMPORT_ERRORS: usize = 1_000;
/// Most application names in one `required_apps` cell.
pub const MAX_REQUIRED_APPS: usize = 64;

/// `POST /api/imports/`: a CSV file to import.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportInput {
    /// `hosts` or `applications`.
    pub kind: String,
    /// The file's text (UTF-8, a header row first).
    pub csv: String,
    /// Import nothing when any row is refused (default: import the valid rows).
    #[serde(default)]
    pub all_or_nothing: bool,
    #[serde(default)]
    pub filename: Option<String>,
}

/// Checks an import request before it is queued (the form pre-checks with the same code).
pub fn validate_import(i: &ImportInput) -> AppResult<()> {
    if !IMPORT_KINDS.contains(&i.kind.as_str()) {
        return Err(AppError::invalid("kind", "kind is hosts or applications"));
    }
    if i.csv.trim().is_empty() {
        return Err(AppError::invalid("csv", "the file is empty"));
    }
    if i.csv.len() > MAX_IMPORT_BYTES {
        return Err(AppError::invalid("csv", "the file is larger than 20 MB"));
    }
    Ok(())
}

/// A row the import refused: its line in the file (the header is line 1), the field, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RowError {
    pub line: u64,
    pub field: Option<String>,
    pub message: String,
}

/// An import: its state, progress and result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportRun {
    pub id: i64,
    pub kind: String,
    pub filename: String,
    /// `queued`, `running`, `done`, `failed`.
    pub status: String,
    pub all_or_nothing: bool,
    /// Data rows in the file.
    pub total: u64,
    /// Rows looked at so far.
    pub processed: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub errors: Vec<RowError>,
    pub message: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

impl ImportRun {
    /// True once the import will not change any more.
    pub fn finished(&self) -> bool {
        self.status == "done" || self.status == "failed"
    }
}
