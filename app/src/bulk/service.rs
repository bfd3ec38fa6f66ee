//! CSV export (what the actor may see, for the current filter) and CSV import of hosts and
//! applications. An import is a row in `imports` plus a durable job: the job writes every row
//! through the hosts/applications services, `Config::import_batch_rows` (250) rows per short
//! write transaction (a savepoint per row, one audit record per batch, the enforcer updated after
//! each commit), so a large file never holds SQLite's single writer lock for long and other
//! writes interleave. (The validation pass of an all-or-nothing import below is the exception:
//! one transaction over the file, rolled back.)
//! Refused rows are reported with their line. All-or-nothing imports are first checked by a
//! validation pass: the whole file written in one transaction that is rolled back; only when it
//! refuses no row are the batches applied. If the process dies mid-apply, the job is re-run
//! (its lock lapses): rows already applied are then "unchanged", the others are applied.
use super::types::*;
use crate::applications::service::{self as apps, CreatedHere};
use crate::applications::types::{AppFilter, AppInput};
use crate::audit::service::{record, Entry};
use crate::common::{Page, PageQuery};
use crate::ctx::{Actor, Ctx};
use crate::entities::{application as app, import, production, user};
use crate::error::{AppError, AppResult};
use crate::hosts::service as hosts;
use crate::hosts::types::{HostFilter, HostInput, IpAddress, MAX_HOST_IPS};
use crate::perms::casbin::{apply, Rule};
use crate::perms::service::{authorize_module, granted_ids, granted_set, holds_resource};
use crate::perms::types::ResourceType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// Rows fetched per query while exporting.
const EXPORT_CHUNK: u64 = 1000;

fn csv_err(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("csv: {e}"))
}

/// One IP address as a CSV cell entry: `address/netmask ADDR_TYPE [OWNER] [virtual]`.
fn ip_entry(i: &IpAddress) -> String {
    let mut s = format!("{}/{}", i.address, i.netmask);
    if let Some(t) = &i.addr_type {
        s.push(' ');
        s.push_str(t);
    }
    if let Some(o) = &i.owner {
        s.push(' ');
        s.push_str(o);
    }
    if i.is_virtual {
        s.push_str(" virtual");
    }
    s
}

/// Parses an `ip_addresses` cell (entries separated by `;`).
fn parse_ips(cell: &str) -> AppResult<Vec<IpAddress>> {
    let bad = |m: String| AppError::invalid("ip_addresses", m);
    let mut out = vec![];
    for entry in cell.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        // Refused before a huge cell is turned into addresses.
        if out.len() >= MAX_HOST_IPS {
            return Err(bad(format!("a host has at most {MAX_HOST_IPS} addresses")));
        }
        let mut words = entry.split_whitespace();
        let first = words.next().unwrap_or_default();
        let (address, netmask) = first
            .split_once('/')
            .ok_or_else(|| bad(format!("{first}: write address/netmask (10.0.0.5/24)")))?;
        let mut ip = IpAddress {
            address: address.to_string(),
            netmask: netmask.to_string(),
            ..Default::default()
        };
        for w in words {
            match w {
                "virtual" => ip.is_virtual = true,
                "PUBLIC" | "PRIVATE" => ip.addr_type = Some(w.to_string()),
                "HOST" | "LB" => ip.owner = Some(w.to_string()),
                other => {
                    return Err(bad(format!(
                        "{other}: after address/netmask only PUBLIC, PRIVATE, HOST, LB or virtual"
                    )))
                }
            }
        }
        out.push(ip);
    }
    Ok(out)
}

/// The next `EXPORT_CHUNK` rows of `q` from `offset` (advanced past them).
async fn chunk<E: EntityTrait>(
    ctx: &Ctx,
    q: &sea_orm::Select<E>,
    offset: &mut u64,
) -> AppResult<Vec<E::Model>> {
    let rows = q
        .clone()
        .offset(*offset)
        .limit(EXPORT_CHUNK)
        .all(&ctx.db)
        .await?;
    *offset += rows.len() as u64;
    Ok(rows)
}

