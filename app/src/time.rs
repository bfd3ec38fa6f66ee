//! Time helpers: RFC 3339 with offset on the wire.
use chrono::{DateTime, Utc};

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// RFC 3339 with offset, second precision.
pub fn fmt(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

pub fn fmt_opt(t: &Option<DateTime<Utc>>) -> Option<String> {
    t.as_ref().map(fmt)
}

/// Parses an RFC 3339 time or a plain date (`2026-11-27`, taken as midnight UTC).
pub fn parse(field: &str, s: &str) -> crate::error::AppResult<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(crate::error::AppError::invalid(
        field,
        "expected an RFC 3339 time such as 2026-11-27T10:00:00+08:00",
    ))
}
