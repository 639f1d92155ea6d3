//! Who sent a request: the TCP peer, or, when the peer is a trusted proxy (`proxy.trusted`),
//! the client its forwarding headers name.
//!
//! [`layer`] works it out once per request, before the log span is made, and stores a
//! [`RealClient`]; rate limits read it through [`ClientIp`], the log span and the outbox
//! through [`RealClient`]. The headers are read right to left, each hop vouching for the one
//! before it, and the walk stops at the first hop that is not a trusted proxy: that hop is the
//! client, and whatever it wrote further left is its own claim, ignored. RFC 7239 `Forwarded`
//! wins over `X-Forwarded-For` when both are present, so a proxy that writes one must remove
//! the other (docs/operations.md). A peer that is not trusted has every forwarding header
//! ignored.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    body::Body,
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, Request, header::FORWARDED, request::Parts},
};
use ipnet::IpNet;

use crate::config::ProxyConfig;

/// Headers by which a proxy says where a request came from.
const FORWARDING_HEADERS: [&str; 6] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "via",
];

/// The client of a request, as far as the trusted proxies tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealClient {
    /// Its address: the peer's, or the one the trusted proxies forwarded.
    pub ip: Option<IpAddr>,
    /// The scheme the client used (`Forwarded: proto=` or `X-Forwarded-Proto`), when a trusted
    /// proxy said it; `None` on a direct connection.
    pub https: Option<bool>,
    /// Whether the request came through a proxy: its peer is a trusted proxy, or it carries a
    /// forwarding header (a proxy nobody declared as trusted). Development tools that trust
    /// "a browser on this machine" refuse such requests.
    pub proxied: bool,
}

/// The trusted proxies, shared by every request.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// The networks of `proxy.trusted`.
    pub fn from_config(config: &ProxyConfig) -> Self {
        Self(config.trusted.iter().map(|n| n.0.trunc()).collect())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on a dual-stack socket shows as `::ffff:a.b.c.d`.
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer` with `headers`.
    pub fn resolve(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> RealClient {
        let forwarding = FORWARDING_HEADERS.iter().any(|h| headers.contains_key(*h));
        let Some(peer) = peer.filter(|p| self.trusts(*p)) else {
            return RealClient {
                ip: peer,
                https: None,
                proxied: forwarding,
            };
        };
        let hops = if headers.contains_key(FORWARDED) {
            forwarded_hops(headers)
        } else {
            // The nearest proxy's word on the scheme the client used (nginx: `$scheme`).
            let https =
                last_value(headers, "x-forwarded-proto").map(|p| p.eq_ignore_ascii_case("https"));
            list_values(headers, "x-forwarded-for")
                .map(|v| Hop {
                    ip: parse_node(v),
                    https,
                })
                .collect()
        };
        let mut client = RealClient {
            ip: Some(peer),
            https: None,
            proxied: true,
        };
        for hop in hops.iter().rev() {
            // `unknown` or an obfuscated name: the last trusted hop is all we know.
            let Some(ip) = hop.ip else { break };
            client.ip = Some(ip);
            client.https = hop.https;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// One element of a forwarding header: the address it names and the scheme it was asked on.
struct Hop {
    ip: Option<IpAddr>,
    https: Option<bool>,
}

/// The comma-separated values of every `name` header, in order.
fn list_values<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn last_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    list_values(headers, name).last()
}

/// An address as a forwarding header writes it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`, quoted or not. Anything else (`unknown`, `_hidden`) is `None`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            text.strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
        })
        .map(|ip: IpAddr| ip.to_canonical())
}

/// The elements of every `Forwarded` header (RFC 7239 §4), in order; commas and semicolons
/// inside quoted strings do not split.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Hop> {
    let mut hops = Vec::new();
    for value in headers.get_all(FORWARDED) {
        let Ok(value) = value.to_str() else {
            // A value we cannot read hides who is before it.
            hops.push(Hop {
                ip: None,
                https: None,
            });
            continue;
        };
        for element in split_unquoted(value, ',') {
            let mut hop = Hop {
                ip: None,
                https: None,
            };
            for pair in split_unquoted(element, ';') {
                let Some((name, val)) = pair.split_once('=') else {
                    continue;
                };
                let val = val.trim().trim_matches('"');
                match name.trim().to_ascii_lowercase().as_str() {
                    "for" => hop.ip = parse_node(val),
                    "proto" => hop.https = Some(val.eq_ignore_ascii_case("https")),
                    _ => {}
                }
            }
            hops.push(hop);
        }
    }
    hops
}

fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

