//! The permission catalogue (seed 003 "模块权限" and the application/host permission objects)
//! and the wire types of the grant endpoints.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A module and its flags. `enable` is the flag that shows the module at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModuleDef {
    pub name: &'static str,
    pub enable: &'static str,
    pub perms: &'static [&'static str],
}

/// Every module, as seed 003 lists them, plus `system` (users, roles, grants, audit), which the seed
/// leaves implicit.
pub const MODULES: &[ModuleDef] = &[
    ModuleDef {
        name: "resource_request",
        enable: "enable_resource_req",
        perms: &[
            "enable_resource_req",
            "approve_host_req",
            "approve_domain_req",
            "approve_ssl_cert_req",
            "create_resource_req",
        ],
    },
    ModuleDef {
        name: "application",
        enable: "enable_app_mgmt",
        perms: &[
            "enable_app_mgmt",
            "view_app",
            "create_app",
            "delete_app",
            "edit_app",
        ],
    },
    ModuleDef {
        name: "dns",
        enable: "enable_dns_mgmt",
        perms: &["enable_dns_mgmt", "manage_dns_server"],
    },
    ModuleDef {
        name: "host",
        enable: "enable_host_mgmt",
        perms: &[
            "enable_host_mgmt",
            "add_host",
            "edit_host",
            "delete_host",
            "manage_host",
        ],
    },
    ModuleDef {
        name: "business",
        enable: "enable_business_mgmt",
        perms: &[
            "enable_business_mgmt",
            "view_business",
            "add_business",
            "delete_business",
        ],
    },
    ModuleDef {
        name: "navigator",
        enable: "enable_navigator",
        perms: &["enable_navigator", "view_navigator", "manage_navigator"],
    },
    ModuleDef {
        name: "common_tools",
        enable: "enable_common_tools",
        perms: &[
            "enable_common_tools",
            "enable_cdn_refresher",
            "enable_jumpserver_log_mgmt",
        ],
    },
    ModuleDef {
        name: "deploy_template",
        enable: "enable_deploy_template_mgmt",
        perms: &["enable_deploy_template_mgmt"],
    },
    ModuleDef {
        name: "system",
        enable: "enable_system_mgmt",
        perms: &[
            "enable_system_mgmt",
            "view_users",
            "manage_users",
            "manage_roles",
            "grant_perms",
            "view_audit",
        ],
    },
];

/// Per-application permissions (seed 003 "Application permission object").
pub const APP_PERMS: &[&str] = &[
    "view_app",
    "edit_app",
    "delete_app",
    "deploy_app",
    "review_app_deploy_task",
    "restart_app",
    "view_app_log",
    "view_app_monitor",
];
/// Per-host permissions (seed 003 "host permission object").
pub const HOST_PERMS: &[&str] = &[
    "view_host",
    "edit_host",
    "delete_host",
    "init_host",
    "restart_host",
    "login_host",
    "deactivate_host",
];
/// Per-product-line permissions: the product line itself, and application permissions that apply
/// to every application in it.
pub const PRODUCTION_PERMS: &[&str] = &[
    "view_business",
    "edit_business",
    "delete_business",
    "view_app",
    "edit_app",
    "delete_app",
    "deploy_app",
    "review_app_deploy_task",
    "restart_app",
    "view_app_log",
    "view_app_monitor",
];

/// Per-zone permissions of DNS zones (module-wide: `dns.manage_dns_server` holds both on every zone).
pub const DNS_DOMAIN_PERMS: &[&str] = &["view_domain", "edit_domain"];

/// Seed spellings accepted on input and the flag they mean.
pub const PERM_ALIASES: &[(&str, &str)] = &[("add_app", "create_app")];

/// Finds a module by name.
pub fn module(name: &str) -> Option<&'static ModuleDef> {
    MODULES.iter().find(|m| m.name == name)
}

/// The canonical flag for `perm` in `module`, or `None` when the module has no such flag (error 30001).
pub fn canonical_module_perm(module: &ModuleDef, perm: &str) -> Option<&'static str> {
    let perm = PERM_ALIASES
        .iter()
        .find(|(a, _)| *a == perm)
        .map(|(_, c)| *c)
        .unwrap_or(perm);
    module.perms.iter().copied().find(|p| *p == perm)
}

/// Kinds of resource that carry their own permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    Application,
    Host,
    #[serde(alias = "production")]
    Business,
    /// A DNS zone (`dns_domains`).
    DnsDomain,
}

impl ResourceType {
    /// Every kind.
    pub const ALL: [ResourceType; 4] = [
        ResourceType::Application,
        ResourceType::Host,
        ResourceType::Business,
        ResourceType::DnsDomain,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Application => "application",
            ResourceType::Host => "host",
            ResourceType::Business => "business",
            ResourceType::DnsDomain => "dns_domain",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "application" => Some(Self::Application),
            "host" => Some(Self::Host),
            "business" | "production" => Some(Self::Business),
            "dns_domain" => Some(Self::DnsDomain),
            _ => None,
        }
    }
    /// The table holding resources of this kind.
    pub fn table(self) -> &'static str {
        match self {
            ResourceType::Application => "applications",
            ResourceType::Host => "hosts",
            ResourceType::Business => "productions",
            ResourceType::DnsDomain => "dns_domains",
        }
    }
    /// The column lists of this kind sort by default (names).
    pub fn name_column(self) -> &'static str {
        match self {
            ResourceType::Application => "full_name",
            ResourceType::Host => "hostname",
            ResourceType::Business => "name",
            ResourceType::DnsDomain => "name",
        }
    }
    /// The permissions one can hold on this kind of resource.
    pub fn perms(self) -> &'static [&'static str] {
        match self {
            ResourceType::Application => APP_PERMS,
            ResourceType::Host => HOST_PERMS,
            ResourceType::Business => PRODUCTION_PERMS,
            ResourceType::DnsDomain => DNS_DOMAIN_PERMS,
        }
    }
}

