//! Encryption of stored secrets (credentials that later domains keep: SSH passwords, API keys of
//! other systems) under `OPSDECK_SECRET_KEY`.
//!
//! - Cipher: XChaCha20-Poly1305 (the RustCrypto `chacha20poly1305` crate), a random 24-byte nonce
//!   per value, so values need no counter and may be encrypted by several processes at once.
//! - Key: `SHA-256("opsdeck/secret-storage/v1\0" || secret)`. A domain-separated hash is enough
//!   because the secret is a high-entropy random value (the generated `data/secret.key` is 32
//!   random bytes; operators are told to set a long random value); it is not a password KDF.
//! - Key id: the first 8 hex digits of `SHA-256("opsdeck/secret-key-id/v1\0" || secret)`: names
//!   the key a value was written with without revealing anything about the key itself.
//! - Stored form: `v1:<key-id>:<base64url(nonce || ciphertext+tag)>`. The associated data is
//!   `v1:<key-id>:<context>`, where `context` names the column (`hosts.ssh_password`, say), so a
//!   value copied into another column, or its key id edited, does not decrypt.
//! - Rotation: set the new key in `OPSDECK_SECRET_KEY` and list the previous ones, comma separated,
//!   in `OPSDECK_SECRET_KEY_OLD` (used only to decrypt); run `opsdeck rotate-secrets`, which
//!   re-encrypts every value of every column in `SECRET_COLUMNS` that is not under the current
//!   key; then drop the old key from `OPSDECK_SECRET_KEY_OLD`.
use crate::ctx::{Config, Ctx};
use crate::error::{AppError, AppResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sea_orm::{ConnectionTrait, Statement};
use sha2::{Digest, Sha256};

const VERSION: &str = "v1";
const KEY_LABEL: &[u8] = b"opsdeck/secret-storage/v1\0";
const ID_LABEL: &[u8] = b"opsdeck/secret-key-id/v1\0";
const NONCE_LEN: usize = 24;

/// A column that holds encrypted values, for `rotate`: `table.column`, keyed by `id`.
#[derive(Clone, Copy, Debug)]
pub struct SecretColumn {
    pub table: &'static str,
    pub id: &'static str,
    pub column: &'static str,
    /// The associated-data context values of this column are encrypted with.
    pub context: &'static str,
}

/// Every column that stores encrypted secrets. A domain that adds one registers it here, so
/// `opsdeck rotate-secrets` re-encrypts it.
pub const SECRET_COLUMNS: &[SecretColumn] = &[
    SecretColumn {
        table: "repository_credentials",
        id: "id",
        column: "password_enc",
        context: "repository_credentials.password_enc",
    },
    SecretColumn {
        table: "cloud_accounts",
        id: "id",
        column: "secret_enc",
        context: "cloud_accounts.secret_enc",
    },
    SecretColumn {
        table: "ssh_credentials",
        id: "id",
        column: "secret_enc",
        context: "ssh_credentials.secret_enc",
    },
    SecretColumn {
        table: "ssh_credentials",
        id: "id",
        column: "passphrase_enc",
        context: "ssh_credentials.passphrase_enc",
    },
    SecretColumn {
        table: "cert_authorities",
        id: "id",
        column: "key_enc",
        context: "cert_authorities.key_enc",
    },
    SecretColumn {
        table: "certificates",
        id: "id",
        column: "key_enc",
        context: "certificates.key_enc",
    },
    SecretColumn {
        table: "dns_services",
        id: "id",
        column: "api_key_enc",
        context: "dns_services.api_key_enc",
    },
    SecretColumn {
        table: "dns_services",
        id: "id",
        column: "tsig_secret_enc",
        context: "dns_services.tsig_secret_enc",
    },
];

struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn from_secret(secret: &str) -> AppResult<Key> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(AppError::internal("secret key is empty"));
        }
        let key = Sha256::new()
            .chain_update(KEY_LABEL)
            .chain_update(secret.as_bytes())
            .finalize();
        let id = Sha256::new()
            .chain_update(ID_LABEL)
            .chain_update(secret.as_bytes())
            .finalize();
        Ok(Key {
            id: hex::encode(&id[..4]),
            cipher: XChaCha20Poly1305::new(&key),
        })
    }
}

fn aad(key_id: &str, context: &str) -> String {
    format!("{VERSION}:{key_id}:{context}")
}