/// First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
const FORMULA_START: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// A plain number (`-5`, `+1.5`): no formula, whatever its sign.
fn plain_number(v: &str) -> bool {
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let frac = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// An exported cell, neutralized: one starting with `=`, `+`, `-`, `@`, tab or carriage return
/// (unless a plain number) gets a leading `'`, as does one that starts with `'` followed by such
/// a character or another `'`, so that `unneutralize` gives back exactly the value.
fn neutralize(v: String) -> String {
    let mut chars = v.chars();
    let quote = match chars.next() {
        Some(c) if FORMULA_START.contains(&c) => !plain_number(&v),
        Some('\'') => chars
            .next()
            .is_some_and(|c| c == '\'' || FORMULA_START.contains(&c)),
        _ => false,
    };
    if quote {
        format!("'{v}")
    } else {
        v
    }
}

/// An imported cell: a `'` put before a formula character (by `neutralize` or a spreadsheet)
/// is dropped; any other cell is taken as it is.
fn unneutralize(v: &str) -> &str {
    match v.strip_prefix('\'') {
        Some(rest)
            if rest
                .chars()
                .next()
                .is_some_and(|c| c == '\'' || FORMULA_START.contains(&c)) =>
        {
            rest
        }
        _ => v,
    }
}

fn writer(columns: &[&str]) -> AppResult<csv::Writer<Vec<u8>>> {
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(columns).map_err(csv_err)?;
    Ok(w)
}

fn finish(w: csv::Writer<Vec<u8>>) -> AppResult<String> {
    String::from_utf8(w.into_inner().map_err(csv_err)?).map_err(csv_err)
}

/// `GET /api/hosts/export.csv`: the hosts the actor may see that match the filter, with IPs.
pub async fn export_hosts(ctx: &Ctx, actor: &Actor, f: HostFilter) -> AppResult<String> {
    actor.require()?;
    let q = hosts::filtered(ctx, actor, &f).await?.sorted;
    let mut w = writer(HOST_COLUMNS)?;
    let mut offset = 0;
    loop {
        let rows = chunk(ctx, &q, &mut offset).await?;
        if rows.is_empty() {
            break;
        }
        let ids: Vec<i64> = rows.iter().map(|h| h.id).collect();
        let mut ips = hosts::ips_of(&ctx.db, &ids).await?;
        for h in rows {
            let cell: Vec<String> = ips
                .remove(&h.id)
                .unwrap_or_default()
                .iter()
                .map(ip_entry)
                .collect();
            w.write_record(
                [
                    h.hostname,
                    h.host_type,
                    h.status,
                    h.os_status,
                    h.os_type,
                    h.cpu.to_string(),
                    h.memory.to_string(),
                    h.location,
                    h.description,
                    cell.join("; "),
                ]
                .map(neutralize),
            )
            .map_err(csv_err)?;
        }
    }
    finish(w)
}

/// The `production` cell of an application in a product line the exporter may not view (the
/// dashboard's label too). Importing it keeps the application's current line; no product line
/// may be named so.
pub const HIDDEN_LINE: &str = "…";

/// `GET /api/applications/export.csv`: the applications the actor may see that match the filter.
pub async fn export_applications(ctx: &Ctx, actor: &Actor, f: AppFilter) -> AppResult<String> {
    actor.require()?;
    let q = apps::filtered(ctx, actor, app::Entity::find(), &f)
        .await?
        .order_by_asc(app::Column::FullName)
        .order_by_asc(app::Column::Id);
    // Only product lines the actor may view are named; an application in another one gets
    // `HIDDEN_LINE`, which an import reads as "keep the current line".
    let mut lines_q = production::Entity::find();
    if let Some(sub) = granted_ids(ctx, actor, ResourceType::Business, "view_business").await? {
        lines_q = lines_q.filter(production::Column::Id.in_subquery(sub));
    }
    let lines: HashMap<i64, String> = lines_q
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let visible = granted_set(ctx, actor, ResourceType::Application, "view_app").await?;
    let mut w = writer(APP_COLUMNS)?;
    let mut offset = 0;
    loop {
        let rows = chunk(ctx, &q, &mut offset).await?;
        if rows.is_empty() {
            break;
        }
        let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
        // Dependencies the actor may not view are left out of the file (and kept by an import).
        let mut required =
            apps::required_names(&ctx.db, &ids, visible.as_ref().map(|v| v.as_slice())).await?;
        for a in rows {
            w.write_record(
                [
                    a.full_name,
                    a.production_id
                        .map(|p| lines.get(&p).cloned().unwrap_or_else(|| HIDDEN_LINE.into()))
                        .unwrap_or_default(),
                    a.application_type,
                    a.description,
                    a.run_user,
                    a.directory,
                    a.startup_cmd,
                    a.stop_cmd,
                    a.stdout_path,
                    a.stderr_path,
                    a.pid_path,
                    required.remove(&a.id).unwrap_or_default().join("; "),
                ]
                .map(neutralize),
            )
            .map_err(csv_err)?;
        }
    }
    finish(w)
}

/// A parsed data row: its line in the file and its cells, in the order of the file's header
/// (shared by every row: a row costs its text and little more).
#[derive(Clone)]
struct Row {
    line: u64,
    header: std::sync::Arc<[String]>,
    cells: Vec<String>,
}

impl Row {
    /// The cell of `col`, when the file has that column.
    fn get(&self, col: &str) -> Option<&str> {
        let i = self.header.iter().position(|h| h == col)?;
        self.cells.get(i).map(String::as_str)
    }
    fn text(&self, col: &str) -> Option<String> {
        self.get(col).map(str::to_string)
    }
    /// An enum or number cell: empty means "leave as is / default".
    fn opt(&self, col: &str) -> Option<String> {
        self.get(col).filter(|v| !v.is_empty()).map(str::to_string)
    }
    fn num(&self, col: &str) -> AppResult<Option<i64>> {
        self.opt(col)
            .map(|v| {
                v.parse()
                    .map_err(|_| AppError::invalid(col, format!("{v} is not a whole number")))
            })
            .transpose()
    }
}

/// A reader over the file's data rows and its header (lower-cased), once the header names known
/// columns, `key` among them.
fn reader<'a>(kind: &str, text: &'a str) -> AppResult<(csv::Reader<&'a [u8]>, Vec<String>)> {
    let (columns, key) = match kind {
        "hosts" => (HOST_COLUMNS, "name"),
        _ => (APP_COLUMNS, "full_name"),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(|e| AppError::invalid("csv", format!("unreadable header: {e}")))?
        .iter()
        .map(str::to_lowercase)
        .collect();
    if let Some(unknown) = header.iter().find(|h| !columns.contains(&h.as_str())) {
        return Err(AppError::invalid(
            "csv",
            format!(
                "unknown column {unknown}; columns are {}",
                columns.join(", ")
            ),
        ));
    }
    if !header.iter().any(|h| h == key) {
        return Err(AppError::invalid(
            "csv",
            format!("the header needs a {key} column"),
        ));
    }
    // Each column once: a repeated one would only multiply every row's cells.
    if let Some(twice) = header
        .iter()
        .enumerate()
        .find_map(|(i, h)| header[..i].contains(h).then_some(h))
    {
        return Err(AppError::invalid(
            "csv",
            format!("column {twice} appears twice in the header"),
        ));
    }
    Ok((r, header))
}

/// Checks a record read from the file: `None` for an empty line, else its line number once
/// it has as many cells as the header and the file has not gone past `MAX_IMPORT_ROWS`.
fn check_record(rec: &csv::StringRecord, header: &[String], rows: usize) -> AppResult<Option<u64>> {
    let line = rec.position().map(|p| p.line()).unwrap_or(0);
    if rec.iter().all(str::is_empty) {
        return Ok(None);
    }
    if rec.len() != header.len() {
        return Err(AppError::invalid(
            "csv",
            format!(
                "line {line} has {} cells; the header has {}",
                rec.len(),
                header.len()
            ),
        ));
    }
    if rows >= MAX_IMPORT_ROWS {
        return Err(AppError::invalid(
            "csv",
            format!("the file has more than {MAX_IMPORT_ROWS} rows; split it"),
        ));
    }
    Ok(Some(line))
}

/// Counts the file's data rows (checking the header, each row's cells and the row cap) without
/// keeping them.
fn count_rows(kind: &str, text: &str) -> AppResult<usize> {
    let (mut r, header) = reader(kind, text)?;
    let mut rec = csv::StringRecord::new();
    let mut rows = 0;
    while r
        .read_record(&mut rec)
        .map_err(|e| AppError::invalid("csv", format!("unreadable CSV: {e}")))?
    {
        if check_record(&rec, &header, rows)?.is_some() {
            rows += 1;
        }
    }
    Ok(rows)
}

/// Parses the file: a header naming known columns (`key` required), then data rows (at most
/// `MAX_IMPORT_ROWS`).
fn parse(kind: &str, text: &str) -> AppResult<Vec<Row>> {
    let (mut r, header) = reader(kind, text)?;
    let shared: std::sync::Arc<[String]> = header.clone().into();
    let mut rows = vec![];
    for rec in r.records() {
        let rec = rec.map_err(|e| AppError::invalid("csv", format!("unreadable CSV: {e}")))?;
        let Some(line) = check_record(&rec, &header, rows.len())? else {
            continue;
        };
        rows.push(Row {
            line,
            header: shared.clone(),
            cells: rec.iter().map(|c| unneutralize(c).to_string()).collect(),
        });
    }
    Ok(rows)
}

/// Refuses an actor who could not change a single row: they need the module's create flag or
/// the edit permission on at least one resource.
async fn authorize_import(ctx: &Ctx, actor: &Actor, kind: &str) -> AppResult<()> {
    let (module, add, rtype, edit) = match kind {
        "hosts" => ("host", "add_host", ResourceType::Host, "edit_host"),
        _ => (
            "application",
            "create_app",
            ResourceType::Application,
            "edit_app",
        ),
    };
    let refused = match authorize_module(ctx, actor, module, add).await {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    let Some(sub) = granted_ids(ctx, actor, rtype, edit).await? else {
        return Ok(());
    };
    let any = match rtype {
        ResourceType::Host => {
            crate::entities::host::Entity::find()
                .filter(crate::entities::host::Column::Id.in_subquery(sub))
                .count(&ctx.db)
                .await?
        }
        _ => {
            app::Entity::find()
                .filter(app::Column::Id.in_subquery(sub))
                .count(&ctx.db)
                .await?
        }
    };
    if any > 0 {
        Ok(())
    } else {
        Err(refused)
    }
}

fn wire(m: import::Model, by: String, processed: Option<u64>) -> ImportRun {
    let finished = m.status == "done" || m.status == "failed";
    ImportRun {
        id: m.id,
        kind: m.kind,
        filename: m.filename,
        status: m.status,
        all_or_nothing: m.all_or_nothing,
        total: m.total as u64,
        processed: if finished {
            m.total as u64
        } else {
            processed.unwrap_or(0)
        },
        created: m.created as u64,
        updated: m.updated as u64,
        unchanged: m.unchanged as u64,
        errors: serde_json::from_str(&m.errors).unwrap_or_default(),
        message: m.message,
        created_by: by,
        created_at: crate::time::fmt(&m.created_at),
        finished_at: crate::time::fmt_opt(&m.finished_at),
    }
}

async fn to_wire(ctx: &Ctx, rows: Vec<import::Model>) -> AppResult<Vec<ImportRun>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.created_by).collect();
    let names = ctx.names.names(&ctx.db, ids).await?;
    let progress = ctx.progress.lock().map(|p| p.clone()).unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|r| {
            let by = names.get(&r.created_by).cloned().unwrap_or_default();
            let done = progress.get(&r.id).copied();
            wire(r, by, done)
        })
        .collect())
}