/// Who receives a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    User,
    Role,
}

impl SubjectType {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectType::User => "user",
            SubjectType::Role => "role",
        }
    }
}

/// Flags of one module: `{"enable_app_mgmt": true, "create_app": false}`.
pub type PermFlags = BTreeMap<String, bool>;

/// `POST /users/{id}/system/perms/` body element.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModuleGrant {
    pub module_name: String,
    pub permissions: PermFlags,
}

/// The module permissions a user or role holds directly, one entry per module.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModulePerms {
    pub module_name: String,
    pub permissions: PermFlags,
}

/// One entry of `POST /users/{id}/application/perms/` (and host): the resource and the flags to set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ResourceGrantEntry {
    pub id: i64,
    #[serde(default, alias = "permissions")]
    pub permission: PermFlags,
}

/// `{"authorizations": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ResourceGrantRequest {
    #[serde(default)]
    pub authorizations: Vec<ResourceGrantEntry>,
}

/// One row of a subject's resource permissions (seed: "application/host authorization entry").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ResourcePermRow {
    pub id: i64,
    pub resource_type: ResourceType,
    /// The resource's name; also answered as `app_name` or `hostname`, as the seed names it.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub permission: PermFlags,
}

impl ResourcePermRow {
    pub fn new(rtype: ResourceType, id: i64, name: String, permission: PermFlags) -> Self {
        ResourcePermRow {
            id,
            resource_type: rtype,
            app_name: (rtype == ResourceType::Application).then(|| name.clone()),
            hostname: (rtype == ResourceType::Host).then(|| name.clone()),
            name,
            permission,
        }
    }
}

/// Where an effective permission comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PermSource {
    /// `user` (a direct grant), `role`, or `superuser`.
    pub via: String,
    pub role_id: Option<i64>,
    pub role_name: Option<String>,
    /// The object the grant is on: `module:application`, `application:5`, `business:2`…
    pub object: String,
}

/// One effective permission of a user and every grant that gives it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EffectivePerm {
    pub object: String,
    pub perm: String,
    pub sources: Vec<PermSource>,
}

/// The answer to "why can user X do Y on Z": all effective permissions, or the ones matching a filter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EffectivePerms {
    pub user_id: i64,
    pub username: String,
    pub superuser: bool,
    /// With both `object` and `perm` in the query: whether the user may do it.
    #[serde(default)]
    pub allowed: Option<bool>,
    pub perms: Vec<EffectivePerm>,
}

/// Query of the explainer: optional object (`module:application`) and permission filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExplainQuery {
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub perm: Option<String>,
}

/// What the current user may use: drives the navigation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MyModules {
    pub superuser: bool,
    /// Module names whose enable flag the user holds.
    pub modules: Vec<String>,
    /// `module.perm` strings the user holds.
    pub perms: Vec<String>,
}

impl MyModules {
    pub fn has(&self, module: &str, perm: &str) -> bool {
        self.superuser
            || self
                .perms
                .iter()
                .any(|p| p.split_once('.') == Some((module, perm)))
    }
    pub fn module(&self, module: &str) -> bool {
        self.superuser || self.modules.iter().any(|m| m == module)
    }
}

/// A user or role in resource-authorization bodies: `{"id": 4, "username": "user-a"}` or
/// `{"id": 2, "name": "role-a"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SubjectRef {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Who holds what on one resource (seed: "User app authorization" / "Role host authorization").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ResourceAuthorization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<SubjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<SubjectRef>,
    pub permission: PermFlags,
}

fn update() -> String {
    "update".into()
}

/// One element of `PATCH /applications/{id}/authorization/users/`: `update` sets the given flags,
/// `delete` removes every grant of that user (or role) on the resource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuthorizationChange {
    #[serde(default)]
    pub user: Option<SubjectRef>,
    #[serde(default)]
    pub role: Option<SubjectRef>,
    #[serde(default, alias = "permissions")]
    pub permission: PermFlags,
    #[serde(default = "update")]
    pub action: String,
}

/// Filters of a subject's resource grants: `app_name` (applications), `hostname` (hosts), `name`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ResourcePermFilter {
    #[serde(default)]
    pub app_name: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(flatten)]
    pub page: crate::common::PageQuery,
}

impl ResourcePermFilter {
    /// Whichever name filter was given.
    pub fn name(&self) -> Option<&str> {
        self.app_name
            .as_deref()
            .or(self.hostname.as_deref())
            .or(self.name.as_deref())
    }
}
