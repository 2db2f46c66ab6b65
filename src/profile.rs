//! The client profile: one JSON file with everything a client needs, in the
//! shape `wxpay mock --dir` writes (`mock.json`) and `wxpay --profile` reads.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::client::stopped_mock::MockOrigin;
use crate::client::ClientBuilder;
use crate::error::{Error, Result};
use crate::keys::{looks_like_content, path_label};

/// A parsed profile. File values are resolved against the profile's
/// directory.
///
/// ```no_run
/// let profile = wechatpay_chain::profile::Profile::read("/tmp/wxpay/mock.json")?;
/// let client = profile.builder().build()?;
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Profile {
    /// Base URL.
    pub base_url: Option<String>,
    /// Merchant id.
    pub mchid: Option<String>,
    /// Merchant certificate serial.
    pub merchant_serial: Option<String>,
    /// Merchant private key file.
    pub merchant_private_key: Option<PathBuf>,
    /// Platform certificate file.
    pub platform_certificate: Option<PathBuf>,
    /// Its serial (informational: the serial is read from the certificate).
    pub platform_certificate_serial: Option<String>,
    /// WeChat Pay public key file.
    pub platform_public_key: Option<PathBuf>,
    /// Its id.
    pub platform_public_key_id: Option<String>,
    /// APIv3 key (`Debug` hides it).
    pub apiv3_key: Option<String>,
    /// APIv2 key, for `v2/…` calls (`Debug` hides it).
    pub apiv2_key: Option<String>,
    /// `true` in a profile `wxpay mock --dir` (or `MockServer::write_profile`)
    /// wrote: it names a mock on this machine. A client built from it then
    /// says, when nothing answers at its loopback `base_url`, that the mock
    /// has stopped and how to start it again ([`Error::MockStopped`]).
    #[serde(default)]
    pub mock: bool,
    /// The file it was read from and the `base_url` it had there.
    #[serde(skip)]
    origin: Option<(PathBuf, Option<String>)>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("base_url", &self.base_url)
            .field("mchid", &self.mchid)
            .field("merchant_serial", &self.merchant_serial)
            .field("platform_public_key_id", &self.platform_public_key_id)
            .field("apiv3_key", &self.apiv3_key.as_ref().map(|_| "<redacted>"))
            .field("apiv2_key", &self.apiv2_key.as_ref().map(|_| "<redacted>"))
            .field("mock", &self.mock)
            .finish_non_exhaustive()
    }
}

/// The environment variable naming the profile file, as `wxpay` reads it
/// (`export WECHATPAY_PROFILE=/tmp/wxpay/mock.json`).
pub const PROFILE_ENV: &str = "WECHATPAY_PROFILE";

/// What to do when no profile is found, said in every such error.
const HOW_TO_GET_ONE: &str =
    "start the mock with `wxpay mock --dir /tmp/wxpay` (it writes /tmp/wxpay/mock.json \
     before it says it is listening) and set WECHATPAY_PROFILE=/tmp/wxpay/mock.json, \
     or configure the client with Client::builder()";

impl Profile {
    /// Reads the profile file `WECHATPAY_PROFILE` names: how a program in
    /// another process reaches `wxpay mock` (or any client set up by a
    /// profile file). An unset variable, a missing file or a file that is
    /// not a profile is an [`Error::Config`] saying what to do.
    ///
    /// ```
    /// use wechatpay_chain::profile::Profile;
    /// if std::env::var_os("WECHATPAY_PROFILE").is_none() {
    ///     let err = Profile::from_env().unwrap_err();
    ///     assert!(err.to_string().starts_with("client configuration: WECHATPAY_PROFILE is not set: start the mock"));
    /// }
    /// ```
    pub fn from_env() -> Result<Profile> {
        match std::env::var_os(PROFILE_ENV) {
            Some(path) if !path.is_empty() => Profile::read(path),
            _ => Err(Error::Config(format!(
                "{PROFILE_ENV} is not set: {HOW_TO_GET_ONE}"
            ))),
        }
    }

