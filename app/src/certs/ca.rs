//! Certificate work without a database: generating Opsdeck's CA, issuing server certificates
//! from a CA, reading PEM certificates and keys, matching a key to a certificate, validating a
//! chain, and checking which names a certificate covers.
//!
//! Keys are read in the three unencrypted PEM forms people have: PKCS#8 (`PRIVATE KEY`, what
//! OpenSSL 3 writes), PKCS#1 (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`); the last two are
//! rewrapped as PKCS#8 (only an outer DER header) because the signing library (ring) reads PKCS#8.
//! Signatures and ASN.1 parsing are the libraries' (rcgen, x509-parser, ring).
use chrono::{DateTime, Duration, TimeZone, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints, SerialNumber,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

/// The common name of the CA Opsdeck generates.
pub const CA_COMMON_NAME: &str = "Opsdeck CA";
/// How long a generated CA is valid.
pub const CA_YEARS: i64 = 10;
/// The longest validity of an issued certificate (the CA/Browser Forum's limit).
pub const LEAF_MAX_DAYS: i64 = 397;

/// A certificate and its private key, both PEM.
#[derive(Clone, Debug)]
pub struct KeyedCert {
    pub cert_pem: String,
    pub key_pem: String,
}

/// What a certificate says about itself.
#[derive(Clone, Debug, PartialEq)]
pub struct CertInfo {
    /// DNS names of the subject alternative names, then the common name if it is not among them;
    /// lower case.
    pub names: Vec<String>,
    pub common_name: Option<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// Upper-case hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    pub issuer: String,
    pub subject: String,
    pub is_ca: bool,
    /// Signed by its own key (a root).
    pub self_signed: bool,
}

fn to_offset(t: DateTime<Utc>) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|e| e.to_string())
}

fn from_ts(ts: i64) -> Result<DateTime<Utc>, String> {
    Utc.timestamp_opt(ts, 0)
        .single()
        .ok_or_else(|| "a certificate time is out of range".to_string())
}

