//! Where the stack may connect when it calls out on a token holder's behalf: the writer and
//! extractor, their sync actions, and the console's region or custom URL.
//!
//! By default the stack reaches public addresses and the configured regions. Loopback, private
//! (RFC 1918, unique-local), link-local (the cloud metadata address among them), shared (CGNAT),
//! multicast, broadcast and unspecified addresses are refused unless the operator allows them
//! (`--outbound-allow`, hosts or CIDRs). The check runs on the address of every connection: names
//! are resolved by [`GuardedResolver`], which hands the connector only allowed addresses (so a name
//! that resolves, or later re-resolves, to a refused address cannot reach it), and IP literals,
//! which skip resolution, are checked by [`Policy::check_url`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use stowage_types::{Code, Error, Result};

/// The operator's destination policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Host names (lower case) allowed whatever they resolve to: the configured regions and the
    /// names the operator listed.
    hosts: Vec<String>,
    /// Networks allowed although not public.
    nets: Vec<IpNet>,
    /// No restriction (the CLI, which runs as its user, not as the stack).
    open: bool,
}

impl Policy {
    /// The policy of a stack: `allow` as the operator wrote it (host names, IP addresses or CIDRs),
    /// plus the hosts of `region_urls`.
    pub fn new<'a>(allow: &[String], region_urls: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let mut policy = Policy::default();
        for entry in allow.iter().map(|entry| entry.trim()).filter(|entry| !entry.is_empty()) {
            if let Ok(net) = entry.parse::<IpNet>() {
                policy.nets.push(net);
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                policy.nets.push(IpNet::from(ip));
            } else if entry.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                policy.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(Error::validation(format!(
                    "outbound allow list: \"{entry}\" is neither a host name, an IP address nor a CIDR (such as 10.0.0.0/8)."
                )));
            }
        }
        for url in region_urls {
            if let Some(host) = reqwest::Url::parse(url).ok().and_then(|url| url.host_str().map(str::to_string)) {
                policy.hosts.push(host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase());
            }
        }
        Ok(policy)
    }

    /// Any destination (for a client that acts as its own user).
    pub fn open() -> Self {
        Policy { open: true, ..Policy::default() }
    }

    fn host_allowed(&self, host: &str) -> bool {
        self.open || self.hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host))
    }

    /// True when a connection to `ip` is allowed.
    pub fn address_allowed(&self, ip: IpAddr) -> bool {
        self.open || is_public(ip) || self.nets.iter().any(|net| net.contains(&ip))
    }

    /// Refuses a URL the stack must not call: not http(s), with credentials in it, or naming a
    /// refused IP address directly (names are checked when they are resolved).
    pub fn check_url(&self, url: &reqwest::Url) -> Result<()> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refused(format!("The url \"{}\" is not an http:// or https:// address.", shown(url))));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused(format!("The url \"{}\" must not carry a user name or password.", shown(url))));
        }
        let host = url.host_str().unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            if !self.host_allowed(literal) && !self.address_allowed(ip) {
                return Err(destination_refused(literal));
            }
        }
        Ok(())
    }

    /// An HTTP client that connects only where this policy allows and follows no redirects.
    pub fn client(self: &Arc<Self>) -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { policy: self.clone() }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .user_agent(concat!("Stowage/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::internal)
    }
}

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long the far side may stay silent while the stack waits for (more of) its answer.
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A URL as it may be shown: scheme, host, port and path, never a query (which may hold a SAS).
pub fn shown(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string().trim_end_matches('/').to_string()
}

fn refused(message: String) -> Error {
    Error::new(Code::ComponentUserError, message)
}

fn destination_refused(host: &str) -> Error {
    refused(format!(
        "The stack may not connect to \"{host}\": it is a loopback, private, link-local or otherwise internal \
         address. The operator can allow it with --outbound-allow."
    ))
}

/// Whether an address is on the public internet (not loopback, private, link-local, shared,
/// multicast, broadcast, unspecified or documentation space).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            let [first, second, third, fourth, ..] = segments;
            if first == 0x2002 {
                // 6to4 carries the IPv4 address it is routed to.
                let [a, b] = second.to_be_bytes();
                let [c, d] = third.to_be_bytes();
                return is_public(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // IPv4-compatible (`::a.b.c.d`, deprecated) and the discard prefix 100::/64.
                || segments[..6] == [0; 6]
                || first == 0x0100 && second == 0 && third == 0 && fourth == 0
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                // Site-local (deprecated), Teredo (its IPv4 addresses are hidden), documentation.
                || (first & 0xffc0) == 0xfec0
                || first == 0x2001 && second == 0
                || first == 0x2001 && second == 0x0db8
                // NAT64, well-known and local-use.
                || first == 0x0064 && second == 0xff9b)
        }
    }
}

/// Resolves names for the stack's outbound client, keeping only the addresses the policy allows.
struct GuardedResolver {
    policy: Arc<Policy>,
}

/// A name whose every address was refused; `remote` turns it into the user's message.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", destination_refused(&self.0).message)
    }
}

impl std::error::Error for Refused {}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = if policy.host_allowed(&host) {
                found
            } else {
                found.into_iter().filter(|address| policy.address_allowed(address.ip())).collect()
            };
            if allowed.is_empty() {
                return Err(Box::new(Refused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> reqwest::Url {
        reqwest::Url::parse(text).unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_and_public_ones_allowed() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::",
            "::127.0.0.1",
            "::10.0.0.1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101::5",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "fec0::1",
            "100::1",
            "64:ff9b::a00:1",
            "64:ff9b:1::a00:1",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2a00:1450:4001::1", "2002:808:808::1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn the_operator_allows_networks_and_hosts_and_regions_are_allowed() {
        let policy =
            Policy::new(&["10.0.0.0/8".into(), "192.168.1.7".into(), "stack.internal".into()], ["http://127.0.0.1:9"])
                .unwrap();
        assert!(policy.address_allowed("10.2.3.4".parse().unwrap()));
        assert!(policy.address_allowed("192.168.1.7".parse().unwrap()));
        assert!(!policy.address_allowed("192.168.1.8".parse().unwrap()));
        assert!(policy.host_allowed("STACK.internal"));
        assert!(policy.check_url(&url("http://127.0.0.1:9/")).is_ok(), "a region's host");
        assert!(policy.check_url(&url("http://127.0.0.2:9/")).is_err());
        assert!(policy.check_url(&url("http://[::1]:9/")).is_err());
        assert!(Policy::new(&["not a host!".into()], []).is_err());
    }

    #[test]
    fn credentials_in_a_url_are_refused_and_never_shown() {
        let policy = Policy::default();
        let error = policy.check_url(&url("https://user:secret@example.com/")).unwrap_err();
        assert!(!error.message.contains("secret"), "{}", error.message);
        assert_eq!(shown(&url("https://h.example.com/c/b?sig=secret")), "https://h.example.com/c/b");
    }
}
