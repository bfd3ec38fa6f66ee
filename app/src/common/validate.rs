//! Validation shared by forms (pre-check in the browser) and services (re-check on the server).
use crate::error::{AppError, AppResult};

/// A user name: 2–64 characters of letters, digits, `.`, `_`, `-`, `@`.
/// The most objects one request may name (children, dependencies, owners, instances, role
/// members): each costs lookups and an audit record inside one transaction.
pub const MAX_ITEMS: usize = 500;

/// Refuses a list of more than `MAX_ITEMS` objects.
pub fn items(n: usize) -> AppResult<()> {
    if n > MAX_ITEMS {
        return Err(AppError::invalid(
            "items",
            format!("at most {MAX_ITEMS} objects per request (got {n})"),
        ));
    }
    Ok(())
}

pub fn username(v: &str) -> AppResult<()> {
    let ok = (2..=64).contains(&v.chars().count())
        && v.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    ok.then_some(()).ok_or_else(|| {
        AppError::invalid(
            "username",
            "username must be 2-64 letters, digits or . _ - @",
        )
    })
}

/// A password: at least 8 characters, at most 128.
pub fn password(field: &str, v: &str) -> AppResult<()> {
    let n = v.chars().count();
    if n < 8 {
        return Err(AppError::invalid(
            field,
            "password must have at least 8 characters",
        ));
    }
    if n > 128 {
        return Err(AppError::invalid(
            field,
            "password must have at most 128 characters",
        ));
    }
    Ok(())
}

/// An e-mail address (empty allowed when `required` is false).
pub fn email(v: &str, required: bool) -> AppResult<()> {
    if v.is_empty() && !required {
        return Ok(());
    }
    let mut parts = v.split('@');
    let ok = match (parts.next(), parts.next(), parts.next()) {
        (Some(l), Some(d), None) => {
            !l.is_empty()
                && d.contains('.')
                && !d.starts_with('.')
                && !d.ends_with('.')
                && v.len() <= 254
                && !v.contains(char::is_whitespace)
        }
        _ => false,
    };
    ok.then_some(())
        .ok_or_else(|| AppError::invalid("email", "not a valid e-mail address"))
}

/// A phone number: digits with optional `+`, spaces and dashes, at most 32 characters.
pub fn phone(v: &str) -> AppResult<()> {
    let ok = v.len() <= 32
        && v.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-'));
    ok.then_some(())
        .ok_or_else(|| AppError::invalid("phone", "not a valid phone number"))
}

/// A required name (role, token): 1–64 characters, trimmed.
pub fn name(field: &str, v: &str) -> AppResult<()> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > 64 {
        return Err(AppError::invalid(field, "must be 1-64 characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn validators() {
        assert!(username("ops.admin").is_ok());
        assert!(username("a").is_err());
        assert!(username("bad name").is_err());
        assert!(password("new_password", "short").is_err());
        assert!(email("a@b.co", true).is_ok());
        assert!(email("a@b", true).is_err());
        assert!(email("", false).is_ok());
        assert!(phone("+86 138-0000").is_ok());
        assert!(phone("abc").is_err());
        assert_eq!(
            name("name", "  ").unwrap_err().field.as_deref(),
            Some("name")
        );
    }
}