/// Generates a CA: ECDSA P-256, CN "Opsdeck CA", valid `CA_YEARS` from an hour before `now`,
/// basicConstraints CA (path length 0: it signs server certificates only), keyCertSign and cRLSign;
/// with `permitted` domains, a critical nameConstraints extension permitting only those DNS
/// subtrees (a client then rejects any other name it signs).
pub fn generate_ca(now: DateTime<Utc>, permitted: &[String]) -> Result<KeyedCert, String> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    dn.push(DnType::OrganizationName, "Opsdeck");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.serial_number = Some(random_serial());
    if !permitted.is_empty() {
        p.name_constraints = Some(NameConstraints {
            permitted_subtrees: permitted
                .iter()
                .map(|d| GeneralSubtree::DnsName(d.clone()))
                .collect(),
            excluded_subtrees: vec![],
        });
    }
    let start = now - Duration::hours(1);
    p.not_before = to_offset(start)?;
    p.not_after = to_offset(start + Duration::days(365 * CA_YEARS + CA_YEARS / 4))?;
    let cert = p.self_signed(&key).map_err(|e| e.to_string())?;
    Ok(KeyedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// 128 random bits (a positive DER integer: the encoder adds a leading zero byte if needed).
fn random_serial() -> SerialNumber {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    if b[0] == 0 {
        b[0] = 1; // keep it 128 bits long
    }
    SerialNumber::from_slice(&b)
}

/// Issues a server certificate for `names` (the first is the common name) signed by the CA:
/// a new ECDSA P-256 key, serverAuth, a random 128-bit serial, valid from 5 minutes before `now`
/// for `days` (at most `LEAF_MAX_DAYS`, and never past the CA's own expiry).
pub fn issue_leaf(
    ca: &KeyedCert,
    names: &[String],
    now: DateTime<Utc>,
    days: i64,
) -> Result<KeyedCert, String> {
    let first = names
        .first()
        .ok_or("a certificate needs at least one name")?;
    let ca_key = load_key(&ca.key_pem)?;
    let ca_info = parse_one(&ca.cert_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key)
        .map_err(|e| format!("the CA certificate cannot be used: {e}"))?;
    let mut p = CertificateParams::new(names.to_vec()).map_err(|e| format!("bad name: {e}"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, first.as_str());
    p.distinguished_name = dn;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    p.serial_number = Some(random_serial());
    let start = now - Duration::minutes(5);
    let end = (start + Duration::days(days.clamp(1, LEAF_MAX_DAYS))).min(ca_info.not_after);
    if end <= now {
        return Err("the CA certificate has expired".into());
    }
    p.not_before = to_offset(start)?;
    p.not_after = to_offset(end)?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
    let cert = p.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    Ok(KeyedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The PEM blocks of `pem`, refusing text that is not PEM.
fn pem_blocks(pem: &str) -> Result<Vec<Pem>, String> {
    let mut out = vec![];
    for p in Pem::iter_from_buffer(pem.as_bytes()) {
        out.push(p.map_err(|e| format!("not valid PEM: {e}"))?);
    }
    Ok(out)
}

/// The DER certificates of a PEM text (one or more `CERTIFICATE` blocks, nothing else).
pub fn cert_ders(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    let blocks = pem_blocks(pem)?;
    if blocks.is_empty() {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) found".into());
    }
    let mut out = vec![];
    for b in blocks {
        if b.label != "CERTIFICATE" {
            return Err(format!(
                "expected CERTIFICATE blocks, found a {} block",
                b.label
            ));
        }
        x509_parser::parse_x509_certificate(&b.contents)
            .map_err(|e| format!("not a valid X.509 certificate: {e}"))?;
        out.push(b.contents);
    }
    Ok(out)
}

/// PEM text of DER certificates.
pub fn to_pem(ders: &[Vec<u8>]) -> String {
    use base64::Engine;
    let mut s = String::new();
    for d in ders {
        s.push_str("-----BEGIN CERTIFICATE-----\n");
        let b = base64::engine::general_purpose::STANDARD.encode(d);
        for line in b.as_bytes().chunks(64) {
            s.push_str(std::str::from_utf8(line).unwrap_or_default());
            s.push('\n');
        }
        s.push_str("-----END CERTIFICATE-----\n");
    }
    s
}

fn x509(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c)
        .map_err(|e| format!("not a valid X.509 certificate: {e}"))
}

/// Describes one DER certificate.
pub fn describe(der: &[u8]) -> Result<CertInfo, String> {
    let c = x509(der)?;
    let mut names: Vec<String> = vec![];
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for g in &san.value.general_names {
            if let GeneralName::DNSName(n) = g {
                let n = n.trim_end_matches('.').to_ascii_lowercase();
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
    }
    let common_name = c
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(|s| s.trim_end_matches('.').to_ascii_lowercase());
    // The common name counts only without DNS subject alternative names (RFC 6125, as clients
    // do): with them, a name-like CN is decoration and is neither listed nor checked.
    if let Some(cn) = &common_name {
        if names.is_empty() && looks_like_dns_name(cn) {
            names.push(cn.clone());
        }
    }
    Ok(CertInfo {
        names,
        common_name,
        not_before: from_ts(c.validity().not_before.timestamp())?,
        not_after: from_ts(c.validity().not_after.timestamp())?,
        serial: hex::encode_upper(c.serial.to_bytes_be()),
        issuer: c.issuer().to_string(),
        subject: c.subject().to_string(),
        is_ca: c.is_ca(),
        self_signed: c.subject().as_raw() == c.issuer().as_raw()
            && c.verify_signature(None).is_ok(),
    })
}

/// Describes the first certificate of a PEM text.
pub fn parse_one(pem: &str) -> Result<CertInfo, String> {
    describe(&cert_ders(pem)?[0])
}

fn looks_like_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.contains('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | '_'))
}

/// A minimal DER TLV (the length in short or long form).
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// OID 1.2.840.113549.1.1.1 (rsaEncryption).
const OID_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
/// OID 1.2.840.10045.2.1 (id-ecPublicKey).
const OID_EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// PKCS#8 `PrivateKeyInfo { 0, AlgorithmIdentifier, OCTET STRING key }`.
fn pkcs8(alg_id: &[u8], key: &[u8]) -> Vec<u8> {
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend(tlv(0x30, alg_id));
    body.extend(tlv(0x04, key));
    tlv(0x30, &body)
}

/// SEC1 `ECPrivateKey` → PKCS#8: the curve moves from `[0]` into the algorithm identifier (ring,
/// like OpenSSL's own PKCS#8, wants it there); the key and its `[1]` public key stay.
fn sec1_to_pkcs8(der: &[u8]) -> Result<Vec<u8>, String> {
    use x509_parser::der_parser::ber::BerObjectContent;
    let bad = || "not a valid EC private key".to_string();
    let (_, obj) = x509_parser::der_parser::parse_der(der).map_err(|_| bad())?;
    let items = obj.as_sequence().map_err(|_| bad())?;
    let mut curve: Option<Vec<u8>> = None;
    let mut private: Option<Vec<u8>> = None;
    let mut public: Option<Vec<u8>> = None;
    for it in items {
        match (&it.content, it.header.tag().0, it.header.class()) {
            (BerObjectContent::OctetString(k), _, _) => private = Some(k.to_vec()),
            (_, 0, x509_parser::der_parser::ber::Class::ContextSpecific) => {
                // [0] EXPLICIT OBJECT IDENTIFIER: keep the inner TLV as it is.
                let raw = it.as_slice().map_err(|_| bad())?;
                curve = Some(raw.to_vec());
            }
            (_, 1, x509_parser::der_parser::ber::Class::ContextSpecific) => {
                let raw = it.as_slice().map_err(|_| bad())?;
                public = Some(raw.to_vec());
            }
            _ => {}
        }
    }
    let curve = curve.ok_or("the EC key does not name its curve")?;
    let private = private.ok_or_else(bad)?;
    let public = public.ok_or("the EC key does not contain its public key")?;
    let mut inner = vec![0x02, 0x01, 0x01];
    inner.extend(tlv(0x04, &private));
    inner.extend(tlv(0xa1, &public));
    let ec_key = tlv(0x30, &inner);
    let mut alg = OID_EC.to_vec();
    alg.extend(curve);
    Ok(pkcs8(&alg, &ec_key))
}

/// Reads an unencrypted private key (PKCS#8, PKCS#1 RSA or SEC1 EC; RSA of at least 2048 bits,
/// ECDSA P-256/P-384, Ed25519).
pub fn load_key(pem: &str) -> Result<KeyPair, String> {
    let blocks = pem_blocks(pem)?;
    let Some(b) = blocks
        .into_iter()
        .find(|b| b.label.ends_with("PRIVATE KEY"))
    else {
        return Err("no PEM private key (-----BEGIN PRIVATE KEY-----) found".into());
    };
    let der = match b.label.as_str() {
        "PRIVATE KEY" => b.contents,
        "RSA PRIVATE KEY" => pkcs8(&[OID_RSA, &[0x05, 0x00]].concat(), &b.contents),
        "EC PRIVATE KEY" => sec1_to_pkcs8(&b.contents)?,
        "ENCRYPTED PRIVATE KEY" => {
            return Err(
                "the private key is encrypted: decrypt it first (openssl pkey -in key.pem -out plain.pem)"
                    .into(),
            )
        }
        other => return Err(format!("unsupported private key type {other}")),
    };
    KeyPair::try_from(der.as_slice()).map_err(|_| {
        "the private key cannot be read (supported: RSA of 2048 bits or more, ECDSA P-256/P-384, Ed25519)"
            .to_string()
    })
}

/// Whether `key` is the private key of the certificate `der`.
pub fn key_matches(key: &KeyPair, der: &[u8]) -> Result<bool, String> {
    let c = x509(der)?;
    Ok(c.public_key().subject_public_key.data.as_ref() == key.public_key_raw())
}

/// Checks that `chain` (intermediates, maybe up to a root) is the issuer path of `leaf`: the
/// leaf's signature verifies with the first link's key, each link's with the next one's, every
/// link is a CA, none has expired, and nothing unrelated is in the chain.
pub fn validate_chain(leaf: &[u8], chain: &[Vec<u8>], now: DateTime<Utc>) -> Result<(), String> {
    if chain.is_empty() {
        return Ok(());
    }
    let mut current = x509(leaf)?;
    for (i, der) in chain.iter().enumerate() {
        let link = x509(der)?;
        let n = i + 1;
        if link.subject().as_raw() != current.issuer().as_raw() {
            return Err(format!(
                "chain certificate {n} ({}) is not the issuer of the certificate before it ({})",
                link.subject(),
                current.issuer()
            ));
        }
        current
            .verify_signature(Some(link.public_key()))
            .map_err(|_| {
                format!(
                    "chain certificate {n} ({}) did not sign the certificate before it",
                    link.subject()
                )
            })?;
        if !link.is_ca() {
            return Err(format!(
                "chain certificate {n} ({}) is not a CA",
                link.subject()
            ));
        }
        if from_ts(link.validity().not_after.timestamp())? <= now {
            return Err(format!(
                "chain certificate {n} ({}) has expired",
                link.subject()
            ));
        }
        current = link;
    }
    Ok(())
}

/// Whether the certificate name `have` covers the requested `want`: equal, or `have` is a
/// wildcard `*.zone` and `want` is one label under `zone` (a wildcard never covers the zone
/// itself, nor a wildcard request unless it is the same).
pub fn covers(have: &str, want: &str) -> bool {
    let (have, want) = (have.to_ascii_lowercase(), want.to_ascii_lowercase());
    if have == want {
        return true;
    }
    match (have.strip_prefix("*."), want.split_once('.')) {
        (Some(zone), Some((label, rest))) => rest == zone && !label.is_empty() && label != "*",
        _ => false,
    }
}

/// The requested names `want` that no name of `have` covers.
pub fn uncovered(have: &[String], want: &[String]) -> Vec<String> {
    want.iter()
        .filter(|w| !have.iter().any(|h| covers(h, w)))
        .cloned()
        .collect()
}

/// The names a certificate for `domain` of `certificate_type` carries: `wizard` → `*.domain`
/// and `domain`; `normal` → `domain`. The domain is a DNS name (letters, digits, hyphens; a
/// leading `*.` is taken as the wildcard's base for `wizard`, kept for `normal`).
pub fn names_for(domain: &str, certificate_type: &str) -> Result<Vec<String>, String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let (wild, base) = match d.strip_prefix("*.") {
        Some(b) => (true, b.to_string()),
        None => (false, d.clone()),
    };
    check_dns_name(&base)?;
    if !base.contains('.') {
        return Err("a certificate's domain has at least two labels (example.com)".into());
    }
    if (wild || certificate_type == "wizard") && is_public_suffix(&base) {
        return Err(format!(
            "{base} is a public suffix: a wildcard certificate directly under it (*.{base}) is refused"
        ));
    }
    match certificate_type {
        "wizard" => Ok(vec![format!("*.{base}"), base]),
        "normal" if wild => Ok(vec![format!("*.{base}")]),
        "normal" => Ok(vec![base]),
        _ => Err("certificate_type is `wizard` (wildcard) or `normal`".into()),
    }
}

/// Two-label public suffixes (the common multi-part ones of the Public Suffix List): a wildcard
/// directly under one of them would cover every registrant's domain.
const MULTI_PART_SUFFIXES: &[&str] = &[
    "ac.uk", "co.uk", "gov.uk", "ltd.uk", "me.uk", "net.uk", "org.uk", "plc.uk", "sch.uk", "ac.cn",
    "com.cn", "edu.cn", "gov.cn", "net.cn", "org.cn", "com.hk", "org.hk", "net.hk", "com.tw",
    "org.tw", "net.tw", "com.au", "net.au", "org.au", "edu.au", "gov.au", "asn.au", "id.au",
    "co.nz", "net.nz", "org.nz", "ac.nz", "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "ad.jp",
    "co.kr", "or.kr", "ne.kr", "co.in", "net.in", "org.in", "firm.in", "gen.in", "com.br",
    "net.br", "org.br", "com.mx", "org.mx", "com.ar", "com.sg", "com.my", "co.za", "org.za",
    "co.il", "org.il", "com.tr", "com.ru", "com.ua", "co.id", "or.id", "com.ph", "com.vn", "co.th",
    "in.th", "com.pk", "com.eg", "com.sa", "co.ke",
];

/// Whether `base` (lower case, no wildcard) is a public suffix by itself: a single label (`com`)
/// or a known two-label one (`co.uk`, `com.cn`).
pub fn is_public_suffix(base: &str) -> bool {
    let base = base.trim_end_matches('.');
    match base.matches('.').count() {
        0 => true,
        1 => MULTI_PART_SUFFIXES.contains(&base),
        _ => false,
    }
}

/// Whether the DNS name `name` (maybe `*.`-prefixed) is `suffix` or under it.
pub fn within(name: &str, suffix: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let suffix = suffix.trim_end_matches('.').to_ascii_lowercase();
    match suffix.strip_prefix('.') {
        // RFC 5280 style ".example.com": names under it only.
        Some(s) => name.ends_with(&format!(".{s}")),
        None => name == suffix || name.ends_with(&format!(".{suffix}")),
    }
}

/// The names of `names` a CA certificate's DNS name constraints forbid (outside every permitted
/// DNS subtree when it has any, or inside an excluded one); an unreadable certificate is an error.
pub fn constrained_out(ca_pem: &str, names: &[String]) -> Result<Vec<String>, String> {
    let der = cert_ders(ca_pem)?.remove(0);
    let c = x509(&der)?;
    let Some(nc) = c
        .name_constraints()
        .map_err(|e| format!("the CA's name constraints cannot be read: {e}"))?
    else {
        return Ok(vec![]);
    };
    let dns = |t: &Option<Vec<x509_parser::extensions::GeneralSubtree>>| -> Vec<String> {
        t.iter()
            .flatten()
            .filter_map(|g| match g.base {
                GeneralName::DNSName(d) => Some(d.to_string()),
                _ => None,
            })
            .collect()
    };
    let permitted = dns(&nc.value.permitted_subtrees);
    let excluded = dns(&nc.value.excluded_subtrees);
    Ok(names
        .iter()
        .filter(|n| {
            (!permitted.is_empty() && !permitted.iter().any(|p| within(n, p)))
                || excluded.iter().any(|x| within(n, x))
        })
        .cloned()
        .collect())
}

/// A DNS name of letters, digits and hyphens (no wildcard), at most 253 characters.
pub fn check_dns_name(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("a domain is required".into());
    }
    if !v.is_ascii() {
        return Err("use the ASCII (punycode, xn--…) form of an internationalized name".into());
    }
    if v.len() > 253 {
        return Err("a domain has at most 253 characters".into());
    }
    for l in v.split('.') {
        if l.is_empty() || l.len() > 63 {
            return Err("each part between dots has 1 to 63 characters".into());
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Err("a part may not start or end with a hyphen".into());
        }
        if !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("a domain has letters, digits, hyphens and dots only".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    fn tmp() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "opsdeck-ca-unit-{}-{}",
            std::process::id(),
            crate::security::random_token(4)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn openssl(args: &[&str]) -> (bool, String) {
        let o = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl (Debian package openssl)");
        (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    }

    #[test]
    fn generated_ca_and_leaf_pass_openssl_verify() {
        let d = tmp();
        let ca = generate_ca(now(), &[]).unwrap();
        let names = names_for("Example.COM", "wizard").unwrap();
        assert_eq!(names, vec!["*.example.com", "example.com"]);
        let leaf = issue_leaf(&ca, &names, now(), 397).unwrap();
        std::fs::write(d.join("ca.pem"), &ca.cert_pem).unwrap();
        std::fs::write(d.join("leaf.pem"), &leaf.cert_pem).unwrap();
        std::fs::write(d.join("leaf.key"), &leaf.key_pem).unwrap();
        let ca_path = d.join("ca.pem").display().to_string();
        let leaf_path = d.join("leaf.pem").display().to_string();
        let (ok, out) = openssl(&[
            "verify",
            "-CAfile",
            &ca_path,
            "-purpose",
            "sslserver",
            &leaf_path,
        ]);
        assert!(ok, "{out}");
        let (ok, ca_text) = openssl(&["x509", "-in", &ca_path, "-noout", "-text"]);
        assert!(ok, "{ca_text}");
        assert!(ca_text.contains("CA:TRUE"), "{ca_text}");
        assert!(ca_text.contains("Certificate Sign"), "{ca_text}");
        assert!(
            ca_text.contains("CN=Opsdeck CA") || ca_text.contains("CN = Opsdeck CA"),
            "{ca_text}"
        );
        let (ok, text) = openssl(&["x509", "-in", &leaf_path, "-noout", "-text"]);
        assert!(ok, "{text}");
        assert!(
            text.contains("DNS:*.example.com, DNS:example.com"),
            "{text}"
        );
        assert!(text.contains("TLS Web Server Authentication"), "{text}");
        assert!(text.contains("CA:FALSE"), "{text}");
        // The key on disk is the certificate's (openssl's own comparison of public keys).
        let (_, k) = openssl(&[
            "pkey",
            "-in",
            &d.join("leaf.key").display().to_string(),
            "-pubout",
        ]);
        let (_, c) = openssl(&["x509", "-in", &leaf_path, "-noout", "-pubkey"]);
        assert_eq!(k, c);
        // Our reading agrees with openssl's.
        let info = parse_one(&leaf.cert_pem).unwrap();
        let (_, serial) = openssl(&["x509", "-in", &leaf_path, "-noout", "-serial"]);
        assert_eq!(serial.trim(), format!("serial={}", info.serial));
        assert_eq!(info.serial.len(), 32, "128-bit serial: {}", info.serial);
        assert_eq!(info.names, names);
        assert_eq!(info.common_name.as_deref(), Some("*.example.com"));
        let days = (info.not_after - info.not_before).num_days();
        assert_eq!(days, 397);
        assert!(info.issuer.contains("Opsdeck CA"));
        let ca_info = parse_one(&ca.cert_pem).unwrap();
        assert!(ca_info.is_ca && ca_info.self_signed);
        assert!((ca_info.not_after - ca_info.not_before).num_days() >= 3650);
        // Two certificates never share a serial.
        let again = issue_leaf(&ca, &names, now(), 30).unwrap();
        assert_ne!(parse_one(&again.cert_pem).unwrap().serial, info.serial);
        // Validation: the CA is the leaf's chain; the leaf's key matches it, the CA's does not.
        let leaf_der = &cert_ders(&leaf.cert_pem).unwrap()[0];
        let ca_der = cert_ders(&ca.cert_pem).unwrap();
        validate_chain(leaf_der, &ca_der, now()).unwrap();
        assert!(key_matches(&load_key(&leaf.key_pem).unwrap(), leaf_der).unwrap());
        assert!(!key_matches(&load_key(&ca.key_pem).unwrap(), leaf_der).unwrap());
        let other = generate_ca(now(), &[]).unwrap();
        assert!(validate_chain(leaf_der, &cert_ders(&other.cert_pem).unwrap(), now()).is_err());
        std::fs::remove_dir_all(d).ok();
    }

    #[test]
    fn operator_keys_in_every_pem_form_sign_and_match() {
        let d = tmp();
        let p = |n: &str| d.join(n).display().to_string();
        // RSA PKCS#8 (OpenSSL 3's default), RSA PKCS#1, EC SEC1.
        assert!(
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &p("rsa.key"),
                "-out",
                &p("rsa.pem"),
                "-days",
                "30",
                "-subj",
                "/CN=Ops Root RSA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign"
            ])
            .0
        );
        assert!(
            openssl(&[
                "rsa",
                "-in",
                &p("rsa.key"),
                "-traditional",
                "-out",
                &p("rsa1.key")
            ])
            .0
        );
        assert!(
            openssl(&[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                &p("ec.key")
            ])
            .0
        );
        assert!(
            openssl(&[
                "req",
                "-x509",
                "-key",
                &p("ec.key"),
                "-out",
                &p("ec.pem"),
                "-days",
                "30",
                "-subj",
                "/CN=Ops Root EC",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign"
            ])
            .0
        );
        let read = |n: &str| std::fs::read_to_string(d.join(n)).unwrap();
        assert!(read("rsa1.key").contains("BEGIN RSA PRIVATE KEY"));
        assert!(read("ec.key").contains("BEGIN EC PRIVATE KEY"));
        for (cert, key) in [
            ("rsa.pem", "rsa.key"),
            ("rsa.pem", "rsa1.key"),
            ("ec.pem", "ec.key"),
        ] {
            let ca = KeyedCert {
                cert_pem: read(cert),
                key_pem: read(key),
            };
            let der = &cert_ders(&ca.cert_pem).unwrap()[0];
            assert!(
                key_matches(&load_key(&ca.key_pem).unwrap(), der).unwrap(),
                "{key}"
            );
            let leaf = issue_leaf(&ca, &["svc.example.org".to_string()], now(), 397).unwrap();
            std::fs::write(d.join("leaf.pem"), &leaf.cert_pem).unwrap();
            let (ok, out) = openssl(&["verify", "-CAfile", &p(cert), &p("leaf.pem")]);
            assert!(ok, "{cert}/{key}: {out}");
            // Capped at the CA's own expiry (30 days).
            let info = parse_one(&leaf.cert_pem).unwrap();
            assert!(info.not_after <= parse_one(&ca.cert_pem).unwrap().not_after);
        }
        // Keys of another certificate do not match.
        let rsa_der = &cert_ders(&read("rsa.pem")).unwrap()[0];
        assert!(!key_matches(&load_key(&read("ec.key")).unwrap(), rsa_der).unwrap());
        // Encrypted keys and garbage are refused with a reason.
        assert!(
            openssl(&[
                "pkey",
                "-in",
                &p("ec.key"),
                "-aes256",
                "-passout",
                "pass:x",
                "-out",
                &p("enc.key")
            ])
            .0
        );
        assert!(load_key(&read("enc.key"))
            .unwrap_err()
            .contains("encrypted"));
        assert!(load_key("hello").is_err());
        assert!(cert_ders("hello").is_err());
        assert!(
            cert_ders("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err()
        );
        assert!(cert_ders(&read("ec.key")).is_err());
        std::fs::remove_dir_all(d).ok();
    }

    #[test]
    fn names_and_coverage() {
        assert_eq!(
            names_for("a.example.com", "normal").unwrap(),
            vec!["a.example.com"]
        );
        assert_eq!(
            names_for("*.example.com", "wizard").unwrap(),
            vec!["*.example.com", "example.com"]
        );
        assert_eq!(
            names_for("*.example.com", "normal").unwrap(),
            vec!["*.example.com"]
        );
        for bad in [
            "",
            "com",
            "-a.example.com",
            "a..b",
            "a b.com",
            "bücher.de",
            "x.*.com",
        ] {
            assert!(names_for(bad, "normal").is_err(), "{bad}");
        }
        assert!(names_for("example.com", "gold").is_err());
        let have = vec!["*.example.com".to_string(), "example.com".to_string()];
        assert!(covers("*.example.com", "www.example.com"));
        assert!(!covers("*.example.com", "a.b.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(covers("*.example.com", "*.example.com"));
        assert!(!covers("www.example.com", "*.example.com"));
        assert!(uncovered(&have, &["www.example.com".into(), "example.com".into()]).is_empty());
        assert_eq!(
            uncovered(&have, &["example.org".into()]),
            vec!["example.org"]
        );
    }
}
