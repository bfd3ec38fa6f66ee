//! Outgoing mail: SMTP through lettre, or `.eml` files in the mail directory when SMTP is not set.
use crate::ctx::Config;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

/// A mail, the payload of a `mail` job: plain text, and an HTML alternative when `html` is set.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// What a `mail` job keeps once the mail was delivered or given up: recipient and subject, no
/// body (a password-reset body holds a live link, which must not stay in `jobs.payload`).
pub fn without_body(payload: &str) -> String {
    match serde_json::from_str::<Mail>(payload) {
        Ok(m) => serde_json::to_string(&Mail {
            body: String::new(),
            html: None,
            ..m
        })
        .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Sends one mail; an error is worth a retry.
pub async fn send(config: &Config, mail: &Mail) -> Result<(), String> {
    let from: Mailbox = config
        .mail_from
        .parse()
        .map_err(|e| format!("bad OPSDECK_MAIL_FROM: {e}"))?;
    let to: Mailbox = mail.to.parse().map_err(|e| format!("bad recipient: {e}"))?;
    let builder = Message::builder().from(from).to(to).subject(&mail.subject);
    let msg = match &mail.html {
        Some(html) => builder.multipart(lettre::message::MultiPart::alternative_plain_html(
            mail.body.clone(),
            html.clone(),
        )),
        None => builder.body(mail.body.clone()),
    }
    .map_err(|e| e.to_string())?;
    match &config.smtp {
        Some(s) => {
            let mut b = match s.security.as_str() {
                "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)
                    .map_err(|e| e.to_string())?,
                "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                    .map_err(|e| e.to_string())?,
                _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
            }
            .port(s.port)
            .timeout(Some(std::time::Duration::from_secs(20)));
            if let (Some(u), Some(p)) = (&s.username, &s.password) {
                b = b.credentials(Credentials::new(u.clone(), p.clone()));
            }
            b.build()
                .send(msg)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        None => {
            let dir = std::path::Path::new(&config.mail_dir);
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| e.to_string())?;
            let name = format!(
                "{}-{}.eml",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
                crate::security::random_token(4)
            );
            tokio::fs::write(dir.join(name), msg.formatted())
                .await
                .map_err(|e| e.to_string())
        }
    }
}
