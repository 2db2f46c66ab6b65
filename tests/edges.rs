//! The edges an adversarial review broke, and the one-transport rule: each
//! test talks real HTTP on loopback (httpmock or a raw listener) and fails
//! on the code before its fix.

mod common;

use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use common::{client, data, MCHID, MERCHANT_SERIAL};
use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use tokio::io::AsyncWrite;
use wechatpay_chain::download::{BillInfo, Compression};
use wechatpay_chain::retry::RetryPolicy;
use wechatpay_chain::{json, Client, Error};

const APIV2_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

fn builder(base_url: &str) -> wechatpay_chain::ClientBuilder {
    Client::builder()
        .mchid(MCHID)
        .merchant_serial(MERCHANT_SERIAL)
        .private_key_file(data("merchant_key.pem"))
        .platform_certificate_file(data("platform_cert.pem"))
        .base_url(base_url)
}

// ---- issue 14.1: a huge Retry-After ----------------------------------------

#[tokio::test]
async fn a_huge_retry_after_is_the_api_error_not_a_panic() {
    let server = MockServer::start_async().await;
    // Late (≥ 1 s) so that "elapsed + u64::MAX seconds" overflows.
    let mock = server
        .mock_async(|when, then| {
            when.method(POST).path("/v3/pay/transactions/native");
            then.status(503)
                .header("Retry-After", "18446744073709551615")
                .delay(Duration::from_millis(1100))
                .body(r#"{"code":"SYSTEM_ERROR","message":"busy"}"#);
        })
        .await;
    for policy in [RetryPolicy::default(), RetryPolicy::never()] {
        let client = builder(&server.base_url()).retry(policy).build().unwrap();
        let err = client["v3/pay/transactions/native"]
            .post(json!({"json": {"out_trade_no": "T1"}}))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(503), "{err}");
    }
    // A GET may be repeated, but not after a wait past max_elapsed: the
    // error comes back at once instead of a 5-minute (clamped) sleep.
    let get = server
        .mock_async(|when, then| {
            when.method(GET).path("/v3/certificates");
            then.status(503)
                .header("Retry-After", "86400")
                .body(r#"{"code":"SYSTEM_ERROR","message":"busy"}"#);
        })
        .await;
    let client = builder(&server.base_url()).build().unwrap();
    let started = std::time::Instant::now();
    let err = client["v3/certificates"].get(()).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(started.elapsed() < Duration::from_secs(5));
    mock.assert_calls_async(2).await;
    get.assert_calls_async(1).await;
}

#[test]
fn a_huge_retry_after_does_not_unwind_into_a_blocking_caller() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method(POST).path("/v3/pay/transactions/native");
        then.status(503)
            .header("Retry-After", "18446744073709551615")
            .delay(Duration::from_millis(1100))
            .body("{}");
    });
    let client = builder(&server.base_url()).build_blocking().unwrap();
    let err = client["v3/pay/transactions/native"]
        .post(json!({"json": {}}))
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
}

// ---- issue 14.2: gzip bomb ---------------------------------------------------

/// An `AsyncWrite` that keeps only the size of the largest single write.
#[derive(Default)]
struct LargestWrite {
    largest: usize,
    total: u64,
}

impl AsyncWrite for LargestWrite {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.largest = self.largest.max(buf.len());
        self.total += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// 64 MiB of zeros, gzipped: about 64 KiB on the wire.
fn gzip_bomb() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap()
}

#[tokio::test]
async fn a_gzip_bomb_is_inflated_in_small_pieces_and_can_be_capped() {
    let bomb = gzip_bomb();
    assert!(bomb.len() < 256 * 1024, "{}", bomb.len());
    let server = MockServer::start_async().await;
    common::respond(&server, Some((GET, "/v3/billdownload/file")), 200, bomb).await;
    let bill: BillInfo = serde_json::from_value(json!({
        "hash_type": "SHA1",
        "hash_value": "0000000000000000000000000000000000000000",
        "download_url": format!("{}/v3/billdownload/file?token=bomb", server.base_url()),
    }))
    .unwrap();

    let mut out = LargestWrite::default();
    let err = client(&server.base_url())
        .download_bill(&bill, Compression::Gzip, &mut out)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err}");
    assert_eq!(out.total, 64 << 20, "everything was inflated");
    assert!(
        out.largest <= 128 * 1024,
        "one write of {} bytes: the inflater is not bounded",
        out.largest
    );

    let mut out = LargestWrite::default();
    let err = builder(&server.base_url())
        .max_download_bytes(1 << 20)
        .build()
        .unwrap()
        .download_bill(&bill, Compression::Gzip, &mut out)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DownloadTooLarge { limit } if limit == 1 << 20),
        "{err}"
    );
    assert!(out.total <= 1 << 20);
}