    /// Reads a profile file.
    pub fn read(path: impl AsRef<Path>) -> Result<Profile> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound && !looks_like_content(path) {
                Error::Config(format!(
                    "profile {} does not exist: {HOW_TO_GET_ONE}",
                    path_label(path)
                ))
            } else if looks_like_content(path) {
                // The value may be the profile itself, APIv3 key included.
                Error::Config(
                    "the profile looks like JSON or PEM content, not a file path (the value is not shown): \
                     give the path of the profile file"
                        .to_owned(),
                )
            } else {
                // A long bare token is more likely a key than a file name.
                Error::Io {
                    what: format!("reading profile {}", path_label(path)),
                    source,
                }
            }
        })?;
        let mut profile: Profile = serde_json::from_slice(&text).map_err(|e| {
            Error::Config(format!(
                "profile {} is not a profile ({e}): give the mock.json `wxpay mock --dir DIR` writes, \
                 or a file of the same shape",
                path_label(path)
            ))
        })?;
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        for (name, file) in [
            ("merchant_private_key", &mut profile.merchant_private_key),
            ("platform_certificate", &mut profile.platform_certificate),
            ("platform_public_key", &mut profile.platform_public_key),
        ] {
            if file.as_deref().is_some_and(looks_like_content) {
                return Err(Error::Config(format!(
                    "profile {}: `{name}` looks like PEM content, not a file path (the value is not shown): \
                     write it to a file and give that file's path, relative to the profile",
                    path_label(path)
                )));
            }
            if let Some(relative) = file.take() {
                *file = Some(dir.join(relative));
            }
        }
        profile.origin = Some((path.to_owned(), profile.base_url.clone()));
        Ok(profile)
    }

    /// `error` as this profile explains it: for a profile `wxpay mock`
    /// wrote, read from a file, a connection refused at its loopback
    /// `base_url` (as the file names it) is [`Error::MockStopped`], which
    /// says the mock has stopped and how to start it again; any other error
    /// is returned as it is. A client the profile builds does this itself;
    /// this is for requests sent another way, such as a plain HTTP client
    /// to the mock's `/_mock/` controls.
    ///
    /// ```no_run
    /// use wechatpay_chain::{profile::Profile, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// let profile = Profile::read("/tmp/wxpay/mock.json")?;
    /// let base = profile.base_url.clone().unwrap_or_default();
    /// if let Err(e) = reqwest::get(format!("{base}_mock/clock")).await {
    ///     let error = profile.explain(Error::Transport(e));
    ///     eprintln!("{error}"); // … it has stopped. Start it again with `wxpay mock --dir /tmp/wxpay` …
    /// }
    /// # Ok(()) }
    /// ```
    pub fn explain(&self, error: Error) -> Error {
        match self.mock_origin() {
            Some(origin) => origin.explain(error),
            None => error,
        }
    }

    /// The mock this profile points a client at: a profile `wxpay mock`
    /// wrote, read from a file, whose `base_url` is still the file's.
    fn mock_origin(&self) -> Option<MockOrigin> {
        let (path, read) = self.origin.as_ref()?;
        let base_url = self.base_url.as_deref()?;
        if !self.mock || read.as_deref() != Some(base_url) {
            return None;
        }
        MockOrigin::new(base_url, path)
    }

    /// A builder with everything the profile names.
    pub fn builder(&self) -> ClientBuilder {
        /// `builder.setter(value)` when the profile has the value.
        fn with<T: Clone>(
            builder: ClientBuilder,
            value: &Option<T>,
            setter: fn(ClientBuilder, T) -> ClientBuilder,
        ) -> ClientBuilder {
            match value {
                Some(v) => setter(builder, v.clone()),
                None => builder,
            }
        }
        let mut builder = ClientBuilder::default();
        builder = with(builder, &self.mchid, ClientBuilder::mchid);
        builder = with(
            builder,
            &self.merchant_serial,
            ClientBuilder::merchant_serial,
        );
        builder = with(
            builder,
            &self.merchant_private_key,
            ClientBuilder::private_key_file,
        );
        builder = with(
            builder,
            &self.platform_certificate,
            ClientBuilder::platform_certificate_file,
        );
        if let (Some(id), Some(file)) = (&self.platform_public_key_id, &self.platform_public_key) {
            builder = builder.platform_public_key_file(id.clone(), file.clone());
        }
        builder = with(builder, &self.apiv3_key, ClientBuilder::apiv3_key);
        builder = with(builder, &self.apiv2_key, ClientBuilder::apiv2_key);
        if let Some(origin) = self.mock_origin() {
            builder = builder.mock_origin(origin);
        }
        with(builder, &self.base_url, ClientBuilder::base_url)
    }
}

impl ClientBuilder {
    /// A builder configured by the profile `WECHATPAY_PROFILE` names, the
    /// way `wxpay` reads it: point a program at `wxpay mock` running in
    /// another process, then add or override settings before `build()`.
    /// See [`Profile::from_env`] for the errors.
    ///
    /// ```no_run
    /// // shell: wxpay mock --dir /tmp/wxpay & export WECHATPAY_PROFILE=/tmp/wxpay/mock.json
    /// use wechatpay_chain::ClientBuilder;
    ///
    /// let client = ClientBuilder::from_env()?.user_agent("my-shop/1.0").build()?;
    /// # let _ = client;
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn from_env() -> Result<ClientBuilder> {
        Ok(Profile::from_env()?.builder())
    }
}
