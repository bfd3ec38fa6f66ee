//! Monitoring enrolment through the Zabbix 6.0 JSON-RPC API: a host is created (or updated) with
//! an agent interface on its address, its host groups and its templates. Groups and templates
//! are looked up first; a missing one is refused before anything changes (seed 003: 30002
//! template, 30003 group); an API failure is 30001.
use crate::ctx::ZabbixConfig;
use crate::error::{AppError, AppResult, ErrorCode};
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::Duration;

/// Most bytes read of an answer.
const BODY_LIMIT: usize = 1 << 20;

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            // Linking a large template (hundreds of items) takes Zabbix tens of seconds.
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("opsdeck")
            .build()
            .expect("HTTP client")
    })
}

fn failed(message: impl std::fmt::Display) -> AppError {
    AppError::new(ErrorCode::ZabbixFailed, format!("Zabbix API: {message}"))
}

/// The configured Zabbix, or 503 when there is none.
pub fn config(ctx: &crate::ctx::Ctx) -> AppResult<&ZabbixConfig> {
    ctx.config.zabbix.as_ref().ok_or_else(|| {
        AppError::new(
            ErrorCode::Unavailable,
            "Zabbix is not configured (OPSDECK_ZABBIX_URL)",
        )
    })
}

/// A signed-in API session.
pub struct Session<'a> {
    cfg: &'a ZabbixConfig,
    token: String,
}

/// Calls a method; a write that clashed with another one in Zabbix's database
/// (`DBEXECUTE_ERROR`, e.g. concurrent id allocation) is tried again, twice.
async fn call(
    cfg: &ZabbixConfig,
    auth: Option<&str>,
    method: &str,
    params: Value,
) -> AppResult<Value> {
    let mut attempt = 0u64;
    loop {
        let v = call_raw(cfg, auth, method, &params).await?;
        let clash = v.pointer("/error/data").and_then(Value::as_str) == Some("DBEXECUTE_ERROR");
        if clash && attempt < 2 {
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(300 * attempt)).await;
            continue;
        }
        return answer(method, v);
    }
}

fn answer(method: &str, v: Value) -> AppResult<Value> {
    if let Some(e) = v.get("error") {
        let msg = e.get("message").and_then(Value::as_str).unwrap_or("error");
        let data = e.get("data").and_then(Value::as_str).unwrap_or("");
        return Err(failed(
            format!("{method}: {msg} {data}").trim_end().to_string(),
        ));
    }
    v.get("result")
        .cloned()
        .ok_or_else(|| failed(format!("{method}: no result")))
}

/// One JSON-RPC exchange: the whole answer (result or error).
async fn call_raw(
    cfg: &ZabbixConfig,
    auth: Option<&str>,
    method: &str,
    params: &Value,
) -> AppResult<Value> {
    let mut body = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
    if let Some(a) = auth {
        body["auth"] = json!(a);
    }
    let mut r = client()
        .post(&cfg.url)
        .header("Content-Type", "application/json-rpc")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| {
            failed(if e.is_timeout() {
                "timed out"
            } else {
                "unreachable"
            })
        })?;
    let status = r.status().as_u16();
    let mut bytes = Vec::new();
    while let Some(c) = r
        .chunk()
        .await
        .map_err(|_| failed("the answer broke off"))?
    {
        if bytes.len() + c.len() > BODY_LIMIT {
            return Err(failed("answer too large"));
        }
        bytes.extend_from_slice(&c);
    }
    serde_json::from_slice(&bytes)
        .map_err(|_| failed(format!("HTTP {status} with an answer that is not JSON-RPC")))
}

