//! SeaORM entities (server only). Entities never cross the wire: services map them to `types.rs`.
pub mod api_token;
pub mod application;
pub mod application_dependency;
pub mod application_owner;
pub mod application_path;
pub mod audit_log;
pub mod host;
pub mod job;
pub mod login_failure;
pub mod password_reset;
pub mod perm_grant;
pub mod production;
pub mod role;
pub mod session;
pub mod user;
pub mod user_role;
