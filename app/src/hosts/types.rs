//! Wire types of hosts, and IP address validation shared by forms and the service.
use crate::common::PageQuery;
use crate::error::{AppError, AppResult};
use crate::perms::types::PermFlags;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Host types exactly as seed 003 lists them.
pub const HOST_TYPES: &[&str] = &[
    "ALI_ECS",
    "PHY_HOST",
    "TECENT_CVM",
    "TECENT_CPM",
    "CLOUDSTACK",
    "CLOUDSTACK_OFFICE",
];
/// Host statuses (seed 003).
pub const HOST_STATUSES: &[&str] = &["attached", "inited", "raw", "offline"];
/// Operating-system statuses (seed 003).
pub const OS_STATUSES: &[&str] = &["stopped", "running", "restarting"];
/// Most IP addresses one host carries (API, form and CSV import alike).
pub const MAX_HOST_IPS: usize = 64;

/// An IP address of a host (seed 003 "Ip Address Object").
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IpAddress {
    /// `HOST`, `LB`, or null.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub is_virtual: bool,
    /// `PRIVATE` or `PUBLIC`; derived from the address when absent.
    #[serde(default)]
    pub addr_type: Option<String>,
    /// Network address; derived from address and netmask when absent.
    #[serde(default)]
    pub network: String,
    /// Dotted mask (255.255.255.0) or prefix length (24).
    pub netmask: String,
    pub address: String,
    #[serde(default)]
    pub zabbix_groups: Vec<String>,
    /// The seed also spells it `zabbix_temlates`.
    #[serde(default, alias = "zabbix_temlates")]
    pub zabbix_templates: Vec<String>,
}

/// A host (seed 003 "Host object").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Host {
    pub id: i64,
    /// The host name (`hostname` carries the same value).
    pub name: String,
    pub hostname: String,
    pub host_type: String,
    pub status: String,
    pub os_status: String,
    pub os_type: String,
    pub cpu: i64,
    pub memory: i64,
    pub location: String,
    pub description: String,
    pub ip_address: Vec<IpAddress>,
    pub created_at: String,
    pub updated_at: String,
    pub available_actions: PermFlags,
}

/// `GET /hosts/` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostFilter {
    /// Host name contains.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub host_type: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub os_status: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    /// IP address starts with.
    #[serde(default)]
    pub ip: Option<String>,
    /// Free text: name or description contains it (case-insensitive), or an IP address starts with it.
    #[serde(default)]
    pub q: Option<String>,
    /// `name`, `status`, `host_type`, `location`, `created_at`; `-` in front for descending.
    #[serde(default)]
    pub ordering: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// `POST /hosts/` and `PATCH /hosts/{id}/`. `ip_address`, when given, replaces the host's addresses.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostInput {
    #[serde(default, alias = "hostname")]
    pub name: Option<String>,
    #[serde(default)]
    pub host_type: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub os_status: Option<String>,
    #[serde(default)]
    pub os_type: Option<String>,
    #[serde(default)]
    pub cpu: Option<i64>,
    #[serde(default)]
    pub memory: Option<i64>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The seed also spells it `ip_adress`.
    #[serde(default, alias = "ip_adress")]
    pub ip_address: Option<Vec<IpAddress>>,
}

/// An application instance (seed 003 "App Instance").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Instance {
    pub id: i64,
    pub hostid: i64,
    pub hostname: String,
    pub app_id: i64,
    pub app_name: String,
    pub status: String,
    pub version: String,
}

/// `POST /applications/{id}/instances/` element.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InstanceOnHost {
    pub hostid: i64,
    #[serde(default)]
    pub hostname: Option<String>,
}

fn mask_bits(mask: &str, v6: bool) -> Option<u8> {
    if let Ok(n) = mask.trim().trim_start_matches('/').parse::<u8>() {
        return (n <= if v6 { 128 } else { 32 }).then_some(n);
    }
    if v6 {
        return None;
    }
    let m: std::net::Ipv4Addr = mask.trim().parse().ok()?;
    let bits = u32::from(m);
    // Contiguous ones from the left.
    (bits.leading_ones() + bits.trailing_zeros() == 32 || bits == 0)
        .then(|| bits.leading_ones() as u8)
}

fn apply_mask(a: IpAddr, bits: u8) -> IpAddr {
    match a {
        IpAddr::V4(v) => {
            let m = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            IpAddr::V4((u32::from(v) & m).into())
        }
        IpAddr::V6(v) => {
            let m = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            IpAddr::V6((u128::from(v) & m).into())
        }
    }
}

