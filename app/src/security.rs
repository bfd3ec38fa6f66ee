//! Password hashing (argon2id), random secrets and digests.
use crate::error::{AppError, AppResult};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AppError::internal)
}

/// Checks a password against a stored hash; a malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random secret of `bytes` bytes, hex-encoded.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// SHA-256 of a secret, hex-encoded: how tokens and reset links are stored.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Verifies against a fixed dummy hash so that a login for an unknown user costs the same time.
pub fn burn_password_check(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let h = DUMMY.get_or_init(|| hash_password("opsdeck-dummy-password").unwrap_or_default());
    let _ = verify_password(password, h);
}

/// Argon2 hashes and verifications that may run at once in this process (twice the cores): each
/// takes ~19 MiB and a core for tens of milliseconds, so without a bound a flood of logins would
/// queue hundreds of blocking threads and gigabytes of memory. Permits are owned and moved into
/// the blocking task, so a hash keeps its permit until it ends even if the request is dropped.
pub fn argon_limiter() -> &'static std::sync::Arc<tokio::sync::Semaphore> {
    static LIMITER: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::OnceLock::new();
    LIMITER
        .get_or_init(|| std::sync::Arc::new(tokio::sync::Semaphore::new(argon_capacity() as usize)))
}

/// The number of permits of `argon_limiter`.
pub fn argon_capacity() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cores).clamp(2, 64) as u32
}

/// How long a password check waits for a free `argon_limiter` permit before it is refused (503).
const ARGON_WAIT_MS: u64 = 1_000;

/// A permit of `argon_limiter`, waiting at most `ARGON_WAIT_MS` (first come, first served); when
/// the server is saturated the request is refused with 503 rather than queued without bound.
async fn argon_permit() -> AppResult<tokio::sync::OwnedSemaphorePermit> {
    match tokio::time::timeout(
        std::time::Duration::from_millis(ARGON_WAIT_MS),
        argon_limiter().clone().acquire_owned(),
    )
    .await
    {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(AppError::new(
            crate::error::ErrorCode::Unavailable,
            "the server is busy checking passwords; try again in a moment",
        )),
    }
}

/// `hash_password` on the blocking pool, under `argon_limiter`: argon2 takes tens of milliseconds
/// of CPU, which must not stall the async workers that serve every other request.
pub async fn hash_password_off(password: &str) -> AppResult<String> {
    let permit = argon_permit().await?;
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        hash_password(&password)
    })
    .await
    .map_err(AppError::internal)?
}

/// `verify_password` on the blocking pool, under `argon_limiter` (see `hash_password_off`);
/// refused (503) when the server is saturated.
pub async fn verify_password_off(password: &str, hash: &str) -> AppResult<bool> {
    let permit = argon_permit().await?;
    let (password, hash) = (password.to_string(), hash.to_string());
    Ok(tokio::task::spawn_blocking(move || {
        let _permit = permit;
        verify_password(&password, &hash)
    })
    .await
    .unwrap_or(false))
}

/// `burn_password_check` on the blocking pool, under `argon_limiter` (see `hash_password_off`).
pub async fn burn_password_check_off(password: &str) -> AppResult<()> {
    let permit = argon_permit().await?;
    let password = password.to_string();
    let _ = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        burn_password_check(&password)
    })
    .await;
    Ok(())
}

/// `burn_password_check` only if a permit is free right now (no waiting): keeps the timing of
/// refusals that need no real check (an invalid user name) close to a real one without letting
/// them queue for, or crowd out, real checks.
pub async fn burn_password_check_if_idle(password: &str) {
    if let Ok(permit) = argon_limiter().clone().try_acquire_owned() {
        let password = password.to_string();
        let _ = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            burn_password_check(&password)
        })
        .await;
    }
}

/// The part of a client address that throttles count by: an IPv4 address as it is, an IPv6
/// address by its /64 (one subscriber's or host's allocation, within which addresses rotate
/// freely); anything unparsable as given.
pub fn throttle_address(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(a) => a.to_string(),
        Err(_) => ip.to_string(),
    }
}
