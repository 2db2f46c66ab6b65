//! Conformance: the mock checks every APIv3 request against its operation's
//! schema and answers operations without a flow with a schema-shaped body.
//! One mock, one client, sequential: every operation with a request schema
//! sends its example (accepted: 2xx, signed, verified) and then the example
//! without its first required field (400 PARAM_ERROR naming the field).
//! Messages are typed from FLOWS.md §9 and §4.4, not read from the code.

use wechatpay_chain::catalog::{Catalog, Field};
use wechatpay_chain::mock::MockServer;
use wechatpay_chain::{json, Error, Method, Options, Value};

/// Whether a flow of the mock keeps the operation (its own checks answer).
fn has_flow(method: &str, template: &str) -> bool {
    let payments = ["v3/pay/transactions/", "v3/pay/partner/transactions/"]
        .iter()
        .any(|p| template.starts_with(p));
    payments
        || template.starts_with("v3/refund/domestic/refunds")
        || template.starts_with("v3/payscore/serviceorder")
        || template.starts_with("v3/payscore/partner/serviceorder")
        || [
            ("POST", "v3/combine-transactions/jsapi"),
            ("POST", "v3/combine-transactions/miniprogram"),
            ("POST", "v3/combine-transactions/app"),
            ("POST", "v3/combine-transactions/h5"),
            ("POST", "v3/combine-transactions/native"),
            ("GET", "v3/combine-transactions/out-trade-no/{combine_out_trade_no}"),
            ("GET", "v3/combine-transactions/id/{combine_transaction_id}"),
            ("POST", "v3/combine-transactions/out-trade-no/{combine_out_trade_no}/close"),
            ("POST", "v3/fund-app/mch-transfer/transfer-bills"),
            ("POST", "v3/fund-app/mch-transfer/partner/transfer-bills"),
            ("POST", "v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel"),
            ("POST", "v3/fund-app/mch-transfer/partner/transfer-bills/out-bill-no/{out_bill_no}/cancel"),
            ("POST", "v3/profitsharing/receivers/add"),
            ("POST", "v3/profitsharing/receivers/delete"),
            ("POST", "v3/profitsharing/orders"),
            ("POST", "v3/profitsharing/orders/unfreeze"),
            ("POST", "v3/profitsharing/return-orders"),
            ("GET", "v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}"),
            ("GET", "v3/fund-app/mch-transfer/partner/transfer-bills/out-bill-no/{out_bill_no}"),
            ("GET", "v3/fund-app/mch-transfer/transfer-bills/transfer-bill-no/{transfer_bill_no}"),
            ("GET", "v3/fund-app/mch-transfer/partner/transfer-bills/transfer-bill-no/{transfer_bill_no}"),
            ("GET", "v3/profitsharing/orders/{out_order_no}"),
            ("GET", "v3/profitsharing/return-orders/{out_return_no}"),
            ("GET", "v3/profitsharing/transactions/{transaction_id}/amounts"),
            ("GET", "v3/profitsharing/merchant-configs/{sub_mchid}"),
        ]
        .contains(&(method, template))
        || (method == "GET"
            && [
                "v3/certificates",
                "v3/bill/tradebill",
                "v3/bill/fundflowbill",
                "v3/billdownload/file",
            ]
            .contains(&template))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_with_a_request_schema_accepts_its_example_and_names_a_missing_field() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let (mut with_schema, mut flows, mut accepted, mut answers_valid, mut dropped, mut named) =
        (0, 0, 0, 0, 0, 0);
    let mut failures: Vec<String> = Vec::new();
    for op in Catalog::embedded().operations() {
        let Some(schema) = op.schema().filter(|s| s.has_request_schema()) else {
            continue;
        };
        if op.is_upload() {
            continue;
        }
        with_schema += 1;
        if has_flow(op.method(), op.template()) {
            flows += 1;
            continue;
        }
        // Encrypted fields encrypted for real, with the key the client names.
        let mut encrypt = |field: &Field| {
            field
                .encrypted()
                .then(|| json!(client.encrypt("示例").unwrap()))
        };
        let body = schema.example_body_with(&mut encrypt).unwrap();
        let options = || {
            let mut options = Options::new();
            let described = schema.example_path();
            for name in op.placeholders() {
                // OA leaves a few placeholders undescribed: any value routes.
                let value = described
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or("example", |(_, v)| v.as_str());
                options = options.path(name, value);
            }
            for (name, value) in schema.example_query() {
                options = options.query(name, value);
            }
            options
        };
        let method = Method::from_bytes(op.method().as_bytes()).unwrap();
        let what = format!("{} {}", op.method(), op.template());
        match client
            .chain(op.template())
            .send(method.clone(), options().json(&body))
            .await
        {
            Ok(res) => {
                assert!(res.verified_by().is_some(), "{what}: unsigned");
                accepted += 1;
                match (res.status(), schema.answer()) {
                    (204, _) | (_, None) => answers_valid += 1,
                    (_, Some(answer)) => {
                        let value: Value = res.json().unwrap();
                        assert!(value.get("echo").is_none(), "{what}: an echo");
                        let found = answer.check_value(&value);
                        match found.is_empty() {
                            true => answers_valid += 1,
                            false => failures.push(format!("{what}: answer {found:?}")),
                        }
                    }
                }
            }
            Err(e) => failures.push(format!("{what}: example refused: {e}")),
        }
        let Some(first) = schema
            .body()
            .unwrap()
            .children()
            .iter()
            .find(|c| c.required())
        else {
            continue;
        };
        dropped += 1;
        let mut short = body.clone();
        short.as_object_mut().unwrap().remove(first.name());
        match client
            .chain(op.template())
            .send(method, options().json(&short))
            .await
        {
            Err(Error::Api(api)) => {
                let detail = api.detail.clone().unwrap_or_default();
                let pointer = format!("/{}", first.name());
                if (
                    api.status,
                    api.code.as_str(),
                    detail["field"].as_str(),
                    detail["location"].as_str(),
                ) == (400, "PARAM_ERROR", Some(pointer.as_str()), Some("body"))
                    && api.message.contains("必填性规则校验失败,此字段为必填项")
                {
                    named += 1;
                } else {
                    failures.push(format!("{what} without {pointer}: {api}"));
                }
            }
            other => failures.push(format!("{what} without {}: {other:?}", first.name())),
        }
    }
    println!(
        "conformance: {with_schema} operations with a request schema ({flows} kept by flows, \
         checked by them); {accepted} examples accepted, {answers_valid} answers valid; \
         {named} of {dropped} missing required fields named"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        with_schema > 500 && accepted == with_schema - flows,
        "{accepted}"
    );
    assert_eq!(named, dropped);
}