// ---- issue 14.3: APIv2 file download reads its error body capped ----------

#[tokio::test]
async fn an_apiv2_download_refusal_is_read_capped() {
    let server = MockServer::start_async().await;
    let huge = vec![b'x'; wechatpay_chain::client::MAX_RESPONSE_BYTES + 1];
    common::respond(&server, Some((POST, "/pay/downloadbill")), 500, huge).await;
    let client = builder(&server.base_url())
        .apiv2_key(APIV2_KEY)
        .build()
        .unwrap();
    let err = client["v2/pay/downloadbill"]
        .download_to(
            json!({"xml": {"appid": "wx1", "bill_date": "20260101", "bill_type": "ALL"}}),
            &mut Vec::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ResponseTooLarge { .. }), "{err}");
}

// ---- issue 14.7: dot-segments in templates ----------------------------------

#[tokio::test]
async fn a_dot_segment_in_a_template_is_refused_before_anything_is_sent() {
    let server = MockServer::start_async().await;
    // An unsigned 200 anywhere: nothing may reach it and be trusted.
    let any = common::respond(&server, None, 200, "not signed").await;
    let client = client(&server.base_url());
    for template in [
        "v3/merchant-service/images/%2E%2E",
        "v3/merchant-service/images/..",
        "v3/merchant-service/images/.",
        "v3/merchant-service/images/%2e",
        "v3/merchant-service/images/%2e%2E",
        "v3/merchant-service/images/..\\x",
        "v3/billdownload/../pay/transactions/native",
    ] {
        let err = client.chain(template).get(()).await.unwrap_err();
        assert!(
            matches!(&err, Error::Template { reason, .. } if reason.contains("dot-segment")),
            "{template}: {err}"
        );
        let mut sink = Vec::new();
        let err = client
            .chain(template)
            .download_to((), &mut sink)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Template { .. }), "{template}: {err}");
    }
    // Dots inside a segment are ordinary characters: sent, and an
    // unsigned answer on a signed endpoint is refused as ever.
    let err = client
        .chain("v3/pay/transactions/out-trade-no/a..b")
        .get(())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Verify { .. }), "{err}");
    any.assert_calls_async(1).await;
}

// ---- issue 14.8: never a signature over plain http elsewhere -----------------

#[tokio::test]
async fn a_download_url_over_plain_http_needs_an_http_base_of_the_same_origin() {
    let https_client = builder("https://api.mch.weixin.qq.com/").build().unwrap();
    for url in [
        "http://api.mch.weixin.qq.com/v3/billdownload/file?token=x",
        "http://api.mch.weixin.qq.com:443/v3/billdownload/file?token=x",
        "ftp://api.mch.weixin.qq.com/v3/billdownload/file?token=x",
    ] {
        let err = https_client
            .download_url(url, Compression::None, &mut Vec::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::DownloadUrl { .. }), "{url}: {err}");
    }

    let server = MockServer::start_async().await;
    let file = common::respond(&server, Some((GET, "/v3/billdownload/file")), 200, "a,b\n").await;
    let http_client = client(&server.base_url());
    let other_port = format!(
        "http://127.0.0.1:{}/v3/billdownload/file?token=x",
        server.port().wrapping_add(1)
    );
    let err = http_client
        .download_url(&other_port, Compression::None, &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DownloadUrl { .. }), "{err}");
    let same = format!("{}/v3/billdownload/file?token=x", server.base_url());
    let done = http_client
        .download_url(&same, Compression::None, &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(done.bytes, 4);
    file.assert_calls_async(1).await;
}

