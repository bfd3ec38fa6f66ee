//! HTTP plumbing shared by every REST adapter: actor resolution, CSRF, request ids, extractors
//! that answer in the error envelope, and pagination links.
use app::common::Page;
use app::ctx::{Actor, Ctx};
use app::error::AppError;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use tower_sessions::Session;

pub const REQUEST_ID: &str = "x-request-id";

/// Resolves who is calling (token, else session), refuses cross-site state changes, and tags the
/// request and response with a request id.
pub async fn actor_layer(State(ctx): State<Ctx>, mut req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .map(str::to_string)
        .unwrap_or_else(|| app::security::random_token(8));
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let mut actor = Actor::anonymous(request_id.clone(), ip);

    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let token = auth.as_deref().and_then(|a| {
        let (scheme, value) = a.trim().split_once(' ')?;
        (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
            .then(|| value.trim().to_string())
    });
    // A WebSocket handshake is a GET, but opens a channel as the user: cross-site ones are
    // refused like state changes (cross-site WebSocket hijacking).
    let websocket = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let unsafe_method =
        websocket || !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let is_cross_site = cross_site(&req);
    let session = req.extensions().get::<Session>().cloned();
    let result: Result<(), AppError> = async {
        if let Some(t) = token {
            let (u, token) = app::tokens::service::authenticate_token(&ctx, &t).await?;
            actor.id = u.id;
            actor.username = u.username;
            actor.via_token = Some(app::ctx::TokenAuth {
                expires_at: token.expires_at,
            });
            return Ok(());
        }
        if auth.is_some() {
            return Err(AppError::new(
                app::error::ErrorCode::Unauthenticated,
                "unsupported Authorization scheme; use `token <value>` or `Bearer <value>`",
            ));
        }
        // Browser requests: cookies are sent cross-site, so state changes must come from our origin.
        if unsafe_method && is_cross_site {
            return Err(AppError::forbidden("cross-site request refused"));
        }
        if let Some(session) = session {
            if let Some((uid, fp)) = app::auth::session::current(&session).await {
                match app::auth::service::session_user(&ctx, uid, &fp).await? {
                    Some(u) => {
                        actor.id = u.id;
                        actor.username = u.username;
                    }
                    None => app::auth::session::end(&session).await?,
                }
            }
        }
        Ok(())
    }
    .await;
    let mut resp = match result {
        Ok(()) => {
            req.extensions_mut().insert(actor);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// The largest request body, anonymous endpoints and server functions included.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The largest body of an import (`POST /api/imports/` and the `start_import` server function):
/// a file of `MAX_IMPORT_BYTES` and its JSON wrapping.
pub const IMPORT_BODY_LIMIT: usize = app::bulk::types::MAX_IMPORT_BYTES + (1 << 20);

/// The body limit of a path.
fn body_limit_of(path: &str) -> usize {
    use leptos::server_fn::ServerFn;
    let import = path == "/api/imports/"
        || path == "/api/imports"
        || path == <app::bulk::api::StartImport as ServerFn>::PATH;
    if import {
        IMPORT_BODY_LIMIT
    } else {
        BODY_LIMIT
    }
}

/// Refuses bodies over the path's limit with 413 in the error envelope: by `Content-Length`
/// before reading, else while reading (chunked bodies); handlers get the body already read.
pub async fn body_limit(req: Request, next: Next) -> Response {
    use http_body_util::BodyExt;
    let path = req.uri().path();
    // Packages stream to the artifact store, which enforces OPSDECK_ARTIFACT_MAX_MB itself.
    if matches!(
        path.trim_end_matches('/'),
        "/api/application/artifacts" | "/api/applications/artifacts"
    ) {
        if req.extensions().get::<Actor>().is_none_or(|a| a.id <= 0) {
            return AppError::unauthenticated().into_response();
        }
        return next.run(req).await;
    }
    let limit = body_limit_of(path);
    // Only signed-in users import: an anonymous caller is refused before 21 MB are read.
    if limit > BODY_LIMIT && req.extensions().get::<Actor>().is_none_or(|a| a.id <= 0) {
        return AppError::unauthenticated().into_response();
    }
    // Server functions decode their arguments themselves: refuse a NUL there too (see `J`).
    let rpc = req.uri().path().starts_with("/rpc/");
    if rpc && req.uri().query().is_some_and(has_nul_escape) {
        return nul_refused().into_response();
    }
    let too_large = || {
        AppError::new(
            app::error::ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {} KB", limit / 1024),
        )
        .into_response()
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(_) => {
            return AppError::bad_request("the request body could not be read").into_response()
        }
    };
    if rpc && json_has_nul(&bytes) {
        return nul_refused().into_response();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// The refusal of text carrying a NUL character: PostgreSQL stores none in text columns (it
/// answered 22021 with a 500), and no Opsdeck field has a use for one.
fn nul_refused() -> AppError {
    AppError::bad_request("text may not contain a NUL character (\\u0000)")
}

/// True when a URL query or path carries `%00` (the only way to write a NUL in one: a `%` is
/// never part of an escape before it, so every `%00` decodes to NUL).
fn has_nul_escape(s: &str) -> bool {
    s.contains("%00")
}

/// True when JSON text carries a NUL character: the escape `\u0000` in a string (an escaped
/// backslash before `u0000` is plain text), or a raw 0 byte.
pub fn json_has_nul(b: &[u8]) -> bool {
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            0 => return true,
            b'\\' => {
                if b.get(i + 1) == Some(&b'u') && b.get(i + 2..i + 6) == Some(&b"0000"[..]) {
                    return true;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    false
}

/// True when the browser says the request comes from another site.
fn cross_site(req: &Request) -> bool {
    let h = req.headers();
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site == "cross-site" || site == "same-site" {
            return true;
        }
    }
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    match (h.get(header::ORIGIN).and_then(|v| v.to_str().ok()), host) {
        (Some(origin), Some(host)) => {
            let o = origin
                .split_once("://")
                .map(|(_, rest)| rest)
                .unwrap_or(origin);
            o != host
        }
        (Some(_), None) => true,
        _ => false,
    }
}

/// Query parameters, answering bad input in the error envelope.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let q = parts.uri.query().unwrap_or("");
        if has_nul_escape(q) {
            return Err(nul_refused());
        }
        serde_urlencoded::from_str(q)
            .map(Q)
            .map_err(|e| AppError::bad_request(format!("bad query: {e}")))
    }
}

/// A JSON body, answering bad input in the error envelope.
pub struct J<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for J<T> {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        // The body was read whole by `body_limit`; a NUL anywhere in it is refused.
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, IMPORT_BODY_LIMIT)
            .await
            .map_err(|_| AppError::bad_request("the request body could not be read"))?;
        if json_has_nul(&bytes) {
            return Err(nul_refused());
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(J(v)),
            Err(e) => Err(AppError::bad_request(e.body_text())),
        }
    }
}

/// A JSON body that may be absent: an empty body is `T::default()` (the seed's actions send
/// none, `actions/reject/` may carry a reason).
pub struct OptJ<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptJ<T> {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, IMPORT_BODY_LIMIT)
            .await
            .map_err(|_| AppError::bad_request("the request body could not be read"))?;
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(OptJ(T::default()));
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        J::<T>::from_request(req, state).await.map(|J(v)| OptJ(v))
    }
}

/// Path parameters, answering bad input (`/api/users/abc/`) in the error envelope.
pub struct P<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for P<T> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        if has_nul_escape(parts.uri.path()) {
            return Err(nul_refused());
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(P(v)),
            Err(e) => Err(AppError::bad_request(format!(
                "bad path: {}",
                e.body_text()
            ))),
        }
    }
}

