//! Certificates: issuing from Opsdeck's CA (checked with the real `openssl`), who sees and
//! downloads what, audits of downloads, uploads and their refusals, the expiry mail (read back
//! from the mail directory), an operator-provided CA, and one CA under concurrent first issues.
//! Both databases.
mod common;
use app::certs::service;
use app::certs::types::CertUpload;
use app::ctx::Actor;
use app::entities::{cert_authority, certificate, resource_request};
use common::*;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// An SSL certificate request row, as the approval engine leaves it before fulfilment.
async fn ssl_request(
    t: &TestApp,
    creator: i64,
    domain: &str,
    ctype: &str,
    apps: &[i64],
) -> resource_request::Model {
    let now = chrono::Utc::now();
    resource_request::ActiveModel {
        kind: Set("ssl".into()),
        creator_id: Set(creator),
        status: Set("approved".into()),
        payload: Set(json!({"domain": domain, "certificate_type": ctype, "associate_app": apps, "purpose": "test", "expect_delivery_days": "7"}).to_string()),
        domain: Set(Some(domain.into())),
        certificate_type: Set(Some(ctype.into())),
        approvals_needed: Set(1),
        approvals_count: Set(1),
        fulfilment_note: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(&t.ctx.db)
    .await
    .unwrap()
}

fn openssl(args: &[&str]) -> (bool, String) {
    let o = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl (Debian package openssl)");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

fn work_dir(t: &TestApp, name: &str) -> PathBuf {
    let d = t.dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A downloaded PEM file: checks the download headers and answers the body.
async fn download(t: &TestApp, id: i64, part: &str, auth: Auth<'_>) -> String {
    let r = t
        .get(&format!("/api/certificates/{id}/download/{part}/"), auth)
        .await;
    assert_eq!(r.status, 200, "{part}: {}", r.json);
    assert_eq!(r.headers["content-type"], "application/x-pem-file");
    let cd = r.headers["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cd.starts_with("attachment; filename=\""), "{cd}");
    r.json.as_str().unwrap().to_string()
}

fn user_actor(id: i64, name: &str) -> Actor {
    Actor {
        id,
        username: name.into(),
        ..Default::default()
    }
}

async fn app_with_owner(t: &TestApp, name: &str, owner: i64) -> i64 {
    let a = t
        .post("/api/applications/", t.admin(), json!({"name": name}))
        .await
        .ok()["id"]
        .as_i64()
        .unwrap();
    t.post(
        &format!("/api/applications/{a}/response-person/"),
        t.admin(),
        json!([{"id": owner, "type": "ops"}]),
    )
    .await
    .ok();
    a
}

both! {
    async fn issued_certificates_verify_with_openssl(t: TestApp) {
        let (rita, rita_token) = t.user("rita").await;
        let wild = ssl_request(&t, rita, "Example.com", "wizard", &[]).await;
        let normal = ssl_request(&t, rita, "api.example.org", "normal", &[]).await;
        let w = service::issue_for_request(&t.ctx, &wild).await.unwrap();
        let n = service::issue_for_request(&t.ctx, &normal).await.unwrap();
        // Idempotent: a fulfilment that runs again answers the same certificate.
        assert_eq!(service::issue_for_request(&t.ctx, &wild).await.unwrap(), w);
        assert_eq!(certificate::Entity::find().count(&t.ctx.db).await.unwrap(), 2);
        assert_eq!(cert_authority::Entity::find().count(&t.ctx.db).await.unwrap(), 1);

        let d = work_dir(&t, "issued");
        let ca_pem = download(&t, w, "chain", Auth::Token(&rita_token)).await;
        let r = t.get("/api/certificates/ca/", Auth::Token(&rita_token)).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["content-type"], "application/x-pem-file");
        assert!(r.headers["content-disposition"].to_str().unwrap().contains("opsdeck-ca.crt"));
        assert_eq!(r.json.as_str().unwrap(), ca_pem, "the chain of an issued certificate is the CA");
        let ca_file = write(&d, "ca.pem", &ca_pem);
        let (ok, ca_text) = openssl(&["x509", "-in", &ca_file, "-noout", "-text"]);
        assert!(ok && ca_text.contains("CA:TRUE") && ca_text.contains("Opsdeck CA"), "{ca_text}");

        for (id, sans) in [(w, "DNS:*.example.com, DNS:example.com"), (n, "DNS:api.example.org")] {
            let cert = download(&t, id, "cert", Auth::Token(&rita_token)).await;
            let key = download(&t, id, "key", Auth::Token(&rita_token)).await;
            let full = download(&t, id, "fullchain", Auth::Token(&rita_token)).await;
            assert_eq!(full, format!("{cert}{ca_pem}"));
            let cert_file = write(&d, &format!("{id}.crt"), &cert);
            let key_file = write(&d, &format!("{id}.key"), &key);
            let (ok, out) = openssl(&["verify", "-CAfile", &ca_file, "-purpose", "sslserver", &cert_file]);
            assert!(ok, "{out}");
            let (ok, text) = openssl(&["x509", "-in", &cert_file, "-noout", "-text"]);
            assert!(ok && text.contains(sans), "{text}");
            assert!(text.contains("TLS Web Server Authentication"), "{text}");
            // The key is the certificate's.
            let (_, kp) = openssl(&["pkey", "-in", &key_file, "-pubout"]);
            let (_, cp) = openssl(&["x509", "-in", &cert_file, "-noout", "-pubkey"]);
            assert!(kp.contains("BEGIN PUBLIC KEY") && kp == cp);
            // The API's serial is openssl's.
            let detail = t.get(&format!("/api/certificates/{id}/"), t.admin()).await.ok();
            let (_, serial) = openssl(&["x509", "-in", &cert_file, "-noout", "-serial"]);
            assert_eq!(serial.trim(), format!("serial={}", detail["serial"].as_str().unwrap()));
            assert_eq!(detail["cert_pem"].as_str().unwrap(), cert);
            assert_eq!(detail["source"], "ca");
            assert_eq!(detail["has_key"], true);
            assert_eq!(detail["owner"], "rita");
            assert!((395..=397).contains(&detail["days_left"].as_i64().unwrap()), "{detail}");
        }
        let detail = t.get(&format!("/api/certificates/{w}/"), t.admin()).await.ok();
        assert_eq!(detail["names"], json!(["*.example.com", "example.com"]));
        assert_eq!(detail["domain"], "example.com");
        assert_eq!(detail["certificate_type"], "wizard");
        assert_eq!(detail["request_id"], wild.id);
        // The key is stored encrypted, not as PEM.
        let row = certificate::Entity::find_by_id(w).one(&t.ctx.db).await.unwrap().unwrap();
        assert!(row.key_enc.as_deref().unwrap().starts_with("v1:"));
        let ca_row = cert_authority::Entity::find().one(&t.ctx.db).await.unwrap().unwrap();
        assert!(ca_row.key_enc.starts_with("v1:") && !ca_row.key_enc.contains("PRIVATE"));
        // Issues are audited as the system.
        let issues: Vec<Value> = t.audit("cert").await.into_iter().filter(|a| a["op_type"] == "issue").collect();
        assert_eq!(issues.len(), 2);
        assert_eq!(issues[0]["operator"], "system");
        // Filters.
        assert_eq!(t.get("/api/certificates/?domain=example.com", t.admin()).await.ok()["count"], 1);
        assert_eq!(t.get("/api/certificates/?domain=api.example", t.admin()).await.ok()["count"], 1);
        assert_eq!(t.get(&format!("/api/certificates/?request_id={}", normal.id), t.admin()).await.ok()["results"][0]["id"], n);
        assert_eq!(t.get("/api/certificates/?expiring_within_days=30", t.admin()).await.ok()["count"], 0);
        assert_eq!(t.get("/api/certificates/?expiring_within_days=400", t.admin()).await.ok()["count"], 2);
        t.get("/api/certificates/?domain=a%25b", t.admin()).await.err(400, 40000);
        // A request that is not an SSL request, or names a bad domain, is refused.
        let mut bad = normal.clone();
        bad.kind = "host".into();
        assert_eq!(service::issue_for_request(&t.ctx, &bad).await.unwrap_err().error_code, 40000);
        let bad = ssl_request(&t, rita, "not a domain", "normal", &[]).await;
        assert_eq!(service::issue_for_request(&t.ctx, &bad).await.unwrap_err().field.as_deref(), Some("domain"));
    }
}

both! {
    async fn who_sees_and_downloads_what(t: TestApp) {
        let (rita, rita_t) = t.user("rita").await;
        let (olga, olga_t) = t.user("olga").await;
        let (aaron, aaron_t) = t.user("aaron").await;
        let (_, sam_t) = t.user("sam").await;
        t.grant("user", aaron, "resource_request", &["enable_resource_req", "approve_ssl_cert_req"]).await;
        let app = app_with_owner(&t, "shop", olga).await;
        let req = ssl_request(&t, rita, "shop.example.com", "normal", &[app]).await;
        let id = service::issue_for_request(&t.ctx, &req).await.unwrap();
        // A second certificate only the admin's request owns.
        let other = ssl_request(&t, t.admin_id, "intra.example.com", "normal", &[]).await;
        service::issue_for_request(&t.ctx, &other).await.unwrap();

        for (tok, count, key) in [(&rita_t, 1, true), (&olga_t, 1, true), (&aaron_t, 2, false), (&sam_t, 0, false)] {
            let l = t.get("/api/certificates/", Auth::Token(tok)).await.ok();
            assert_eq!(l["count"], count, "{l}");
            if count > 0 {
                let mine = l["results"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
                assert_eq!(mine["may_download_key"], key, "{mine}");
                assert_eq!(mine["app_ids"], json!([app]));
            }
        }
        assert_eq!(t.get("/api/certificates/", t.admin()).await.ok()["count"], 2);
        // Owner and application owner take everything.
        for tok in [&rita_t, &olga_t] {
            for part in ["cert", "chain", "fullchain", "key"] {
                download(&t, id, part, Auth::Token(tok)).await;
            }
        }
        // The approver sees and downloads the certificate, never the key.
        download(&t, id, "cert", Auth::Token(&aaron_t)).await;
        t.get(&format!("/api/certificates/{id}/"), Auth::Token(&aaron_t)).await.ok();
        let e = t.get(&format!("/api/certificates/{id}/download/key/"), Auth::Token(&aaron_t)).await.err(403, 40300);
        assert!(!e.to_string().contains("BEGIN"), "{e}");
        // A stranger is told nothing exists; nobody anonymous gets anything.
        for path in [format!("/api/certificates/{id}/"), format!("/api/certificates/{id}/download/cert/"), format!("/api/certificates/{id}/download/key/")] {
            t.get(&path, Auth::Token(&sam_t)).await.err(404, 40400);
            t.get(&path, Auth::None).await.err(401, 40100);
        }
        t.get("/api/certificates/999999/", Auth::Token(&rita_t)).await.err(404, 40400);
        t.get("/api/certificates/", Auth::None).await.err(401, 40100);
        t.get("/api/certificates/ca/", Auth::None).await.err(401, 40100);
        // Anyone signed in may fetch the CA to trust it.
        assert!(t.get("/api/certificates/ca/", Auth::Token(&sam_t)).await.ok().as_str().unwrap().contains("BEGIN CERTIFICATE"));
        // Each download is audited with its part and who took it; refused ones are not.
        let downloads: Vec<Value> = t.audit("cert").await.into_iter().filter(|a| a["op_type"] == "download").collect();
        assert_eq!(downloads.len(), 9, "{downloads:?}");
        let keys: Vec<&str> = downloads.iter().filter(|a| a["detail"]["part"] == "key").map(|a| a["operator"].as_str().unwrap()).collect();
        assert_eq!(keys.len(), 2);
        assert!(keys.contains(&"rita") && keys.contains(&"olga"));
        assert!(downloads.iter().all(|a| a["target_id"] == id && a["target_name"] == "shop.example.com"));
        assert!(downloads.iter().any(|a| a["operator"] == "aaron" && a["detail"]["part"] == "cert"));
        // Leaving the application's owners takes the certificate away.
        t.call(axum::http::Method::DELETE, &format!("/api/applications/{app}/response-person/"), t.admin(), Some(json!([{"id": olga}]))).await.ok();
        t.get(&format!("/api/certificates/{id}/"), Auth::Token(&olga_t)).await.err(404, 40400);
        assert_eq!(t.get("/api/certificates/", Auth::Token(&olga_t)).await.ok()["count"], 0);
    }
}

/// Certificates made with the openssl command line: a CA, and leaves it signs.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: PathBuf, cn: &str) -> Pki {
        std::fs::create_dir_all(&dir).unwrap();
        let p = |n: &str| dir.join(n).display().to_string();
        let (ok, out) = openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.pem"),
            "-days",
            "365",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        assert!(ok, "{out}");
        Pki { dir }
    }
    fn path(&self, n: &str) -> String {
        self.dir.join(n).display().to_string()
    }
    fn read(&self, n: &str) -> String {
        std::fs::read_to_string(self.dir.join(n)).unwrap()
    }
    /// A server certificate for `names` signed by this CA: (cert, key).
    fn leaf(&self, stem: &str, names: &[&str]) -> (String, String) {
        let san = names
            .iter()
            .map(|n| format!("DNS:{n}"))
            .collect::<Vec<_>>()
            .join(",");
        let (ok, out) = openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &self.path(&format!("{stem}.key")),
            "-out",
            &self.path(&format!("{stem}.csr")),
            "-subj",
            &format!("/CN={}", names[0]),
        ]);
        assert!(ok, "{out}");
        write(
            &self.dir,
            "ext.cnf",
            &format!("subjectAltName={san}\nextendedKeyUsage=serverAuth\n"),
        );
        let (ok, out) = openssl(&[
            "x509",
            "-req",
            "-in",
            &self.path(&format!("{stem}.csr")),
            "-CA",
            &self.path("ca.pem"),
            "-CAkey",
            &self.path("ca.key"),
            "-CAcreateserial",
            "-days",
            "90",
            "-extfile",
            &self.path("ext.cnf"),
            "-out",
            &self.path(&format!("{stem}.pem")),
        ]);
        assert!(ok, "{out}");
        (
            self.read(&format!("{stem}.pem")),
            self.read(&format!("{stem}.key")),
        )
    }
}

