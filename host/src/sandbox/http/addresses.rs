//! Where a grant by name may not lead: one table of address ranges, and the IPv6 forms that
//! embed an IPv4 address. A host name granted for HTTP is resolved by the host, and every
//! address it resolves to is looked up here before anything connects (see [`super::egress`]),
//! so DNS cannot turn a grant towards a cloud's metadata service or the user's own network.
//!
//! Invariants: an IPv6 address that embeds an IPv4 one (mapped `::ffff:a.b.c.d`, compatible
//! `::a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`, Teredo
//! `2001::/32` with its server and its client, ISATAP `…:5efe:a.b.c.d`) is judged by the
//! embedded address too; metadata, link-local, unspecified, multicast, reserved and
//! documentation ranges are refused to every name; loopback only to a grant that names
//! `localhost`; private, shared (CGNAT), benchmarking and unique-local ranges to every name (a
//! grant that names such an address literally is not resolved, so it reaches it).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is special.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A cloud's metadata or host service; never reached by name.
    Metadata,
    /// Link-local, unspecified, multicast, broadcast, reserved, documentation; never by name.
    Never,
    /// The machine itself: only a grant naming `localhost` reaches it by name.
    Loopback,
    /// Private, shared (CGNAT), benchmarking, unique-local, site-local: never by name.
    Private,
}

/// IPv4 ranges, the most specific first.
const V4: &[(Ipv4Addr, u8, Kind, &str)] = &[
    (
        Ipv4Addr::new(169, 254, 169, 254),
        32,
        Kind::Metadata,
        "AWS, GCP, Azure, OCI and DigitalOcean instance metadata",
    ),
    (
        Ipv4Addr::new(169, 254, 170, 2),
        32,
        Kind::Metadata,
        "AWS ECS task credentials",
    ),
    (
        Ipv4Addr::new(169, 254, 0, 23),
        32,
        Kind::Metadata,
        "Tencent Cloud metadata",
    ),
    (
        Ipv4Addr::new(100, 100, 100, 200),
        32,
        Kind::Metadata,
        "Alibaba Cloud metadata",
    ),
    (
        Ipv4Addr::new(168, 63, 129, 16),
        32,
        Kind::Metadata,
        "Azure host services (WireServer)",
    ),
    (
        Ipv4Addr::new(192, 0, 0, 192),
        32,
        Kind::Metadata,
        "Oracle Cloud metadata (legacy)",
    ),
    (Ipv4Addr::new(169, 254, 0, 0), 16, Kind::Never, "link-local"),
    (
        Ipv4Addr::new(0, 0, 0, 0),
        8,
        Kind::Never,
        "\"this network\" (0.0.0.0/8)",
    ),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        Kind::Never,
        "IETF protocol assignments",
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        Kind::Never,
        "documentation",
    ),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        Kind::Never,
        "documentation",
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        Kind::Never,
        "documentation",
    ),
    (Ipv4Addr::new(224, 0, 0, 0), 4, Kind::Never, "multicast"),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        Kind::Never,
        "reserved or broadcast",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, Kind::Loopback, "loopback"),
    (
        Ipv4Addr::new(10, 0, 0, 0),
        8,
        Kind::Private,
        "private (RFC 1918)",
    ),
    (
        Ipv4Addr::new(172, 16, 0, 0),
        12,
        Kind::Private,
        "private (RFC 1918)",
    ),
    (
        Ipv4Addr::new(192, 168, 0, 0),
        16,
        Kind::Private,
        "private (RFC 1918)",
    ),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        Kind::Private,
        "shared address space (CGNAT)",
    ),
    (
        Ipv4Addr::new(198, 18, 0, 0),
        15,
        Kind::Private,
        "benchmarking",
    ),
];

/// IPv6 ranges, the most specific first (embeddings are handled by [`embedded`]).
const V6: &[(Ipv6Addr, u8, Kind, &str)] = &[
    (
        Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0),
        32,
        Kind::Metadata,
        "AWS instance metadata, DNS and time (fd00:ec2::/32)",
    ),
    (
        Ipv6Addr::new(0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254),
        128,
        Kind::Metadata,
        "GCP instance metadata",
    ),
    (
        Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0),
        128,
        Kind::Never,
        "unspecified",
    ),
    (
        Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1),
        128,
        Kind::Loopback,
        "loopback",
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        Kind::Never,
        "link-local",
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        Kind::Never,
        "multicast",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        Kind::Never,
        "discard-only",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        Kind::Never,
        "documentation",
    ),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        Kind::Private,
        "local-use NAT64",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        Kind::Private,
        "unique local",
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        Kind::Private,
        "site-local",
    ),
];

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    u128::from(ip) & mask == u128::from(net) & mask
}

