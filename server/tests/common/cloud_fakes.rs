//! Local stand-ins for the public cloud APIs Opsdeck powers hosts through (they cannot run
//! here): CloudStack and Tencent Cloud API v3 (CVM and CPM). Each checks requests the way the
//! provider does, with signing code of its own (not Opsdeck's): CloudStack's HMAC-SHA1 over the
//! sorted, lower-cased query, and TC3-HMAC-SHA256 over the signed headers and body, with the
//! credential scope, timestamp skew, service and required parameters. A bad signature gets the
//! provider's own refusal. They keep machine states, so power actions can be observed.
#![allow(dead_code)]
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CS_KEY: &str = "opsdeck-test-key";
pub const CS_SECRET: &str = "opsdeck-test-secret";
pub const TC_ID: &str = "AKIDopsdecktest";
pub const TC_SECRET: &str = "opsdeck-tc3-secret";

#[derive(Default)]
pub struct Clouds {
    /// Machine id → state (`Running`/`Stopped` for CloudStack, `RUNNING`/`STOPPED` for CVM,
    /// `on`/`off` for CPM).
    pub machines: HashMap<String, String>,
    /// Every accepted call: (action, parameters).
    pub calls: Vec<(String, Value)>,
    /// Refused calls: (action, why).
    pub refused: Vec<(String, String)>,
    jobs: HashMap<String, (String, String, Option<String>)>,
    tasks: HashMap<i64, (String, String)>,
    /// CVM machines in a transition: the state the next describe moves them to.
    settling: HashMap<String, String>,
    next: i64,
}

pub struct CloudFakes {
    /// CloudStack API URL (`…/client/api`).
    pub cloudstack: String,
    /// Tencent Cloud API URL (CVM and CPM alike).
    pub tencent: String,
    pub state: Arc<Mutex<Clouds>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for CloudFakes {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl CloudFakes {
    pub async fn start() -> CloudFakes {
        let state = Arc::new(Mutex::new(Clouds::default()));
        let app = axum::Router::new()
            .route("/client/api", get(cloudstack))
            .route("/", post(tencent))
            .with_state(state.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(l, app).await.unwrap();
        });
        CloudFakes {
            cloudstack: format!("http://{addr}/client/api"),
            tencent: format!("http://{addr}/"),
            state,
            server,
        }
    }
    pub fn set(&self, id: &str, s: &str) {
        self.state
            .lock()
            .unwrap()
            .machines
            .insert(id.into(), s.into());
    }
    pub fn machine(&self, id: &str) -> Option<String> {
        self.state.lock().unwrap().machines.get(id).cloned()
    }
    /// Accepted calls of an action.
    pub fn calls(&self, action: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(a, _)| a == action)
            .map(|(_, p)| p.clone())
            .collect()
    }
    pub fn refused(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().refused.clone()
    }
}

// ---------------------------------------------------------------------------------- CloudStack

