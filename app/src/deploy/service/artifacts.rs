//! The artifact store: packages uploaded to Opsdeck (`POST /application/artifacts/`) or
//! fetched from an http(s) URL when a sub-task starts, kept at `OPSDECK_ARTIFACT_DIR/<sha256>`
//! and named by tasks as `artifact:<id>`.
use crate::audit::service::{record, Entry};
use crate::ctx::{Actor, Ctx};
use crate::deploy::types::Artifact;
use crate::entities::artifact;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::perms::service::granted_set;
use crate::perms::types::ResourceType;
use futures_util::{Stream, StreamExt};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

/// How many packages of the largest size one user may keep in the store.
const QUOTA_PACKAGES: u64 = 20;
/// How long an upload may take.
const UPLOAD_TIME: std::time::Duration = std::time::Duration::from_secs(1800);

/// Where a deploy's package comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Artifact(artifact::Model),
    Url(reqwest::Url),
}

/// Reads a package source: `artifact:<id>` of a stored artifact (with `owner`: one that user
/// uploaded; others' packages are "no artifact" alike), or an http(s) URL allowed by
/// `OPSDECK_PACKAGE_ALLOWED_HOSTS` (none when unset).
pub(crate) async fn source_of(
    ctx: &Ctx,
    owner: Option<&Actor>,
    field: &str,
    s: &str,
) -> AppResult<Source> {
    if let Some(id) = s.strip_prefix("artifact:") {
        let id: i64 = id
            .parse()
            .map_err(|_| AppError::invalid(field, "artifact:<id>"))?;
        return artifact::Entity::find_by_id(id)
            .one(&ctx.db)
            .await?
            .filter(|a| owner.is_none_or(|o| a.uploaded_by == Some(o.id)))
            .map(Source::Artifact)
            .ok_or_else(|| AppError::invalid(field, format!("no artifact {id} of yours")));
    }
    let url = reqwest::Url::parse(s).map_err(|_| {
        AppError::invalid(
            field,
            "artifact:<id> (a package uploaded to Opsdeck) or an http(s) URL",
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(AppError::invalid(field, "an http(s) URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AppError::invalid(
            field,
            "no user or password in the URL (a repository credential of the deploy settings is used)",
        ));
    }
    if !url_allowed(ctx, &url) {
        return Err(AppError::invalid(
            field,
            "this host is not among the package hosts allowed by the configuration (OPSDECK_PACKAGE_ALLOWED_HOSTS)",
        ));
    }
    Ok(Source::Url(url))
}

fn url_allowed(ctx: &Ctx, url: &reqwest::Url) -> bool {
    let patterns = &ctx.config.package_allowed_hosts;
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = url.port_or_known_default().unwrap_or(0);
    patterns
        .iter()
        .any(|p| crate::dns::service::pattern_matches(p, &host, port))
}

/// The file of an artifact.
pub(crate) fn path_of(ctx: &Ctx, sha256: &str) -> PathBuf {
    PathBuf::from(&ctx.config.artifact_dir).join(sha256)
}

/// Whether a name can be a package's file name on hosts.
pub fn filename_ok(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && !n.starts_with('.')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
}

fn wire(a: artifact::Model) -> Artifact {
    Artifact {
        source: format!("artifact:{}", a.id),
        id: a.id,
        sha256: a.sha256,
        size: a.size,
        filename: a.filename,
    }
}

/// Writes chunks to a new file in the store's directory, hashing them, up to the size limit;
/// answers the temporary path, the sha256 and the size.
async fn write_temp<S, B, E>(ctx: &Ctx, mut body: S) -> Result<(PathBuf, String, u64), AppError>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let dir = PathBuf::from(&ctx.config.artifact_dir);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(AppError::internal)?;
    let tmp = dir.join(format!(".upload-{}", crate::security::random_token(12)));
    let mut f = tokio::fs::File::create(&tmp)
        .await
        .map_err(AppError::internal)?;
    // Removed however this ends (an error, a dropped request), unless kept.
    let mut guard = TempFile(Some(tmp.clone()));
    let mut hash = Sha256::new();
    let mut size: u64 = 0;
    let max = ctx.config.artifact_max_bytes;
    let r: AppResult<()> = async {
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| AppError::bad_request(format!("the upload broke off: {e}")))?;
            let b = chunk.as_ref();
            size += b.len() as u64;
            if size > max {
                return Err(AppError::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "a package is at most {} MB (OPSDECK_ARTIFACT_MAX_MB)",
                        max >> 20
                    ),
                ));
            }
            hash.update(b);
            f.write_all(b).await.map_err(AppError::internal)?;
        }
        f.flush().await.map_err(AppError::internal)?;
        Ok(())
    }
    .await;
    r?;
    guard.0 = None;
    Ok((tmp, hex::encode(hash.finalize()), size))
}

