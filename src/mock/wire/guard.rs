//! Who may use `/_mock/`: only the machine the mock runs on. The controls
//! and pages are unauthenticated (a test harness's), so a mock bound to a
//! public address ([`crate::mock::MockServer::bind`] allows any) answers them only
//! to a loopback peer, and only under a loopback `Host`, so that a web page
//! elsewhere cannot reach them through a DNS name rebound to 127.0.0.1.
//! A browser's request that carries an `Origin` must come from a loopback
//! origin too, so a site open in the developer's browser cannot post to the
//! controls; only `/_mock/invocations`, which the bridge stand-in calls from
//! the merchant's page and which takes nothing but merchant-signed
//! parameters, answers any origin.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::response::Response;

use super::answer::respond;

/// `None` when the request comes from this machine and names it; otherwise
/// the 403 answer saying why.
pub(crate) fn refusal(parts: &Parts) -> Option<Response> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let host = parts.headers.get("host").and_then(|h| h.to_str().ok());
    // The bridge stand-in is called from the merchant's own page, wherever
    // it is served; what it sends is checked as merchant-signed parameters.
    let origin = match parts.uri.path() {
        "/_mock/invocations" => None,
        _ => parts
            .headers
            .get("origin")
            .map(|o| o.to_str().unwrap_or("?")),
    };
    check(peer, host)
        .and_then(|()| check_origin(origin))
        .err()
        .map(|why| respond(403, "text/plain; charset=utf-8", why))
}

fn check(peer: Option<SocketAddr>, host: Option<&str>) -> Result<(), String> {
    if let Some(peer) = peer {
        if !peer.ip().is_loopback() && !is_mapped_loopback(peer.ip()) {
            return Err(format!(
                "/_mock/ answers only on the mock's own machine (loopback), not to {}",
                peer.ip()
            ));
        }
    }
    match host {
        Some(host) if is_loopback_host(host) => Ok(()),
        Some(host) => Err(format!(
            "/_mock/ answers only to a loopback Host (127.0.0.1, localhost, [::1]), not {host:?}"
        )),
        None => Err("/_mock/ needs a Host header naming the loopback address".to_owned()),
    }
}

/// A browser names the page that sends: it must be served from loopback
/// (`null`, a sandboxed or file page, is refused too).
fn check_origin(origin: Option<&str>) -> Result<(), String> {
    let Some(origin) = origin else {
        return Ok(());
    };
    let host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .filter(|rest| !rest.contains('/'));
    match host {
        Some(host) if is_loopback_host(host) => Ok(()),
        _ => Err(format!(
            "/_mock/ answers only pages served from loopback (http://127.0.0.1:PORT, localhost), not Origin {origin:?}"
        )),
    }
}

/// `::ffff:127.0.0.1`, as a dual-stack socket reports an IPv4 peer.
fn is_mapped_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}

/// `127.0.0.1:PORT`, `localhost`, `[::1]:PORT`…
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_origins_may_send() {
        for origin in [
            None,
            Some("http://127.0.0.1:8080"),
            Some("http://localhost:3000"),
            Some("http://[::1]:9"),
        ] {
            assert!(check_origin(origin).is_ok(), "{origin:?}");
        }
        for origin in [
            "https://evil.example",
            "null",
            "http://127.0.0.1.evil.example",
            "http://127.0.0.1:80/x",
            "?",
        ] {
            assert!(check_origin(Some(origin)).is_err(), "{origin}");
        }
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40000))
    }

    #[test]
    fn a_loopback_peer_naming_a_loopback_host_passes() {
        for host in [
            "127.0.0.1:8080",
            "localhost:1",
            "LOCALHOST",
            "[::1]:9",
            "127.1.2.3",
        ] {
            assert_eq!(check(peer("127.0.0.1"), Some(host)), Ok(()), "{host}");
        }
        assert_eq!(check(peer("::1"), Some("[::1]:9")), Ok(()));
        assert_eq!(check(peer("::ffff:127.0.0.1"), Some("127.0.0.1:9")), Ok(()));
    }

    #[test]
    fn a_remote_peer_is_refused_whatever_host_it_names() {
        for ip in ["192.0.2.7", "10.0.0.1", "::ffff:192.0.2.7", "2001:db8::1"] {
            let refused = check(peer(ip), Some("127.0.0.1:8080")).unwrap_err();
            assert!(
                refused.contains("loopback") && refused.contains(&ip.replace("::ffff:", "")),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_foreign_host_is_refused_even_from_loopback() {
        for host in [
            "rebound.example:8080",
            "127.0.0.1.example",
            "0.0.0.0:80",
            "",
        ] {
            assert!(check(peer("127.0.0.1"), Some(host)).is_err(), "{host}");
        }
        assert!(check(peer("127.0.0.1"), None).is_err());
    }
}
