//! The address guard (docs/webhooks.md, "Where deliveries may go"): a delivery resolves the
//! endpoint's host, checks every address here, and connects only to an address that passes,
//! so a name that resolves to the merchant's own network is refused before any connection.
//! Loopback passes only when the insecure setting is on (development and tests).

use std::net::IpAddr;

use ipnet::IpNet;

/// Why an address is refused: the range it falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{address} is in a blocked range ({range}): deliveries go only to public addresses")]
pub struct Blocked {
    pub address: IpAddr,
    pub range: &'static str,
}

/// The blocked ranges, each with its name (IANA's special-purpose registries). Earlier
/// entries win where ranges nest.
const RANGES: &[(&str, &str)] = &[
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("64:ff9b::/96", "NAT64"),
    ("64:ff9b:1::/48", "NAT64 (local use)"),
    ("100::/64", "discard-only"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
];

/// The range `address` is refused for, if any. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
/// is judged as the IPv4 address it carries.
pub fn blocked_range(address: IpAddr) -> Option<&'static str> {
    let address = unmapped(address);
    RANGES.iter().find_map(|(net, name)| {
        let net: IpNet = net.parse().expect("the ranges above are valid");
        net.contains(&address).then_some(*name)
    })
}

/// May a delivery connect to `address`? Loopback only with `allow_loopback` (the insecure
/// setting).
pub fn check(address: IpAddr, allow_loopback: bool) -> Result<(), Blocked> {
    match blocked_range(address) {
        None => Ok(()),
        Some("loopback") if allow_loopback => Ok(()),
        Some(range) => Err(Blocked { address, range }),
    }
}

fn unmapped(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every blocked range, by an address inside it, in IPv4, IPv6 and IPv4-mapped IPv6;
    /// classified only: no test here opens a connection.
    #[test]
    fn every_blocked_range_is_refused_by_name() {
        let cases: &[(&str, &str)] = &[
            ("0.0.0.0", "this network"),
            ("0.1.2.3", "this network"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("100.64.0.1", "shared address space"),
            ("100.127.255.254", "shared address space"),
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.0.0.8", "IETF protocol assignments"),
            ("192.0.2.10", "documentation"),
            ("192.88.99.1", "6to4 relay anycast"),
            ("192.168.1.1", "private"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::10.0.0.1", "IPv4-compatible (deprecated)"),
            ("64:ff9b::a00:1", "NAT64"),
            ("64:ff9b:1::1", "NAT64 (local use)"),
            ("100::1", "discard-only"),
            ("2001::1", "IETF protocol assignments"),
            ("2001:db8::1", "documentation"),
            ("2002:a00:1::1", "6to4"),
            ("3fff::1", "documentation"),
            ("5f00::1", "segment routing"),
            ("fc00::1", "unique local (private)"),
            ("fd12:3456::1", "unique local (private)"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local (deprecated)"),
            ("ff02::1", "multicast"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:192.168.0.1", "private"),
            ("::ffff:100.64.0.1", "shared address space"),
            ("::ffff:0.0.0.0", "this network"),
        ];
        for (text, range) in cases {
            let address: IpAddr = text.parse().unwrap();
            assert_eq!(blocked_range(address), Some(*range), "{text}");
            let refused = check(address, false).unwrap_err();
            assert_eq!(refused.range, *range, "{text}");
            assert!(refused.to_string().contains(range), "{text}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for text in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "198.17.255.255",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
        ] {
            let address: IpAddr = text.parse().unwrap();
            assert_eq!(blocked_range(address), None, "{text}");
            assert!(check(address, false).is_ok(), "{text}");
        }
    }

    #[test]
    fn loopback_passes_only_with_the_insecure_setting() {
        let loopbacks: [IpAddr; 3] = [
            std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::Ipv6Addr::LOCALHOST.into(),
            "::ffff:127.0.0.1".parse().unwrap(),
        ];
        for address in loopbacks {
            assert!(check(address, false).is_err(), "{address}");
            assert!(check(address, true).is_ok(), "{address}");
        }
        // The setting opens loopback only: the other blocked ranges stay closed.
        for text in ["10.0.0.1", "169.254.169.254", "fd00::1", "0.0.0.0", "::"] {
            let address: IpAddr = text.parse().unwrap();
            assert!(check(address, true).is_err(), "{text}");
        }
    }
}