// ---- issue 13: one transport, one HTTP configuration -----------------------

#[tokio::test]
async fn an_apiv2_security_call_goes_through_the_configured_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = proxy.local_addr().unwrap();
    let recorder = tokio::spawn(async move {
        let (mut socket, _) = proxy.accept().await.unwrap();
        let mut seen = vec![0u8; 4096];
        let n = socket.read(&mut seen).await.unwrap();
        let _ = socket
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        String::from_utf8_lossy(&seen[..n]).into_owned()
    });
    let client = builder("https://api.mch.weixin.qq.com/")
        .apiv2_key(APIV2_KEY)
        .apiv2_client_certificate(
            std::fs::read(data("merchant_cert.pem")).unwrap(),
            std::fs::read(data("merchant_key.pem")).unwrap(),
        )
        .proxy(reqwest::Proxy::all(format!("http://{address}")).unwrap())
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let err = client["v2/secapi/pay/refund"]
        .post(json!({"security": true, "xml": {"appid": "wx1", "out_trade_no": "T1"}}))
        .await
        .unwrap_err();
    let seen = tokio::time::timeout(Duration::from_secs(5), recorder)
        .await
        .expect("the proxy was never contacted")
        .unwrap();
    assert!(
        seen.starts_with("CONNECT api.mch.weixin.qq.com:443 "),
        "the proxy saw: {seen}"
    );
    assert!(matches!(err, Error::Transport(_) | Error::Api(_)), "{err}");
}

/// Library code other than the transport never puts a request on the wire.
#[test]
fn only_the_transport_sends() {
    let mut senders = Vec::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                // The mock is the other side of the wire; the CLI is a user.
                if relative != "mock" && relative != "bin" {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                if text.contains(".send()") || text.contains(".execute(") {
                    senders.push(relative);
                }
            }
        }
    }
    assert_eq!(senders, ["client/transport.rs"]);
}

// ---- issue 14.1, "search for others": time arithmetic on hostile values ----

#[test]
fn extreme_clocks_and_timestamps_are_errors_not_panics() {
    let client = client("https://api.mch.weixin.qq.com/");
    let body = b"{}";
    let headers = common::header_map(&common::signed_headers(
        body,
        common::SignWith::Certificate,
        common::unix_now(),
    ));
    for now in [i64::MIN, i64::MAX, 0] {
        let err = client.verifier().verify(&headers, body, now).unwrap_err();
        assert!(
            matches!(err, wechatpay_chain::VerifyError::StaleTimestamp { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("away from now"));
    }
}

#[tokio::test]
async fn the_mock_answers_a_hostile_authorization_timestamp() {
    let server = wechatpay_chain::mock::MockServer::start().await.unwrap();
    for timestamp in [
        "-9223372036854775808",
        "9223372036854775807",
        "99999999999999999999",
    ] {
        let authorization = format!(
            r#"WECHATPAY2-SHA256-RSA2048 mchid="{MCHID}",nonce_str="N",signature="S",timestamp="{timestamp}",serial_no="{MERCHANT_SERIAL}""#
        );
        let res = reqwest::Client::new()
            .get(format!("{}v3/certificates", server.base_url()))
            .header("Authorization", authorization)
            .header("Accept", "application/json")
            .header("User-Agent", "edge-test")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{timestamp}");
    }
}

// ---- the second adversarial review ------------------------------------------

#[tokio::test]
async fn a_download_url_must_be_a_configured_origin_and_an_unsigned_download() {
    let server = MockServer::start_async().await;
    let any = common::respond(&server, None, 200, "not signed").await;
    let client = client(&server.base_url());
    for url in [
        // another https host would receive a valid signature for a path it chose
        "https://attacker.invalid/v3/billdownload/file?token=x".to_owned(),
        // a signed endpoint on the right host must not be read unverified
        format!("{}/v3/pay/transactions/out-trade-no/T1", server.base_url()),
        format!("{}/v3/merchant/fund/balance/BASIC", server.base_url()),
    ] {
        let err = client
            .download_url(&url, Compression::None, &mut Vec::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::DownloadUrl { .. }), "{url}: {err}");
    }
    any.assert_calls_async(0).await;
}

#[tokio::test]
async fn an_apiv2_file_download_honours_the_limit_and_spots_a_refusal_behind_blanks() {
    let server = MockServer::start_async().await;
    common::respond(
        &server,
        Some((POST, "/pay/downloadbill")),
        200,
        vec![b'x'; 5 << 20],
    )
    .await;
    let refusal = "\n\n\u{feff}<?xml version=\"1.0\"?><xml><return_code>FAIL</return_code><return_msg>no bill</return_msg></xml>";
    common::respond(&server, Some((POST, "/pay/downloadfundflow")), 200, refusal).await;
    let client = builder(&server.base_url())
        .apiv2_key(APIV2_KEY)
        .max_download_bytes(1024)
        .build()
        .unwrap();
    let options = json!({"xml": {"bill_date": "20260101", "bill_type": "ALL"}});
    let mut out = Vec::new();
    let err = client["v2/pay/downloadbill"]
        .download_to(options.clone(), &mut out)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DownloadTooLarge { limit: 1024 }),
        "{err}"
    );
    assert!(out.len() <= 1024 + (5 << 20) && out.len() < 5 << 20);
    let mut out = Vec::new();
    let err = client["v2/pay/downloadfundflow"]
        .download_to(options, &mut out)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ApiV2(_) | Error::Xml(_)), "{err}");
    assert!(out.is_empty(), "a refusal is never written as the file");
}

