//! Wire types of SSH access: credentials (write-only secrets), per-host access settings and
//! pinned host keys.
use crate::common::PageQuery;
use serde::{Deserialize, Serialize};

/// Credential kinds.
pub const CREDENTIAL_KINDS: &[&str] = &["password", "private_key"];

/// A stored SSH credential. Its secret is never answered: `secret` is always `******`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SshCredential {
    pub id: i64,
    pub name: String,
    /// The login user on hosts.
    pub username: String,
    /// `password` or `private_key`.
    pub kind: String,
    /// Always `******`.
    pub secret: String,
    /// Whether the private key has a passphrase.
    pub passphrase_set: bool,
    /// The public key of a private-key credential (OpenSSH line): install it on hosts.
    #[serde(default)]
    pub public_key: Option<String>,
    /// Hosts that log in with it.
    pub hosts: u64,
    pub creator: String,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /hosts/ssh-credentials/` and `PATCH …/{id}/` (absent fields are kept; a new `kind`
/// needs its secret). `Debug` never shows the secrets.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SshCredentialInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    /// For `password` credentials.
    #[serde(default)]
    pub password: Option<String>,
    /// For `private_key` credentials: an OpenSSH or PEM private key.
    #[serde(default)]
    pub private_key: Option<String>,
    #[serde(default)]
    pub passphrase: Option<String>,
}

impl std::fmt::Debug for SshCredentialInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshCredentialInput")
            .field("name", &self.name)
            .field("username", &self.username)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// `GET /hosts/ssh-credentials/` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SshCredentialFilter {
    /// Name contains.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// A credential as other objects name it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CredentialRef {
    pub id: i64,
    pub name: String,
    pub username: String,
}

/// A host key pinned for an endpoint of a host, and a different key it offered since.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostKeyInfo {
    /// `address:port`.
    pub endpoint: String,
    pub algorithm: String,
    /// `SHA256:…`
    pub fingerprint: String,
    pub pinned_at: String,
    /// A different key the host offered: logins are refused until it is accepted.
    #[serde(default)]
    pub offered_fingerprint: Option<String>,
    #[serde(default)]
    pub offered_at: Option<String>,
}

/// How Opsdeck reaches a host over SSH.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostAccess {
    pub host_id: i64,
    /// The address set for SSH; `null`: the host's first HOST/PRIVATE address.
    #[serde(default)]
    pub address: Option<String>,
    /// The address used.
    #[serde(default)]
    pub effective_address: Option<String>,
    pub port: i32,
    #[serde(default)]
    pub credential: Option<CredentialRef>,
    /// The command that stops the host with the `ssh` power provider (default `shutdown -h now`).
    #[serde(default)]
    pub stop_cmd: Option<String>,
    /// The command that restarts it (default `shutdown -r now`).
    #[serde(default)]
    pub restart_cmd: Option<String>,
    /// The cloud account that starts, stops and restarts the host; `null`: the `ssh` provider.
    #[serde(default)]
    pub cloud_account: Option<CloudAccountRef>,
    /// The host's id in that cloud (CloudStack VM id, CVM `ins-…`, CPM `cpm-…`).
    #[serde(default)]
    pub cloud_instance_id: Option<String>,
    pub host_keys: Vec<HostKeyInfo>,
}

/// `PUT /hosts/{id}/access/`: absent fields are kept; `address: ""` clears the override.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostAccessInput {
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub port: Option<i32>,
    /// `0` removes the credential.
    #[serde(default)]
    pub credential_id: Option<i64>,
    #[serde(default)]
    pub stop_cmd: Option<String>,
    #[serde(default)]
    pub restart_cmd: Option<String>,
    /// `0` removes the cloud account (the host is then powered over SSH).
    #[serde(default)]
    pub cloud_account_id: Option<i64>,
    /// `""` clears it.
    #[serde(default)]
    pub cloud_instance_id: Option<String>,
}

/// `POST /hosts/{id}/host-key/actions/accept/`: the fingerprint of the offered key, as the
/// operator checked it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AcceptHostKey {
    pub fingerprint: String,
    /// Which endpoint, when the host has several.
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// Cloud providers a cloud account may name.
pub const CLOUD_PROVIDERS: &[&str] = &["cloudstack", "tencent_cvm", "tencent_cpm"];

/// A cloud API account that powers hosts. Its secret is never answered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CloudAccount {
    pub id: i64,
    pub name: String,
    /// `cloudstack` (hosts of type `CLOUDSTACK*`), `tencent_cvm` (`TECENT_CVM`) or
    /// `tencent_cpm` (`TECENT_CPM`).
    pub provider: String,
    /// The API's URL (`https://cloud.example.com/client/api`, `https://cvm.tencentcloudapi.com`).
    pub endpoint: String,
    /// Tencent Cloud region (`ap-guangzhou`); empty for CloudStack.
    pub region: String,
    /// CloudStack API key or Tencent SecretId.
    pub secret_id: String,
    /// Always `******`.
    pub secret: String,
    /// Hosts powered through it.
    pub hosts: u64,
    pub creator: String,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /hosts/cloud-accounts/` and `PATCH …/{id}/` (absent fields are kept). `Debug` never
/// shows the secret.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CloudAccountInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub secret_id: Option<String>,
    /// CloudStack secret key or Tencent SecretKey (write-only).
    #[serde(default)]
    pub secret: Option<String>,
}

impl std::fmt::Debug for CloudAccountInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudAccountInput")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// A cloud account as other objects name it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CloudAccountRef {
    pub id: i64,
    pub name: String,
    pub provider: String,
}

/// One of the caller's SSH public keys: host init installs it on the hosts the caller may log
/// in to (`login_host`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserSshKey {
    pub id: i64,
    pub name: String,
    /// One OpenSSH line.
    pub public_key: String,
    /// `SHA256:…`.
    pub fingerprint: String,
    pub created_at: String,
}

/// `POST /account/ssh-keys/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserSshKeyInput {
    pub name: String,
    /// One OpenSSH public key line (`ssh-ed25519 AAAA… comment`).
    pub public_key: String,
}
