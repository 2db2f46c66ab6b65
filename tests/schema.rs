//! The schema check, the example bodies and the client option, against
//! facts typed from TheNorthMemory/wechatpay-openapi (OA, commit 4d6325b)
//! and FLOWS.md §4.4, §8, §9 — never read back from the generated table.

mod common;

use wechatpay_chain::catalog::{
    Catalog, Field, Kind, Location, OperationSchema, RequestParts, Rule, NOT_CIPHERTEXT_MESSAGE,
    SERIAL_MISSING_MESSAGE,
};
use wechatpay_chain::{json, Error, Method, Value};

fn schema(method: &str, template: &str) -> &'static OperationSchema {
    Catalog::embedded()
        .find(method, template)
        .unwrap_or_else(|| panic!("{method} {template} not in the catalog"))
        .schema()
        .unwrap_or_else(|| panic!("{method} {template} has no schema"))
}

fn required(field: &Field) -> Vec<&str> {
    let mut names: Vec<&str> = field
        .children()
        .iter()
        .filter(|c| c.required())
        .map(Field::name)
        .collect();
    names.sort_unstable();
    names
}

fn sorted(mut names: Vec<&str>) -> Vec<&str> {
    names.sort_unstable();
    names
}

fn enum_strings(field: &Field) -> Vec<String> {
    field
        .enumeration()
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect()
}

#[test]
fn transfer_bills_as_oa_and_flows_describe_them() {
    // OA docs/v3/fund-app/mch-transfer/transfer-bills.yaml; FLOWS.md §8.1.
    let op = schema("POST", "v3/fund-app/mch-transfer/transfer-bills");
    let body = op.body().unwrap();
    assert_eq!(
        required(body),
        sorted(vec![
            "appid",
            "out_bill_no",
            "transfer_scene_id",
            "openid",
            "transfer_amount",
            "transfer_remark",
            "transfer_scene_report_infos",
        ])
    );
    let user_name = body.child("user_name").unwrap();
    assert!(user_name.encrypted() && !user_name.required());
    assert_eq!(user_name.title(), Some("收款用户姓名"));
    assert_eq!(
        enum_strings(body.child("transfer_scene_id").unwrap()),
        ["1000", "1002", "1004", "1005", "1009", "1010", "1011", "1013"]
    );
    let infos = body.child("transfer_scene_report_infos").unwrap();
    assert_eq!(infos.kind(), Kind::Array);
    assert_eq!(
        required(infos.items().unwrap()),
        ["info_content", "info_type"]
    );
    // Fen: FLOWS.md §8.1; OA says `number`, the override list says integer.
    assert_eq!(body.child("transfer_amount").unwrap().kind(), Kind::Integer);
    let answer = op.answer().unwrap();
    assert_eq!(
        required(answer),
        ["create_time", "out_bill_no", "state", "transfer_bill_no"]
    );
    // FLOWS.md §8.2's states, OA's enum.
    assert_eq!(
        enum_strings(answer.child("state").unwrap()),
        [
            "ACCEPTED",
            "PROCESSING",
            "WAIT_USER_CONFIRM",
            "TRANSFERING",
            "SUCCESS",
            "FAIL",
            "CANCELING",
            "CANCELLED"
        ]
    );
}

#[test]
fn jsapi_order_fields_and_wechat_messages() {
    // OA docs/definitions/Transaction.yaml (TransactionDirection, TransactionBase,
    // OrderBase, PayerDirection) via docs/v3/pay/transactions/jsapi.yaml; FLOWS.md §1.2.
    let op = schema("POST", "v3/pay/transactions/jsapi");
    let body = op.body().unwrap();
    assert_eq!(
        required(body),
        sorted(vec![
            "appid",
            "mchid",
            "description",
            "out_trade_no",
            "notify_url",
            "amount",
            "payer"
        ])
    );
    assert_eq!(required(body.child("amount").unwrap()), ["total"]);
    assert_eq!(required(body.child("payer").unwrap()), ["openid"]);
    assert_eq!(body.find("/amount/total").unwrap().kind(), Kind::Integer);
    assert!(op.answer().unwrap().child("prepay_id").unwrap().required());

    // FLOWS.md §9: hpyer/node-easywechat#69 and DEV 000a86411183309c429bce9fb5c800.
    let sent = json!({"mchid": "1900000109", "description": "d", "out_trade_no": "o1",
        "notify_url": "https://example.com/n", "amount": {"total": "1900000"},
        "payer": {"openid": "o"}});
    let found = op.check(&RequestParts::body(&sent));
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].pointer, "/appid");
    assert_eq!(found[0].rule, Rule::Required);
    assert_eq!(found[0].location, Location::Body);
    assert_eq!(
        found[0].message,
        "输入源“/appid”映射到字段“公众号ID”必填性规则校验失败,此字段为必填项"
    );
    assert_eq!(found[1].pointer, "/amount/total");
    assert_eq!(found[1].rule, Rule::Type);
    assert_eq!(found[1].value, Some(json!("1900000")));
    assert_eq!(
        found[1].message,
        "无法将 JSON 输入源“/body/amount/total”映射到目标字段“总金额”中,此字段需要一个合法的 64 位有符号整数"
    );
}