/// Imports one user may have queued or running at once.
pub const MAX_UNFINISHED_IMPORTS: u64 = 3;

/// `POST /api/imports/`: checks the file's header and queues the import; rows are checked by
/// the job (see `GET /api/imports/{id}/`).
pub async fn start(ctx: &Ctx, actor: &Actor, input: ImportInput) -> AppResult<ImportRun> {
    actor.require()?;
    validate_import(&input)?;
    authorize_import(ctx, actor, &input.kind).await?;
    // Imports run one at a time: one user cannot queue the others' imports away.
    let waiting = import::Entity::find()
        .filter(import::Column::CreatedBy.eq(actor.id))
        .filter(import::Column::Status.is_in(["queued", "running"]))
        .count(&ctx.db)
        .await?;
    if waiting >= MAX_UNFINISHED_IMPORTS {
        return Err(AppError::new(
            crate::error::ErrorCode::TooManyRequests,
            format!("you have {waiting} imports waiting or running; wait for one to finish"),
        ));
    }
    // Only counted here (the job parses the file); off the async workers, a 20 MB file takes a
    // moment.
    let (kind, csv) = (input.kind.clone(), input.csv);
    let (rows, csv) = tokio::task::spawn_blocking(move || (count_rows(&kind, &csv), csv))
        .await
        .map_err(AppError::internal)?;
    let (input, rows) = (ImportInput { csv, ..input }, rows?);
    if rows == 0 {
        return Err(AppError::invalid(
            "csv",
            "the file has a header but no rows",
        ));
    }
    let filename = input
        .filename
        .map(|f| f.chars().take(200).collect::<String>())
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| format!("{}.csv", input.kind));
    let txn = crate::db::begin(&ctx.db).await?;
    let m = import::ActiveModel {
        kind: Set(input.kind.clone()),
        filename: Set(filename),
        status: Set("queued".into()),
        all_or_nothing: Set(input.all_or_nothing),
        content: Set(input.csv),
        total: Set(rows as i64),
        errors: Set("[]".into()),
        message: Set(None),
        created_by: Set(actor.id),
        created_at: Set(crate::time::now()),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    crate::jobs::enqueue(&txn, "import", &json!({ "import_id": m.id })).await?;
    let category = if m.kind == "hosts" { "host" } else { "app" };
    record(
        &txn,
        actor,
        Entry::new(category, "import_queued")
            .target("import", Some(m.id), &m.filename)
            .detail(json!({ "rows": m.total, "all_or_nothing": m.all_or_nothing })),
    )
    .await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(wire(m, actor.username.clone(), None))
}

