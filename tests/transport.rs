//! Production transport against the mock: the blocking client, connection
//! reuse, retries only when safe (the mock counts what it received),
//! failover, timeouts that say which limit, and logs without secrets.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wechatpay_chain::mock::{Credentials, Fault, MockServer};
use wechatpay_chain::retry::RetryPolicy;
use wechatpay_chain::{chain, json, Error, Options, TimeoutLimit, Value};

const NATIVE: &str = "/v3/marketing/favor/coupon-stocks";

#[test]
fn blocking_client_runs_the_seed_examples_without_async() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start()).unwrap();
    let client = server.client_builder().build_blocking().unwrap();
    let create = |no: &str, sub: Option<&str>| {
        let mut body = json!({"out_order_no": no, "appid": "wx1", "service_id": "S1", "service_introduction": "x",
                              "time_range": {}, "risk_fund": {"name": "DEPOSIT", "amount": 50000}, "notify_url": "http://127.0.0.1:9/"});
        if let Some(sub) = sub {
            body["sub_mchid"] = json!(sub);
        }
        body
    };
    let with = |mut body: Value, sub: Option<&str>| {
        if let Some(sub) = sub {
            body["sub_mchid"] = json!(sub);
        }
        body
    };
    let complete = json!({"appid": "wx1", "service_id": "S1", "post_payments": [{"name": "x", "amount": 40000}],
                          "post_discounts": [{"name": "y", "amount": 100}], "total_amount": 39900});
    let modify = json!({"appid": "wx1", "service_id": "S1", "post_payments": [{"name": "x", "amount": 40000}],
                        "post_discounts": [{"name": "y", "amount": 200}], "total_amount": 39800, "reason": "用户投诉"});
    let sync = json!({"appid": "wx1", "service_id": "S1", "type": "Order_Paid", "detail": {"paid_time": "20260101120000"}});

    // direct: string, index and chain! styles; 200 with the order
    client
        .chain("v3/payscore/serviceorder")
        .post(json!({"json": create("B1", None)}))
        .unwrap();
    server.user_confirms("B1", None).unwrap();
    client["v3/payscore/serviceorder/{out_order_no}/complete"]
        .post(json!({"out_order_no": "B1", "json": complete}))
        .unwrap();
    let res = chain!(client.v3.payscore.serviceorder._out_order_no_.modify)
        .post(json!({"out_order_no": "B1", "json": modify}))
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().unwrap()["total_amount"], 39800);
    let res = client["v3/payscore/serviceorder"]["{out_order_no}/sync"]
        .post(json!({"out_order_no": "B1", "json": sync}))
        .unwrap();
    assert_eq!(res.json::<Value>().unwrap()["state"], "DONE");

    // partner: 204
    let sub = Some("1900000110");
    client
        .chain("v3/payscore/partner/serviceorder")
        .post(json!({"json": create("B2", sub)}))
        .unwrap();
    server.user_confirms("B2", sub).unwrap();
    for (action, body) in [
        ("complete", &complete),
        ("modify", &modify),
        ("sync", &sync),
    ] {
        let res = client
            .chain("v3/payscore/partner/serviceorder/{out_order_no}")
            .chain(action)
            .post(json!({"out_order_no": "B2", "json": with(body.clone(), sub)}))
            .unwrap();
        assert_eq!(res.status(), 204, "{action}");
    }
    drop(client);
    drop(server);
}

#[tokio::test]
async fn sequential_requests_share_one_connection() {
    let server = MockServer::start().await.unwrap();
    server.check_schemas(false); // a generic operation, any body (the check: tests/mock_schema.rs)
    let client = server.client().unwrap();
    for _ in 0..10 {
        client["v3/marketing/favor/coupon-stocks"]
            .post(json!({"json": {}}))
            .await
            .unwrap();
    }
    assert_eq!(server.connections(), 1);
    assert_eq!(server.hits("POST", NATIVE), 10);
}