#[test]
fn apiv2_values_reach_the_xml_as_they_were_signed() {
    let client = builder("https://api.mch.weixin.qq.com/")
        .apiv2_key(APIV2_KEY)
        .build()
        .unwrap();
    let request = client["v2/pay/closeorder"]
        .prepare(
            wechatpay_chain::Method::POST,
            json!({"xml": {"attach": "a\r\nb", "out_trade_no": "T1"}}).into(),
        )
        .unwrap();
    let body = std::str::from_utf8(request.body()).unwrap();
    assert!(body.contains("<attach>a&#13;\nb</attach>"), "{body}");
    let fields = wechatpay_chain::v2::xml::parse(request.body()).unwrap();
    assert_eq!(fields["attach"], "a\r\nb");
    assert!(wechatpay_chain::v2::sign::verify(&fields, APIV2_KEY));
    let err = client["v2/pay/closeorder"]
        .prepare(
            wechatpay_chain::Method::POST,
            json!({"xml": {"attach": "a\u{1}b"}}).into(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOption { .. }), "{err}");
}

#[test]
fn control_characters_in_a_template_are_refused() {
    let client = client("https://api.mch.weixin.qq.com/hk/");
    for template in ["v3/.\t/x", "v3/x\n/y", "v3/\r../x"] {
        let err = client
            .chain(template)
            .prepare(wechatpay_chain::Method::GET, ().into())
            .unwrap_err();
        assert!(matches!(err, Error::Template { .. }), "{template:?}: {err}");
    }
}

#[test]
fn a_key_given_to_a_path_flag_is_not_repeated() {
    let apiv3_key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    let err = Client::builder()
        .mchid(MCHID)
        .merchant_serial(MERCHANT_SERIAL)
        .private_key_file(apiv3_key)
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains(apiv3_key), "{err}");
    assert!(!format!("{err:?}").contains(apiv3_key), "{err:?}");
}

