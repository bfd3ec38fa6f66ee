//! The REST route table and its OpenAPI document, built together: every route is mounted through
//! `Api::add`, which also records its operation, so the document cannot drift from the router.
use crate::AppState;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// One documented operation.
pub struct Op {
    tag: &'static str,
    summary: &'static str,
    perm: &'static str,
    query: Vec<String>,
    body: Option<Value>,
    ok: Option<Value>,
    status: u16,
    csv: bool,
    schemas: Vec<(String, Value)>,
    method: String,
    path: String,
}

fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Op {
    pub fn new(tag: &'static str, summary: &'static str) -> Self {
        Op {
            tag,
            summary,
            perm: "",
            query: vec![],
            body: None,
            ok: None,
            status: 200,
            csv: false,
            schemas: vec![],
            method: String::new(),
            path: String::new(),
        }
    }
    /// The permission the operation needs, as text for the reader.
    pub fn perm(mut self, perm: &'static str) -> Self {
        self.perm = perm;
        self
    }
    /// Query parameters: the serde names of a filter type's fields.
    pub fn query<T: Serialize + Default>(mut self) -> Self {
        if let Value::Object(m) = to_json(&T::default()) {
            self.query = m.keys().cloned().collect();
        }
        self
    }
    fn reference<T: ToSchema>(&mut self) -> Value {
        self.schemas
            .push((T::name().to_string(), to_json(&T::schema())));
        let mut deps = vec![];
        T::schemas(&mut deps);
        self.schemas
            .extend(deps.into_iter().map(|(n, s)| (n, to_json(&s))));
        json!({ "$ref": format!("#/components/schemas/{}", T::name()) })
    }
    pub fn body<T: ToSchema>(mut self) -> Self {
        self.body = Some(self.reference::<T>());
        self
    }
    pub fn body_list<T: ToSchema>(mut self) -> Self {
        let r = self.reference::<T>();
        self.body = Some(json!({ "type": "array", "items": r }));
        self
    }
    pub fn ok<T: ToSchema>(mut self) -> Self {
        self.ok = Some(self.reference::<T>());
        self
    }
    pub fn ok_list<T: ToSchema>(mut self) -> Self {
        let r = self.reference::<T>();
        self.ok = Some(json!({ "type": "array", "items": r }));
        self
    }
    /// `{"count","next","prev","results":[T]}`.
    pub fn ok_page<T: ToSchema>(mut self) -> Self {
        let r = self.reference::<T>();
        self.ok = Some(json!({
            "type": "object",
            "required": ["count", "results"],
            "properties": {
                "count": {"type": "integer"},
                "next": {"type": ["string", "null"]},
                "prev": {"type": ["string", "null"]},
                "results": {"type": "array", "items": r}
            }
        }));
        self
    }
    /// Answers a CSV file (`text/csv`).
    pub fn ok_csv(mut self) -> Self {
        self.csv = true;
        self
    }
    /// Answers 202: the work was queued.
    pub fn accepted(mut self) -> Self {
        self.status = 202;
        self
    }
    pub fn created(mut self) -> Self {
        self.status = 201;
        self
    }

    fn to_openapi(&self) -> Value {
        let mut params: Vec<Value> = self
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "integer"}}))
            .collect();
        for q in &self.query {
            let ty = if matches!(q.as_str(), "page" | "page_size" | "resource_id") {
                "integer"
            } else {
                "string"
            };
            params
                .push(json!({"name": q, "in": "query", "required": false, "schema": {"type": ty}}));
        }
        let content = if self.csv {
            json!({"text/csv": {"schema": {"type": "string"}}})
        } else {
            json!({"application/json": {"schema": self.ok.clone().unwrap_or(json!({"$ref": "#/components/schemas/Message"}))}})
        };
        let mut op = json!({
            "tags": [self.tag],
            "summary": self.summary,
            "operationId": format!("{}_{}", self.method, self.path.trim_matches('/').replace(['/', '{', '}', '-'], "_")),
            "parameters": params,
            "responses": {
                self.status.to_string(): {
                    "description": "success",
                    "content": content
                },
                "4XX": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AppError"}}}}
            }
        });
        if !self.perm.is_empty() {
            op["description"] = json!(format!("Requires: {}", self.perm));
        }
        if let Some(b) = &self.body {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": b}}});
        }
        op
    }
}

/// The router under construction and the operations mounted on it.
pub struct Api {
    pub router: Router<AppState>,
    pub ops: Vec<Op>,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            router: Router::new(),
            ops: vec![],
        }
    }
}

impl Api {
    /// Mounts `handler` on `path` (with and without its trailing slash) and documents it.
    pub fn add<H, T>(mut self, method: Method, path: &str, handler: H, mut op: Op) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = match method {
            Method::GET => MethodFilter::GET,
            Method::POST => MethodFilter::POST,
            Method::PATCH => MethodFilter::PATCH,
            Method::PUT => MethodFilter::PUT,
            _ => MethodFilter::DELETE,
        };
        let bare = path.trim_end_matches('/');
        self.router = self.router.route(path, on(filter, handler.clone()));
        if !bare.is_empty() && bare != path {
            self.router = self.router.route(bare, on(filter, handler));
        }
        op.method = method.as_str().to_lowercase();
        op.path = path.to_string();
        self.ops.push(op);
        self
    }
    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &str, h: H, op: Op) -> Self {
        self.add(Method::GET, path, h, op)
    }
    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &str, h: H, op: Op) -> Self {
        self.add(Method::POST, path, h, op)
    }
    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &str, h: H, op: Op) -> Self {
        self.add(Method::PUT, path, h, op)
    }
    pub fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &str, h: H, op: Op) -> Self {
        self.add(Method::PATCH, path, h, op)
    }
    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &str, h: H, op: Op) -> Self {
        self.add(Method::DELETE, path, h, op)
    }

    /// The OpenAPI 3.1 document of every mounted operation.
    pub fn openapi(&self) -> Value {
        let mut paths = Map::new();
        let mut schemas = Map::new();
        let mut base = Op::new("", "");
        base.reference::<app::error::AppError>();
        base.reference::<app::common::Message>();
        for op in self.ops.iter().chain(std::iter::once(&base)) {
            for (name, s) in &op.schemas {
                schemas.insert(name.clone(), s.clone());
            }
            if op.path.is_empty() {
                continue;
            }
            let entry = paths.entry(op.path.clone()).or_insert_with(|| json!({}));
            entry[op.method.as_str()] = op.to_openapi();
        }
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "Opsdeck API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "The JSON API of Opsdeck. Lists take ?page=&page_size= (max 100). Errors are {error_code, code, message, field}. See docs/api.md."
            },
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "session": {"type": "apiKey", "in": "cookie", "name": "opsdeck_session"},
                    "token": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`token <value>`"},
                    "bearer": {"type": "http", "scheme": "bearer"}
                }
            },
            "security": [{"session": []}, {"token": []}, {"bearer": []}]
        })
    }
}