#[test]
fn null_is_refused_anywhere() {
    // FLOWS.md §9: "不允许使用 null" (DOC basic-rules.html).
    let op = schema("POST", "v3/pay/transactions/jsapi");
    let mut body = op.example_body().unwrap();
    body["attach"] = Value::Null; // described, optional
    body["no_such_field"] = json!([1, null]); // not described
    let found = op.check(&RequestParts::body(&body));
    let pointers: Vec<(&str, Rule)> = found.iter().map(|v| (v.pointer.as_str(), v.rule)).collect();
    assert_eq!(
        pointers,
        [("/attach", Rule::Null), ("/no_such_field/1", Rule::Null)]
    );
}

#[test]
fn encrypted_fields_need_the_header_and_ciphertext() {
    // FLOWS.md §4.4 / §9: the two real messages.
    let client = common::client("http://127.0.0.1:9/");
    let op = schema("POST", "v3/fund-app/mch-transfer/transfer-bills");
    let mut body = op.example_body().unwrap();
    body["user_name"] = json!("张三");
    let plaintext = op.check(&RequestParts::body(&body).with_header("Wechatpay-Serial"));
    assert_eq!(plaintext.len(), 1, "{plaintext:#?}");
    assert_eq!(plaintext[0].rule, Rule::NotCiphertext);
    assert_eq!(plaintext[0].message, "请确认待处理的消息是否为加密后的密文");
    assert_eq!(NOT_CIPHERTEXT_MESSAGE, plaintext[0].message);

    body["user_name"] = json!(client.encrypt("张三").unwrap());
    assert!(op
        .check(&RequestParts::body(&body).with_header("wechatpay-serial"))
        .is_empty());
    let headerless = op.check(&RequestParts::body(&body).with_header("Content-Type"));
    assert_eq!(headerless.len(), 1);
    assert_eq!(headerless[0].location, Location::Header);
    assert_eq!(
        headerless[0].message,
        "HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)"
    );
    assert_eq!(SERIAL_MISSING_MESSAGE, headerless[0].message);
    // Without an encrypted field the header is not needed, whatever OA's
    // `required: true` on the header says (FLOWS.md §8.1: "when user_name is sent").
    body.as_object_mut().unwrap().remove("user_name");
    assert!(op
        .check(&RequestParts::body(&body).with_header("Content-Type"))
        .is_empty());
}

