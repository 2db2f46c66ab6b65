//! A profile's mock that has stopped. A profile `wxpay mock --dir DIR`
//! wrote (`"mock": true`) names a mock on this machine; once that mock has
//! exited, its port refuses connections, and a bare "connection refused"
//! says nothing of why. A refused connection to the profile's own loopback
//! base URL is said as what it is, [`Error::MockStopped`], with how to
//! start the mock again; any other error (a timeout, another host, a reset)
//! is left as it is: nothing is guessed.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// The mock a client was pointed at by a profile: its base URL and the
/// profile's path.
#[derive(Debug, Clone)]
pub(crate) struct MockOrigin {
    base_url: String,
    /// `base_url` parsed: what a request's URL is compared with.
    url: reqwest::Url,
    profile: PathBuf,
}

impl MockOrigin {
    /// The origin of a client built from `profile` (a file `wxpay mock`
    /// wrote) with `base_url`, if that URL is on this machine's loopback
    /// (and carries no credentials, which the message would repeat).
    pub(crate) fn new(base_url: &str, profile: &Path) -> Option<MockOrigin> {
        let url = reqwest::Url::parse(base_url).ok()?;
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let loopback = match url.host()? {
            url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        };
        loopback.then(|| MockOrigin {
            base_url: base_url.to_owned(),
            url,
            profile: std::path::absolute(profile).unwrap_or_else(|_| profile.to_owned()),
        })
    }

    /// `error` as the caller should read it: a connection refused at this
    /// mock's base URL is [`Error::MockStopped`]; anything else unchanged.
    pub(crate) fn explain(&self, error: Error) -> Error {
        match error {
            Error::Transport(source) if self.refused_here(&source) => Error::MockStopped {
                base_url: self.base_url.clone(),
                profile: self.profile.clone(),
                source,
            },
            other => other,
        }
    }

    /// Whether `error` is a refused connection to this base URL.
    fn refused_here(&self, error: &reqwest::Error) -> bool {
        // Same scheme, host and port (not a port whose number only begins
        // the same), under the base URL's path.
        let here = error.url().is_some_and(|url| {
            url.origin() == self.url.origin() && url.path().starts_with(self.url.path())
        });
        here && error.is_connect() && refused(error)
    }
}

/// Whether the connection was refused: an `io::Error` of that kind among
/// the causes (reqwest → hyper → the TCP connect).
fn refused(error: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        cause = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loopback_base_url_is_a_mock_here() {
        let profile = Path::new("/tmp/wxpay/mock.json");
        for url in [
            "http://127.0.0.1:8080/",
            "http://[::1]:8080/",
            "http://localhost:1/",
        ] {
            assert!(MockOrigin::new(url, profile).is_some(), "{url}");
        }
        for url in [
            "https://api.mch.weixin.qq.com/",
            "http://10.0.0.1:8080/",
            "http://user:secret@127.0.0.1:8080/",
            "not a url",
        ] {
            assert!(MockOrigin::new(url, profile).is_none(), "{url}");
        }
    }
}
