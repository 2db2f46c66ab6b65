fn main() {
    let m = wechatpay_chain::catalog::Catalog::embedded()
        .lookup("POST", "v3/pay/transactions/jsapi")
        .unwrap();
    println!("{}", m.operation.template());
}