/// The actor resolved by `actor_layer`.
pub struct Who(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for Who {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .map(Who)
            .ok_or_else(|| AppError::internal("actor layer missing"))
    }
}

/// Answers a page with `next`/`prev` links that keep the request's other query parameters.
pub fn paged<T: serde::Serialize>(uri: &Uri, page: Page<T>) -> Json<Page<T>> {
    let keep: Vec<(String, String)> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(uri.query().unwrap_or(""))
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| k != "page" && k != "page_number" && k != "page_size")
            .collect();
    let extra = if keep.is_empty() {
        String::new()
    } else {
        format!(
            "&{}",
            serde_urlencoded::to_string(&keep).unwrap_or_default()
        )
    };
    Json(page.with_base(uri.path(), &extra))
}

/// One element or a list of them (the seed shows both shapes for some bodies).
#[derive(serde::Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    Many(Vec<T>),
    One(T),
}

impl<T> OneOrMany<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::Many(v) => v,
            OneOrMany::One(t) => vec![t],
        }
    }
}

/// Server functions answer every error with 500 (the framework's choice); this gives a refused
/// call the status its error code maps to (403, 404, 409, …) like the REST API. Only error
/// answers of `/rpc/` are read, and they are small envelopes.
pub async fn rpc_status(req: Request, next: Next) -> Response {
    use http_body_util::BodyExt;
    let rpc = req.uri().path().starts_with("/rpc/");
    let res = next.run(req).await;
    if !rpc || res.status() != axum::http::StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match http_body_util::Limited::new(body, BODY_LIMIT)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(_) => return AppError::internal("server function answer unreadable").into_response(),
    };
    if let Ok(e) = serde_json::from_slice::<AppError>(&bytes) {
        if let Ok(s) = axum::http::StatusCode::from_u16(e.code.http_status()) {
            parts.status = s;
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