impl<'a> Session<'a> {
    /// Signs in (`user.login`).
    pub async fn open(cfg: &'a ZabbixConfig) -> AppResult<Session<'a>> {
        let r = call(
            cfg,
            None,
            "user.login",
            json!({"username": cfg.user, "password": cfg.password}),
        )
        .await?;
        let token = r
            .as_str()
            .ok_or_else(|| failed("user.login answered no token"))?
            .to_string();
        Ok(Session { cfg, token })
    }

    async fn call(&self, method: &str, params: Value) -> AppResult<Value> {
        call(self.cfg, Some(&self.token), method, params).await
    }

    /// Signs out (best effort).
    pub async fn close(self) {
        let _ = self.call("user.logout", json!([])).await;
    }

    /// The ids of groups and templates by name; the first missing one is refused (400).
    pub async fn resolve(
        &self,
        groups: &[String],
        templates: &[String],
    ) -> AppResult<(Vec<String>, Vec<String>)> {
        let ids =
            |v: &Value, id: &str, name: &str, want: &[String]| -> Result<Vec<String>, String> {
                let found: Vec<(String, String)> = v
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| {
                                (
                                    x[name].as_str().unwrap_or_default().to_string(),
                                    x[id].as_str().unwrap_or_default().to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                want.iter()
                    .map(|w| {
                        found
                            .iter()
                            .find(|(n, _)| n == w)
                            .map(|(_, i)| i.clone())
                            .ok_or_else(|| w.clone())
                    })
                    .collect()
            };
        let g = if groups.is_empty() {
            vec![]
        } else {
            let v = self
                .call(
                    "hostgroup.get",
                    json!({"output": ["groupid", "name"], "filter": {"name": groups}}),
                )
                .await?;
            ids(&v, "groupid", "name", groups).map_err(|missing| {
                AppError::new(
                    ErrorCode::ZabbixGroupMissing,
                    format!("zabbix group \"{missing}\" 不存在"),
                )
                .with_field("zabbix_groups")
            })?
        };
        let t = if templates.is_empty() {
            vec![]
        } else {
            let v = self
                .call(
                    "template.get",
                    json!({"output": ["templateid", "host"], "filter": {"host": templates}}),
                )
                .await?;
            ids(&v, "templateid", "host", templates).map_err(|missing| {
                AppError::new(
                    ErrorCode::ZabbixTemplateMissing,
                    format!("模板 \"{missing}\" 不存在"),
                )
                .with_field("zabbix_templates")
            })?
        };
        Ok((g, t))
    }

    /// Creates the host (agent interface on `ip`) or updates the groups and templates given
    /// (`None`: left as they are); answers its Zabbix host id. A Zabbix host of the same name
    /// is only updated if it is the one this host was enrolled as (`known`), or, never enrolled
    /// before, if its agent interface is on `ip`: someone else's host is never taken over.
    pub async fn enrol(
        &self,
        host: &str,
        ip: &str,
        known: Option<&str>,
        groups: Option<&[String]>,
        templates: Option<&[String]>,
    ) -> AppResult<String> {
        let (g, t) = self
            .resolve(groups.unwrap_or_default(), templates.unwrap_or_default())
            .await?;
        let gv: Vec<Value> = g.iter().map(|id| json!({"groupid": id})).collect();
        let tv: Vec<Value> = t.iter().map(|id| json!({"templateid": id})).collect();
        let found = self
            .call(
                "host.get",
                json!({"output": ["hostid"], "filter": {"host": [host]}, "selectInterfaces": ["ip"]}),
            )
            .await?;
        let existing = found.as_array().and_then(|a| a.first()).cloned();
        match existing {
            Some(h) => {
                let id = h["hostid"].as_str().unwrap_or_default().to_string();
                let on_ip = h["interfaces"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|i| i["ip"] == ip));
                let ours = match known {
                    Some(k) => k == id,
                    None => on_ip,
                };
                if !ours {
                    return Err(AppError::conflict(format!(
                        "Zabbix has a host named {host} that is not this host (another address); rename one of them"
                    )));
                }
                let mut p = json!({"hostid": id});
                // An empty group list would leave the host in none: Zabbix refuses that.
                if !gv.is_empty() {
                    p["groups"] = json!(gv);
                }
                if templates.is_some() {
                    p["templates"] = json!(tv);
                }
                self.call("host.update", p).await?;
                Ok(id)
            }
            None => {
                if gv.is_empty() {
                    return Err(AppError::invalid(
                        "zabbix_groups",
                        "a host new to Zabbix needs at least one group",
                    ));
                }
                let r = self
                    .call(
                        "host.create",
                        json!({
                            "host": host,
                            "interfaces": [{"type": 1, "main": 1, "useip": 1, "ip": ip, "dns": "", "port": "10050"}],
                            "groups": gv,
                            "templates": tv,
                        }),
                    )
                    .await?;
                r["hostids"][0]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| failed("host.create answered no host id"))
            }
        }
    }
}

/// Checks that the groups and templates exist (before a task is queued).
pub async fn check(cfg: &ZabbixConfig, groups: &[String], templates: &[String]) -> AppResult<()> {
    let s = Session::open(cfg).await?;
    let r = s.resolve(groups, templates).await;
    s.close().await;
    r.map(|_| ())
}

/// Enrols a host in one session (see `Session::enrol`).
pub async fn enrol(
    cfg: &ZabbixConfig,
    host: &str,
    ip: &str,
    known: Option<&str>,
    groups: Option<&[String]>,
    templates: Option<&[String]>,
) -> AppResult<String> {
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(AppError::invalid(
            "address",
            format!("Zabbix watches an IP address; {host}'s is {ip}"),
        ));
    }
    let s = Session::open(cfg).await?;
    let r = s.enrol(host, ip, known, groups, templates).await;
    s.close().await;
    r
}
