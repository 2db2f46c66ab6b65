//! Where the CLI's credentials come from: flags, the environment, or a
//! profile (`mock.json` shape); flags and environment override the profile.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::Args;
use wechatpay_chain::keys::looks_like_content;
use wechatpay_chain::profile::Profile;
use wechatpay_chain::{Client, ClientBuilder};

use crate::exit::Failure;

/// Credential flags, accepted before or after the subcommand. `Debug`
/// redacts the APIv3 key and any file value that holds content instead of a
/// path.
#[derive(Args)]
pub struct Credentials {
    /// Merchant id (商户号).
    #[arg(long, global = true, env = "WECHATPAY_MCHID")]
    mchid: Option<String>,
    /// Merchant API certificate serial.
    #[arg(long, global = true, env = "WECHATPAY_SERIAL")]
    serial: Option<String>,
    /// Merchant API private key: the path of its file (apiclient_key.pem),
    /// or @path; never the key itself.
    #[arg(
        long = "private-key",
        value_name = "FILE",
        global = true,
        env = "WECHATPAY_PRIVATE_KEY",
        hide_env_values = true,
        // Pasted PEM starts with `-`: taken as the value, so that the
        // "looks like PEM" error is ours (clap's would echo it).
        allow_hyphen_values = true
    )]
    private_key: Option<PathBuf>,
    /// WeChat Pay platform certificate file (path or @path); repeatable
    /// (env: comma-separated).
    #[arg(
        long = "platform-cert",
        value_name = "FILE",
        global = true,
        env = "WECHATPAY_PLATFORM_CERTS",
        value_delimiter = ',',
        hide_env_values = true,
        // Pasted PEM starts with `-`: taken as the value, so that the
        // "looks like PEM" error is ours (clap's would echo it).
        allow_hyphen_values = true
    )]
    platform_certs: Vec<PathBuf>,
    /// WeChat Pay public key as ID=FILE (PUB_KEY_ID_…=pub_key.pem; FILE may be @path).
    #[arg(
        long = "public-key",
        value_name = "ID=FILE",
        global = true,
        env = "WECHATPAY_PUBLIC_KEY",
        hide_env_values = true
    )]
    public_key: Option<String>,
    /// APIv3 key (notifications, certificates).
    #[arg(
        long = "apiv3-key",
        value_name = "KEY",
        global = true,
        env = "WECHATPAY_APIV3_KEY",
        hide_env_values = true
    )]
    apiv3_key: Option<String>,
    /// APIv2 key (API密钥, 32 characters), for `v2/…` calls.
    #[arg(
        long = "apiv2-key",
        value_name = "KEY",
        global = true,
        env = "WECHATPAY_APIV2_KEY",
        hide_env_values = true
    )]
    apiv2_key: Option<String>,
    /// Base URL (default https://api.mch.weixin.qq.com/).
    #[arg(
        long = "base-url",
        value_name = "URL",
        global = true,
        env = "WECHATPAY_BASE_URL"
    )]
    base_url: Option<String>,
    /// A JSON profile in the shape `wxpay mock --dir` writes (mock.json).
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        env = "WECHATPAY_PROFILE",
        hide_env_values = true
    )]
    profile: Option<PathBuf>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured, so a new field is a compile error here, not a leak.
        let Credentials {
            mchid,
            serial,
            private_key,
            platform_certs,
            public_key,
            apiv3_key,
            apiv2_key,
            base_url,
            profile,
        } = self;
        let public_key = public_key
            .as_deref()
            .map(|spec| match spec.split_once('=') {
                Some((id, file)) => format!("{id}={}", shown(Path::new(file))),
                None => shown(Path::new(spec)),
            });
        f.debug_struct("Credentials")
            .field("mchid", mchid)
            .field("serial", serial)
            .field("private_key", &private_key.as_deref().map(shown))
            .field(
                "platform_certs",
                &platform_certs.iter().map(|p| shown(p)).collect::<Vec<_>>(),
            )
            .field("public_key", &public_key)
            .field("apiv3_key", &apiv3_key.as_ref().map(|_| "<redacted>"))
            .field("apiv2_key", &apiv2_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", base_url)
            .field("profile", &profile.as_deref().map(shown))
            .finish()
    }
}

/// A file value for `Debug`: the path, or a placeholder when it holds content.
fn shown(path: &Path) -> String {
    if looks_like_content(path) {
        "<value not shown>".to_owned()
    } else {
        path.display().to_string()
    }
}

impl Credentials {
    /// A client that trusts the configured WeChat Pay keys (at least one).
    pub fn client(&self) -> Result<Client, Failure> {
        Ok(self.builder()?.build()?)
    }