async fn load_visible(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<import::Model> {
    actor.require()?;
    let m = import::Entity::find_by_id(id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::not_found("import"))?;
    if m.created_by != actor.id {
        // Other people's imports (and their files) are for administrators of the audit log.
        authorize_module(ctx, actor, "system", "view_audit")
            .await
            .map_err(|_| AppError::not_found("import"))?;
    }
    Ok(m)
}

/// `GET /api/imports/{id}/`: an import's progress and result (yours, or any with `system.view_audit`).
pub async fn get(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<ImportRun> {
    let m = load_visible(ctx, actor, id).await?;
    Ok(to_wire(ctx, vec![m]).await?.remove(0))
}

/// `GET /api/imports/`: your imports, newest first.
pub async fn list(ctx: &Ctx, actor: &Actor, page: PageQuery) -> AppResult<Page<ImportRun>> {
    actor.require()?;
    let q = import::Entity::find().filter(import::Column::CreatedBy.eq(actor.id));
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_desc(import::Column::Id)
        .offset(page.offset())
        .limit(page.size())
        .all(&ctx.db)
        .await?;
    Ok(Page::new(count, &page, to_wire(ctx, rows).await?))
}

/// How a row error reads when the object is missing or the uploader may not see or change it.
const NOT_FOUND_OR_NOT_PERMITTED: &str = "not found or not permitted";

/// What one import did, for the import row and its audit record.
#[derive(Default)]
struct Outcome {
    /// What this batch created and updated (for its audit record).
    created: Vec<Value>,
    updated: Vec<Value>,
    /// Counts of what absorbed batches created and updated (their details are not kept).
    created_before: u64,
    updated_before: u64,
    unchanged: u64,
    /// The first `MAX_IMPORT_ERRORS` refused rows; `refused` counts them all.
    errors: Vec<RowError>,
    refused: u64,
    added: Vec<Rule>,
    removed: Vec<Rule>,
}

impl Outcome {
    /// Records a refused row (internal causes were logged where they arose; the row says
    /// "internal error").
    /// A refusal for want of a permission names no object (its id or name could be one the
    /// uploader may not view): it reads "not found or not permitted", like a missing one.
    fn refuse(&mut self, line: u64, e: AppError) {
        let message = if e.code == crate::error::ErrorCode::Forbidden {
            NOT_FOUND_OR_NOT_PERMITTED.to_string()
        } else {
            e.message
        };
        self.refused += 1;
        if self.errors.len() < MAX_IMPORT_ERRORS {
            self.errors.push(RowError {
                line,
                field: e.field,
                message,
            });
        }
    }
    /// Adds another batch's outcome as counts and refused rows (rules excepted: each batch
    /// applies its own), so an import keeps no per-row detail beyond its batch.
    fn absorb(&mut self, o: Outcome) {
        self.created_before += o.created();
        self.updated_before += o.updated();
        self.unchanged += o.unchanged;
        self.refused += o.refused;
        let room = MAX_IMPORT_ERRORS.saturating_sub(self.errors.len());
        self.errors.extend(o.errors.into_iter().take(room));
    }
    fn created(&self) -> u64 {
        self.created_before + self.created.len() as u64
    }
    fn updated(&self) -> u64 {
        self.updated_before + self.updated.len() as u64
    }
    /// The import's message when it listed only some of the refused rows.
    fn errors_cut(&self) -> Option<String> {
        (self.refused > self.errors.len() as u64).then(|| {
            format!(
                "{} rows were refused; the first {} are listed",
                self.refused,
                self.errors.len()
            )
        })
    }
    /// Keeps a row's savepoint when it changed something, drops it when it did not.
    async fn settle(
        &mut self,
        sp: DatabaseTransaction,
        name: &str,
        before: Value,
        after: Value,
    ) -> AppResult<()> {
        if before.is_null() {
            sp.commit().await?;
            self.created.push(json!({ "name": name, "after": after }));
        } else if before == after {
            sp.rollback().await?;
            self.unchanged += 1;
        } else {
            sp.commit().await?;
            self.updated
                .push(json!({ "name": name, "before": before, "after": after }));
        }
        Ok(())
    }
}

/// What an import carries from one batch to the next.
#[derive(Default)]
struct Carry {
    /// Keys (host names, application full names) already met in the file.
    seen: HashSet<String>,
    /// Applications this import created.
    created_here: CreatedHere,
    /// Applications the file placed, with their rows (for the dependencies, set last).
    placed: Vec<(Row, app::Model)>,
    /// Rows looked at so far.
    done: u64,
}

fn tick(ctx: &Ctx, id: i64, n: u64) {
    if let Ok(mut p) = ctx.progress.lock() {
        p.insert(id, n);
    }
}

/// Keeps zabbix settings of addresses a host keeps (the CSV does not carry them).
fn keep_zabbix(new: &mut [IpAddress], old: &[IpAddress]) {
    for n in new.iter_mut() {
        if let Some(o) = old.iter().find(|o| o.address == n.address.trim()) {
            n.zabbix_groups = o.zabbix_groups.clone();
            n.zabbix_templates = o.zabbix_templates.clone();
        }
    }
}

async fn import_hosts(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    rows: Vec<Row>,
    st: &mut Carry,
) -> AppResult<Outcome> {
    let mut out = Outcome::default();
    for row in rows {
        tick(ctx, id, st.done);
        st.done += 1;
        let name = row.get("name").unwrap_or_default().to_string();
        if !st.seen.insert(name.clone()) {
            out.refuse(
                row.line,
                AppError::invalid("name", format!("{name} is listed twice in this file")),
            );
            continue;
        }
        let input = (|| -> AppResult<HostInput> {
            Ok(HostInput {
                name: Some(name.clone()),
                host_type: row.opt("host_type"),
                status: row.opt("status"),
                os_status: row.opt("os_status"),
                os_type: row.text("os_type"),
                cpu: row.num("cpu")?,
                memory: row.num("memory")?,
                location: row.text("location"),
                description: row.text("description"),
                ip_address: row.get("ip_addresses").map(parse_ips).transpose()?,
            })
        })();
        let mut input = match input {
            Ok(i) => i,
            Err(e) => {
                out.refuse(row.line, e);
                continue;
            }
        };
        let sp = txn.begin().await?;
        let existing = crate::entities::host::Entity::find()
            .filter(crate::entities::host::Column::Hostname.eq(name.as_str()))
            .one(&sp)
            .await?;
        let written = match existing {
            Some(h) => {
                if let Some(ips) = input.ip_address.as_mut() {
                    let old = hosts::ips_of(&sp, &[h.id]).await?.remove(&h.id);
                    keep_zabbix(ips, &old.unwrap_or_default());
                }
                hosts::update_in(&sp, ctx, actor, h.id, input).await
            }
            None => hosts::create_in(&sp, ctx, actor, input).await,
        };
        match written {
            Ok(w) => {
                out.added.extend(w.rules);
                out.settle(sp, &name, w.before, w.after).await?;
            }
            Err(e) => {
                sp.rollback().await?;
                out.refuse(row.line, e);
            }
        }
    }
    Ok(out)
}

const APP: ResourceType = ResourceType::Application;

/// Whether the uploader may see a resource (view it, or edit it), or created it in this import
/// (its grants reach the enforcer only after the import commits).
async fn sees(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    id: i64,
    created_here: &HashSet<i64>,
) -> bool {
    let (view, edit) = match rtype {
        ResourceType::Application => ("view_app", "edit_app"),
        ResourceType::Host => ("view_host", "edit_host"),
        ResourceType::Business => ("view_business", "edit_business"),
        ResourceType::DnsDomain => ("view_domain", "edit_domain"),
    };
    created_here.contains(&id)
        || holds_resource(ctx, actor.id, rtype, id, view).await
        || holds_resource(ctx, actor.id, rtype, id, edit).await
}

/// The applications `id` depends on now.
async fn current_required<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<Vec<app::Model>> {
    use crate::entities::application_dependency as dep;
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    Ok(app::Entity::find()
        .filter(
            app::Column::Id.in_subquery(
                Query::select()
                    .column(dep::Column::RequiredId)
                    .from(dep::Entity)
                    .and_where(Expr::col(dep::Column::AppId).eq(id))
                    .to_owned(),
            ),
        )
        .all(db)
        .await?)
}

/// Splits `A.B.C` into (`Some("A.B")`, `C`).
fn split_path(full: &str) -> (Option<&str>, &str) {
    match full.rsplit_once('.') {
        Some((p, n)) => (Some(p), n),
        None => (None, full),
    }
}

async fn app_by_name<C: ConnectionTrait>(db: &C, full: &str) -> AppResult<Option<app::Model>> {
    Ok(app::Entity::find()
        .filter(app::Column::FullName.eq(full))
        .one(db)
        .await?)
}

async fn import_applications(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    mut rows: Vec<Row>,
    st: &mut Carry,
) -> AppResult<Outcome> {
    let mut out = Outcome::default();
    // Parents before children, whatever the file's order.
    rows.sort_by_key(|r| {
        (
            r.get("full_name").unwrap_or_default().matches('.').count(),
            r.line,
        )
    });
    let lines: HashMap<String, i64> = production::Entity::find()
        .all(txn)
        .await?
        .into_iter()
        .map(|p| (p.name, p.id))
        .collect();
    let created_here = &mut st.created_here;
    let placed = &mut st.placed;
    for row in rows {
        tick(ctx, id, st.done);
        st.done += 1;
        let full = row.get("full_name").unwrap_or_default().to_string();
        if !st.seen.insert(full.clone()) {
            out.refuse(
                row.line,
                AppError::invalid("full_name", format!("{full} is listed twice in this file")),
            );
            continue;
        }
        let (parent_path, name) = split_path(&full);
        let production = match row.get("production") {
            None => None,
            Some("") => Some(None),
            // Exported for a line the exporter may not view: the current line stays.
            Some(HIDDEN_LINE) => None,
            // A product line the uploader may not see reads like a missing one.
            Some(p) => match lines.get(p) {
                Some(pid)
                    if sees(ctx, actor, ResourceType::Business, *pid, &HashSet::new()).await =>
                {
                    Some(Some(*pid))
                }
                _ => {
                    out.refuse(
                        row.line,
                        AppError::invalid(
                            "production",
                            format!("product line {p} {NOT_FOUND_OR_NOT_PERMITTED}"),
                        ),
                    );
                    continue;
                }
            },
        };
        let mut input = AppInput {
            production,
            application_type: row.opt("application_type"),
            description: row.text("description"),
            run_user: row.text("run_user"),
            directory: row.text("directory"),
            startup_cmd: row.text("startup_cmd"),
            stop_cmd: row.text("stop_cmd"),
            stdout_path: row.text("stdout_path"),
            stderr_path: row.text("stderr_path"),
            pid_path: row.text("pid_path"),
            ..Default::default()
        };
        let sp = txn.begin().await?;
        let written = match app_by_name(&sp, &full).await? {
            Some(a) => apps::update_in(&sp, ctx, actor, a.id, input, &created_here).await,
            // A new application cannot go into a line the file does not name.
            None if row.get("production") == Some(HIDDEN_LINE) => {
                sp.rollback().await?;
                out.refuse(
                    row.line,
                    AppError::invalid(
                        "production",
                        format!("product line {HIDDEN_LINE} {NOT_FOUND_OR_NOT_PERMITTED}"),
                    ),
                );
                continue;
            }
            None => {
                let parent = match parent_path {
                    Some(p) => match app_by_name(&sp, p).await? {
                        Some(pm) if sees(ctx, actor, APP, pm.id, &created_here).await => {
                            Some(pm.id)
                        }
                        _ => {
                            sp.rollback().await?;
                            out.refuse(
                                row.line,
                                AppError::invalid(
                                    "full_name",
                                    format!(
                                        "parent application {p} {NOT_FOUND_OR_NOT_PERMITTED} \
                                         (in Opsdeck or this file)"
                                    ),
                                ),
                            );
                            continue;
                        }
                    },
                    None => None,
                };
                input.name = Some(name.to_string());
                input.parent_app = Some(parent);
                apps::create_in(&sp, ctx, actor, input, &created_here).await
            }
        };
        match written {
            Ok(w) => {
                if w.before.is_null() {
                    created_here.insert(w.app.id);
                }
                out.added.extend(w.added);
                out.removed.extend(w.removed);
                placed.push((row, w.app.clone()));
                out.settle(sp, &full, w.before, w.after).await?;
            }
            Err(e) => {
                sp.rollback().await?;
                out.refuse(row.line, e);
            }
        }
    }
    Ok(out)
}

/// Sets the dependencies of applications the import placed (after every application of the
/// file exists).
async fn import_dependencies(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    actor: &Actor,
    placed: Vec<(Row, app::Model)>,
    created_here: &CreatedHere,
) -> AppResult<Outcome> {
    let mut out = Outcome::default();
    for (row, a) in placed {
        let Some(cell) = row.get("required_apps") else {
            continue;
        };
        let names: Vec<&str> = cell
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .take(MAX_REQUIRED_APPS + 1)
            .collect();
        if names.len() > MAX_REQUIRED_APPS {
            out.refuse(
                row.line,
                AppError::invalid(
                    "required_apps",
                    format!("at most {MAX_REQUIRED_APPS} applications per row"),
                ),
            );
            continue;
        }
        let sp = txn.begin().await?;
        let mut required = vec![];
        let mut missing = None;
        for name in names {
            match app_by_name(&sp, name).await? {
                Some(r) if sees(ctx, actor, APP, r.id, &created_here).await => required.push(r),
                _ => missing = Some(name.to_string()),
            }
        }
        if let Some(m) = missing {
            sp.rollback().await?;
            out.refuse(
                row.line,
                AppError::invalid(
                    "required_apps",
                    format!("application {m} {NOT_FOUND_OR_NOT_PERMITTED}"),
                ),
            );
            continue;
        }
        // The file lists only the dependencies the uploader may see (so does the export): the
        // others are kept.
        for r in current_required(&sp, a.id).await? {
            if !sees(ctx, actor, APP, r.id, &created_here).await
                && !required.iter().any(|x| x.id == r.id)
            {
                required.push(r);
            }
        }
        match apps::set_required_in(&sp, &a, &required).await {
            Ok((before, after)) if before == after => sp.rollback().await?,
            Ok((before, after)) => {
                sp.commit().await?;
                out.updated.push(json!({
                    "name": a.full_name,
                    "before": {"required_apps": before},
                    "after": {"required_apps": after},
                }));
            }
            Err(e) => {
                sp.rollback().await?;
                out.refuse(row.line, e);
            }
        }
    }
    Ok(out)
}

/// The job's body: imports the file of `import_id` as its uploader. Safe to re-run: an import
/// that finished is left alone, one that was cut off starts over (its transaction never committed).
pub async fn run(ctx: &Ctx, import_id: i64) -> Result<(), String> {
    let result = process(ctx, import_id).await;
    if let Ok(mut p) = ctx.progress.lock() {
        p.remove(&import_id);
    }
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::error!(import = import_id, error = %e.message, "import failed");
            // Mark it failed; if even that fails (database down), the job retries the import.
            finish_row(
                ctx,
                import_id,
                "failed",
                Some("the import failed; nothing was imported"),
            )
            .await
            .map_err(|e2| e2.message)
        }
    }
}

