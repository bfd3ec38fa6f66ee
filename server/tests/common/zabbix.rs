//! A real Zabbix 6.0 API for tests (scripts/zabbix.sh): `OPSDECK_TEST_ZABBIX_URL` when the test
//! run started one (scripts/test.sh does, once, while it builds), else one started here on the
//! test PostgreSQL and stopped when the last test using it ends. `Zabbix` also reads Zabbix
//! directly, to check what Opsdeck did.
#![allow(dead_code)]
use serde_json::{json, Value};
use std::sync::Mutex;

/// Tests using the instance started here, and its directory.
static LOCAL: Mutex<(usize, Option<std::path::PathBuf>, String)> =
    Mutex::new((0, None, String::new()));

pub struct Zabbix {
    pub url: String,
    token: String,
    local: bool,
}

impl Drop for Zabbix {
    fn drop(&mut self) {
        if !self.local {
            return;
        }
        let mut l = LOCAL.lock().unwrap();
        l.0 -= 1;
        if l.0 == 0 {
            if let Some(d) = l.1.take() {
                let _ = std::process::Command::new("bash")
                    .args(["scripts/zabbix.sh", "stop", d.to_str().unwrap()])
                    .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
                    .status();
            }
        }
    }
}

impl Zabbix {
    pub async fn start() -> Zabbix {
        let (url, local) = match std::env::var("OPSDECK_TEST_ZABBIX_URL") {
            Ok(u) if !u.is_empty() => (u, false),
            _ => {
                let url = tokio::task::spawn_blocking(|| {
                    let mut l = LOCAL.lock().unwrap();
                    if l.1.is_none() {
                        let dir = std::env::temp_dir()
                            .join(format!("opsdeck-zbx-{}", std::process::id()));
                        let port = std::net::TcpListener::bind("127.0.0.1:0")
                            .unwrap()
                            .local_addr()
                            .unwrap()
                            .port();
                        let pg = std::env::var("OPSDECK_TEST_PG_URL").expect("OPSDECK_TEST_PG_URL");
                        let o = std::process::Command::new("bash")
                            .args([
                                "scripts/zabbix.sh",
                                "start",
                                dir.to_str().unwrap(),
                                &pg,
                                &port.to_string(),
                            ])
                            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
                            .output()
                            .unwrap();
                        assert!(
                            o.status.success(),
                            "zabbix.sh: {}",
                            String::from_utf8_lossy(&o.stderr)
                        );
                        l.2 = String::from_utf8_lossy(&o.stdout).trim().to_string();
                        l.1 = Some(dir);
                    }
                    l.0 += 1;
                    l.2.clone()
                })
                .await
                .unwrap();
                (url, true)
            }
        };
        let mut z = Zabbix {
            url,
            token: String::new(),
            local,
        };
        z.token = z
            .raw(
                "user.login",
                json!({"username": "Admin", "password": "zabbix"}),
            )
            .await
            .as_str()
            .unwrap()
            .to_string();
        z
    }

    async fn raw(&self, method: &str, params: Value) -> Value {
        let mut body = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
        if !self.token.is_empty() {
            body["auth"] = json!(self.token);
        }
        // Zabbix's id allocation clashes under concurrent writes (DBEXECUTE_ERROR): try again.
        for attempt in 0.. {
            let v: Value = reqwest::Client::new()
                .post(&self.url)
                .header("content-type", "application/json-rpc")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if v["error"]["data"] == "DBEXECUTE_ERROR" && attempt < 5 {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                continue;
            }
            assert!(v.get("error").is_none(), "{method}: {v}");
            return v["result"].clone();
        }
        unreachable!()
    }

    /// Calls the API as Admin.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.raw(method, params).await
    }

    /// A host by name with its groups, templates and interfaces, if Zabbix has it.
    pub async fn host(&self, name: &str) -> Option<Value> {
        let r = self
            .call(
                "host.get",
                json!({"filter": {"host": [name]}, "selectGroups": ["name"],
                       "selectParentTemplates": ["host"], "selectInterfaces": ["ip", "port", "type"]}),
            )
            .await;
        r.as_array().and_then(|a| a.first()).cloned()
    }

    /// The names of a host's groups and templates.
    pub async fn names(&self, name: &str) -> (Vec<String>, Vec<String>) {
        let h = self.host(name).await.expect("host in Zabbix");
        let pick = |k: &str, f: &str| {
            let mut v: Vec<String> = h[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x[f].as_str().unwrap().to_string())
                .collect();
            v.sort();
            v
        };
        (pick("groups", "name"), pick("parentTemplates", "host"))
    }

    pub fn config(&self, agent_server: &str) -> app::ctx::ZabbixConfig {
        app::ctx::ZabbixConfig {
            url: self.url.clone(),
            user: "Admin".into(),
            password: "zabbix".into(),
            agent_server: agent_server.into(),
        }
    }
}
