//! The endpoint catalog (`wechatpay_chain::catalog`): every corpus row found
//! by its own concrete path, search by path words and Chinese summary,
//! suggestions for the usual typos, the per-operation facts (unsigned
//! files, client certificate), and the `chain!` spelling of each template.
#![cfg(feature = "catalog")]

mod common;

use wechatpay_chain::catalog::{chain_macro_path, Api, Catalog};
use wechatpay_chain::path::encode_component;
use wechatpay_chain::request::UNSIGNED_DOWNLOADS;
use wechatpay_chain::v2::rules;

/// (method, template as the SDK writes it), read apart from the catalog.
fn rows() -> Vec<(String, String)> {
    let mut lines = wechatpay_chain::catalog::ENDPOINTS_TSV.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (method, path, api) = (col("METHOD"), col("PATH"), col("API"));
    lines
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let template = match f[api] {
                "v2" => format!("v2/{}", f[path]),
                _ => f[path].to_owned(),
            };
            (f[method].to_owned(), template)
        })
        .collect()
}

/// The template with each placeholder filled by a value that needs encoding.
fn fill(template: &str, row: usize) -> (String, Vec<String>) {
    let mut values = Vec::new();
    let path = template
        .split('/')
        .map(|segment| match segment.strip_prefix('{') {
            Some(_) => {
                let value = format!("值 {row}/{}", values.len());
                let encoded = encode_component(&value);
                values.push(value);
                encoded
            }
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/");
    (path, values)
}

/// The shape of a template: placeholders anonymous.
fn shape(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn the_catalog_holds_the_whole_corpus() {
    let catalog = Catalog::embedded();
    let ops = catalog.operations();
    assert_eq!(ops.len(), 1155);
    assert_eq!(ops.iter().filter(|op| op.api() == Api::V3).count(), 1019);
    assert_eq!(ops.iter().filter(|op| op.api() == Api::V2).count(), 136);
    assert!(ops
        .iter()
        .filter(|op| op.api() == Api::V2)
        .all(|op| op.template() == format!("v2/{}", op.wire_path())));
    assert!(ops.iter().all(|op| !op.summary().is_empty()));
}

#[test]
fn every_row_is_found_by_its_own_concrete_path() {
    let catalog = Catalog::embedded();
    let rows = rows();
    assert_eq!(rows.len(), 1155);
    let mut by_shape_only = Vec::new();
    for (i, (method, template)) in rows.iter().enumerate() {
        let (path, values) = fill(template, i);
        // as written, with a leading slash and a query, and as a URL
        for written in [
            path.clone(),
            format!("/{path}?mchid=1900000109"),
            format!("https://api.mch.weixin.qq.com/{path}"),
        ] {
            let found = catalog
                .lookup(method, &written)
                .unwrap_or_else(|| panic!("{method} {written} not found"));
            assert_eq!(found.operation.method(), method);
            assert_eq!(shape(found.operation.template()), shape(template));
            let got: Vec<&str> = found
                .placeholders
                .iter()
                .map(|p| p.value.as_deref().unwrap())
                .collect();
            assert_eq!(got, values, "{written}");
            if found.operation.template() != template {
                by_shape_only.push(template.clone());
            }
        }
        // every operation at that path is listed, this one included
        assert!(catalog
            .lookup_path(&path)
            .iter()
            .any(|m| m.operation.method() == method && m.operation.template() == template));
        // the template itself finds exactly this row, no values
        let exact = catalog.lookup(&method.to_lowercase(), template).unwrap();
        assert_eq!(exact.operation.template(), template);
        assert!(exact.placeholders.iter().all(|p| p.value.is_none()));
        assert_eq!(
            catalog.find(method, template).unwrap().template(),
            template.as_str()
        );
    }
    // Only `v3/apply4subject/applyment/{business_code}/cancel` shares its
    // shape and method with another row (`{applyment_id}`), which a
    // concrete path cannot tell apart: the first in corpus order answers.
    by_shape_only.dedup();
    assert_eq!(
        by_shape_only,
        ["v3/apply4subject/applyment/{business_code}/cancel"]
    );
    let both = catalog.lookup_path("v3/apply4subject/applyment/X/cancel");
    assert_eq!(both.len(), 2);
}

#[test]
fn a_literal_segment_beats_a_placeholder_and_methods_are_told_apart() {
    let catalog = Catalog::embedded();
    let upload = catalog
        .lookup("POST", "v3/merchant-service/images/upload")
        .unwrap();
    assert_eq!(
        upload.operation.template(),
        "v3/merchant-service/images/upload"
    );
    let image = catalog
        .lookup("GET", "v3/merchant-service/images/MEDIA1")
        .unwrap();
    assert_eq!(
        image.operation.template(),
        "v3/merchant-service/images/{media_id}"
    );
    assert!(catalog.lookup("DELETE", "v3/certificates").is_none());
    assert!(catalog
        .lookup("GET", "v3/payscore/serviceorde/1/modify")
        .is_none());
    assert!(catalog.lookup_path("v3/nothing/here").is_empty());
    // a placeholder never matches an empty segment
    assert!(catalog.lookup("GET", "v3/pay/transactions/id/").is_none());
}

#[test]
fn search_by_path_words_summary_and_method() {
    let catalog = Catalog::embedded();
    let templates = |query: &str| -> Vec<String> {
        catalog
            .search(query)
            .iter()
            .map(|op| format!("{} {}", op.method(), op.template()))
            .collect()
    };
    assert_eq!(catalog.search("").len(), 1155);
    assert_eq!(
        templates("payscore serviceorder modify"),
        [
            "POST v3/payscore/acquiringbank/serviceorder/{out_order_no}/modify",
            "POST v3/payscore/partner/serviceorder/{out_order_no}/modify",
            "POST v3/payscore/serviceorder/{out_order_no}/modify",
        ]
    );
    // the Chinese summary, and any case for path words
    let refunds = templates("申请退款 DOMESTIC");
    assert_eq!(refunds[0], "POST v3/refund/domestic/refunds");
    // a method word filters
    let posts = catalog.search("post transactions");
    assert!(!posts.is_empty() && posts.iter().all(|op| op.method() == "POST"));
    // a whole segment ranks before a part of one
    let native = templates("native");
    assert!(native[0].ends_with("/native"), "{native:?}");
    // APIv2 by its path
    assert!(templates("micropay").contains(&"POST v2/pay/micropay".to_owned()));
    assert!(catalog.search("payscore 退款 nothinglikethis").is_empty());
}

#[test]
fn suggestions_for_typos() {
    let catalog = Catalog::embedded();
    let first = |method: Option<&str>, path: &str| -> String {
        let s = catalog.suggest(method, path, 3);
        assert!(!s.is_empty(), "no suggestion for {path}");
        assert!(s.windows(2).all(|w| w[0].distance <= w[1].distance));
        format!("{} {}", s[0].operation.method(), s[0].operation.template())
    };
    let modify = "POST v3/payscore/serviceorder/{out_order_no}/modify";
    // a misspelt segment
    assert_eq!(
        first(Some("POST"), "v3/payscore/serviceorde/1234/modify"),
        modify
    );
    // a deleted segment
    assert_eq!(first(Some("POST"), "v3/payscore/1234/modify"), modify);
    // two segments swapped
    assert_eq!(
        first(Some("POST"), "v3/serviceorder/payscore/1234/modify"),
        modify
    );
    // an extra segment
    assert_eq!(
        first(Some("POST"), "v3/payscore/serviceorder/extra/1234/modify"),
        modify
    );
    assert_eq!(
        first(Some("POST"), "v3/pay/transactions/native/extra"),
        "POST v3/pay/transactions/native"
    );
    // a template with a misspelt placeholder-free segment and a leading slash
    assert_eq!(
        first(Some("GET"), "/v3/certificatez"),
        "GET v3/certificates"
    );
    // the APIv2 prefix forgotten
    assert_eq!(
        first(Some("POST"), "pay/orderquery"),
        "POST v2/pay/orderquery"
    );
    // a known path with a method it does not take: the same path, its method
    assert_eq!(
        first(Some("POST"), "v3/certificates"),
        "GET v3/certificates"
    );
    // no method: any
    assert_eq!(
        first(None, "v3/refund/domestic/refundz"),
        "POST v3/refund/domestic/refunds"
    );
    // nothing close: nothing offered
    assert!(catalog
        .suggest(Some("GET"), "completely/unrelated/thing/here/x/y/z", 3)
        .is_empty());
    assert_eq!(catalog.suggest(None, "v3/payscore/serviceorde", 2).len(), 2);
}

#[test]
fn unsigned_files_and_client_certificates() {
    let catalog = Catalog::embedded();
    let op = |method: &str, template: &str| {
        catalog
            .find(method, template)
            .unwrap_or_else(|| panic!("{template}"))
    };
    let bill = op("GET", "v3/billdownload/file");
    assert!(bill.unsigned_response() && bill.file_response());
    let image = op("GET", "v3/merchant-service/images/{media_id}");
    assert!(image.unsigned_response() && image.file_response());
    let pdf = op("GET", "v3/transferdownload/signfile");
    assert!(pdf.file_response() && pdf.produces() == Some("application/pdf"));
    let native = op("POST", "v3/pay/transactions/native");
    assert!(!native.unsigned_response() && !native.file_response());
    assert!(!native.needs_client_certificate());
    // every unsigned download the request layer knows, where the corpus has it
    for path in UNSIGNED_DOWNLOADS {
        if let Some(op) = catalog.find("GET", path) {
            assert!(op.unsigned_response() && op.file_response(), "{path}");
        }
    }
    // APIv2: the rules module decides
    let downloadbill = op("POST", "v2/pay/downloadbill");
    assert!(downloadbill.unsigned_response() && downloadbill.file_response());
    let redpack = op("POST", "v2/mmpaymkttransfers/sendredpack");
    assert!(redpack.unsigned_response() && !redpack.file_response());
    assert!(redpack.needs_client_certificate());
    for v2 in catalog.operations().iter().filter(|op| op.api() == Api::V2) {
        assert_eq!(
            v2.unsigned_response(),
            rules::is_unsigned(v2.wire_path()),
            "{}",
            v2.template()
        );
        if v2.wire_path().starts_with("secapi/") {
            assert!(v2.needs_client_certificate(), "{}", v2.template());
        }
    }
    assert!(op("POST", "v2/secapi/pay/refund").needs_client_certificate());
    assert!(op("POST", "v2/pay/downloadfundflow").needs_client_certificate());
    assert!(!op("POST", "v2/pay/micropay").needs_client_certificate());
    assert!(catalog
        .operations()
        .iter()
        .filter(|op| op.api() == Api::V3)
        .all(|op| !op.needs_client_certificate()));
    // uploads, 204s, Wechatpay-Serial
    assert!(op("POST", "v3/merchant/media/upload").is_upload());
    assert_eq!(
        op(
            "POST",
            "v3/payscore/partner/serviceorder/{out_order_no}/modify"
        )
        .success_status(),
        204
    );
    assert_eq!(
        catalog
            .operations()
            .iter()
            .filter(|op| op.needs_wechatpay_serial())
            .count(),
        117
    );
}

#[test]
fn the_chain_macro_spelling_gives_the_template_back() {
    let client = common::client("http://127.0.0.1:9/");
    let mut unspellable = Vec::new();
    for op in Catalog::embedded().operations() {
        match chain_macro_path(op.template()) {
            Some(idents) => {
                let idents: Vec<&str> = idents.split('.').collect();
                assert_eq!(
                    client.chain_idents(&idents).template(),
                    op.template(),
                    "{idents:?}"
                );
            }
            None => unspellable.push(op.wire_path().to_owned()),
        }
    }
    unspellable.sort();
    assert_eq!(
        unspellable,
        [
            "secapi/mch/addInstitutionsub",
            "secapi/mch/modifyInstitutionsub",
            "secapi/mch/queryInstitutionsub"
        ]
    );
}

#[test]
fn an_operation_serializes_every_fact() {
    let op = Catalog::embedded()
        .find("GET", "v3/billdownload/file")
        .unwrap();
    let json = serde_json::to_value(op).unwrap();
    assert_eq!(json["method"], "GET");
    assert_eq!(json["template"], "v3/billdownload/file");
    assert_eq!(json["api"], "v3");
    assert_eq!(json["unsigned_response"], true);
    assert_eq!(json["file_response"], true);
    assert_eq!(json["needs_client_certificate"], false);
    assert_eq!(json["success_status"], 200);
    assert_eq!(json["placeholders"], serde_json::json!([]));
}