/// Marks an import failed whose job was given up (its runner stopped on every attempt, e.g.
/// the process ran out of memory): the batches it committed stay.
pub async fn abandon(ctx: &Ctx, import_id: i64) -> AppResult<()> {
    if let Ok(mut p) = ctx.progress.lock() {
        p.remove(&import_id);
    }
    let unfinished = import::Entity::find_by_id(import_id)
        .one(&ctx.db)
        .await?
        .is_some_and(|m| m.status != "done" && m.status != "failed");
    if !unfinished {
        return Ok(());
    }
    finish_row(
        ctx,
        import_id,
        "failed",
        Some("the import stopped before its end on every attempt; rows already written stay"),
    )
    .await
}

async fn finish_row(ctx: &Ctx, id: i64, status: &str, message: Option<&str>) -> AppResult<()> {
    let Some(m) = import::Entity::find_by_id(id).one(&ctx.db).await? else {
        return Ok(());
    };
    let mut am: import::ActiveModel = m.into();
    am.status = Set(status.into());
    // A finished import is never re-run: its file is not kept.
    am.content = Set(String::new());
    am.message = Set(message.map(str::to_string));
    am.finished_at = Set(Some(crate::time::now()));
    am.update(&ctx.db).await?;
    Ok(())
}

async fn process(ctx: &Ctx, import_id: i64) -> AppResult<()> {
    let Some(m) = import::Entity::find_by_id(import_id).one(&ctx.db).await? else {
        return Ok(());
    };
    if m.status == "done" || m.status == "failed" {
        return Ok(());
    }
    let u = user::Entity::find_by_id(m.created_by)
        .one(&ctx.db)
        .await?
        .filter(|u| u.status == "enabled");
    let Some(u) = u else {
        return finish_row(ctx, m.id, "failed", Some("the uploader is disabled")).await;
    };
    let actor = Actor {
        id: u.id,
        username: u.username,
        request_id: format!("import-{}", m.id),
        ip: String::new(),
        via_token: None,
    };
    let mut am: import::ActiveModel = m.clone().into();
    am.status = Set("running".into());
    am.update(&ctx.db).await?;
    tick(ctx, m.id, 0);

    let (kind, text) = (m.kind.clone(), m.content.clone());
    let mut rows = tokio::task::spawn_blocking(move || parse(&kind, &text))
        .await
        .map_err(AppError::internal)??;
    if m.kind != "hosts" {
        // Parents before children, whatever the file's order (and across batches).
        rows.sort_by_key(|r| {
            (
                r.get("full_name").unwrap_or_default().matches('.').count(),
                r.line,
            )
        });
    }
    let category = if m.kind == "hosts" { "host" } else { "app" };
    let mut am: import::ActiveModel = m.clone().into();
    am.status = Set("done".into());
    am.content = Set(String::new());
    am.finished_at = Set(Some(crate::time::now()));

    if m.all_or_nothing {
        // Validation pass: the whole file, in one transaction that is rolled back, on a
        // scratch copy where that holds no lock other writers wait for (see `Scratch`).
        let scratch = Scratch::new(ctx).await?;
        let v = &scratch.ctx;
        let txn = crate::db::begin(&v.db).await?;
        if m.kind != "hosts" {
            // On PostgreSQL (where the copy is the database itself) a file of applications
            // takes the structure lock first, like every other writer of the tree: taken
            // later, after its inserts locked the row counts, it could deadlock with them.
            crate::db::lock_structure(&txn).await?;
        }
        let mut st = Carry::default();
        let checked = async {
            let mut check = rows_of(&txn, v, &actor, &m, rows.clone(), &mut st).await?;
            if m.kind != "hosts" {
                let placed = std::mem::take(&mut st.placed);
                check.absorb(import_dependencies(&txn, v, &actor, placed, &st.created_here).await?);
            }
            AppResult::Ok(check)
        }
        .await;
        txn.rollback().await?;
        scratch.close().await;
        let check = checked?;
        if check.refused > 0 {
            am.errors = Set(json!(check.errors).to_string());
            am.unchanged = Set(check.unchanged as i64);
            am.message = Set(Some(match check.errors_cut() {
                Some(cut) => format!("nothing imported: {cut}"),
                None => format!("nothing imported: {} rows were refused", check.refused),
            }));
            am.update(&ctx.db).await?;
            return Ok(());
        }
        tick(ctx, m.id, 0);
    }

    // Apply: a few rows per write transaction, each batch with its audit record.
    let per = ctx.config.import_batch_rows.max(1);
    let mut st = Carry::default();
    let mut total = Outcome::default();
    let mut batch = 0;
    // Each batch under the structure lock, held until the enforcer has it (perms::inherit).
    for chunk in rows.chunks(per) {
        let (_structure, txn) = crate::perms::inherit::begin(ctx).await?;
        let out = rows_of(&txn, ctx, &actor, &m, chunk.to_vec(), &mut st).await?;
        batch += 1;
        commit_batch(ctx, &actor, &m, category, batch, txn, out, &mut total).await?;
    }
    let placed = std::mem::take(&mut st.placed);
    for chunk in placed.chunks(per) {
        let (_structure, txn) = crate::perms::inherit::begin(ctx).await?;
        let out = import_dependencies(&txn, ctx, &actor, chunk.to_vec(), &st.created_here).await?;
        batch += 1;
        commit_batch(ctx, &actor, &m, category, batch, txn, out, &mut total).await?;
    }
    am.errors = Set(json!(total.errors).to_string());
    am.message = Set(total.errors_cut());
    am.unchanged = Set(total.unchanged as i64);
    am.created = Set(total.created() as i64);
    am.updated = Set(total.updated() as i64);
    am.update(&ctx.db).await?;
    if total.created() + total.updated() >= 1000 {
        crate::db::optimize(&ctx.db).await?;
    }
    Ok(())
}