#[tokio::test]
async fn refusals_have_wechat_pays_shape_and_words() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let path = "v3/fund-app/mch-transfer/transfer-bills";
    let valid = || {
        json!({"appid": "wxf636efh567hg4356", "out_bill_no": "plfk2020042013", "transfer_scene_id": "1000",
            "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": 400, "transfer_remark": "2020年4月报销",
            "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "注册会员有礼"}]})
    };
    let refusal = |e: Error| match e {
        Error::Api(api) => {
            assert_eq!((api.status, api.code.as_str()), (400, "PARAM_ERROR"));
            (api.message.clone(), api.detail.clone().unwrap_or_default())
        }
        other => panic!("{other:?}"),
    };
    // The transfer flow's answer (it keeps the bill), the request's own number in it (no echo).
    let res = client[path].post(json!({"json": valid()})).await.unwrap();
    let answer: Value = res.json().unwrap();
    assert_eq!(answer["out_bill_no"], "plfk2020042013");
    assert!(answer.get("echo").is_none());

    // Missing: FLOWS.md §9's wording, detail{field, location, issue}.
    let mut body = valid();
    body.as_object_mut().unwrap().remove("openid");
    let (message, detail) = refusal(client[path].post(json!({"json": body})).await.unwrap_err());
    assert_eq!(
        message,
        "输入源“/openid”映射到字段“收款用户OpenID”必填性规则校验失败,此字段为必填项"
    );
    assert_eq!(
        detail,
        json!({"field": "/openid", "location": "body", "issue": message})
    );

    // Wrong type: the value quoted as text.
    let mut body = valid();
    body["transfer_amount"] = json!("400");
    let (message, detail) = refusal(client[path].post(json!({"json": body})).await.unwrap_err());
    assert_eq!(
        message,
        "无法将 JSON 输入源“/body/transfer_amount”映射到目标字段“转账金额”中,此字段需要一个合法的 64 位有符号整数"
    );
    assert_eq!(detail["value"], "400");

    // null, anywhere.
    let mut body = valid();
    body["notify_url"] = Value::Null;
    let (_, detail) = refusal(client[path].post(json!({"json": body})).await.unwrap_err());
    assert_eq!(detail["field"], "/notify_url");

    // Encrypted field: plaintext, then a ciphertext for another key, then no header.
    let mut body = valid();
    body["user_name"] = json!("张三");
    let (message, _) = refusal(
        client[path]
            .post(json!({"json": body.clone()}))
            .await
            .unwrap_err(),
    );
    assert_eq!(message, "请确认待处理的消息是否为加密后的密文");
    let merchant_key = openssl::pkey::PKey::public_key_from_pem(
        &openssl::x509::X509::from_pem(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/mock/data/merchant_cert.pem"
            ))
            .unwrap(),
        )
        .unwrap()
        .public_key()
        .unwrap()
        .public_key_to_pem()
        .unwrap(),
    )
    .unwrap();
    let wrong =
        wechatpay_chain::crypto::rsa_oaep_encrypt(&merchant_key, "张三".as_bytes()).unwrap();
    body["user_name"] = json!(wrong);
    let (message, detail) = refusal(
        client[path]
            .post(json!({"json": body.clone()}))
            .await
            .unwrap_err(),
    );
    assert_eq!(message, "请确认待处理的消息是否为加密后的密文");
    assert_eq!(detail["field"], "/user_name");
    body["user_name"] = json!(client.encrypt("张三").unwrap());
    // A new number: the flow refuses the first one re-posted with other fields.
    body["out_bill_no"] = json!("plfk2020042014");
    assert!(client[path]
        .post(json!({"json": body.clone()}))
        .await
        .is_ok());
    // Sent by hand without `Wechatpay-Serial` (the client always names a key).
    let c = wechatpay_chain::mock::Credentials::get();
    let signer = wechatpay_chain::sign::RequestSigner::new(
        c.mchid,
        c.merchant_serial,
        wechatpay_chain::keys::PrivateKey::from_pem(c.merchant_private_key.as_bytes()).unwrap(),
    );
    let bytes = serde_json::to_vec(&body).unwrap();
    let target = format!("/{path}");
    let auth = signer
        .sign_at(
            "POST",
            &target,
            &bytes,
            wechatpay_chain::sign::unix_now(),
            "NONCE0000000000000000000000000028",
        )
        .unwrap()
        .to_string();
    let res = reqwest::Client::new()
        .post(format!("{}{path}", server.base_url()))
        .header("authorization", auth)
        .header("accept", "application/json")
        .header("user-agent", "test/1")
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let answer: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(answer["code"], "PARAM_ERROR");
    assert_eq!(
        answer["message"],
        "HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)"
    );
    assert_eq!(answer["detail"]["location"], "header");

    // The echo, for those who relied on it, and the check turned off: on
    // an operation no flow keeps (the transfer bills have one now).
    let coupons = "v3/marketing/favor/coupon-stocks";
    let partial = json!({"json": {"stock_name": "s"}});
    assert!(client[coupons].post(partial.clone()).await.is_err());
    server.answer_with_echo(true);
    server.check_schemas(false);
    let res = client[coupons].post(partial).await.unwrap();
    assert_eq!(res.json::<Value>().unwrap()["echo"]["stock_name"], "s");
}

