fn main() {
    let op = wechatpay_chain::catalog::Catalog::embedded()
        .find("POST", "v3/pay/transactions/jsapi")
        .unwrap();
    let body: wechatpay_chain::Value = wechatpay_chain::json!({"appid": 1});
    let found = op
        .schema()
        .unwrap()
        .check(&wechatpay_chain::catalog::RequestParts::body(&body));
    println!("{} {}", op.template(), found.len());
}
