//! Uploads (meta signed, file streamed, SHA-256 checked by the mock) and
//! bill downloads (signed GET, unsigned answer, SHA-1 checked, gzip).

mod common;

use base64::Engine as _;
use wechatpay_chain::download::{BillInfo, BillTable, Compression};
use wechatpay_chain::media::Media;
use wechatpay_chain::mock::{Fault, MockServer};
use wechatpay_chain::{json, Client, Error, Value};

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("wechatpay-files-{}-{name}", std::process::id()))
}

#[test]
fn media_meta_vector() {
    let v = &common::vectors()["media_meta"];
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v["file_base64"].as_str().unwrap())
        .unwrap();
    let media = Media::from_bytes(v["filename"].as_str().unwrap(), bytes);
    assert_eq!(media.sha256(), v["sha256"].as_str().unwrap());
    assert_eq!(media.meta_json(), v["meta"].as_str().unwrap());
    assert_eq!(media.content_type(), "image/gif");
}

#[tokio::test]
async fn uploads_sign_the_meta_and_stream_the_file() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let v = &common::vectors()["media_meta"];
    let gif = base64::engine::general_purpose::STANDARD
        .decode(v["file_base64"].as_str().unwrap())
        .unwrap();
    let res = client
        .chain("v3/merchant/media/upload")
        .upload(Media::from_bytes("transparent.gif", gif))
        .await
        .unwrap();
    assert!(res.verified_by().is_some());
    assert!(res.json::<Value>().unwrap()["media_id"]
        .as_str()
        .unwrap()
        .starts_with("MOCK-"));

    // a 3 MiB video from disk, with an extra meta key
    let path = temp("video.mp4");
    let content: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let media = Media::from_path(&path)
        .unwrap()
        .meta("bank_type", "ICBC_DEBIT");
    assert_eq!(media.content_type(), "video/mp4");
    assert_eq!(media.len(), content.len() as u64);
    assert!(media.meta_json().ends_with(r#","bank_type":"ICBC_DEBIT"}"#));
    let res = client
        .chain("v3/merchant/media/video_upload")
        .upload(media)
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().unwrap()["size"], content.len());

    // the file changed after it was hashed: the mock refuses it
    let media = Media::from_path(&path).unwrap();
    let changed: Vec<u8> = content.iter().map(|b| b.wrapping_add(1)).collect();
    std::fs::write(&path, changed).unwrap();
    match client
        .chain("v3/merchant/media/video_upload")
        .upload(media)
        .await
    {
        Err(Error::Api(api)) => {
            assert_eq!(api.code, "PARAM_ERROR");
            assert_eq!(api.detail.unwrap()["field"], "/meta/sha256");
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(&path).unwrap();

    // placeholders work for uploads too; a JSON body does not mix with one
    let res = client
        .chain("v3/mch-manage/submission-files/sub-mchid/{sub_mchid}/upload")
        .upload_with(
            json!({"sub_mchid": "1900000110"}),
            Media::from_bytes("a.pdf", &b"%PDF-1.4"[..]),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let err = client
        .chain("v3/merchant/media/upload")
        .upload_with(json!({"json": {}}), Media::from_bytes("a.png", &b"x"[..]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOption { .. }), "{err}");
}

async fn bill(client: &Client, path: &str, gzip: bool) -> BillInfo {
    let mut query = json!({"bill_date": "2026-01-01"});
    if gzip {
        query["tar_type"] = json!("GZIP");
    }
    client
        .chain(path)
        .get(json!({ "query": query }))
        .await
        .unwrap()
        .json()
        .unwrap()
}

#[tokio::test]
async fn bills_download_hash_checked_plain_and_gzip() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    server.set_bill_rows(1000);

    let info = bill(&client, "v3/bill/tradebill", false).await;
    assert_eq!(info.hash_type, "SHA1");
    let mut csv = Vec::new();
    let done = client
        .download_bill(&info, Compression::None, &mut csv)
        .await
        .unwrap();
    assert_eq!(done.bytes, csv.len() as u64);
    assert_eq!(done.sha1, info.hash_value);
    let table = BillTable::parse(std::str::from_utf8(&csv).unwrap()).unwrap();
    assert_eq!(table.rows.len(), 1000);
    assert_eq!(table.columns[0], "交易时间");
    assert_eq!(table.rows[0][2], "1900000109");
    assert_eq!(table.summary[0], "1000.0");

    // gzip, into a file: the file holds the plain CSV
    let info = bill(&client, "v3/bill/tradebill", true).await;
    let path = temp("bill.csv");
    let done = client
        .download_bill_to_file(&info, Compression::Gzip, &path)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), csv);
    assert_eq!(done.sha1, info.hash_value);
    std::fs::remove_file(&path).unwrap();

    // fund flow bill
    let info = bill(&client, "v3/bill/fundflowbill", false).await;
    let mut flow = Vec::new();
    client
        .download_bill(&info, Compression::None, &mut flow)
        .await
        .unwrap();
    assert!(String::from_utf8(flow)
        .unwrap()
        .starts_with("\u{feff}记账时间"));
}

