//! Apps on `log` (env_logger, …) with no tracing subscriber still see the
//! SDK's events: tracing's `log` feature forwards them. Its own binary,
//! since a `log` logger is global to the process.

use std::sync::Mutex;

use wechatpay_chain::mock::MockServer;

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        RECORDS.lock().unwrap().push(format!(
            "{} {} {}",
            record.level(),
            record.target(),
            record.args()
        ));
    }
    fn flush(&self) {}
}

#[tokio::test]
async fn events_reach_a_log_logger_without_a_tracing_subscriber() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let server = MockServer::start().await.unwrap();
    let client = server
        .client_builder()
        .trace_signed_messages(true)
        .build()
        .unwrap();
    client["v3/certificates"].get(()).await.unwrap();
    let records = RECORDS.lock().unwrap().clone();
    let signed = records
        .iter()
        .find(|r| r.contains("signed message"))
        .unwrap_or_else(|| panic!("no signed-message record among {records:#?}"));
    assert!(signed.starts_with("DEBUG wechatpay_chain"), "{signed}");
    assert!(
        signed.contains("GET\n/v3/certificates\n") || signed.contains("GET\\n/v3/certificates"),
        "{signed}"
    );
    // Never the Authorization header's signature, never a key.
    for record in &records {
        assert!(
            !record.contains("WECHATPAY2-SHA256-RSA2048 mchid"),
            "{record}"
        );
        assert!(!record.contains("PRIVATE KEY"), "{record}");
    }
}
