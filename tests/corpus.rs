//! Every operation of the endpoint corpus: its PHP and Node.js chain
//! spellings must give exactly its path, and its path must parse as a
//! template whose placeholders fill one segment each.

mod common;

use wechatpay_chain::path::{Part, Template};
use wechatpay_chain::{chain, Client};

struct Row {
    method: String,
    path: String,
    js: Vec<String>,
    php: Vec<String>,
}

fn rows() -> Vec<Row> {
    let text = include_str!("../src/mock/data/endpoints.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (method, path, api, js, php) = (
        col("METHOD"),
        col("PATH"),
        col("API"),
        col("JS_CHAIN"),
        col("PHP_CHAIN"),
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let full = if f[api] == "v2" {
                format!("v2/{}", f[path])
            } else {
                f[path].to_owned()
            };
            Row {
                method: f[method].to_owned(),
                path: full,
                js: f[js].split('.').map(str::to_owned).collect(),
                php: f[php]
                    .trim_start_matches("$instance->")
                    .split("->")
                    .map(str::to_owned)
                    .collect(),
            }
        })
        .collect()
}

fn client() -> Client {
    common::client("http://127.0.0.1:9/")
}

/// The template a spelling gives, with any placeholder that stands where the
/// path has a literal filled by that literal (PHP and JS write
/// `_addinstitutionsub_` with the value `addInstitutionsub`, because an
/// identifier cannot keep the capital letter).
fn resolve(template: &str, expected: &str) -> String {
    let want: Vec<&str> = expected.split('/').collect();
    let got: Vec<&str> = template.split('/').collect();
    if want.len() != got.len() {
        return template.to_owned();
    }
    let fixed: Vec<String> = got
        .iter()
        .zip(&want)
        .map(|(g, w)| {
            if g.starts_with('{') && !w.starts_with('{') {
                w.to_string()
            } else {
                g.to_string()
            }
        })
        .collect();
    fixed.join("/")
}

#[test]
fn every_corpus_spelling_gives_its_path() {
    let client = client();
    let rows = rows();
    assert_eq!(rows.len(), 1155);
    let mut literal_fills = 0;
    for row in &rows {
        for spelling in [&row.js, &row.php] {
            let (verb, idents) = spelling.split_last().unwrap();
            assert_eq!(verb.to_ascii_uppercase(), row.method, "{spelling:?}");
            let idents: Vec<&str> = idents.iter().map(String::as_str).collect();
            let template = client.chain_idents(&idents).template().to_owned();
            if template != row.path {
                literal_fills += 1;
                assert_eq!(resolve(&template, &row.path), row.path, "{spelling:?}");
            }
        }
    }
    // Only the three `secapi/mch/*Institutionsub` rows need a fixed value.
    assert_eq!(literal_fills, 6);
}

#[test]
fn every_corpus_path_parses_and_fills_one_segment_per_placeholder() {
    let mut counts = [0usize; 4];
    for row in rows() {
        let template = Template::parse(&row.path).unwrap();
        let names: Vec<&str> = template.placeholders().collect();
        counts[names.len()] += 1;
        let filled = template.fill(|_| Some("a/b?c#d")).unwrap();
        assert_eq!(
            filled.split('/').count(),
            row.path.split('/').count(),
            "{}",
            row.path
        );
        assert!(!filled.contains('?') && !filled.contains('#'));
        for part in template.parts() {
            if let Part::Placeholder(name) = part {
                assert!(row.path.contains(&format!("{{{name}}}")));
            }
        }
    }
    // 1155 operations in PROTOCOL.md's counts: 627 with none, 443 with one,
    // 84 with two, 1 with three placeholders.
    assert_eq!(counts, [627, 443, 84, 1]);
}

#[test]
fn chain_macro_takes_keywords_and_trailing_slashes() {
    let client = client();
    assert_eq!(
        chain!(client.v3.ecommerce.subsidies.return).template(),
        "v3/ecommerce/subsidies/return"
    );
    assert_eq!(
        chain!(client.v3.marketing.busifavor.coupons.use).template(),
        "v3/marketing/busifavor/coupons/use"
    );
    assert_eq!(
        chain!(client.v3.gov.subsidy.zhejiang.authcode.try).template(),
        "v3/gov/subsidy/zhejiang/authcode/try"
    );
    assert_eq!(
        chain!(client.v3.gov.subsidy.zhejiang.authcode.r#try).template(),
        "v3/gov/subsidy/zhejiang/authcode/try"
    );
    assert_eq!(
        chain!(client.v3.marketing.partner.productCoupon.users._openid_.coupons._coupon_code_.return).template(),
        "v3/marketing/partner/product-coupon/users/{openid}/coupons/{coupon_code}/return"
    );
    assert_eq!(
        chain!(client.v3.applyment4sub.applyment._empty_).template(),
        "v3/applyment4sub/applyment/"
    );
    assert_eq!(
        chain!(client.v3.profitsharing.receivers.Delete).template(),
        "v3/profitsharing/receivers/delete"
    );
    assert_eq!(chain!(client.v2.pay.micropay).template(), "v2/pay/micropay");
    // a node continues the chain, and a parenthesized expression is a root
    let v3 = client.chain("v3");
    assert_eq!(
        chain!(v3.payscore.serviceorder).template(),
        "v3/payscore/serviceorder"
    );
    assert_eq!(
        chain!((client.chain("v3")).payscore).template(),
        "v3/payscore"
    );
}

#[test]
fn segment_normalization_vectors() {
    let vectors = common::vectors();
    for pair in vectors["segment_normalization"]["pairs"]
        .as_array()
        .unwrap()
    {
        let (from, to) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        assert_eq!(wechatpay_chain::path::ident_segment(from), to, "{from}");
    }
}

#[test]
fn string_and_index_styles_are_literal_and_nest() {
    let client = client();
    // no case folding, no translation
    assert_eq!(
        client.chain("v3/merchantService/X").template(),
        "v3/merchantService/X"
    );
    assert_eq!(
        client["v3/applyment4sub/applyment/"].template(),
        "v3/applyment4sub/applyment/"
    );
    assert_eq!(
        client["v3"]["pay"]["transactions/native"].template(),
        "v3/pay/transactions/native"
    );
    assert_eq!(
        client.chain("v3").chain("pay/transactions").template(),
        "v3/pay/transactions"
    );
    assert_eq!(client.chain("/v3/").chain("/pay").template(), "v3/pay");
    // index nodes are interned: the same reference each time
    assert!(std::ptr::eq(&client["v3"], &client["v3"]));
    assert!(std::ptr::eq(&client["v3"]["pay"], &client["v3"]["pay"]));
}
