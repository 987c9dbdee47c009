//! Who sent a request: the peer address, or the address a trusted proxy
//! says it forwarded for. One rule, used wherever the API needs a client
//! address (the per-address limit of unauthenticated routes, the IP
//! recorded with a contract signature).
//!
//! `X-Forwarded-For` is believed only hop by hop through proxies listed in
//! `TRUSTED_PROXIES`, walking the list from the right (nginx's
//! `real_ip_recursive on`, Rails' `remote_ip`): start at the peer; while
//! the current address is a trusted proxy, step to the hop it reported
//! (the next entry leftwards); the first untrusted address is the client.
//! Whatever a client writes into the header itself sits left of the first
//! untrusted hop and is never reached. An entry that is not an address
//! stops the walk at the proxy that forwarded it, and so does the end of
//! the list. With no trusted proxies the header is ignored.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) count as the IPv4
//! address, in the trusted list and on the wire alike.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The proxies whose `X-Forwarded-For` hop is believed; empty by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// A `TRUSTED_PROXIES` entry that is not a CIDR block or an address.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a CIDR block (such as 10.0.0.0/8 or fd00::/8) or an IP address")]
pub struct BadProxyEntry(pub String);

impl FromStr for TrustedProxies {
    type Err = BadProxyEntry;

    /// A comma list of CIDR blocks; a bare address is its own /32 or /128.
    fn from_str(list: &str) -> Result<Self, BadProxyEntry> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(canonical_net)
                    .map_err(|_| BadProxyEntry(entry.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl TrustedProxies {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client address of a request from `peer` carrying these
    /// `X-Forwarded-For` header values (in the order received; several
    /// headers read as one list).
    pub fn client_addr<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.into_iter().rev() {
            let Some(addr) = parse_hop(hop) else {
                break;
            };
            client = addr;
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// An entry of `X-Forwarded-For`: an address, or an address with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`), which some proxies write.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(canonical)
}

/// A block of IPv4-mapped addresses as the IPv4 block, without host bits.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && let (Some(v4), Some(len)) = (v6.addr().to_ipv4_mapped(), v6.prefix_len().checked_sub(96))
        && let Ok(v4) = Ipv4Net::new(v4, len)
    {
        return IpNet::V4(v4.trunc());
    }
    net.trunc()
}

fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// What a per-address limit counts a client by: its IPv4 address, or the
/// /64 its IPv6 address is in (one subscriber line or host usually holds a
/// whole /64, so counting single IPv6 addresses would let it pick a fresh
/// one per request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(IpNet);

impl From<IpAddr> for ClientKey {
    fn from(addr: IpAddr) -> Self {
        Self(match canonical(addr) {
            IpAddr::V4(v4) => IpNet::from(IpAddr::V4(v4)),
            IpAddr::V6(v6) => Ipv6Net::new(v6, 64)
                .map(|net| IpNet::V6(net.trunc()))
                .unwrap_or_else(|_| IpNet::from(IpAddr::V6(Ipv6Addr::UNSPECIFIED))),
        })
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpNet::V4(net) => write!(f, "{}", net.addr()),
            IpNet::V6(net) => write!(f, "{net}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &str) -> TrustedProxies {
        list.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn cidr_lists_parse_and_bad_entries_are_named() {
        let list = proxies(" 10.0.0.0/8, 192.0.2.7 ,fd00::/8,,");
        assert!(list.trusts(ip("10.200.3.4")));
        assert!(list.trusts(ip("192.0.2.7")));
        assert!(!list.trusts(ip("192.0.2.8")));
        assert!(list.trusts(ip("fd12::1")));
        assert!(list.trusts(ip("::ffff:10.1.1.1")), "v4-mapped counts as v4");
        assert!(proxies("").is_empty());
        assert!(proxies("::ffff:10.0.0.0/104").trusts(ip("10.9.9.9")));
        // Host bits are dropped rather than refused: 10.1.2.3/8 is 10/8.
        assert!(proxies("10.1.2.3/8").trusts(ip("10.9.9.9")));
        for bad in [
            "10.0.0.0/33",
            "10.0.0",
            "example.com",
            "10.0.0.0/8 10.1.0.0/16",
            "*",
        ] {
            assert_eq!(
                bad.parse::<TrustedProxies>(),
                Err(BadProxyEntry(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_addr(ip("203.0.113.9"), ["198.51.100.1"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            none.client_addr(ip("127.0.0.1"), ["198.51.100.1"]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let list = proxies("10.0.0.0/8");
        assert_eq!(
            list.client_addr(ip("203.0.113.9"), ["10.0.0.1, 198.51.100.1"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_walk_goes_right_to_left_through_trusted_hops() {
        let list = proxies("10.0.0.0/8, 127.0.0.1");
        // client -> 10.0.0.5 -> 10.0.0.6 -> 127.0.0.1 (peer)
        assert_eq!(
            list.client_addr(ip("127.0.0.1"), ["198.51.100.7, 10.0.0.5, 10.0.0.6"]),
            ip("198.51.100.7")
        );
        // A spoofed first hop is left of the real client and never reached.
        assert_eq!(
            list.client_addr(ip("127.0.0.1"), ["1.2.3.4, 198.51.100.7, 10.0.0.5"]),
            ip("198.51.100.7")
        );
        // Several headers read as one list, in order.
        assert_eq!(
            list.client_addr(ip("127.0.0.1"), ["1.2.3.4, 198.51.100.7", "10.0.0.5"]),
            ip("198.51.100.7")
        );
        // An untrusted middle hop is where the walk stops.
        assert_eq!(
            list.client_addr(ip("127.0.0.1"), ["198.51.100.7, 203.0.113.50, 10.0.0.5"]),
            ip("203.0.113.50")
        );
        // Every hop trusted: the leftmost is the client.
        assert_eq!(
            list.client_addr(ip("127.0.0.1"), ["10.0.0.9, 10.0.0.5"]),
            ip("10.0.0.9")
        );
        // Ports and IPv6 in brackets, as some proxies write them.
        assert_eq!(
            list.client_addr(ip("127.0.0.1"), ["[2001:db8::1]:4711, 10.0.0.5:80"]),
            ip("2001:db8::1")
        );
        // No header: the trusted peer itself.
        assert_eq!(list.client_addr(ip("127.0.0.1"), []), ip("127.0.0.1"));
    }

    #[test]
    fn an_entry_that_is_not_an_address_stops_the_walk() {
        let list = proxies("10.0.0.0/8, 127.0.0.1");
        assert_eq!(
            list.client_addr(ip("127.0.0.1"), ["198.51.100.7, unknown, 10.0.0.5"]),
            ip("10.0.0.5")
        );
        assert_eq!(
            list.client_addr(ip("127.0.0.1"), ["198.51.100.7, "]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn mapped_peers_count_as_ipv4() {
        let list = proxies("127.0.0.1");
        assert_eq!(
            list.client_addr(ip("::ffff:127.0.0.1"), ["198.51.100.7"]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn clients_are_counted_by_address_or_ipv6_slash_64() {
        let key = |s: &str| ClientKey::from(ip(s)).to_string();
        assert_eq!(key("198.51.100.7"), "198.51.100.7");
        assert_eq!(key("::ffff:198.51.100.7"), "198.51.100.7");
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(
            ClientKey::from(ip("2001:db8:1:2::9")),
            ClientKey::from(ip("2001:db8:1:2:ffff::1"))
        );
    }
}
