//! Wire types of certificates.
use crate::common::PageQuery;
use serde::{Deserialize, Serialize};

/// A certificate Opsdeck issued (`source` `ca`) or an operator uploaded (`upload`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Certificate {
    pub id: i64,
    /// The requested domain (for a wildcard certificate, its base: `example.com`).
    pub domain: String,
    /// Every DNS name the certificate covers (`*.example.com`, `example.com`).
    pub names: Vec<String>,
    /// `wizard` (wildcard) or `normal`.
    pub certificate_type: String,
    /// Upper-case hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// Whole days until `not_after` (negative once expired).
    pub days_left: i64,
    /// `ca` (issued by Opsdeck's CA) or `upload`.
    pub source: String,
    /// The SSL certificate request it fulfilled, if any.
    pub request_id: Option<i64>,
    /// Whether Opsdeck holds the private key.
    pub has_key: bool,
    /// Whether the caller may download the private key (the owner and the owners of associated
    /// applications when it was issued or uploaded; approvers and later owners may not).
    pub may_download_key: bool,
    /// Associated applications.
    pub app_ids: Vec<i64>,
    /// The requester (or uploader).
    pub owner_id: i64,
    pub owner: String,
    pub created_at: String,
    /// Detail only: the certificate, PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_pem: Option<String>,
    /// Detail only: the issuer chain, PEM (Opsdeck's CA certificate for issued ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_pem: Option<String>,
}

/// `GET /certificates/` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CertFilter {
    /// A name the certificate carries contains this (`example.com` finds `*.example.com`).
    #[serde(default)]
    pub domain: Option<String>,
    /// Expires within this many days (expired ones included).
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub expiring_within_days: Option<i64>,
    /// The SSL certificate request it fulfilled.
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub request_id: Option<i64>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// An externally issued certificate: `POST /certificates/`, or the upload that finishes an SSL
/// certificate request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CertUpload {
    /// The certificate, PEM. Further certificates after the first are taken as the chain when
    /// `chain_pem` is not given (a "fullchain" file).
    pub cert_pem: String,
    /// The issuer chain (intermediates, optionally the root), PEM.
    #[serde(default)]
    pub chain_pem: Option<String>,
    /// The private key, unencrypted PEM (PKCS#8, PKCS#1 or SEC1); optional.
    #[serde(default)]
    pub key_pem: Option<String>,
    /// Associated applications (without a request; a request's own are used otherwise).
    #[serde(default, alias = "associate_app")]
    pub associated_app: Option<Vec<i64>>,
}

/// What a download answers: a PEM file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PemFile {
    pub filename: String,
    pub body: String,
}

/// The parts of a certificate one can download.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CertPart {
    /// The certificate alone.
    Cert,
    /// The issuer chain.
    Chain,
    /// The private key.
    Key,
    /// Certificate then chain (what most servers want).
    Fullchain,
}

impl CertPart {
    /// The part's name in paths and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            CertPart::Cert => "cert",
            CertPart::Chain => "chain",
            CertPart::Key => "key",
            CertPart::Fullchain => "fullchain",
        }
    }
}