fn rfc3986(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn cs_reply(command: &str, status: StatusCode, body: Value) -> Response {
    (
        status,
        Json(json!({ format!("{}response", command.to_lowercase()): body })),
    )
        .into_response()
}

async fn cloudstack(
    State(st): State<Arc<Mutex<Clouds>>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let command = get("command").unwrap_or_default();
    let mut st = st.lock().unwrap();
    let refuse = |st: &mut Clouds, why: &str| {
        st.refused.push((command.clone(), why.into()));
        cs_reply(
            &command,
            StatusCode::UNAUTHORIZED,
            json!({"errorcode": 401, "errortext": "unable to verify user credentials and/or request signature"}),
        )
    };
    if get("apiKey").as_deref() != Some(CS_KEY) || get("response").as_deref() != Some("json") {
        return refuse(&mut st, "api key or response");
    }
    let Some(sig) = get("signature") else {
        return refuse(&mut st, "no signature");
    };
    let mut params: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| k != "signature")
        .cloned()
        .collect();
    params.sort_by(|a, b| a.0.to_lowercase().cmp(&b.0.to_lowercase()));
    let plain = params
        .iter()
        .map(|(k, v)| format!("{k}={}", rfc3986(v)))
        .collect::<Vec<_>>()
        .join("&")
        .to_lowercase();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(CS_SECRET.as_bytes()).unwrap();
    mac.update(plain.as_bytes());
    use base64::Engine;
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if want != sig {
        return refuse(&mut st, "signature");
    }
    // Version 3 signatures expire (CloudStack refuses a missing or past `expires`).
    if get("signatureVersion").as_deref() != Some("3") {
        return refuse(&mut st, "signatureVersion 3 required");
    }
    let fresh = get("expires")
        .and_then(|e| chrono::DateTime::parse_from_str(&e, "%Y-%m-%dT%H:%M:%S%z").ok())
        .is_some_and(|e| e > chrono::Utc::now());
    if !fresh {
        return refuse(&mut st, "expired");
    }
    let id = get("id").unwrap_or_default();
    let params_json: Value = q
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    st.calls.push((command.clone(), params_json));
    let missing = |command: &str| {
        cs_reply(
            command,
            StatusCode::from_u16(431).unwrap(),
            json!({"errorcode": 431, "errortext": format!("Unable to execute API command {} due to invalid value. Invalid parameter id value={id} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.", command.to_lowercase())}),
        )
    };
    match command.as_str() {
        "listVirtualMachines" => match st.machines.get(&id) {
            Some(s) => cs_reply(
                &command,
                StatusCode::OK,
                json!({"count": 1, "virtualmachine": [{"id": id, "state": s}]}),
            ),
            None => cs_reply(&command, StatusCode::OK, json!({})),
        },
        "startVirtualMachine" | "stopVirtualMachine" | "rebootVirtualMachine" => {
            let Some(now) = st.machines.get(&id).cloned() else {
                return missing(&command);
            };
            let (to, error) = match (command.as_str(), now.as_str()) {
                ("startVirtualMachine", "Running") => (now, Some("VM is already running")),
                ("startVirtualMachine", _) => ("Running".to_string(), None),
                ("stopVirtualMachine", _) => ("Stopped".to_string(), None),
                ("rebootVirtualMachine", "Running") => ("Running".to_string(), None),
                _ => (now, Some("VM is not Running, unable to reboot it")),
            };
            st.next += 1;
            let job = format!("job-{}", st.next);
            st.jobs
                .insert(job.clone(), (id, to, error.map(String::from)));
            cs_reply(&command, StatusCode::OK, json!({"jobid": job}))
        }
        "queryAsyncJobResult" => {
            let job = get("jobid").unwrap_or_default();
            let Some((vm, to, error)) = st.jobs.get(&job).cloned() else {
                return cs_reply(
                    &command,
                    StatusCode::from_u16(530).unwrap(),
                    json!({"errorcode": 530, "errortext": format!("job {job} not found")}),
                );
            };
            match error {
                Some(e) => cs_reply(
                    &command,
                    StatusCode::OK,
                    json!({"jobid": job, "jobstatus": 2, "jobresult": {"errorcode": 530, "errortext": e}}),
                ),
                None => {
                    st.machines.insert(vm, to);
                    cs_reply(
                        &command,
                        StatusCode::OK,
                        json!({"jobid": job, "jobstatus": 1, "jobresult": {}}),
                    )
                }
            }
        }
        _ => cs_reply(
            &command,
            StatusCode::from_u16(432).unwrap(),
            json!({"errorcode": 432, "errortext": "The given command does not exist or it is not available for user"}),
        ),
    }
}

// ------------------------------------------------------------------------------- Tencent Cloud

fn hmac256(key: &[u8], msg: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn tc_error(code: &str, message: &str) -> Response {
    (
        StatusCode::OK,
        Json(json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "fake-request"}})),
    )
        .into_response()
}

fn tc_ok(mut v: Value) -> Response {
    v["RequestId"] = json!("fake-request");
    (StatusCode::OK, Json(json!({ "Response": v }))).into_response()
}