/// Where an all-or-nothing import is validated (the whole file written in one transaction that
/// is rolled back). On SQLite, a copy of the database made with `VACUUM INTO` (a read: it
/// takes no write lock): validating on the database itself held its only write lock for the
/// whole file, and every other writer waited. On PostgreSQL the database itself: a rolled-back
/// transaction holds row locks only on the rows it touches. The copy gets its own visible-set
/// cache (its sets are of the snapshot, and must never be served for the live database).
struct Scratch {
    ctx: Ctx,
    file: Option<std::path::PathBuf>,
}

impl Scratch {
    async fn new(ctx: &Ctx) -> AppResult<Scratch> {
        if ctx.db.get_database_backend() != sea_orm::DbBackend::Sqlite {
            return Ok(Scratch {
                ctx: ctx.clone(),
                file: None,
            });
        }
        // Beside the database (as private as the database itself), readable by the owner only:
        // the copy holds everything the database does.
        let dir = sqlite_dir(&ctx.config.database_url);
        sweep_scratch(&dir);
        let file = dir.join(format!(
            "{SCRATCH_PREFIX}{}.db",
            crate::security::random_token(8)
        ));
        create_private(&file).map_err(AppError::internal)?;
        let guard = Scratch {
            ctx: ctx.clone(),
            file: Some(file.clone()),
        };
        let quoted = file.display().to_string().replace('\'', "''");
        ctx.db
            .execute_unprepared(&format!("VACUUM INTO '{quoted}'"))
            .await?;
        let url = format!("sqlite://{}?mode=rw", file.display());
        let db = crate::db::connect_with(&url, Some(1), 0, ctx.config.sqlite_cache_mb).await?;
        let mut guard = guard;
        guard.ctx = Ctx {
            db,
            visible: Default::default(),
            tokens: Default::default(),
            // Users a dry run creates in the copy get ids the real database will give others.
            names: Default::default(),
            structure: Default::default(),
            ..ctx.clone()
        };
        Ok(guard)
    }

