//! Application pages (next).