/// A file removed when dropped (unless taken).
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Moves a written file into the store and indexes it (a package stored before is reused).
async fn keep<C: sea_orm::ConnectionTrait>(
    ctx: &Ctx,
    db: &C,
    uploader: Option<i64>,
    tmp: PathBuf,
    sha256: String,
    size: u64,
    filename: &str,
) -> AppResult<artifact::Model> {
    let dest = path_of(ctx, &sha256);
    let guard = TempFile(Some(tmp.clone()));
    tokio::fs::rename(&tmp, &dest)
        .await
        .map_err(AppError::internal)?;
    drop(guard);
    let mine = match uploader {
        Some(u) => artifact::Column::UploadedBy.eq(u),
        None => artifact::Column::UploadedBy.is_null(),
    };
    if let Some(a) = artifact::Entity::find()
        .filter(artifact::Column::Sha256.eq(sha256.clone()))
        .filter(mine)
        .one(db)
        .await?
    {
        return Ok(a);
    }
    let row = artifact::ActiveModel {
        sha256: Set(sha256.clone()),
        size: Set(size as i64),
        filename: Set(filename.to_string()),
        uploaded_by: Set(uploader),
        created_at: Set(crate::time::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row)
}

/// `POST /application/artifacts/?filename=<name>`: stores a package (the raw request body, up
/// to `OPSDECK_ARTIFACT_MAX_MB`) for deploy tasks; for users who may deploy some application.
pub async fn upload_artifact<S, B, E>(
    ctx: &Ctx,
    actor: &Actor,
    filename: &str,
    body: S,
) -> AppResult<Artifact>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    actor.require()?;
    if granted_set(ctx, actor, ResourceType::Application, "deploy_app")
        .await?
        .is_some_and(|s| s.is_empty())
    {
        return Err(AppError::forbidden(
            "permission deploy_app on an application required",
        ));
    }
    if !filename_ok(filename) {
        return Err(AppError::invalid(
            "filename",
            "a file name: letters, digits and . _ - + (128 at most, not starting with .)",
        ));
    }
    let used: Option<i64> = artifact::Entity::find()
        .select_only()
        .column_as(
            sea_orm::sea_query::Expr::expr(sea_orm::sea_query::Func::cast_as(
                sea_orm::sea_query::Func::sum(sea_orm::sea_query::Expr::col(
                    artifact::Column::Size,
                )),
                sea_orm::sea_query::Alias::new("BIGINT"),
            )),
            "s",
        )
        .filter(artifact::Column::UploadedBy.eq(actor.id))
        .into_tuple::<Option<i64>>()
        .one(&ctx.db)
        .await?
        .flatten();
    if used.unwrap_or(0) as u64 >= ctx.config.artifact_max_bytes.saturating_mul(QUOTA_PACKAGES) {
        return Err(AppError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "you have stored {QUOTA_PACKAGES} packages' worth of the size limit (OPSDECK_ARTIFACT_MAX_MB); ask an administrator to remove old ones"
            ),
        ));
    }
    let (tmp, sha, size) = tokio::time::timeout(UPLOAD_TIME, write_temp(ctx, body))
        .await
        .map_err(|_| AppError::bad_request("the upload took longer than 30 minutes"))??;
    let txn = crate::db::begin(&ctx.db).await?;
    let a = keep(ctx, &txn, Some(actor.id), tmp, sha, size, filename).await?;
    record(
        &txn,
        actor,
        Entry::new("deploy", "upload_artifact")
            .target("artifact", Some(a.id), &a.filename)
            .detail(json!({"sha256": a.sha256, "size": a.size, "filename": filename})),
    )
    .await?;
    txn.commit().await?;
    Ok(wire(a))
}

/// Fetches a package from a URL into the store (a sub-task's first step), with the repository
/// credential's basic authentication when the URL is on the repository's host.
pub(crate) async fn fetch(
    ctx: &Ctx,
    url: &reqwest::Url,
    auth: Option<(String, String)>,
) -> Result<artifact::Model, String> {
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(1800))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let mut req = client.get(url.clone());
    if let Some((u, p)) = auth {
        req = req.basic_auth(u, Some(p));
    }
    let shown = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.path()
    );
    let resp = req
        .send()
        .await
        .map_err(|e| format!("fetching {shown}: {}", without_url(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("fetching {shown}: HTTP {}", resp.status()));
    }
    let filename = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|n| filename_ok(n))
        .unwrap_or("package")
        .to_string();
    let body = futures_util::stream::unfold(resp, |mut r| async move {
        match r.chunk().await {
            Ok(Some(b)) => Some((Ok::<_, reqwest::Error>(b), r)),
            Ok(None) => None,
            Err(e) => Some((Err(e), r)),
        }
    });
    let (tmp, sha, size) = write_temp(ctx, Box::pin(body))
        .await
        .map_err(|e| format!("fetching {shown}: {}", e.message))?;
    let stored = async {
        let txn = crate::db::begin(&ctx.db).await?;
        let a = keep(ctx, &txn, None, tmp, sha, size, &filename).await?;
        record(
            &txn,
            &Actor::system(),
            Entry::new("deploy", "fetch_artifact")
                .target("artifact", Some(a.id), &a.filename)
                .detail(json!({"sha256": a.sha256, "size": a.size, "from": shown})),
        )
        .await?;
        txn.commit().await?;
        Ok::<_, AppError>(a)
    };
    stored
        .await
        .map_err(|e| format!("storing the package: {}", e.message))
}

/// A reqwest error's words without its URL (which may carry a query with a token).
fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "the transfer failed".into()
    }
}