#[test]
fn profit_sharing_as_oa_describes_it() {
    // OA docs/v3/profitsharing/orders.yaml.
    let orders = schema("POST", "v3/profitsharing/orders");
    let body = orders.body().unwrap();
    assert_eq!(
        required(body),
        ["out_order_no", "transaction_id", "unfreeze_unsplit"]
    );
    let receiver = body.find("/receivers/0").unwrap();
    assert_eq!(
        required(receiver),
        ["account", "amount", "description", "type"]
    );
    assert!(receiver.child("name").unwrap().encrypted());
    // OA docs/v3/profitsharing/receivers/add.yaml; FLOWS.md §4.4.
    let add = schema("POST", "v3/profitsharing/receivers/add")
        .body()
        .unwrap();
    assert_eq!(required(add), ["account", "appid", "relation_type", "type"]);
    assert_eq!(
        enum_strings(add.child("relation_type").unwrap()),
        [
            "SERVICE_PROVIDER",
            "STORE",
            "STAFF",
            "STORE_OWNER",
            "PARTNER",
            "HEADQUARTER",
            "BRAND",
            "DISTRIBUTOR",
            "USER",
            "SUPPLIER",
            "CUSTOM"
        ]
    );
    let sent = json!({"appid": "wx8888888888888888", "type": "MERCHANT_ID", "account": "1900000109",
        "relation_type": "FRIEND"});
    let found = schema("POST", "v3/profitsharing/receivers/add").check(&RequestParts::body(&sent));
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].pointer.as_str(), found[0].rule),
        ("/relation_type", Rule::Enum)
    );
    assert!(found[0].message.contains("SERVICE_PROVIDER"));

    // The query's enums as corrected (FLOWS.md §4.4: OA's are shifted; GO models.go).
    let query = schema("GET", "v3/profitsharing/orders/{out_order_no}");
    let answer = query.answer().unwrap();
    assert_eq!(
        enum_strings(answer.child("state").unwrap()),
        ["PROCESSING", "FINISHED"]
    );
    assert_eq!(
        enum_strings(answer.find("/receivers/0/result").unwrap()),
        ["PENDING", "SUCCESS", "CLOSED"]
    );
    // OA docs/v3/profitsharing/return-orders/{out_return_no}.yaml: out_order_no* in the query.
    let returns = schema("GET", "v3/profitsharing/return-orders/{out_return_no}");
    let missing = returns.check(&RequestParts::new().with_path("out_return_no", "R1"));
    assert_eq!(missing.len(), 1);
    assert_eq!(
        (
            missing[0].location,
            missing[0].pointer.as_str(),
            missing[0].rule
        ),
        (Location::Query, "/out_order_no", Rule::Required)
    );
}

#[test]
fn refund_create_as_oa_describes_it() {
    // OA docs/v3/refund/domestic/refunds.yaml; FLOWS.md §2.
    let op = schema("POST", "v3/refund/domestic/refunds");
    let body = op.body().unwrap();
    assert_eq!(required(body), ["amount", "out_refund_no"]);
    assert_eq!(
        required(body.child("amount").unwrap()),
        ["currency", "refund", "total"]
    );
    assert_eq!(
        required(body.find("/amount/from/0").unwrap()),
        ["account", "amount"]
    );
}

#[test]
fn example_bodies_are_complete_and_pass() {
    for (method, template) in [
        ("POST", "v3/pay/transactions/jsapi"),
        ("POST", "v3/fund-app/mch-transfer/transfer-bills"),
        ("POST", "v3/profitsharing/orders"),
        ("POST", "v3/refund/domestic/refunds"),
        ("POST", "v3/combine-transactions/jsapi"),
    ] {
        let op = schema(method, template);
        let body = op.example_body().unwrap();
        assert!(
            op.check(&RequestParts::body(&body)).is_empty(),
            "{template}: {body}"
        );
        // Each required field is there: dropping any one is refused, by its pointer.
        for field in op
            .body()
            .unwrap()
            .children()
            .iter()
            .filter(|c| c.required())
        {
            let mut short = body.clone();
            short.as_object_mut().unwrap().remove(field.name());
            let found = op.check(&RequestParts::body(&short));
            assert_eq!(found.len(), 1, "{template} without {}", field.name());
            assert_eq!(found[0].pointer, format!("/{}", field.name()));
            assert_eq!(found[0].rule, Rule::Required);
        }
    }
    // OA's example values where they fit (Transaction.yaml's appid example).
    let jsapi = schema("POST", "v3/pay/transactions/jsapi")
        .example_body()
        .unwrap();
    assert_eq!(jsapi["appid"], "wxd678efh567hg6787");
}

#[test]
fn answers_take_the_requests_values_and_listed_enums() {
    let op = schema("POST", "v3/fund-app/mch-transfer/transfer-bills");
    let sent = json!({"out_bill_no": "plfk2020042099", "transfer_amount": 300});
    let answer = op.answer_for(&RequestParts::body(&sent)).unwrap();
    assert_eq!(answer["out_bill_no"], "plfk2020042099");
    assert!([
        "ACCEPTED",
        "PROCESSING",
        "WAIT_USER_CONFIRM",
        "TRANSFERING",
        "SUCCESS",
        "FAIL",
        "CANCELING",
        "CANCELLED"
    ]
    .contains(&answer["state"].as_str().unwrap()));
    assert!(answer["create_time"].is_string() && answer["transfer_bill_no"].is_string());
    // A query's value reaches the answer too, with the answer's type.
    let query = schema("GET", "v3/profitsharing/orders/{out_order_no}");
    let parts = RequestParts::new()
        .with_path("out_order_no", "P99")
        .with_query("transaction_id", "4208450740201411110007820472");
    let answer = query.answer_for(&parts).unwrap();
    assert_eq!(answer["out_order_no"], "P99");
    assert_eq!(answer["transaction_id"], "4208450740201411110007820472");
    assert!(["PROCESSING", "FINISHED"].contains(&answer["state"].as_str().unwrap()));
    assert!(query.answer().unwrap().check_value(&answer).is_empty());
}

