//! `wxpay invoke …`: the signed parameters a front end passes to the WeChat
//! client, for prototyping one (no network: only the merchant's keys).

use clap::{Args, Subcommand};
use serde::Serialize;
use wechatpay_chain::invoke::Invocation;
use wechatpay_chain::v2::sign::SignType;

use crate::credentials::Credentials;
use crate::exit::{write_stdout, Failure};

#[derive(Args)]
pub struct InvokeArgs {
    #[command(subcommand)]
    page: Page,
    /// Use this Unix time instead of now (reproducible output).
    #[arg(long, global = true, value_name = "SECONDS")]
    timestamp: Option<i64>,
    /// Use this nonce instead of a fresh one (1 to 32 letters and digits).
    #[arg(long, global = true, value_name = "NONCE")]
    nonce: Option<String>,
}

/// The appid and prepay id of an order.
#[derive(Args)]
struct Order {
    /// The appid the order was placed with (a service provider's: sub_appid
    /// when the payer is a sub_openid, else sp_appid).
    #[arg(long)]
    appid: String,
    /// The order answer's prepay_id, bare (without `prepay_id=`).
    #[arg(long = "prepay-id", value_name = "ID")]
    prepay_id: String,
}

/// An APP order: its appid and prepay id, and whose `partnerid` to send.
#[derive(Args)]
struct AppOrder {
    #[command(flatten)]
    order: Order,
    /// The `partnerid` to send instead of --mchid (a service provider's
    /// APIv2 order: the sub-merchant's id, as WeChat Pay's APIv2 partner
    /// page asks; see docs/frontend.md).
    #[arg(long, value_name = "ID")]
    partnerid: Option<String>,
}

#[derive(Subcommand)]
enum Page {
    /// JSAPI / mini-program parameters for an APIv3 order (paySign: RSA).
    Jsapi(Order),
    /// APP parameters for an APIv3 order (sign: RSA).
    App(AppOrder),
    /// JSAPI / mini-program parameters for an APIv2 order (paySign under the APIv2 key).
    V2Jsapi {
        #[command(flatten)]
        order: Order,
        /// The order's sign_type.
        #[arg(long = "sign-type", value_name = "TYPE", default_value = "MD5", value_parser = ["MD5", "HMAC-SHA256"], ignore_case = true)]
        sign_type: String,
    },
    /// APP parameters for an APIv2 order (sign under the APIv2 key).
    V2App {
        #[command(flatten)]
        order: AppOrder,
        /// The order's sign_type.
        #[arg(long = "sign-type", value_name = "TYPE", default_value = "MD5", value_parser = ["MD5", "HMAC-SHA256"], ignore_case = true)]
        sign_type: String,
    },
    /// The payscore order-detail page's parameters (HMAC-SHA256 under the APIv2 key).
    PayscoreDetail {
        /// The payscore service id.
        #[arg(long = "service-id", value_name = "ID")]
        service_id: String,
        /// The merchant's service order number.
        #[arg(long = "out-order-no", value_name = "NO")]
        out_order_no: String,
        /// Print the URL-encoded queryString instead of the extraData object.
        #[arg(long)]
        query: bool,
    },
    /// A transfer bill's confirm page (requestMerchantTransfer): mchId, appId, package (no signature).
    MerchantTransfer {
        /// The appid the bill was created with.
        #[arg(long)]
        appid: String,
        /// The create answer's `package_info`, as it came.
        #[arg(long)]
        package: String,
        /// A service provider's bill: its sub-merchant (subMchId).
        #[arg(long = "sub-mchid", value_name = "ID")]
        sub_mchid: Option<String>,
        /// The payee's openid (openId), for the page to check.
        #[arg(long)]
        openid: Option<String>,
    },
    /// The payscore confirm page's parameters around a create answer's package.
    PayscoreConfirm {
        /// The `package` of the create-order answer, as it came.
        #[arg(long)]
        package: String,
        /// Print the URL-encoded queryString instead of the extraData object.
        #[arg(long)]
        query: bool,
    },
}

pub fn run(credentials: &Credentials, args: InvokeArgs) -> Result<(), Failure> {
    build(credentials, args).map_err(|mut failure| {
        // The library's advice names the builder; here it is a flag.
        if failure.message.contains(".apiv2_key(") {
            failure.message = "APIv2 and payscore-page parameters are signed with the APIv2 key: give --apiv2-key, WECHATPAY_APIV2_KEY or a --profile with apiv2_key".to_owned();
        }
        failure
    })
}

fn build(credentials: &Credentials, args: InvokeArgs) -> Result<(), Failure> {
    let client = credentials.signing_client()?;
    let mut invocation: Invocation = client.invocation();
    if let Some(timestamp) = args.timestamp {
        invocation = invocation.timestamp(timestamp);
    }
    if let Some(nonce) = args.nonce {
        invocation = invocation.nonce(nonce);
    }
    match args.page {
        Page::Jsapi(o) => print(&invocation.jsapi(&o.appid, &o.prepay_id)?),
        Page::App(AppOrder { order, partnerid }) => {
            let invocation = with_partnerid(invocation, partnerid);
            print(&invocation.app(&order.appid, &order.prepay_id)?)
        }
        Page::V2Jsapi { order, sign_type } => print(&invocation.v2_jsapi(
            &order.appid,
            &order.prepay_id,
            SignType::from_field(Some(&sign_type)),
        )?),
        Page::V2App {
            order: AppOrder { order, partnerid },
            sign_type,
        } => {
            let invocation = with_partnerid(invocation, partnerid);
            print(&invocation.v2_app(
                &order.appid,
                &order.prepay_id,
                SignType::from_field(Some(&sign_type)),
            )?)
        }
        Page::PayscoreDetail {
            service_id,
            out_order_no,
            query,
        } => {
            let page = invocation.payscore_detail(&service_id, &out_order_no)?;
            if query {
                line(page.query_string())
            } else {
                print(&page)
            }
        }
        Page::MerchantTransfer {
            appid,
            package,
            sub_mchid,
            openid,
        } => {
            let mut page = invocation.merchant_transfer(&appid, &package)?;
            if let Some(sub) = sub_mchid {
                page = page.with_sub_mch_id(sub);
            }
            if let Some(openid) = openid {
                page = page.with_open_id(openid);
            }
            print(&page)
        }
        Page::PayscoreConfirm { package, query } => {
            let page = invocation.payscore_confirm(&package)?;
            if query {
                line(page.query_string())
            } else {
                print(&page)
            }
        }
    }
}

fn with_partnerid(invocation: Invocation, partnerid: Option<String>) -> Invocation {
    match partnerid {
        Some(id) => invocation.partnerid(id),
        None => invocation,
    }
}

fn print(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::usage(format!("printing the parameters: {e}")))?;
    line(text)
}

fn line(mut text: String) -> Result<(), Failure> {
    text.push('\n');
    write_stdout(text.as_bytes())
}