/// The current key (encrypts and decrypts) and previous keys (decrypt only).
pub struct Keyring {
    current: Key,
    old: Vec<Key>,
}

impl Keyring {
    /// A keyring of `current` and the previous secrets `old`.
    pub fn new(current: &str, old: &[String]) -> AppResult<Keyring> {
        Ok(Keyring {
            current: Key::from_secret(current)?,
            old: old
                .iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| Key::from_secret(s))
                .collect::<AppResult<_>>()?,
        })
    }

    /// The keyring of the configuration (`OPSDECK_SECRET_KEY`, `OPSDECK_SECRET_KEY_OLD`).
    pub fn from_config(c: &Config) -> AppResult<Keyring> {
        Self::new(&c.secret_key, &c.secret_key_old)
    }

    /// The id of the current key, as it appears in stored values.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Encrypts `plain` for the column named `context`: `v1:<key-id>:<base64url(nonce||ct)>`.
    pub fn encrypt(&self, plain: &str, context: &str) -> AppResult<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let k = &self.current;
        let ct = k
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad(&k.id, context).as_bytes(),
                },
            )
            .map_err(|_| AppError::internal("secret encryption failed"))?;
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&ct);
        Ok(format!(
            "{VERSION}:{}:{}",
            k.id,
            URL_SAFE_NO_PAD.encode(raw)
        ))
    }

    /// Decrypts a value written by `encrypt` for the same `context`, with the current key or a
    /// previous one. Fails on an unknown key id, a changed value or another context.
    pub fn decrypt(&self, stored: &str, context: &str) -> AppResult<String> {
        let bad = |why: &str| AppError::internal(format!("stored secret: {why}"));
        let mut parts = stored.splitn(3, ':');
        let (Some(version), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not a v1:<key-id>:<data> value"));
        };
        if version != VERSION {
            return Err(bad("unknown format version"));
        }
        let key = std::iter::once(&self.current)
            .chain(self.old.iter())
            .find(|k| k.id == kid)
            .ok_or_else(|| bad("written with a key that is not configured"))?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| bad("not base64"))?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(bad("too short"));
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let plain = key
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad(kid, context).as_bytes(),
                },
            )
            .map_err(|_| bad("does not decrypt (changed, or another key or column)"))?;
        String::from_utf8(plain).map_err(|_| bad("not UTF-8"))
    }

    /// True when `stored` was written with another key than the current one.
    pub fn needs_rotation(&self, stored: &str) -> bool {
        stored.split(':').nth(1) != Some(self.current.id.as_str())
    }

    /// `stored` re-encrypted under the current key (unchanged when it already is).
    pub fn reencrypt(&self, stored: &str, context: &str) -> AppResult<String> {
        if !self.needs_rotation(stored) {
            return Ok(stored.to_string());
        }
        self.encrypt(&self.decrypt(stored, context)?, context)
    }
}

/// Re-encrypts, under the current key, every value of `columns` written with a previous key;
/// answers how many values changed. Each row is its own short transaction, and a value is
/// written only if it is still the one read, so running it twice, or beside the server, is safe.
/// `opsdeck rotate-secrets` runs it over `SECRET_COLUMNS`.
pub async fn rotate(ctx: &Ctx, columns: &[SecretColumn]) -> AppResult<u64> {
    let keys = Keyring::from_config(&ctx.config)?;
    let db = &ctx.db;
    let backend = db.get_database_backend();
    let p = |n: usize| match backend {
        sea_orm::DbBackend::Postgres => format!("${n}"),
        _ => "?".to_string(),
    };
    let mut changed = 0;
    for c in columns {
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT {id}, {col} FROM {t} WHERE {col} IS NOT NULL",
                    id = c.id,
                    col = c.column,
                    t = c.table
                ),
            ))
            .await?;
        for r in rows {
            let id: i64 = r.try_get_by_index(0)?;
            let old: String = r.try_get_by_index(1)?;
            if !keys.needs_rotation(&old) {
                continue;
            }
            let new = keys.reencrypt(&old, c.context)?;
            let res = db
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    format!(
                        "UPDATE {t} SET {col} = {p1} WHERE {id} = {p2} AND {col} = {p3}",
                        t = c.table,
                        col = c.column,
                        id = c.id,
                        p1 = p(1),
                        p2 = p(2),
                        p3 = p(3)
                    ),
                    [new.into(), id.into(), old.into()],
                ))
                .await?;
            changed += res.rows_affected();
        }
    }
    Ok(changed)
}