#[tokio::test]
async fn a_post_is_never_sent_twice_unless_marked_idempotent() {
    let server = MockServer::start().await.unwrap();
    server.check_schemas(false); // a generic operation, any body (the check: tests/mock_schema.rs)
    let client = server
        .client_builder()
        .retry(RetryPolicy::default().backoff(Duration::from_millis(10), Duration::from_millis(50)))
        .build()
        .unwrap();
    let post =
        || client["v3/marketing/favor/coupon-stocks"].post(json!({"json": {"out_trade_no": "T1"}}));

    server.inject(Fault::CloseMidBody);
    assert!(matches!(post().await, Err(Error::Transport(_))));
    assert_eq!(
        server.hits("POST", NATIVE),
        1,
        "cut mid-answer: not repeated"
    );

    server.inject_times(Fault::Status(503), 2);
    assert!(matches!(post().await, Err(Error::Api(api)) if api.status == 503));
    assert_eq!(server.hits("POST", NATIVE), 2, "503: not repeated");
    server.clear_faults();

    // marked idempotent, it is repeated (re-signed: the mock refuses a reused nonce)
    server.inject(Fault::Status(500));
    let res = client["v3/marketing/favor/coupon-stocks"]
        .post(
            Options::new()
                .json(&json!({"out_trade_no": "T1"}))
                .idempotent(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(server.hits("POST", NATIVE), 4);
}

#[tokio::test]
async fn a_get_is_repeated_on_5xx_and_429_honouring_retry_after() {
    let server = MockServer::start().await.unwrap();
    let client = server
        .client_builder()
        .retry(RetryPolicy::default().backoff(Duration::from_millis(10), Duration::from_millis(50)))
        .build()
        .unwrap();
    server.inject(Fault::Status(503));
    client["v3/certificates"].get(()).await.unwrap();
    assert_eq!(server.hits("GET", "/v3/certificates"), 2);

    server.inject(Fault::Status(429)); // the mock sends Retry-After: 1
    let started = Instant::now();
    client["v3/certificates"].get(()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(server.hits("GET", "/v3/certificates"), 4);

    // bounded: three attempts, then the error
    server.inject_times(Fault::Status(500), 5);
    assert!(
        matches!(client["v3/certificates"].get(()).await, Err(Error::Api(api)) if api.status == 500)
    );
    assert_eq!(server.hits("GET", "/v3/certificates"), 7);
    server.clear_faults();
    // a verification failure is never repeated
    server.inject(Fault::ProbeSignature);
    assert!(matches!(
        client["v3/certificates"].get(()).await,
        Err(Error::Verify { .. })
    ));
    assert_eq!(server.hits("GET", "/v3/certificates"), 8);
}

#[tokio::test]
async fn failover_to_the_backup_when_the_primary_cannot_be_reached() {
    let server = MockServer::start().await.unwrap();
    server.check_schemas(false); // a generic operation, any body (the check: tests/mock_schema.rs)
    let c = Credentials::get();
    let client = wechatpay_chain::Client::builder()
        .mchid(c.mchid)
        .merchant_serial(c.merchant_serial)
        .private_key_pem(c.merchant_private_key)
        .platform_public_key(c.platform_public_key_id, c.platform_public_key)
        .base_url("http://127.0.0.1:9/")
        .backup_base_url(server.base_url())
        .retry(RetryPolicy::default().backoff(Duration::from_millis(10), Duration::from_millis(10)))
        .build()
        .unwrap();
    // connection refused: provably not sent, so even a POST may go to the backup
    let res = client["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {}}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(server.hits("POST", NATIVE), 1);
}

#[tokio::test]
async fn timeouts_are_bounded_and_say_which_limit() {
    let server = MockServer::start().await.unwrap();
    let quick =
        RetryPolicy::default().backoff(Duration::from_millis(10), Duration::from_millis(10));
    let whole = server
        .client_builder()
        .timeout(Duration::from_millis(300))
        .retry(quick.clone())
        .build()
        .unwrap();
    server.inject_times(Fault::Delay(Duration::from_secs(2)), 3);
    let started = Instant::now();
    let err = whole["v3/certificates"].get(()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                limit: TimeoutLimit::Request,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "three 300 ms attempts took {:?}",
        started.elapsed()
    );
    assert_eq!(server.hits("GET", "/v3/certificates"), 3);
    server.clear_faults();

    let idle = server
        .client_builder()
        .timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_millis(200))
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    server.inject(Fault::Delay(Duration::from_secs(2)));
    let err = idle["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {}}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                limit: TimeoutLimit::Read,
                ..
            }
        ),
        "{err}"
    );
}

/// Captures what `tracing` writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_show_the_request_never_a_secret() {
    let server = MockServer::start().await.unwrap();
    server.check_schemas(false); // a generic operation, any body (the check: tests/mock_schema.rs)
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let c = Credentials::get();
    let plain = server
        .client_builder()
        .apiv3_key(c.apiv3_key)
        .build()
        .unwrap();
    plain
        .chain("v3/marketing/favor/stocks/{stock_id}")
        .get(json!({"stock_id": "4200000000SECRETID"}))
        .await
        .unwrap();
    let traced = server
        .client_builder()
        .apiv3_key(c.apiv3_key)
        .trace_signed_messages(true)
        .build()
        .unwrap();
    let sealed = traced.encrypt("张三").unwrap();
    let res = traced["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {"name": sealed}}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("wechatpay.request"), "{log}");
    assert!(
        log.contains("template=v3/marketing/favor/stocks/{stock_id}"),
        "{log}"
    );
    assert!(
        !log.contains("4200000000SECRETID"),
        "filled values stay out of the span: {log}"
    );
    assert!(
        log.contains("status=200") && log.contains("request_id=") && log.contains("attempt=1"),
        "{log}"
    );
    assert_eq!(
        log.matches("signed message").count(),
        1,
        "only the opted-in client logs it: {log}"
    );
    assert!(
        log.contains("POST\n/v3/marketing/favor/coupon-stocks\n")
            || log.contains("POST\\n/v3/marketing/favor/coupon-stocks\\n"),
        "{log}"
    );
    let key_line = c.merchant_private_key.lines().nth(1).unwrap();
    for secret in [key_line, c.apiv3_key, "signature=\"", "张三"] {
        assert!(
            !log.contains(secret),
            "`{secret}` leaked into the log: {log}"
        );
    }
}

/// Everything the async client does, the blocking one does: certificates,
/// bills, streamed downloads, uploads with options, prepare, signed URLs.
#[test]
fn the_blocking_client_has_the_async_clients_features() {
    use wechatpay_chain::download::{BillInfo, Compression};
    use wechatpay_chain::media::Media;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start()).unwrap();
    server.set_bill_rows(300);
    let client = server.client_builder().build_blocking().unwrap();

    assert!(!client.download_certificates().unwrap().is_empty());
    assert!(client.refresh_certificates().unwrap() >= 1);

    let bill: BillInfo = client["v3/bill/tradebill"]
        .get(json!({"query": {"bill_date": "2026-01-01", "tar_type": "GZIP"}}))
        .unwrap()
        .json()
        .unwrap();
    let mut csv = Vec::new();
    let done = client
        .download_bill(&bill, Compression::Gzip, &mut csv)
        .unwrap();
    assert_eq!(done.bytes, csv.len() as u64);
    assert!(String::from_utf8(csv).unwrap().lines().count() > 300);
    let path = std::env::temp_dir().join(format!("blocking-bill-{}.csv", std::process::id()));
    client
        .download_bill_to_file(&bill, Compression::Gzip, &path)
        .unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), done.bytes);
    let _ = std::fs::remove_file(&path);

    let mut image = Vec::new();
    client["v3/merchant-service/images/{media_id}"]
        .download_to(json!({"media_id": "M1"}), &mut image)
        .unwrap();
    assert!(!image.is_empty());

    let media = Media::from_bytes("a.png", b"\x89PNG\r\n\x1a\n".to_vec());
    let res = client["v3/merchant/media/upload"]
        .upload_with(Options::new(), media)
        .unwrap();
    assert!(res.json::<Value>().unwrap()["media_id"].is_string());

    let prepared = client["v3/marketing/favor/coupon-stocks"]
        .prepare(
            wechatpay_chain::Method::POST,
            json!({"json": {"a": 1}}).into(),
        )
        .unwrap();
    assert_eq!(prepared.body(), br#"{"a":1}"#);
    let url = client["v2/papay/entrustweb"]
        .signed_url(json!({"query": {"plan_id": "1"}}))
        .unwrap();
    assert!(url.query().unwrap().contains("sign="));
    drop(client);
}