#[tokio::test]
async fn the_mock_bounds_what_its_control_api_queues() {
    let mock = wechatpay_chain::mock::MockServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let faults = format!("{}_mock/faults", mock.base_url());
    let long = json!({"fault": "drop_header", "header": "h".repeat(20 * 1024), "count": 10000});
    let res = http
        .post(&faults)
        .body(long.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let many = json!({"fault": "drop_header", "header": "Wechatpay-Nonce", "count": 10000});
    let res = http
        .post(&faults)
        .body(many.to_string())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let res = http
        .post(&faults)
        .body(many.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "the queue is full");
    mock.clear_faults();
}

/// APIv2 goes through the same retry loop and the same safety rule: a POST
/// answered 503 is not repeated (it may have been executed), a GET is.
#[tokio::test]
async fn an_apiv2_post_is_never_repeated_but_a_get_is() {
    let server = MockServer::start_async().await;
    let post = common::respond(&server, Some((POST, "/pay/micropay")), 503, "busy").await;
    let get = common::respond(&server, Some((GET, "/papay/entrustweb")), 503, "busy").await;
    let client = builder(&server.base_url())
        .apiv2_key(APIV2_KEY)
        .retry(RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(2)))
        .build()
        .unwrap();
    let err = client["v2/pay/micropay"]
        .post(json!({"xml": {"out_trade_no": "T1", "total_fee": 1, "auth_code": "1"}}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    post.assert_calls_async(1).await;
    let err = client["v2/papay/entrustweb"]
        .get(json!({"query": {"plan_id": "1"}}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    get.assert_calls_async(3).await;
}

// ---- issue 23.1: an APIv2 file behind a prefix of blanks --------------------

#[tokio::test]
async fn blanks_before_an_apiv2_file_count_against_the_limit_and_are_not_hoarded() {
    // 2 MiB of spaces, then silence: the download must stop at the 1 MiB
    // limit instead of waiting (and buffering) for a first non-blank byte.
    let base = common::stalling_server(
        "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n".to_owned(),
        vec![b' '; 2 << 20],
    )
    .await;
    let client = builder(&base)
        .apiv2_key(APIV2_KEY)
        .max_download_bytes(1 << 20)
        .read_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let mut out = Vec::new();
    let download = client["v2/pay/downloadbill"].download_to(
        json!({"xml": {"bill_date": "20260101", "bill_type": "ALL"}}),
        &mut out,
    );
    let err = tokio::time::timeout(Duration::from_secs(10), download)
        .await
        .expect("blanks past the limit must stop the download, not wait for more")
        .unwrap_err();
    assert!(
        matches!(err, Error::DownloadTooLarge { limit } if limit == 1 << 20),
        "{err}"
    );
    assert!(out.len() <= 1 << 20, "{} bytes written", out.len());

    // Without a limit a long blank prefix is part of the file, kept as sent.
    let server = MockServer::start_async().await;
    let mut file = vec![b' '; 200 * 1024];
    file.extend_from_slice("\n交易时间,公众账号ID\n`2026-01-01,`wx1\n".as_bytes());
    common::respond(
        &server,
        Some((POST, "/pay/downloadbill")),
        200,
        file.clone(),
    )
    .await;
    let client = builder(&server.base_url())
        .apiv2_key(APIV2_KEY)
        .build()
        .unwrap();
    let mut out = Vec::new();
    let done = client["v2/pay/downloadbill"]
        .download_to(
            json!({"xml": {"bill_date": "20260101", "bill_type": "ALL"}}),
            &mut out,
        )
        .await
        .unwrap();
    assert_eq!(out, file);
    assert_eq!(done.bytes, file.len() as u64);
    let sha1: String = openssl::sha::sha1(&file)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(done.sha1, sha1);
}

// ---- issue 23.4 and 23.5: credentials and keys are never echoed --------------

#[tokio::test]
async fn a_download_url_with_credentials_is_refused_without_them() {
    let server = MockServer::start_async().await;
    let any = common::respond(&server, None, 200, "file").await;
    let client = client(&server.base_url());
    let url = server
        .base_url()
        .replacen("http://", "http://merchant:hunter2-secret@", 1)
        + "/v3/billdownload/file?token=t";
    let err = client
        .download_url(&url, Compression::None, &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DownloadUrl { .. }), "{err}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(!text.contains("merchant:"), "{text}");
    }
    any.assert_calls_async(0).await;
}

#[test]
fn a_key_given_as_the_profile_path_is_not_repeated() {
    let apiv3_key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    let err = wechatpay_chain::profile::Profile::read(apiv3_key).unwrap_err();
    assert!(!err.to_string().contains(apiv3_key), "{err}");
    assert!(!format!("{err:?}").contains(apiv3_key), "{err:?}");
    // a path still names itself, so that the mistake can be found
    let err = wechatpay_chain::profile::Profile::read("missing/mock.json").unwrap_err();
    assert!(err.to_string().contains("missing/mock.json"), "{err}");
}