/// The middleware that stores each request's [`RealClient`]: outside the log span's layer,
/// which records its address.
pub fn layer(
    trusted: TrustedProxies,
) -> tower::util::MapRequestLayer<impl FnMut(Request<Body>) -> Request<Body> + Clone> {
    tower::util::MapRequestLayer::new(move |mut request: Request<Body>| {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let client = trusted.resolve(peer, request.headers());
        request.extensions_mut().insert(client);
        request
    })
}

impl<S: Send + Sync> FromRequestParts<S> for RealClient {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RealClient>()
            .copied()
            .unwrap_or_else(|| {
                // Without the layer (the benchmarks' bare routes): the peer, no proxy believed.
                TrustedProxies::default().resolve(
                    parts
                        .extensions
                        .get::<ConnectInfo<SocketAddr>>()
                        .map(|c| c.0.ip()),
                    &parts.headers,
                )
            }))
    }
}

/// The client's address, for rate limits: [`RealClient::ip`].
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let client = RealClient::from_request_parts(parts, state).await?;
        Ok(Self(client.ip))
    }
}

impl ClientIp {
    /// A key for counters.
    pub fn key(&self) -> String {
        self.0
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrustedNet;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::from_config(&ProxyConfig {
            trusted: nets
                .iter()
                .map(|n| TrustedNet::try_from((*n).to_owned()).unwrap())
                .collect(),
        })
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn nothing_is_trusted_by_default() {
        let client = TrustedProxies::default().resolve(
            ip("127.0.0.1"),
            &headers(&[
                ("x-forwarded-for", "203.0.113.7"),
                ("forwarded", "for=203.0.113.8"),
            ]),
        );
        assert_eq!(client.ip, ip("127.0.0.1"));
        assert_eq!(client.https, None);
        assert!(client.proxied, "a forwarding header says a proxy is there");
        let direct = TrustedProxies::default().resolve(ip("127.0.0.1"), &HeaderMap::new());
        assert!(!direct.proxied);
    }

    #[test]
    fn x_forwarded_for_is_read_right_to_left_up_to_the_first_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        let forged = headers(&[
            ("x-forwarded-for", "1.2.3.4, 198.51.100.9, 10.1.1.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = trusted.resolve(ip("192.0.2.1"), &forged);
        assert_eq!(client.ip, ip("198.51.100.9"));
        assert_eq!(client.https, Some(true));
        assert!(client.proxied);
        // The same headers from a peer nobody trusts are its own claim.
        let client = trusted.resolve(ip("198.51.100.50"), &forged);
        assert_eq!(client.ip, ip("198.51.100.50"));
        assert_eq!(client.https, None);
        // Several header lines are one list.
        let split = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.9"),
        ]);
        assert_eq!(
            trusted.resolve(ip("10.0.0.1"), &split).ip,
            ip("198.51.100.9")
        );
        // Every hop trusted: the leftmost is the client.
        let inside = headers(&[("x-forwarded-for", "10.9.9.9, 10.1.1.1")]);
        assert_eq!(trusted.resolve(ip("10.0.0.1"), &inside).ip, ip("10.9.9.9"));
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_unknown_hops_stop_the_walk() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let both = headers(&[
            ("x-forwarded-for", "198.51.100.1"),
            (
                "forwarded",
                "for=\"[2001:db8::7]:4711\";proto=https, for=10.2.2.2;proto=http",
            ),
        ]);
        let client = trusted.resolve(ip("10.0.0.1"), &both);
        assert_eq!(client.ip, ip("2001:db8::7"));
        assert_eq!(client.https, Some(true));
        let hidden = headers(&[("forwarded", "for=198.51.100.1, for=_hidden, for=10.2.2.2")]);
        assert_eq!(trusted.resolve(ip("10.0.0.1"), &hidden).ip, ip("10.2.2.2"));
        let quoted = headers(&[("forwarded", "for=\"198.51.100.3:80\";by=\"a,b\"")]);
        assert_eq!(
            trusted.resolve(ip("10.0.0.1"), &quoted).ip,
            ip("198.51.100.3")
        );
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_networks() {
        let trusted = proxies(&["127.0.0.1"]);
        let client = trusted.resolve(
            ip("::ffff:127.0.0.1"),
            &headers(&[("x-forwarded-for", "127.0.0.2")]),
        );
        assert_eq!(client.ip, ip("127.0.0.2"));
    }

    #[test]
    fn bad_trusted_entries_are_refused_in_french() {
        assert!(TrustedNet::try_from("10.0.0.0/8".to_owned()).is_ok());
        assert!(TrustedNet::try_from("::1".to_owned()).is_ok());
        let e = TrustedNet::try_from("proxy.interne".to_owned()).unwrap_err();
        assert!(
            e.contains("n'est ni une adresse IP ni un réseau CIDR"),
            "{e}"
        );
    }
}