/// The flows' real answers against OA's answer schemas (issue 28 §5): a
/// JSAPI order placed, paid and queried, and a refund of it.
#[tokio::test]
async fn the_flows_answers_validate_against_oas_answer_schemas() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let catalog = Catalog::embedded();
    let answer_of = |method: &str, template: &str| {
        catalog
            .find(method, template)
            .and_then(|op| op.schema())
            .and_then(|s| s.answer())
            .unwrap()
    };
    let order = json!({"appid": "wxd678efh567hg6787", "mchid": "1900000109",
        "description": "Image形象店-深圳腾大-QQ公仔", "out_trade_no": "SCHEMA-1",
        "notify_url": "https://127.0.0.1:9/n", "amount": {"total": 100, "currency": "CNY"},
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}});
    let mut mismatches = Vec::new();
    let placed: Value = client["v3/pay/transactions/jsapi"]
        .post(json!({"json": order}))
        .await
        .unwrap()
        .json()
        .unwrap();
    mismatches.extend(answer_of("POST", "v3/pay/transactions/jsapi").check_value(&placed));
    server.pay_transaction("SCHEMA-1", None).unwrap();
    let query = "v3/pay/transactions/out-trade-no/{out_trade_no}";
    let paid: Value = client[query]
        .get(json!({"out_trade_no": "SCHEMA-1", "query": {"mchid": "1900000109"}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(paid["trade_state"], "SUCCESS");
    mismatches.extend(answer_of("GET", query).check_value(&paid));
    let refund: Value = client["v3/refund/domestic/refunds"]
        .post(
            json!({"json": {"out_trade_no": "SCHEMA-1", "out_refund_no": "SCHEMA-R1",
            "amount": {"refund": 100, "total": 100, "currency": "CNY"}}}),
        )
        .await
        .unwrap()
        .json()
        .unwrap();
    mismatches.extend(answer_of("POST", "v3/refund/domestic/refunds").check_value(&refund));
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
