//! SeaORM entities (server only). Entities never cross the wire: services map them to `types.rs`.
pub mod api_token;
pub mod audit_log;
pub mod job;
pub mod login_failure;
pub mod password_reset;
pub mod perm_grant;
pub mod role;
pub mod session;
pub mod user;
pub mod user_role;
