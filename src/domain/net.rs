//! Who the client is behind reverse proxies (CONTRACT §11): the trusted proxies (`TRUSTED_PROXIES`)
//! and the one rule that turns a TCP peer and its `X-Forwarded-For` into the client's address.

use std::fmt;
use std::net::IpAddr;

/// One address or a CIDR range (`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Parses an address or `address/prefix`; the address may have host bits set
    /// (`10.1.2.3/8` means `10.0.0.0/8`), as `ip route` reads it.
    pub fn parse(text: &str) -> Option<IpRange> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().ok()?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix.trim().parse::<u8>().ok().filter(|p| *p <= bits)?,
        };
        Some(IpRange { network, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        // An IPv4 peer reached over an IPv6 socket (`::ffff:10.0.0.1`) is that IPv4 address.
        let address = address.to_canonical();
        match (self.network, address) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(u128::from(net), u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn same_prefix(a: u128, b: u128, prefix: u8, bits: u32) -> bool {
    let host_bits = bits - u32::from(prefix);
    if host_bits >= bits {
        return true;
    }
    (a ^ b) >> host_bits == 0
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-For` is believed; empty trusts nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpRange>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses and CIDR ranges; the error names the first
    /// entry that is neither.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| IpRange::parse(entry).ok_or_else(|| entry.to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(address))
    }

    /// The client's address: the TCP `peer` itself unless it is a trusted proxy; behind one, the
    /// rightmost `X-Forwarded-For` entry that is not a trusted proxy (each proxy appends the peer
    /// it saw, so everything left of that entry was written by the client and may be forged). When
    /// every entry is a trusted proxy, the leftmost; an entry that is not an address ends the walk
    /// (only the client writes such), leaving the last trusted one. `forwarded_for` are the
    /// header's values in the order received.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let entries: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(address) = parse_forwarded_address(entry) else {
                break;
            };
            client = address;
            if !self.contains(address) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`192.0.2.1:5000`,
/// `[2001:db8::1]:443`).
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_match_their_prefix_only() {
        let range = IpRange::parse("10.1.0.0/16").unwrap();
        assert!(range.contains(ip("10.1.255.3")));
        assert!(!range.contains(ip("10.2.0.1")));
        assert!(range.contains(ip("::ffff:10.1.0.9")));
        assert!(IpRange::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(IpRange::parse("192.0.2.7")
            .unwrap()
            .contains(ip("192.0.2.7")));
        assert!(!IpRange::parse("192.0.2.7")
            .unwrap()
            .contains(ip("192.0.2.8")));
        assert!(IpRange::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(!IpRange::parse("fd00::/8").unwrap().contains(ip("10.0.0.1")));
        for bad in ["10.0.0.0/33", "10.0.0", "proxy", "::/129", "10.0.0.0/"] {
            assert!(IpRange::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_bad_entry_is_named() {
        assert_eq!(
            TrustedProxies::parse("10.0.0.0/8, nginx").unwrap_err(),
            "nginx"
        );
        assert!(TrustedProxies::parse(" ").unwrap().is_empty());
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_forwarded_address() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let proxy = ip("10.0.0.5");
        // Forged entries to the left of what the proxies wrote are not believed.
        assert_eq!(
            trusted.client_address(proxy, ["1.1.1.1, 203.0.113.9", "10.0.0.4"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            trusted.client_address(proxy, ["203.0.113.9:5123"]),
            ip("203.0.113.9")
        );
        // Every entry a proxy: the leftmost.
        assert_eq!(
            trusted.client_address(proxy, ["10.0.0.9, 10.0.0.4"]),
            ip("10.0.0.9")
        );
        // No header: the proxy itself.
        assert_eq!(trusted.client_address(proxy, []), proxy);
        // Junk ends the walk at the last proxy.
        assert_eq!(
            trusted.client_address(proxy, ["junk, 10.0.0.4"]),
            ip("10.0.0.4")
        );
    }

    #[test]
    fn an_untrusted_peers_forwarded_for_is_ignored() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            trusted.client_address(ip("203.0.113.9"), ["10.0.0.1"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            TrustedProxies::default().client_address(ip("127.0.0.1"), ["1.2.3.4"]),
            ip("127.0.0.1")
        );
    }
}