/// Checks a TC3-HMAC-SHA256 request; answers (service, action) or the provider's error.
fn tc3_check(h: &HeaderMap, body: &str) -> Result<(String, String), (String, String)> {
    let hv = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let fail = |c: &str, m: &str| Err((c.to_string(), m.to_string()));
    let (Some(auth), Some(action), Some(ts), Some(version), Some(host), Some(ctype)) = (
        hv("authorization"),
        hv("x-tc-action"),
        hv("x-tc-timestamp"),
        hv("x-tc-version"),
        hv("host"),
        hv("content-type"),
    ) else {
        return fail("MissingParameter", "a required header is missing");
    };
    if hv("x-tc-region").unwrap_or_default().is_empty() {
        return fail(
            "MissingParameter",
            "The request is missing a required parameter `Region`.",
        );
    }
    let service = match version.as_str() {
        "2017-03-12" => "cvm",
        "2018-04-23" => "bm",
        _ => return fail("InvalidParameter", "unknown version"),
    };
    let ts: i64 = ts
        .parse()
        .map_err(|_| ("InvalidParameter".to_string(), "timestamp".to_string()))?;
    if (chrono::Utc::now().timestamp() - ts).abs() > 300 {
        return fail("AuthFailure.SignatureExpire", "Signature expired.");
    }
    let date = chrono::DateTime::from_timestamp(ts, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let Some(rest) = auth.strip_prefix("TC3-HMAC-SHA256 ") else {
        return fail("AuthFailure.InvalidAuthorization", "bad algorithm");
    };
    let fields: HashMap<&str, &str> = rest.split(", ").filter_map(|p| p.split_once('=')).collect();
    let scope = format!("{date}/{service}/tc3_request");
    if fields.get("Credential") != Some(&format!("{TC_ID}/{scope}").as_str()) {
        return fail(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found or the credential scope is wrong.",
        );
    }
    if fields.get("SignedHeaders") != Some(&"content-type;host;x-tc-action") {
        return fail("AuthFailure.InvalidAuthorization", "signed headers");
    }
    let canonical = format!(
        "POST\n/\n\ncontent-type:{ctype}\nhost:{host}\nx-tc-action:{}\n\ncontent-type;host;x-tc-action\n{}",
        action.to_lowercase(),
        hex::encode(Sha256::digest(body.as_bytes()))
    );
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{ts}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k = hmac256(format!("TC3{TC_SECRET}").as_bytes(), &date);
    let k = hmac256(&k, service);
    let k = hmac256(&k, "tc3_request");
    if fields.get("Signature") != Some(&hex::encode(hmac256(&k, &to_sign)).as_str()) {
        return fail(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        );
    }
    Ok((service.to_string(), action))
}

async fn tencent(State(st): State<Arc<Mutex<Clouds>>>, h: HeaderMap, body: String) -> Response {
    let (service, action) = match tc3_check(&h, &body) {
        Ok(v) => v,
        Err((code, msg)) => {
            let a = h
                .get("x-tc-action")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            st.lock().unwrap().refused.push((a, code.clone()));
            return tc_error(&code, &msg);
        }
    };
    let Ok(p) = serde_json::from_str::<Value>(&body) else {
        return tc_error("InvalidParameter", "the body is not JSON");
    };
    let mut st = st.lock().unwrap();
    st.calls.push((action.clone(), p.clone()));
    let ids: Vec<String> = p["InstanceIds"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let need_ids = !matches!(action.as_str(), "DescribeOperationResult");
    if need_ids && ids.is_empty() {
        return tc_error(
            "MissingParameter",
            "The request is missing a required parameter `InstanceIds`.",
        );
    }
    let unknown = ids.iter().find(|i| !st.machines.contains_key(*i)).cloned();
    match (service.as_str(), action.as_str()) {
        ("cvm", "DescribeInstancesStatus") => {
            let set: Vec<Value> = ids
                .iter()
                .filter_map(|i| {
                    st.machines
                        .get(i)
                        .map(|s| json!({"InstanceId": i, "InstanceState": s}))
                })
                .collect();
            // A machine shows its transition once, then its final state.
            for i in &ids {
                if let Some(to) = st.settling.remove(i) {
                    st.machines.insert(i.clone(), to);
                }
            }
            tc_ok(json!({"TotalCount": set.len(), "InstanceStatusSet": set}))
        }
        ("cvm", "StartInstances" | "StopInstances" | "RebootInstances") => {
            if let Some(i) = unknown {
                return tc_error(
                    "InvalidInstanceId.NotFound",
                    &format!("The instance `{i}` is not found."),
                );
            }
            if action != "StartInstances"
                && !matches!(
                    p["StopType"].as_str(),
                    None | Some("SOFT") | Some("HARD") | Some("SOFT_FIRST")
                )
            {
                return tc_error("InvalidParameterValue", "StopType");
            }
            for i in &ids {
                let now = st.machines[i].clone();
                let (now_, to) = match (action.as_str(), now.as_str()) {
                    ("StartInstances", "RUNNING") => {
                        return tc_error(
                            "UnsupportedOperation.InstanceStateRunning",
                            "The instance is running.",
                        )
                    }
                    ("StartInstances", _) => ("STARTING", "RUNNING"),
                    ("RebootInstances", _) => ("REBOOTING", "RUNNING"),
                    _ => ("STOPPING", "STOPPED"),
                };
                st.machines.insert(i.clone(), now_.into());
                st.settling.insert(i.clone(), to.into());
            }
            tc_ok(json!({}))
        }
        ("bm", "DescribeDevices") => {
            let set: Vec<Value> = ids
                .iter()
                .filter(|i| st.machines.contains_key(*i))
                .map(|i| json!({"InstanceId": i, "DeviceStatus": 1}))
                .collect();
            tc_ok(json!({"TotalCount": set.len(), "DeviceInfoSet": set}))
        }
        ("bm", "StartDevices" | "ShutdownDevices" | "RebootDevices") => {
            if let Some(i) = unknown {
                return tc_error(
                    "InvalidParameterValue",
                    &format!("device {i} does not exist"),
                );
            }
            st.next += 1;
            let task = st.next;
            let to = if action == "ShutdownDevices" {
                "off"
            } else {
                "on"
            };
            st.tasks.insert(task, (ids[0].clone(), to.into()));
            tc_ok(json!({"TaskId": task}))
        }
        ("bm", "DescribeOperationResult") => {
            let Some(task) = p["TaskId"].as_i64() else {
                return tc_error("MissingParameter", "TaskId");
            };
            match st.tasks.get(&task).cloned() {
                Some((dev, to)) => {
                    st.machines.insert(dev, to);
                    tc_ok(json!({"TaskStatus": 1, "SubtaskStatusSet": []}))
                }
                None => tc_error("InvalidParameterValue", "no such task"),
            }
        }
        _ => tc_error(
            "InvalidAction",
            &format!("The action `{action}` is not found."),
        ),
    }
}