/// The IPv4 addresses an IPv6 address carries, in every form a network may route on.
pub fn embedded(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from(bits as u32);
    let seg = ip.segments();
    let mut out = Vec::new();
    let top96 = bits >> 32;
    if top96 == 0xffff || (top96 == 0 && bits > 1) {
        out.push(low32); // mapped, compatible
    }
    if in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96)
        || in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48)
    {
        out.push(low32); // NAT64
    }
    if seg[0] == 0x2002 {
        out.push(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32)); // 6to4
    }
    if seg[0] == 0x2001 && seg[1] == 0 {
        out.push(Ipv4Addr::from(((bits >> 64) & 0xffff_ffff) as u32)); // Teredo server
        out.push(Ipv4Addr::from(!(bits as u32))); // Teredo client (obfuscated)
    }
    if (seg[4] == 0 || seg[4] == 0x200) && seg[5] == 0x5efe {
        out.push(low32); // ISATAP
    }
    out
}

/// What `ip` is, if special: its kind and its name.
pub fn classify(ip: IpAddr) -> Option<(Kind, &'static str)> {
    match ip {
        IpAddr::V4(v4) => V4
            .iter()
            .find(|(net, len, ..)| in_v4(v4, *net, *len))
            .map(|(_, _, kind, name)| (*kind, *name)),
        IpAddr::V6(v6) => {
            // The strictest of the address itself and what it embeds.
            let own = V6
                .iter()
                .find(|(net, len, ..)| in_v6(v6, *net, *len))
                .map(|(_, _, kind, name)| (*kind, *name));
            let inner = embedded(v6)
                .into_iter()
                .filter_map(|v4| classify(IpAddr::V4(v4)));
            own.into_iter()
                .chain(inner)
                .min_by_key(|(kind, _)| severity(*kind))
        }
    }
}

fn severity(kind: Kind) -> u8 {
    match kind {
        Kind::Metadata => 0,
        Kind::Never => 1,
        Kind::Private => 2,
        Kind::Loopback => 3,
    }
}

/// Why a grant by name may not reach `ip` (`localhost`: the grant names localhost), if so.
pub fn refused(ip: IpAddr, localhost: bool) -> Option<String> {
    let (kind, name) = classify(ip)?;
    match kind {
        Kind::Loopback if localhost => None,
        Kind::Metadata => Some(format!("a cloud metadata address ({name})")),
        Kind::Loopback => Some(format!(
            "{name}, which only a grant naming localhost or the address itself reaches"
        )),
        _ => Some(format!(
            "{name}, which only a grant naming the address itself reaches"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> Option<Kind> {
        classify(s.parse().unwrap()).map(|(k, _)| k)
    }

    #[test]
    fn metadata_of_every_major_cloud_in_every_form() {
        for ip in [
            "169.254.169.254",
            "169.254.170.2",
            "169.254.0.23",
            "100.100.100.200",
            "168.63.129.16",
            "fd00:ec2::254",
            "fd00:ec2::23",
            "fd20:ce::254",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:0:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:5601:5601", // Teredo client 169.254.169.254 (inverted)
            "fe80::5efe:a9fe:a9fe",
            "2001:db9::200:5efe:a9fe:a9fe",
            "::ffff:100.100.100.200",
        ] {
            assert_eq!(kind(ip), Some(Kind::Metadata), "{ip}");
            assert!(refused(ip.parse().unwrap(), true).is_some(), "{ip}");
        }
    }

    #[test]
    fn local_networks_are_refused_unless_named() {
        for (ip, expected) in [
            ("127.0.0.1", Kind::Loopback),
            ("127.9.9.9", Kind::Loopback),
            ("::1", Kind::Loopback),
            ("::ffff:127.0.0.1", Kind::Loopback),
            ("10.1.2.3", Kind::Private),
            ("172.31.255.255", Kind::Private),
            ("192.168.1.1", Kind::Private),
            ("100.64.0.1", Kind::Private),
            ("198.19.0.1", Kind::Private),
            ("fd12:3456::1", Kind::Private),
            ("::ffff:10.0.0.1", Kind::Private),
            ("2002:0a00:0001::1", Kind::Private),
            ("0.0.0.0", Kind::Never),
            ("::", Kind::Never),
            ("169.254.1.1", Kind::Never),
            ("fe80::1", Kind::Never),
            ("224.0.0.1", Kind::Never),
            ("255.255.255.255", Kind::Never),
            ("ff02::1", Kind::Never),
        ] {
            assert_eq!(kind(ip), Some(expected), "{ip}");
        }
        assert_eq!(refused("127.0.0.1".parse().unwrap(), true), None);
        assert_eq!(refused("::1".parse().unwrap(), true), None);
        assert!(refused("127.0.0.1".parse().unwrap(), false).is_some());
        assert!(refused("10.0.0.1".parse().unwrap(), true).is_some());
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "52.94.1.1",
            "8.8.8.8",
            "2600:1f18::1",
            "2001:4860::8888",
            "172.32.0.1",
        ] {
            assert_eq!(kind(ip), None, "{ip}");
            assert_eq!(refused(ip.parse().unwrap(), false), None, "{ip}");
        }
    }
}