#[tokio::test]
async fn bad_bills_are_errors_and_leave_no_file() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    server.set_bill_rows(5000);
    let path = temp("bad.csv");

    server.inject(Fault::WrongBillHash);
    let info = bill(&client, "v3/bill/tradebill", false).await;
    let err = client
        .download_bill_to_file(&info, Compression::None, &path)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err}");
    assert!(!path.exists(), "a file with the wrong hash is removed");

    let info = bill(&client, "v3/bill/tradebill", true).await;
    server.inject(Fault::TruncatedBody);
    let err = client
        .download_bill_to_file(&info, Compression::Gzip, &path)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decompress(_)), "{err}");
    assert!(!path.exists());

    // A download is a GET: a connection cut before the file starts is
    // repeated (three attempts by default); cut every time, it is an error.
    let info = bill(&client, "v3/bill/tradebill", false).await;
    server.inject_times(Fault::CloseMidBody, 3);
    let err = client
        .download_bill_to_file(&info, Compression::None, &path)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err}");
    assert!(!path.exists());
    server.clear_faults();

    // a download URL that would send the signature in clear text elsewhere
    let mut info = bill(&client, "v3/bill/tradebill", false).await;
    info.download_url = "http://example.com/v3/billdownload/file?token=x".to_owned();
    let err = client
        .download_bill(&info, Compression::None, &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DownloadUrl { .. }), "{err}");
    // an unknown token
    let mut info = bill(&client, "v3/bill/tradebill", false).await;
    info.download_url = format!("{}v3/billdownload/file?token=nope", server.base_url());
    assert!(matches!(
        client
            .download_bill(&info, Compression::None, &mut Vec::new())
            .await,
        Err(Error::Api(_))
    ));
    // a bad date
    let err = client
        .chain("v3/bill/tradebill")
        .get(json!({"query": {"bill_date": "20260101"}}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api(api) if api.code == "PARAM_ERROR"));
}

#[tokio::test]
async fn other_downloads_stream_and_only_unsigned_ones() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let mut image = Vec::new();
    let done = client
        .chain("v3/merchant-service/images/{media_id}")
        .download_to(json!({"media_id": "abc"}), &mut image)
        .await
        .unwrap();
    assert_eq!(done.bytes, image.len() as u64);
    assert!(String::from_utf8(image)
        .unwrap()
        .contains("v3/merchant-service/images/{media_id}"));
    let err = client
        .chain("v3/certificates")
        .download_to((), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotADownload { .. }), "{err}");
}

