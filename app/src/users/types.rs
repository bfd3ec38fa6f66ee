//! Wire types of users.
use crate::common::PageQuery;
use serde::{Deserialize, Serialize};

/// A user as the API answers it (seed 003 "User object").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub phone: String,
    pub display_name: String,
    /// `enabled` or `disabled`.
    pub status: String,
    pub roles: Vec<RoleRef>,
    pub superuser: bool,
    pub last_login_at: Option<String>,
    pub created_at: String,
    pub available_actions: UserActions,
}

/// Short reference to a role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoleRef {
    pub id: i64,
    pub name: String,
}

/// What the caller may do to this user.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserActions {
    pub edit: bool,
    pub disable: bool,
    pub grant: bool,
}

/// `GET /users/` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserFilter {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// Free text over username, e-mail, phone and display name.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// `POST /users/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateUser {
    pub username: String,
    /// Only a superuser may give it; empty (or left out): the new user is mailed a link to
    /// choose one (then `email` is required).
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub display_name: String,
}

/// `PATCH /users/{id}/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UpdateUser {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Required to change one's own e-mail (in a signed-in session; API tokens cannot).
    #[serde(default)]
    pub current_password: Option<String>,
}

/// `POST /users/{id}/actions/change-password/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChangePassword {
    pub original_password: String,
    pub new_password: String,
}