both! {
    async fn uploads_are_checked(t: TestApp) {
        let (rita, rita_t) = t.user("rita").await;
        let (aaron, aaron_t) = t.user("aaron").await;
        t.grant("user", aaron, "resource_request", &["enable_resource_req", "approve_ssl_cert_req"]).await;
        let pki = Pki::new(work_dir(&t, "pki"), "Corp Root");
        let other = Pki::new(work_dir(&t, "pki2"), "Other Root");
        let (cert, key) = pki.leaf("www", &["www.example.net", "example.net"]);
        let (_, other_key) = pki.leaf("x", &["x.example.net"]);
        let ca = pki.read("ca.pem");
        let req = ssl_request(&t, rita, "www.example.net", "normal", &[]).await;
        let approver = user_actor(aaron, "aaron");
        let up = |cert: &str, chain: Option<&str>, key: Option<&str>| CertUpload {
            cert_pem: cert.into(),
            chain_pem: chain.map(str::to_string),
            key_pem: key.map(str::to_string),
            associated_app: None,
        };
        let store = |r: Option<resource_request::Model>, input: CertUpload| {
            let ctx = t.ctx.clone();
            let approver = approver.clone();
            async move {
                let txn = app::db::begin(&ctx.db).await.unwrap();
                let res = service::store_uploaded(&txn, &ctx, &approver, r.as_ref(), input).await;
                if res.is_ok() {
                    txn.commit().await.unwrap();
                }
                res
            }
        };
        // Each refusal is a 400 naming its field, and stores nothing.
        let field = |e: app::error::AppError| (e.error_code, e.field.unwrap_or_default(), e.message);
        let (code, f, _) = field(store(Some(req.clone()), up("not pem", None, None)).await.unwrap_err());
        assert_eq!((code, f.as_str()), (40000, "cert_pem"));
        let (_, f, m) = field(store(Some(req.clone()), up("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", None, None)).await.unwrap_err());
        assert_eq!(f, "cert_pem", "{m}");
        let (_, f, m) = field(store(Some(req.clone()), up(&cert, Some(&ca), Some(&other_key))).await.unwrap_err());
        assert_eq!(f, "key_pem");
        assert!(m.contains("does not belong"), "{m}");
        let (_, f, m) = field(store(Some(req.clone()), up(&cert, Some(&ca), Some("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))).await.unwrap_err());
        assert_eq!(f, "key_pem", "{m}");
        let (_, f, m) = field(store(Some(req.clone()), up(&cert, Some(&other.read("ca.pem")), Some(&key))).await.unwrap_err());
        assert_eq!(f, "chain_pem", "{m}");
        let (_, f, m) = field(store(Some(req.clone()), up(&ca, None, None)).await.unwrap_err());
        assert_eq!(f, "cert_pem", "{m}");
        let wild_req = ssl_request(&t, rita, "example.net", "wizard", &[]).await;
        let (_, f, m) = field(store(Some(wild_req.clone()), up(&cert, Some(&ca), Some(&key))).await.unwrap_err());
        assert_eq!(f, "cert_pem");
        assert!(m.contains("does not cover *.example.net"), "{m}");
        // An expired certificate (issued 400 days ago for 30 days).
        let past = chrono::Utc::now() - chrono::Duration::days(400);
        let old_ca = app::certs::ca::generate_ca(past, &[]).unwrap();
        let expired = app::certs::ca::issue_leaf(&old_ca, &["www.example.net".into()], past, 30).unwrap();
        let (_, f, m) = field(store(Some(req.clone()), up(&expired.cert_pem, Some(&old_ca.cert_pem), Some(&expired.key_pem))).await.unwrap_err());
        assert_eq!(f, "cert_pem");
        assert!(m.contains("expired"), "{m}");
        assert_eq!(certificate::Entity::find().count(&t.ctx.db).await.unwrap(), 0);

        // A good one finishes the request: the requester owns it and takes the key back.
        let id = store(Some(req.clone()), up(&format!("{cert}{ca}"), None, Some(&key))).await.unwrap();
        let d = t.get(&format!("/api/certificates/{id}/"), Auth::Token(&rita_t)).await.ok();
        assert_eq!((d["source"].as_str(), d["owner"].as_str(), d["request_id"].as_i64()), (Some("upload"), Some("rita"), Some(req.id)));
        assert_eq!(d["names"], json!(["www.example.net", "example.net"]));
        assert_eq!(d["chain_pem"].as_str().unwrap().trim(), ca.trim(), "the fullchain's tail became the chain");
        assert_eq!(download(&t, id, "key", Auth::Token(&rita_t)).await.trim(), key.trim());
        // One certificate per request.
        assert_eq!(store(Some(req.clone()), up(&cert, Some(&ca), None)).await.unwrap_err().error_code, 40900);
        assert_eq!(service::issue_for_request(&t.ctx, &req).await.unwrap(), id);
        let uploads: Vec<Value> = t.audit("cert").await.into_iter().filter(|a| a["op_type"] == "upload").collect();
        assert_eq!(uploads.len(), 1);
        assert_eq!(uploads[0]["operator"], "aaron");

        // Without a request: POST /api/certificates/, approvers only; the uploader owns it.
        let (cert2, _) = pki.leaf("api", &["api.example.net"]);
        t.post("/api/certificates/", Auth::Token(&rita_t), json!({"cert_pem": cert2})).await.err(403, 40300);
        t.post("/api/certificates/", Auth::None, json!({"cert_pem": cert2})).await.err(401, 40100);
        let e = t.post("/api/certificates/", Auth::Token(&aaron_t), json!({"cert_pem": "junk"})).await.err(400, 40000);
        assert_eq!(e["field"], "cert_pem");
        let e = t.post("/api/certificates/", Auth::Token(&aaron_t), json!({"cert_pem": cert2, "associate_app": [424242]})).await.err(400, 40000);
        assert_eq!(e["field"], "associated_app[0]");
        let c = t.post("/api/certificates/", Auth::Token(&aaron_t), json!({"cert_pem": cert2})).await;
        assert_eq!(c.status, 201, "{}", c.json);
        assert_eq!(c.json["owner"], "aaron");
        assert_eq!(c.json["has_key"], false);
        let cid = c.json["id"].as_i64().unwrap();
        t.get(&format!("/api/certificates/{cid}/download/key/"), Auth::Token(&aaron_t)).await.err(404, 40400);
        t.get(&format!("/api/certificates/{cid}/download/chain/"), Auth::Token(&aaron_t)).await.err(404, 40400);
        download(&t, cid, "cert", Auth::Token(&aaron_t)).await;
    }
}

/// The mails in the mail directory: (to, subject, text, html).
fn mails(dir: &Path) -> Vec<Value> {
    decoded_mails(dir)
}

async fn set_not_after(t: &TestApp, id: i64, days: i64) {
    certificate::Entity::update_many()
        .col_expr(
            certificate::Column::NotAfter,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() + chrono::Duration::days(days)),
        )
        .filter(certificate::Column::Id.eq(id))
        .exec(&t.ctx.db)
        .await
        .unwrap();
}

both! {
    async fn expiry_mail_once_per_threshold_in_the_owners_language(t: TestApp) {
        let (rita, _) = t.user("rita").await;
        let (olga, _) = t.user("olga").await;
        let u = app::entities::user::Entity::find_by_id(rita).one(&t.ctx.db).await.unwrap().unwrap();
        let mut u: app::entities::user::ActiveModel = u.into();
        u.locale = Set("zh".into());
        u.update(&t.ctx.db).await.unwrap();
        let app = app_with_owner(&t, "shop", olga).await;
        let req = ssl_request(&t, rita, "shop.example.com", "wizard", &[app]).await;
        let id = service::issue_for_request(&t.ctx, &req).await.unwrap();
        let late = ssl_request(&t, rita, "late.example.com", "normal", &[]).await;
        let late_id = service::issue_for_request(&t.ctx, &late).await.unwrap();
        let mail_dir = PathBuf::from(&t.ctx.config.mail_dir);

        // A fresh certificate: nothing to say.
        assert_eq!(service::sweep(&t.ctx).await.unwrap(), 0);
        // 20 days left: the 30-day notice, once, to the owner (zh) and the application's owner (en).
        set_not_after(&t, id, 20).await;
        assert_eq!(service::sweep(&t.ctx).await.unwrap(), 1);
        assert_eq!(service::sweep(&t.ctx).await.unwrap(), 0);
        app::jobs::run_due(&t.ctx).await.unwrap();
        let m = mails(&mail_dir);
        assert_eq!(m.len(), 2, "{m:?}");
        let zh = m.iter().find(|x| x["to"] == "rita@example.test").unwrap();
        let en = m.iter().find(|x| x["to"] == "olga@example.test").unwrap();
        let link = format!("http://opsdeck.test/certificates/{id}");
        assert!(zh["subject"].as_str().unwrap().contains("证书 shop.example.com 将在 19 天后过期"), "{zh}");
        assert!(zh["text"].as_str().unwrap().contains("*.shop.example.com, shop.example.com"), "{zh}");
        assert!(zh["text"].as_str().unwrap().contains(&link) && zh["html"].as_str().unwrap().contains(&link), "{zh}");
        assert!(zh["text"].as_str().unwrap().contains("剩余 19 天"), "{zh}");
        assert!(en["subject"].as_str().unwrap().contains("Certificate for shop.example.com expires in 19 days"), "{en}");
        assert!(en["html"].as_str().unwrap().contains("<a href=\"http://opsdeck.test/certificates/"), "{en}");
        // 5 days left: the 7-day notice, once.
        set_not_after(&t, id, 5).await;
        assert_eq!(service::sweep(&t.ctx).await.unwrap(), 1);
        assert_eq!(service::sweep(&t.ctx).await.unwrap(), 0);
        // A certificate first seen 3 days before expiry gets the 7-day notice only.
        set_not_after(&t, late_id, 3).await;
        assert_eq!(service::sweep(&t.ctx).await.unwrap(), 1);
        assert_eq!(service::sweep(&t.ctx).await.unwrap(), 0);
        app::jobs::run_due(&t.ctx).await.unwrap();
        let m = mails(&mail_dir);
        assert_eq!(m.len(), 5, "{m:?}");
        assert_eq!(m.iter().filter(|x| x["subject"].as_str().unwrap().contains("4 天后过期")).count(), 1);
        assert_eq!(m.iter().filter(|x| x["subject"].as_str().unwrap().contains("expires in 4 days")).count(), 1);
        assert_eq!(m.iter().filter(|x| x["subject"].as_str().unwrap().contains("late.example.com")).count(), 1);
        let rows = certificate::Entity::find().all(&t.ctx.db).await.unwrap();
        assert!(rows.iter().all(|r| r.expiry_notice == 7));
        // Expired certificates are not mailed about.
        set_not_after(&t, id, -1).await;
        assert_eq!(service::sweep(&t.ctx).await.unwrap(), 0);
        assert_eq!(t.audit("cert").await.into_iter().filter(|a| a["op_type"] == "expiry_notice").count(), 3);

        // The daily job: queued once a day, however often the runner asks; it runs the sweep.
        assert!(app::jobs::schedule_daily(&t.ctx, "cert_expiry").await.unwrap());
        assert!(!app::jobs::schedule_daily(&t.ctx, "cert_expiry").await.unwrap());
        set_not_after(&t, id, 25).await;
        certificate::Entity::update_many()
            .col_expr(certificate::Column::ExpiryNotice, sea_orm::sea_query::Expr::value(0))
            .filter(certificate::Column::Id.eq(id))
            .exec(&t.ctx.db)
            .await
            .unwrap();
        app::jobs::run_due(&t.ctx).await.unwrap();
        app::jobs::run_due(&t.ctx).await.unwrap();
        assert_eq!(mails(&mail_dir).len(), 7);
        let jobs = app::entities::job::Entity::find()
            .filter(app::entities::job::Column::Kind.eq("cert_expiry"))
            .all(&t.ctx.db)
            .await
            .unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].status, "done");
        // A day later it is due again.
        app::entities::setting::Entity::update_many()
            .col_expr(app::entities::setting::Column::Value, sea_orm::sea_query::Expr::value((chrono::Utc::now() - chrono::Duration::hours(25)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
            .filter(app::entities::setting::Column::Name.eq("cert_expiry_last_run"))
            .exec(&t.ctx.db)
            .await
            .unwrap();
        assert!(app::jobs::schedule_daily(&t.ctx, "cert_expiry").await.unwrap());
        assert!(!app::jobs::schedule_daily(&t.ctx, "cert_expiry").await.unwrap());
    }
}

both! {
    async fn an_operator_ca_is_used_and_a_mismatched_key_refused(b: Backend) {
        let dir = std::env::temp_dir().join(format!("opsdeck-certs-ca-{}-{}", std::process::id(), app::security::random_token(4)));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki::new(dir.join("a"), "Corp Issuing CA");
        let other = Pki::new(dir.join("b"), "Other CA");
        let (cert_path, key_path) = (pki.path("ca.pem"), pki.path("ca.key"));
        let t = TestApp::with_config(b, |c| {
            c.ca_cert_path = Some(cert_path.clone());
            c.ca_key_path = Some(key_path.clone());
        })
        .await;
        let (rita, rita_t) = t.user("rita").await;
        let req = ssl_request(&t, rita, "corp.example.com", "wizard", &[]).await;
        let id = service::issue_for_request(&t.ctx, &req).await.unwrap();
        let cert = download(&t, id, "cert", Auth::Token(&rita_t)).await;
        let cert_file = write(&dir, "leaf.pem", &cert);
        let (ok, out) = openssl(&["verify", "-CAfile", &cert_path, &cert_file]);
        assert!(ok, "{out}");
        assert_eq!(download(&t, id, "chain", Auth::Token(&rita_t)).await, pki.read("ca.pem"));
        assert_eq!(t.get("/api/certificates/ca/", Auth::Token(&rita_t)).await.ok().as_str().unwrap(), pki.read("ca.pem"));
        assert!(t.get(&format!("/api/certificates/{id}/"), Auth::Token(&rita_t)).await.ok()["issuer"].as_str().unwrap().contains("Corp Issuing CA"));
        assert_eq!(cert_authority::Entity::find().count(&t.ctx.db).await.unwrap(), 0, "no CA generated");
        drop(t);

        // A key that is not the certificate's: nothing is issued, and the error says why.
        let other_key = other.path("ca.key");
        let t = TestApp::with_config(b, |c| {
            c.ca_cert_path = Some(cert_path.clone());
            c.ca_key_path = Some(other_key.clone());
        })
        .await;
        let (rita, rita_t) = t.user("rita").await;
        let req = ssl_request(&t, rita, "corp.example.com", "normal", &[]).await;
        // Users get a generic 503: file paths and OS errors are for the operator's log.
        let e = service::issue_for_request(&t.ctx, &req).await.unwrap_err();
        assert_eq!(e.error_code, 50300);
        assert_eq!(e.message, service::CA_UNUSABLE);
        let r = t.get("/api/certificates/ca/", Auth::Token(&rita_t)).await.err(503, 50300);
        assert_eq!(r["message"], service::CA_UNUSABLE);
        assert!(!r.to_string().contains(&dir.display().to_string()), "{r}");
        // The fulfilment note the requester reads says the same, nothing more.
        let _ = app::requests::service::fulfil(&t.ctx, req.id).await;
        let note = resource_request::Entity::find_by_id(req.id).one(&t.ctx.db).await.unwrap().unwrap().fulfilment_note.unwrap();
        assert!(note.contains(service::CA_UNUSABLE) && !note.contains(&dir.display().to_string()), "{note}");
        assert_eq!(certificate::Entity::find().count(&t.ctx.db).await.unwrap(), 0);
        assert_eq!(cert_authority::Entity::find().count(&t.ctx.db).await.unwrap(), 0);
        drop(t);

        // An unreadable key file: no path, no OS error in the answer.
        let missing = dir.join("nowhere").join("ca.key").display().to_string();
        let t = TestApp::with_config(b, |c| {
            c.ca_cert_path = Some(cert_path.clone());
            c.ca_key_path = Some(missing.clone());
        })
        .await;
        let (_, rita_t) = t.user("rita").await;
        let r = t.get("/api/certificates/ca/", Auth::Token(&rita_t)).await.err(503, 50300);
        assert_eq!(r["message"], service::CA_UNUSABLE);
        let body = r.to_string();
        assert!(!body.contains("nowhere") && !body.contains("No such file") && !body.contains("OPSDECK_CA_KEY"), "{body}");
        drop(t);
        std::fs::remove_dir_all(dir).ok();
    }
}

both! {
    async fn one_ca_under_twenty_concurrent_first_issues(t: TestApp) {
        let (rita, _) = t.user("rita").await;
        let mut reqs = vec![];
        for i in 0..20 {
            reqs.push(ssl_request(&t, rita, &format!("s{i}.example.com"), "normal", &[]).await);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for r in reqs.clone() {
            let ctx = t.ctx.clone();
            tasks.spawn(async move { service::issue_for_request(&ctx, &r).await });
        }
        // And five fulfilments of one request at once.
        for _ in 0..5 {
            let ctx = t.ctx.clone();
            let r = reqs[0].clone();
            tasks.spawn(async move { service::issue_for_request(&ctx, &r).await });
        }
        let mut ids = vec![];
        while let Some(r) = tasks.join_next().await {
            ids.push(r.unwrap().expect("every issue succeeds"));
        }
        assert_eq!(cert_authority::Entity::find().count(&t.ctx.db).await.unwrap(), 1);
        let rows = certificate::Entity::find().all(&t.ctx.db).await.unwrap();
        assert_eq!(rows.len(), 20, "one certificate per request");
        let first = rows.iter().find(|c| c.request_id == Some(reqs[0].id)).unwrap().id;
        assert_eq!(ids.iter().filter(|i| **i == first).count(), 6);
        let ca = cert_authority::Entity::find().one(&t.ctx.db).await.unwrap().unwrap();
        assert!(rows.iter().all(|c| c.chain_pem == ca.cert_pem));
        assert_eq!(t.audit("cert").await.into_iter().filter(|a| a["op_type"] == "ca_create").count(), 1);
        // Every one of them verifies against that CA.
        let d = work_dir(&t, "many");
        let ca_file = write(&d, "ca.pem", &ca.cert_pem);
        let mut args = vec!["verify".to_string(), "-CAfile".into(), ca_file];
        for (i, c) in rows.iter().enumerate() {
            args.push(write(&d, &format!("{i}.pem"), &c.cert_pem));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, out) = openssl(&args);
        assert!(ok && out.matches(": OK").count() == 20, "{out}");
    }
}

both! {
    async fn a_later_application_owner_never_takes_the_key(t: TestApp) {
        let (rita, rita_t) = t.user("rita").await;
        let (olga, olga_t) = t.user("olga").await;
        let (mallory, mallory_t) = t.user("mallory").await;
        let (aaron, aaron_t) = t.user("aaron").await;
        t.grant("user", aaron, "resource_request", &["enable_resource_req", "approve_ssl_cert_req"]).await;
        let app = app_with_owner(&t, "shop", olga).await;
        // Mallory may edit the application, so she may make herself one of its owners.
        t.post(&format!("/api/users/{mallory}/application/perms/"), t.admin(), json!({"authorizations": [{"id": app, "permission": {"edit_app": true, "view_app": true}}]})).await.ok();
        let req = ssl_request(&t, rita, "shop.example.com", "normal", &[app]).await;
        let id = service::issue_for_request(&t.ctx, &req).await.unwrap();
        let issue = t.audit("cert").await.into_iter().find(|a| a["op_type"] == "issue").unwrap();
        assert_eq!(issue["detail"]["key_holders"], json!([rita, olga]), "{issue}");
        t.get(&format!("/api/certificates/{id}/"), Auth::Token(&mallory_t)).await.err(404, 40400);

        t.post(&format!("/api/applications/{app}/response-person/"), Auth::Token(&mallory_t), json!([{"id": mallory, "type": "dev"}])).await.ok();
        // Now an owner: she sees the certificate and takes what is public, never the key.
        let d = t.get(&format!("/api/certificates/{id}/"), Auth::Token(&mallory_t)).await.ok();
        assert_eq!(d["may_download_key"], false, "{d}");
        let l = t.get("/api/certificates/", Auth::Token(&mallory_t)).await.ok();
        assert_eq!((l["count"].as_i64(), l["results"][0]["may_download_key"].as_bool()), (Some(1), Some(false)), "{l}");
        download(&t, id, "cert", Auth::Token(&mallory_t)).await;
        download(&t, id, "fullchain", Auth::Token(&mallory_t)).await;
        let e = t.get(&format!("/api/certificates/{id}/download/key/"), Auth::Token(&mallory_t)).await.err(403, 40300);
        assert!(!e.to_string().contains("PRIVATE KEY"), "{e}");
        // Those who held it at issue still do; superusers too.
        for tok in [&rita_t, &olga_t] {
            assert!(download(&t, id, "key", Auth::Token(tok)).await.contains("PRIVATE KEY"));
            assert_eq!(t.get(&format!("/api/certificates/{id}/"), Auth::Token(tok)).await.ok()["may_download_key"], true);
        }
        assert!(download(&t, id, "key", t.admin()).await.contains("PRIVATE KEY"));
        // Removed and added back as an owner: still a key holder (fixed at issue), seen again.
        t.call(axum::http::Method::DELETE, &format!("/api/applications/{app}/response-person/"), t.admin(), Some(json!([{"id": olga}]))).await.ok();
        t.get(&format!("/api/certificates/{id}/download/key/"), Auth::Token(&olga_t)).await.err(404, 40400);

        // An upload fixes its holders the same way: the uploader and the owners at that moment.
        let pki = Pki::new(work_dir(&t, "pki"), "Corp Root");
        let (cert, key) = pki.leaf("api", &["api.example.net"]);
        t.post(&format!("/api/users/{aaron}/application/perms/"), t.admin(), json!({"authorizations": [{"id": app, "permission": {"view_app": true}}]})).await.ok();
        let c = t.post("/api/certificates/", Auth::Token(&aaron_t), json!({"cert_pem": cert, "chain_pem": pki.read("ca.pem"), "key_pem": key, "associated_app": [app]})).await;
        assert_eq!(c.status, 201, "{}", c.json);
        let up = c.json["id"].as_i64().unwrap();
        assert_eq!(c.json["may_download_key"], true);
        assert!(download(&t, up, "key", Auth::Token(&mallory_t)).await.contains("PRIVATE KEY"), "an owner at upload time");
        let (nina, nina_t) = t.user("nina").await;
        t.post(&format!("/api/applications/{app}/response-person/"), t.admin(), json!([{"id": nina, "type": "qa"}])).await.ok();
        download(&t, up, "cert", Auth::Token(&nina_t)).await;
        t.get(&format!("/api/certificates/{up}/download/key/"), Auth::Token(&nina_t)).await.err(403, 40300);
        let keys: Vec<String> = t.audit("cert").await.into_iter().filter(|a| a["op_type"] == "download" && a["detail"]["part"] == "key").map(|a| a["operator"].as_str().unwrap().to_string()).collect();
        assert!(!keys.contains(&"nina".to_string()) && keys.iter().filter(|k| *k == "mallory").count() == 1, "{keys:?}");
    }
}

both! {
    async fn an_upload_attaches_only_applications_the_uploader_sees(t: TestApp) {
        let (aaron, aaron_t) = t.user("aaron").await;
        let (olga, _) = t.user("olga").await;
        t.grant("user", aaron, "resource_request", &["enable_resource_req", "approve_ssl_cert_req"]).await;
        let hidden = app_with_owner(&t, "payroll", olga).await;
        let seen = app_with_owner(&t, "shop", olga).await;
        t.post(&format!("/api/users/{aaron}/application/perms/"), t.admin(), json!({"authorizations": [{"id": seen, "permission": {"view_app": true}}]})).await.ok();
        let pki = Pki::new(work_dir(&t, "pki"), "Corp Root");
        let (cert, _) = pki.leaf("api", &["api.example.net"]);
        // A hidden application and a missing one read the same.
        let e1 = t.post("/api/certificates/", Auth::Token(&aaron_t), json!({"cert_pem": cert, "associated_app": [seen, hidden]})).await.err(400, 40000);
        let e2 = t.post("/api/certificates/", Auth::Token(&aaron_t), json!({"cert_pem": cert, "associated_app": [seen, 987654]})).await.err(400, 40000);
        assert_eq!((&e1["field"], &e1["message"]), (&json!("associated_app[1]"), &json!("unknown application")), "{e1}");
        assert_eq!((&e1["field"], &e1["message"]), (&e2["field"], &e2["message"]));
        assert_eq!(certificate::Entity::find().count(&t.ctx.db).await.unwrap(), 0);
        // The same application twice is attached once.
        let c = t.post("/api/certificates/", Auth::Token(&aaron_t), json!({"cert_pem": cert, "associated_app": [seen, seen]})).await;
        assert_eq!(c.status, 201, "{}", c.json);
        assert_eq!(c.json["app_ids"], json!([seen]));
    }
}

both! {
    async fn uploaded_names_must_be_dns_names(t: TestApp) {
        let (aaron, aaron_t) = t.user("aaron").await;
        t.grant("user", aaron, "resource_request", &["enable_resource_req", "approve_ssl_cert_req"]).await;
        let now = chrono::Utc::now();
        let ca = app::certs::ca::generate_ca(now, &[]).unwrap();
        for bad in ["evil\u{1b}[31m.example.net", "a b.example.net", "x\ny.example.net", "under_score.example.net", "-x.example.net"] {
            let leaf = app::certs::ca::issue_leaf(&ca, &["ok.example.net".into(), bad.into()], now, 30).unwrap();
            let e = t.post("/api/certificates/", Auth::Token(&aaron_t), json!({"cert_pem": leaf.cert_pem, "chain_pem": ca.cert_pem})).await.err(400, 40000);
            assert_eq!(e["field"], "cert_pem", "{bad:?}: {e}");
            assert!(e["message"].as_str().unwrap().contains("not a DNS name"), "{bad:?}: {e}");
            assert!(!e["message"].as_str().unwrap().contains('\u{1b}'), "{e}");
        }
        assert_eq!(certificate::Entity::find().count(&t.ctx.db).await.unwrap(), 0);
        // Wildcards and plain names pass.
        let leaf = app::certs::ca::issue_leaf(&ca, &["*.example.net".into(), "example.net".into()], now, 30).unwrap();
        let c = t.post("/api/certificates/", Auth::Token(&aaron_t), json!({"cert_pem": leaf.cert_pem, "chain_pem": ca.cert_pem})).await;
        assert_eq!(c.status, 201, "{}", c.json);
        assert_eq!(c.json["names"], json!(["*.example.net", "example.net"]));
    }
}

both! {
    async fn no_wildcard_directly_under_a_public_suffix(t: TestApp) {
        let (rita, _) = t.user("rita").await;
        for (domain, ctype) in [("co.uk", "wizard"), ("*.com.cn", "normal"), ("*.org.cn", "wizard"), ("com.au", "wizard"), ("*.com", "normal"), ("net.cn", "wizard")] {
            let r = ssl_request(&t, rita, domain, ctype, &[]).await;
            let e = service::issue_for_request(&t.ctx, &r).await.unwrap_err();
            assert_eq!((e.error_code, e.field.as_deref()), (40000, Some("domain")), "{domain}: {}", e.message);
        }
        let e = service::requested_names("*.co.uk", "normal").unwrap_err();
        assert!(e.message.contains("public suffix"), "{}", e.message);
        assert_eq!(certificate::Entity::find().count(&t.ctx.db).await.unwrap(), 0);
        // One level further down is a registrant's own zone; a plain name under a suffix is fine.
        for (domain, ctype) in [("example.co.uk", "wizard"), ("*.shop.com.cn", "normal"), ("example.com", "wizard")] {
            let r = ssl_request(&t, rita, domain, ctype, &[]).await;
            service::issue_for_request(&t.ctx, &r).await.unwrap();
        }
        assert_eq!(service::requested_names("co.uk", "normal").unwrap(), vec!["co.uk"]);
    }
}

both! {
    async fn permitted_domains_limit_issuing_and_constrain_the_generated_ca(b: Backend) {
        let t = TestApp::with_config(b, |c| {
            c.ca_permitted_domains = vec!["example.com".into(), "corp.internal".into()];
        })
        .await;
        let (rita, _) = t.user("rita").await;
        // Outside: refused before any CA exists, with a reason the fulfilment shows.
        let out = ssl_request(&t, rita, "shop.example.org", "normal", &[]).await;
        let e = service::issue_for_request(&t.ctx, &out).await.unwrap_err();
        assert_eq!((e.error_code, e.field.as_deref()), (40000, Some("domain")));
        assert!(e.message.contains("shop.example.org is outside") && e.message.contains("example.com, corp.internal"), "{}", e.message);
        let lookalike = ssl_request(&t, rita, "badexample.com", "wizard", &[]).await;
        assert_eq!(service::issue_for_request(&t.ctx, &lookalike).await.unwrap_err().field.as_deref(), Some("domain"));
        let _ = app::requests::service::fulfil(&t.ctx, out.id).await;
        let note = resource_request::Entity::find_by_id(out.id).one(&t.ctx.db).await.unwrap().unwrap().fulfilment_note.unwrap();
        assert!(note.contains("outside the domains"), "{note}");
        assert_eq!(cert_authority::Entity::find().count(&t.ctx.db).await.unwrap(), 0);
        assert_eq!(certificate::Entity::find().count(&t.ctx.db).await.unwrap(), 0);

        // Inside: issued, from a CA carrying the name constraints.
        let ok = ssl_request(&t, rita, "example.com", "wizard", &[]).await;
        let id = service::issue_for_request(&t.ctx, &ok).await.unwrap();
        let ok2 = ssl_request(&t, rita, "db.corp.internal", "normal", &[]).await;
        service::issue_for_request(&t.ctx, &ok2).await.unwrap();
        let row = cert_authority::Entity::find().one(&t.ctx.db).await.unwrap().unwrap();
        let d = work_dir(&t, "nc");
        let ca_file = write(&d, "ca.pem", &row.cert_pem);
        let (ok_, text) = openssl(&["x509", "-in", &ca_file, "-noout", "-text"]);
        assert!(ok_ && text.contains("X509v3 Name Constraints: critical"), "{text}");
        assert!(text.contains("DNS:example.com") && text.contains("DNS:corp.internal"), "{text}");
        let leaf = certificate::Entity::find_by_id(id).one(&t.ctx.db).await.unwrap().unwrap();
        let (ok_, out_) = openssl(&["verify", "-CAfile", &ca_file, &write(&d, "leaf.pem", &leaf.cert_pem)]);
        assert!(ok_, "{out_}");
        // Anything else that CA signed would be rejected by clients (openssl here).
        let key = app::crypto::Keyring::from_config(&t.ctx.config).unwrap().decrypt(&row.key_enc, "cert_authorities.key_enc").unwrap();
        let authority = app::certs::ca::KeyedCert { cert_pem: row.cert_pem.clone(), key_pem: key };
        let rogue = app::certs::ca::issue_leaf(&authority, &["www.example.org".into()], chrono::Utc::now(), 30).unwrap();
        let (ok_, out_) = openssl(&["verify", "-CAfile", &ca_file, &write(&d, "rogue.pem", &rogue.cert_pem)]);
        assert!(!ok_ && out_.contains("subtree violation"), "{out_}");
        // And the CA's own constraints are read back.
        assert_eq!(app::certs::ca::constrained_out(&row.cert_pem, &["a.example.org".into(), "*.example.com".into(), "corp.internal".into()]).unwrap(), vec!["a.example.org"]);
    }
}