#[tokio::test]
async fn overseas_statements_verify_their_sha1_header() {
    use httpmock::prelude::*;
    let statement = "date,amount\n2026-01-01,1.00\n";
    let digest: String = openssl::sha::sha1(statement.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let server = httpmock::MockServer::start_async().await;
    for (path, announced) in [
        ("/v3/global/statements", digest.clone()),
        ("/v3/statements", "0".repeat(40)),
    ] {
        let pseudo = format!(r#"{{"sha1":"{announced}"}}"#);
        let headers = common::signed_headers(
            pseudo.as_bytes(),
            common::SignWith::Certificate,
            common::unix_now(),
        );
        server
            .mock_async(|when, then| {
                when.method(GET).path(path);
                common::with_headers(
                    then.status(200)
                        .header("Wechatpay-Statement-Sha1", announced.clone())
                        .body(statement),
                    headers,
                );
            })
            .await;
    }
    let client = common::client(&server.base_url());
    let mut out = Vec::new();
    let done = client
        .chain("v3/global/statements")
        .download_to((), &mut out)
        .await
        .unwrap();
    assert_eq!(
        (done.sha1.as_str(), out.as_slice()),
        (digest.as_str(), statement.as_bytes())
    );
    let err = client
        .chain("v3/statements")
        .download_to((), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err}");
}

// ---- issue 23.2: the destination of download_bill_to_file -------------------

/// A fresh, empty directory for one test.
fn empty_dir(name: &str) -> std::path::PathBuf {
    let dir = temp(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn a_refused_bill_download_leaves_the_existing_file_alone() {
    let server = MockServer::start().await.unwrap();
    server.set_bill_rows(3);
    let client = server.client().unwrap();
    let dir = empty_dir("kept");
    let path = dir.join("bill.csv");
    std::fs::write(&path, "yesterday's verified bill").unwrap();

    let mut info = bill(&client, "v3/bill/tradebill", false).await;
    info.download_url = "https://example.com/v3/billdownload/file?token=x".to_owned();
    let err = client
        .download_bill_to_file(&info, Compression::None, &path)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DownloadUrl { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "yesterday's verified bill"
    );

    let mut info = bill(&client, "v3/bill/tradebill", false).await;
    info.hash_type = "MD5".to_owned();
    let err = client
        .download_bill_to_file(&info, Compression::None, &path)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "yesterday's verified bill"
    );

    // a bad hash: the old file stays, nothing else is left behind
    server.inject(Fault::WrongBillHash);
    let info = bill(&client, "v3/bill/tradebill", false).await;
    let err = client
        .download_bill_to_file(&info, Compression::None, &path)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "yesterday's verified bill"
    );
    assert_eq!(entries(&dir), ["bill.csv"]);

    // a good one replaces it
    let info = bill(&client, "v3/bill/tradebill", false).await;
    let done = client
        .download_bill_to_file(&info, Compression::None, &path)
        .await
        .unwrap();
    let written = std::fs::read(&path).unwrap();
    let sha1: String = openssl::sha::sha1(&written)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        (done.sha1.as_str(), sha1.as_str()),
        (info.hash_value.as_str(), info.hash_value.as_str())
    );
    assert_eq!(entries(&dir), ["bill.csv"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_cancelled_bill_download_leaves_nothing_behind() {
    // 1 MiB of a 100 MiB file, then silence; the caller gives up after 2 s.
    let base = common::stalling_server(
        "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n".to_owned(),
        vec![b'x'; 1 << 20],
    )
    .await;
    let client = common::client(&base);
    let info: BillInfo = serde_json::from_value(json!({
        "hash_type": "SHA1",
        "hash_value": "79bb0f45fc4c42234a918000b2668d689e2bde04",
        "download_url": format!("{base}v3/billdownload/file?token=t"),
    }))
    .unwrap();
    let dir = empty_dir("cancelled");
    let path = dir.join("bill.csv");
    let download = client.download_bill_to_file(&info, Compression::None, &path);
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(2), download).await;
    assert!(outcome.is_err(), "the download was to be cancelled");
    assert!(!path.exists(), "unverified bytes at the final path");
    assert!(entries(&dir).is_empty(), "left behind: {:?}", entries(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- issue 23.3: a statement without its digest header ----------------------

/// WeChat Pay's documentation of the overseas statement download
/// (pay.weixin.qq.com/wiki/doc/api_external/ch/apis/chapter3_3_6.shtml and
/// …/chapter4_1_34.shtml for v3/global/statements; …/fusion_wallet_ch/
/// H5Payment/chapter8_5.shtml for hk/v3/statements): a successful answer
/// carries `Wechatpay-Statement-Sha1`, the answer's signature is made over
/// it (timestamp, nonce, the SHA-1), and the downloaded file is compared
/// with it. An answer without it is not WeChat Pay's.
#[tokio::test]
async fn a_statement_without_its_digest_header_is_not_verified() {
    use httpmock::prelude::*;
    let statement = "date,amount\n2026-01-01,1.00\n";
    let server = httpmock::MockServer::start_async().await;
    // Signed headers (over what a stripped answer could still carry), no digest.
    let headers = common::signed_headers(
        statement.as_bytes(),
        common::SignWith::Certificate,
        common::unix_now(),
    );
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v3/global/statements");
            common::with_headers(then.status(200).body(statement), headers);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v3/statements");
            then.status(200).body(statement);
        })
        .await;
    let client = common::client(&server.base_url());
    for path in ["v3/global/statements", "v3/statements"] {
        let mut out = Vec::new();
        let err = client
            .chain(path)
            .download_to((), &mut out)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Verify {
                    kind: wechatpay_chain::VerifyError::MissingHeader("Wechatpay-Statement-Sha1"),
                    ..
                }
            ),
            "{path}: {err}"
        );
        assert!(out.is_empty(), "{path}: an unchecked statement was written");
    }
}