fn is_private(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_private() || v.is_loopback() || v.is_link_local(),
        IpAddr::V6(v) => v.is_loopback() || (v.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// Checks one address and fills in what can be derived (network, address type). Errors name
/// the address, so a form can show which row is wrong.
pub fn normalize_ip(ip: &IpAddress) -> AppResult<IpAddress> {
    let bad = |m: String| AppError::invalid("ip_address", m);
    let addr: IpAddr = ip
        .address
        .trim()
        .parse()
        .map_err(|_| bad(format!("{} is not an IP address", ip.address)))?;
    let bits = mask_bits(&ip.netmask, addr.is_ipv6())
        .ok_or_else(|| bad(format!("{} is not a valid netmask", ip.netmask)))?;
    let network = apply_mask(addr, bits);
    if !ip.network.trim().is_empty() {
        let given: IpAddr = ip
            .network
            .trim()
            .parse()
            .map_err(|_| bad(format!("{} is not a network address", ip.network)))?;
        if apply_mask(given, bits) != given {
            return Err(bad(format!(
                "netmask {} does not match network {}",
                ip.netmask, ip.network
            )));
        }
        if given != network {
            return Err(bad(format!(
                "{} is not in network {}/{}",
                ip.address, ip.network, bits
            )));
        }
    }
    let owner = match ip.owner.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(o @ ("HOST" | "LB")) => Some(o.to_string()),
        Some(o) => return Err(bad(format!("owner {o} is HOST, LB or null"))),
    };
    let addr_type = match ip.addr_type.as_deref() {
        None | Some("") => if is_private(addr) {
            "PRIVATE"
        } else {
            "PUBLIC"
        }
        .to_string(),
        Some(t @ ("PRIVATE" | "PUBLIC")) => t.to_string(),
        Some(t) => return Err(bad(format!("addr_type {t} is PRIVATE or PUBLIC"))),
    };
    let netmask = match addr {
        IpAddr::V4(_) => std::net::Ipv4Addr::from(if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        })
        .to_string(),
        IpAddr::V6(_) => bits.to_string(),
    };
    Ok(IpAddress {
        owner,
        is_virtual: ip.is_virtual,
        addr_type: Some(addr_type),
        network: network.to_string(),
        netmask,
        address: addr.to_string(),
        zabbix_groups: ip.zabbix_groups.clone(),
        zabbix_templates: ip.zabbix_templates.clone(),
    })
}

/// Validates the host fields that are set, and the IP list (no duplicate address on a network).
pub fn validate_host(h: &HostInput) -> AppResult<Option<Vec<IpAddress>>> {
    if let Some(n) = &h.name {
        let n = n.trim();
        let ok = (1..=253).contains(&n.len())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if !ok {
            return Err(AppError::invalid(
                "name",
                "a host name: letters, digits, - . _ (at most 253)",
            ));
        }
    }
    let one_of = |field: &str, v: &Option<String>, allowed: &[&str]| -> AppResult<()> {
        match v.as_deref() {
            Some(x) if !allowed.contains(&x) => Err(AppError::invalid(
                field,
                format!("{field} is one of {}", allowed.join(", ")),
            )),
            _ => Ok(()),
        }
    };
    one_of("host_type", &h.host_type, HOST_TYPES)?;
    one_of("status", &h.status, HOST_STATUSES)?;
    one_of("os_status", &h.os_status, OS_STATUSES)?;
    if h.cpu.is_some_and(|c| !(0..=4096).contains(&c)) {
        return Err(AppError::invalid("cpu", "cpu is 0-4096 cores"));
    }
    if h.memory.is_some_and(|m| m < 0) {
        return Err(AppError::invalid("memory", "memory is in MB, not negative"));
    }
    let Some(ips) = &h.ip_address else {
        return Ok(None);
    };
    if ips.len() > MAX_HOST_IPS {
        return Err(AppError::invalid(
            "ip_address",
            format!("a host has at most {MAX_HOST_IPS} addresses"),
        ));
    }
    let mut out: Vec<IpAddress> = vec![];
    let mut seen = std::collections::HashSet::new();
    for ip in ips {
        let n = normalize_ip(ip)?;
        if !seen.insert((n.network.clone(), n.address.clone())) {
            return Err(AppError::invalid(
                "ip_address",
                format!("{} is listed twice", n.address),
            ));
        }
        out.push(n);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    fn ip(a: &str, m: &str, n: &str) -> IpAddress {
        IpAddress {
            address: a.into(),
            netmask: m.into(),
            network: n.into(),
            ..Default::default()
        }
    }
    #[test]
    fn addresses_are_checked_and_completed() {
        let ok = normalize_ip(&ip("10.1.2.3", "255.255.0.0", "")).unwrap();
        assert_eq!(
            (ok.network.as_str(), ok.addr_type.as_deref()),
            ("10.1.0.0", Some("PRIVATE"))
        );
        assert_eq!(
            normalize_ip(&ip("8.8.8.8", "24", "8.8.8.0"))
                .unwrap()
                .netmask,
            "255.255.255.0"
        );
        assert!(normalize_ip(&ip("10.1.2.300", "255.255.0.0", "")).is_err());
        assert!(
            normalize_ip(&ip("10.1.2.3", "255.0.255.0", "")).is_err(),
            "non-contiguous mask"
        );
        assert!(
            normalize_ip(&ip("10.1.2.3", "255.255.0.0", "10.1.2.0")).is_err(),
            "mask does not match network"
        );
        assert!(
            normalize_ip(&ip("10.2.2.3", "255.255.0.0", "10.1.0.0")).is_err(),
            "address outside network"
        );
        assert!(normalize_ip(&ip("fd00::1", "64", "")).is_ok());
        let dup = HostInput {
            ip_address: Some(vec![ip("10.0.0.1", "24", ""), ip("10.0.0.1", "24", "")]),
            ..Default::default()
        };
        assert!(validate_host(&dup).is_err());
        assert!(validate_host(&HostInput {
            host_type: Some("VM".into()),
            ..Default::default()
        })
        .is_err());
    }
}