    async fn close(mut self) {
        if self.file.is_some() {
            let _ = self.ctx.db.clone().close().await;
        }
        self.remove();
    }

    fn remove(&mut self) {
        if let Some(file) = self.file.take() {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
    }
}

/// Whatever way validation ends (an error, a panic), the copy goes.
impl Drop for Scratch {
    fn drop(&mut self) {
        self.remove();
    }
}

const SCRATCH_PREFIX: &str = ".opsdeck-import-check-";

/// The folder of a SQLite database file (`sqlite://path?mode=rwc`).
fn sqlite_dir(url: &str) -> std::path::PathBuf {
    let path = url
        .strip_prefix("sqlite://")
        .unwrap_or(url)
        .split('?')
        .next()
        .unwrap_or("");
    std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.to_path_buf())
        .unwrap_or_else(|| std::path::PathBuf::from("."))
}

/// An empty file only the owner may read (`VACUUM INTO` fills an existing empty file).
fn create_private(file: &std::path::Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(file).map(|_| ())
}

/// Removes copies left by a process that died while validating (older than an hour: a copy
/// in use by another process is younger).
fn sweep_scratch(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if old && e.file_name().to_string_lossy().starts_with(SCRATCH_PREFIX) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Writes `rows` of an import's file in `txn`.
async fn rows_of(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    actor: &Actor,
    m: &import::Model,
    rows: Vec<Row>,
    st: &mut Carry,
) -> AppResult<Outcome> {
    match m.kind.as_str() {
        "hosts" => import_hosts(txn, ctx, actor, m.id, rows, st).await,
        _ => import_applications(txn, ctx, actor, m.id, rows, st).await,
    }
}

/// Commits one batch of an import with its audit record, then updates the enforcer and the
/// catalog epochs (later batches are authorized with what this one created), and adds the
/// batch's outcome to `total`.
#[allow(clippy::too_many_arguments)]
async fn commit_batch(
    ctx: &Ctx,
    actor: &Actor,
    m: &import::Model,
    category: &'static str,
    batch: u64,
    txn: DatabaseTransaction,
    mut out: Outcome,
    total: &mut Outcome,
) -> AppResult<()> {
    if !out.created.is_empty() || !out.updated.is_empty() {
        record(
            &txn,
            actor,
            Entry::new(category, "import")
                .target("import", Some(m.id), &m.filename)
                .detail(json!({
                    "batch": batch,
                    "created": out.created,
                    "updated": out.updated,
                    "unchanged": out.unchanged,
                    "refused": out.refused,
                })),
        )
        .await?;
    }
    txn.commit().await?;
    crate::perms::service::catalog_changed(ResourceType::Host);
    crate::perms::service::catalog_changed(ResourceType::Application);
    let (added, removed) = (
        std::mem::take(&mut out.added),
        std::mem::take(&mut out.removed),
    );
    if !added.is_empty() || !removed.is_empty() {
        apply(&mut *ctx.enforcer.write().await, added, removed).await?;
    }
    total.absorb(out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_cells_round_trip() {
        let ips =
            parse_ips("10.0.0.5/24 PRIVATE HOST; 8.8.8.8/255.255.255.0 PUBLIC LB virtual").unwrap();
        assert_eq!(ips.len(), 2);
        assert!(ips[1].is_virtual);
        assert_eq!(ips[1].owner.as_deref(), Some("LB"));
        let cell: Vec<String> = ips.iter().map(ip_entry).collect();
        assert_eq!(
            cell.join("; "),
            "10.0.0.5/24 PRIVATE HOST; 8.8.8.8/255.255.255.0 PUBLIC LB virtual"
        );
        assert!(parse_ips("10.0.0.5").is_err());
        assert!(parse_ips("10.0.0.5/24 fast").is_err());
    }

    #[test]
    fn header_is_checked() {
        assert!(parse("hosts", "name,colour\na,b\n").is_err());
        assert!(parse("hosts", "status\nraw\n").is_err());
        let rows = parse("hosts", "\u{feff}Name,status\nweb-1,raw\n\n").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].get("status"), Some("raw"));
        assert!(parse("hosts", "name,status\nweb-1\n").is_err());
    }
}