#[test]
fn hostile_bodies_are_checked_without_panic() {
    let op = schema("POST", "v3/pay/transactions/jsapi");
    // Deep nesting, huge strings, wrong top-level types, 4-byte characters.
    let mut deep = json!(1);
    for _ in 0..200 {
        deep = json!({"x": deep});
    }
    for body in [
        json!([]),
        json!("x"),
        json!(null),
        json!({"amount": deep}),
        json!({"description": "x".repeat(1 << 20)}),
        json!({"description": "付款😀"}),
    ] {
        let found = op.check(&RequestParts::body(&body));
        assert!(!found.is_empty(), "{body:.80}");
    }
    let emoji = op.check(&RequestParts::body(&json!({"description": "付款😀"})));
    assert!(emoji
        .iter()
        .any(|v| v.pointer == "/description" && v.rule == Rule::Utf8));
    // OA docs/v3/payscore/payafter-orders.yaml: discounts[].discount_name maxLength 20.
    let payafter = schema("POST", "v3/payscore/payafter-orders");
    let long = json!({"discounts": [{"discount_name": "优".repeat(21)}]});
    let found = payafter.check(&RequestParts::body(&long));
    assert!(found
        .iter()
        .any(|v| v.pointer == "/discounts/0/discount_name" && v.rule == Rule::MaxLength));
    // Twenty characters (sixty bytes) fit: lengths count characters.
    let fits = json!({"discounts": [{"discount_name": "优".repeat(20)}]});
    assert!(!payafter
        .check(&RequestParts::body(&fits))
        .iter()
        .any(|v| v.rule == Rule::MaxLength));
    // OA's required list there: out_order_no, appid, service_id, time_range.
    assert_eq!(
        required(payafter.body().unwrap()),
        ["appid", "out_order_no", "service_id", "time_range"]
    );
}

/// The client option: off by default, refuses before anything is sent,
/// never changes what is signed.
#[tokio::test]
async fn check_requests_refuses_before_sending_and_changes_nothing() {
    let server = httpmock::MockServer::start_async().await;
    let hit = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(500);
        })
        .await;
    let base = server.base_url() + "/";
    let builder = || {
        wechatpay_chain::Client::builder()
            .mchid(common::MCHID)
            .merchant_serial(common::MERCHANT_SERIAL)
            .private_key_file(common::data("merchant_key.pem"))
            .platform_certificate_file(common::data("platform_cert.pem"))
            .base_url(&base)
    };
    let checking = builder().check_requests(true).build().unwrap();
    let plain = builder().build().unwrap();
    let bad = json!({"json": {"appid": "wx1", "out_bill_no": "T1"}});
    let path = "v3/fund-app/mch-transfer/transfer-bills";
    match checking.chain(path).post(bad.clone()).await {
        Err(Error::RequestCheck {
            operation,
            violations,
        }) => {
            assert_eq!(operation, format!("POST {path}"));
            assert!(violations
                .iter()
                .any(|v| v.contains("/openid") && v.contains("必填性规则校验失败")));
        }
        other => panic!("not refused: {other:?}"),
    }
    assert_eq!(
        hit.calls_async().await,
        0,
        "a refused request reached the server"
    );
    // Off by default: the same body is sent (and WeChat Pay would judge it).
    assert!(plain.chain(path).post(bad).await.is_err());
    assert_eq!(hit.calls_async().await, 1);
    // A valid request is prepared byte for byte the same with the check on.
    let op = schema("POST", path);
    let good = json!({"json": op.example_body().unwrap()});
    let a = checking
        .chain(path)
        .prepare(Method::POST, good.clone().into())
        .unwrap();
    let b = plain
        .chain(path)
        .prepare(Method::POST, good.into())
        .unwrap();
    assert_eq!(a.body(), b.body());
    assert_eq!(a.url(), b.url());
    assert_eq!(a.headers(), b.headers());
    // Unknown paths and APIv2 pass the check.
    assert!(checking
        .chain("v3/not/yet/published")
        .prepare(Method::POST, json!({"json": {"a": 1}}).into())
        .is_ok());
}