    /// A client that signs and decrypts but may have no WeChat Pay key yet.
    pub fn signing_client(&self) -> Result<Client, Failure> {
        Ok(self.builder()?.build_for_signing_only()?)
    }

    /// The base URL from `--base-url`, `WECHATPAY_BASE_URL` or the profile.
    pub fn base_url(&self) -> Result<Option<String>, Failure> {
        if self.base_url.is_some() {
            return Ok(self.base_url.clone());
        }
        match &self.profile {
            Some(path) => Ok(read_profile(path)?.base_url),
            None => Ok(None),
        }
    }

    /// The profile, when the base URL is the one it names (no
    /// `--base-url`): it explains a refused connection to its mock
    /// ([`Profile::explain`]).
    pub fn profile_of_base_url(&self) -> Option<Profile> {
        match (&self.base_url, &self.profile) {
            (None, Some(path)) => read_profile(path).ok(),
            _ => None,
        }
    }

    /// The profile's settings, flags and environment over them, as a
    /// builder: the profile builds it, so that a client pointed at a mock it
    /// names says when that mock has stopped.
    fn builder(&self) -> Result<ClientBuilder, Failure> {
        let mut p = match &self.profile {
            Some(path) => read_profile(path)?,
            None => Profile::default(),
        };
        override_with(&mut p.mchid, &self.mchid);
        override_with(&mut p.merchant_serial, &self.serial);
        override_with(
            &mut p.merchant_private_key,
            &self.private_key.as_deref().map(file_arg),
        );
        override_with(&mut p.apiv3_key, &self.apiv3_key);
        override_with(&mut p.apiv2_key, &self.apiv2_key);
        override_with(&mut p.base_url, &self.base_url);
        if !self.platform_certs.is_empty() {
            // The flags' certificates replace the profile's (added below).
            p.platform_certificate = None;
        }
        if let Some(spec) = &self.public_key {
            let (id, file) = spec.split_once('=').ok_or_else(|| {
                Failure::usage("--public-key takes ID=FILE, e.g. PUB_KEY_ID_0119…=pub_key.pem")
            })?;
            p.platform_public_key_id = Some(id.to_owned());
            p.platform_public_key = Some(file_arg(Path::new(file)));
        }
        if p.mchid.is_none() {
            return Err(Failure::usage(
                "no merchant id: give --mchid, WECHATPAY_MCHID or --profile",
            ));
        }
        if p.merchant_serial.is_none() {
            return Err(Failure::usage(
                "no merchant certificate serial: give --serial, WECHATPAY_SERIAL or --profile",
            ));
        }
        if p.merchant_private_key.is_none() {
            return Err(Failure::usage(
                "no merchant private key: give --private-key FILE, WECHATPAY_PRIVATE_KEY=FILE (a path or @path) or --profile",
            ));
        }
        let mut builder = p.builder();
        for cert in &self.platform_certs {
            builder = builder.platform_certificate_file(file_arg(cert));
        }
        Ok(builder.user_agent("wxpay-cli"))
    }
}

/// A file argument: a path, or `@path` (as `-d @FILE` reads a file).
fn file_arg(path: &Path) -> PathBuf {
    match path.to_str().and_then(|p| p.strip_prefix('@')) {
        Some(rest) => PathBuf::from(rest),
        None => path.to_owned(),
    }
}

fn override_with<T: Clone>(slot: &mut Option<T>, flag: &Option<T>) {
    if flag.is_some() {
        slot.clone_from(flag);
    }
}

/// Reads a profile; file values are relative to its directory.
fn read_profile(path: &Path) -> Result<Profile, Failure> {
    Profile::read(path).map_err(|e| Failure::usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Credentials;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        credentials: Credentials,
    }

    #[test]
    fn debug_shows_no_secret() {
        let key = include_str!("../../mock/data/merchant_key.pem");
        let apiv3 = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
        let apiv2 = "192006250b4c09247ec02edce69f6a2d";
        let cli = Cli::try_parse_from([
            "wxpay",
            "--mchid",
            "1900000109",
            "--apiv3-key",
            apiv3,
            "--apiv2-key",
            apiv2,
            "--private-key",
            key,
            "--platform-cert",
            "certs/wechatpay.pem",
        ])
        .unwrap();
        let printed = format!("{:?} {:#?}", cli.credentials, cli.credentials);
        assert!(!printed.contains(apiv3), "{printed}");
        assert!(!printed.contains(apiv2), "{printed}");
        assert!(!printed.contains("BEGIN"), "{printed}");
        for line in key.lines() {
            assert!(!printed.contains(line), "{printed}");
        }
        // what is not secret still helps debugging
        assert!(printed.contains("1900000109"), "{printed}");
        assert!(printed.contains("certs/wechatpay.pem"), "{printed}");
        assert!(printed.contains("apiv3_key"), "{printed}");
    }
}
