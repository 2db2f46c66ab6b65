//! Bills in WeChat Pay's real format (FLOWS.md §5, from the real trade bill
//! in wechatpay-axios-plugin's `tests/fixtures/bill.ALL.csv`): a UTF-8 BOM,
//! CRLF line ends and a trailing CRLF, 27 columns, every value behind a
//! backquote, a 7-column footer whose values are the column sums over all
//! rows. The bills here are written out by hand from that description;
//! `BillTable` must read them, and the mock's must have the same shape.

use wechatpay_chain::download::{BillInfo, BillTable, Compression};
use wechatpay_chain::mock::MockServer;
use wechatpay_chain::{json, Client, Error};

mod common;

use common::flows::{control, jsapi_order};

/// The 27 header names, typed from FLOWS.md §5.
const TRADE_COLUMNS: [&str; 27] = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
];

const TRADE_FOOTER: [&str; 7] = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
];

const FUND_COLUMNS: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号";
const FUND_FOOTER: &str = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额";

/// A real-format trade bill written by hand: a payment of 0.03 (fee
/// 0.01000) and a refund of 0.01 of it on its own line (交易状态 REFUND,
/// 应结订单金额 and 订单金额 0.00); footer sums by hand: 2 rows, 应结 0.03,
/// 退款 0.01, 充值券退款 0.0, 手续费 0.01, 订单 0.03, 申请退款 0.01.
fn hand_written_trade_bill() -> Vec<u8> {
    let mut bill = vec![0xEF, 0xBB, 0xBF];
    bill.extend_from_slice(TRADE_COLUMNS.join(",").as_bytes());
    bill.extend_from_slice(b"\r\n");
    bill.extend_from_slice(
        "`2019-02-19 01:52:32,`wxab8acd895ab1638a,`1921000401,`0,`,`4200000263201902167700134902,`autotest_20190219015232_89201,`oHkLxtx0vUqe-18p_AXTZ1innxkCY,`JSAPI,`SUCCESS,`OTHERS,`CNY,`0.03,`0.00,`0,`0,`0.00,`0.00,`,`,`咖啡,大杯,`attach,`0.01000,`39.00%,`0.03,`0.00,`\r\n"
            .as_bytes(),
    );
    bill.extend_from_slice(
        "`2019-02-19 05:01:46,`wxab8acd895ab1638a,`1921000401,`0,`,`4200000263201902167700134902,`autotest_20190219015232_89201,`oHkLxtx0vUqe-18p_AXTZ1innxkCY,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50000709672019011908420787722,`REF4200000263201902167700963919,`0.01,`0.00,`ORIGINAL,`SUCCESS,`咖啡,大杯,`attach,`0.00000,`39.00%,`0.00,`0.01,`\r\n"
            .as_bytes(),
    );
    bill.extend_from_slice(TRADE_FOOTER.join(",").as_bytes());
    bill.extend_from_slice(b"\r\n`2.0,`0.03,`0.01,`0.0,`0.01,`0.03,`0.01\r\n");
    bill
}

#[test]
fn bill_table_reads_a_real_trade_bill_written_by_hand() {
    let bill = hand_written_trade_bill();
    let table = BillTable::parse(std::str::from_utf8(&bill).unwrap()).unwrap();
    // the BOM is not part of the first column's name
    assert_eq!(table.columns, TRADE_COLUMNS);
    assert_eq!(table.rows.len(), 2);
    let (paid, refund) = (&table.rows[0], &table.rows[1]);
    for row in &table.rows {
        assert_eq!(row.len(), 27, "{row:?}");
        assert_eq!(row[26], "", "rows end with an empty 费率备注");
        assert!(
            row.iter().all(|v| !v.contains(['\r', '\n', '`'])),
            "{row:?}"
        );
    }
    assert_eq!(paid[0], "2019-02-19 01:52:32");
    assert_eq!(paid[9], "SUCCESS");
    assert_eq!(paid[20], "咖啡,大杯", "a comma inside a value stays in it");
    assert_eq!(refund[9], "REFUND");
    assert_eq!(refund[14], "50000709672019011908420787722");
    assert_eq!(refund[18], "ORIGINAL");
    assert_eq!(table.summary_columns, TRADE_FOOTER);
    assert_eq!(
        table.summary,
        ["2.0", "0.03", "0.01", "0.0", "0.01", "0.03", "0.01"]
    );

    // the footer is the column sums over both rows
    for (column, total) in [(12, 1), (16, 2), (17, 3), (22, 4), (24, 5), (25, 6)] {
        let sum: i64 = table.rows.iter().map(|r| fen(&r[column])).sum();
        assert_eq!(sum, fen(&table.summary[total]), "{}", TRADE_COLUMNS[column]);
    }

    // the same bill with LF line ends, or without its BOM, reads the same
    let text = std::str::from_utf8(&bill[3..]).unwrap();
    assert_eq!(BillTable::parse(text).unwrap(), table);
    assert_eq!(
        BillTable::parse(&text.replace("\r\n", "\n")).unwrap(),
        table
    );
}

#[test]
fn bill_table_reads_a_real_fund_flow_bill_written_by_hand() {
    let bill = format!(
        "\u{feff}{FUND_COLUMNS}\r\n\
         `2018-02-01 04:21:23,`50000305742018020103387128253,`1900009231201802015884652186,`退款,`退款,`支出,`0.02,`0.17,`system,`缺货,`REF4200000068201801293084726067\r\n\
         `2018-02-01 05:00:00,`4200000068201801293084726067,`1900009231201802015884652187,`交易,`交易,`收入,`0.05,`0.22,`system,`,`T1\r\n\
         {FUND_FOOTER}\r\n`2.0,`1.0,`0.05,`1.0,`0.02\r\n"
    );
    let table = BillTable::parse(&bill).unwrap();
    assert_eq!(table.columns[0], "记账时间");
    assert_eq!(table.columns.len(), 11);
    assert_eq!(table.rows.len(), 2);
    assert_eq!(table.rows[0][9], "缺货");
    assert_eq!(table.summary_columns.join(","), FUND_FOOTER);
    assert_eq!(table.summary, ["2.0", "1.0", "0.05", "1.0", "0.02"]);
}

/// Fen from a decimal as bills write them (`0.01000`, `0.03`, `2.0`).
fn fen(text: &str) -> i64 {
    let (sign, abs) = match text.strip_prefix('-') {
        Some(abs) => (-1, abs),
        None => (1, text),
    };
    let (whole, frac) = abs.split_once('.').expect("a decimal point");
    let frac = format!("{frac:0<2}");
    assert!(
        frac[2..].bytes().all(|b| b == b'0'),
        "{text}: not whole fen"
    );
    sign * (whole.parse::<i64>().unwrap() * 100 + frac[..2].parse::<i64>().unwrap())
}

async fn apply(
    client: &Client,
    path: &str,
    query: wechatpay_chain::Value,
) -> Result<BillInfo, Error> {
    client
        .chain(path)
        .get(json!({ "query": query }))
        .await?
        .json()
}

async fn download(client: &Client, info: &BillInfo, compression: Compression) -> Vec<u8> {
    let mut file = Vec::new();
    let done = client
        .download_bill(info, compression, &mut file)
        .await
        .unwrap();
    assert_eq!(done.sha1, info.hash_value);
    file
}

/// The checks FLOWS.md §5 gives, on any trade bill.
fn check_trade_shape(file: &[u8], rows: usize) {
    assert_eq!(&file[..3], b"\xEF\xBB\xBF");
    assert!(file.ends_with(b"\r\n"));
    let text = std::str::from_utf8(&file[3..]).unwrap();
    assert_eq!(
        text.matches('\n').count(),
        text.matches("\r\n").count(),
        "CRLF only"
    );
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], TRADE_COLUMNS.join(","));
    let n = lines.len();
    assert_eq!(n, rows + 4, "header, rows, caption, values, \"\"");
    for line in &lines[1..n - 3] {
        assert!(line.starts_with('`') && line.ends_with(",`"), "{line}");
        assert_eq!(line.split(",`").count(), 27, "{line}");
    }
    assert_eq!(lines[n - 3], TRADE_FOOTER.join(","));
    let footer: Vec<&str> = lines[n - 2]
        .strip_prefix('`')
        .unwrap()
        .split(",`")
        .collect();
    assert_eq!(footer[0], format!("{rows}.0"));
    let table = BillTable::parse(text).unwrap();
    for (column, total) in [(12, 1), (16, 2), (17, 3), (22, 4), (24, 5), (25, 6)] {
        let sum: i64 = table.rows.iter().map(|r| fen(&r[column])).sum();
        assert_eq!(sum, fen(footer[total]), "{}", TRADE_COLUMNS[column]);
    }

    // wechatpay-axios-plugin's castCsvBill: drop 3 bytes, split on
    // /\r?\n/, the last three are caption, values and "".
    let data: Vec<&str> = std::str::from_utf8(&file[3..])
        .unwrap()
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let head: Vec<&str> = data[0].split(',').collect();
    assert_eq!(head, TRADE_COLUMNS, "no header character eaten");
    assert_eq!(data[data.len() - 3].split(',').count(), 7);
    assert_eq!(data[data.len() - 1], "");
    assert_eq!(data[1..data.len() - 3].len(), rows);
}

#[tokio::test]
async fn synthetic_bills_have_the_real_format() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    server.set_bill_rows(250);

    let query = json!({"bill_date": "2026-01-01"});
    let info = apply(&client, "v3/bill/tradebill", query).await.unwrap();
    let plain = download(&client, &info, Compression::None).await;
    check_trade_shape(&plain, 250);

    let query = json!({"bill_date": "2026-01-01", "tar_type": "GZIP"});
    let info = apply(&client, "v3/bill/tradebill", query).await.unwrap();
    assert_eq!(download(&client, &info, Compression::Gzip).await, plain);

    let query = json!({"bill_date": "2026-01-01", "account_type": "ALL"});
    let info = apply(&client, "v3/bill/fundflowbill", query).await.unwrap();
    let flow = download(&client, &info, Compression::None).await;
    assert_eq!(&flow[..3], b"\xEF\xBB\xBF");
    let text = std::str::from_utf8(&flow[3..]).unwrap();
    assert!(text.starts_with(&format!("{FUND_COLUMNS}\r\n")));
    assert!(
        text.contains(&format!("\r\n{FUND_FOOTER}\r\n`250.0,`250.0,`")),
        "{text}"
    );
    let table = BillTable::parse(text).unwrap();
    assert_eq!(table.rows.len(), 250);
    let income: i64 = table.rows.iter().map(|r| fen(&r[6])).sum();
    assert_eq!(income, fen(&table.summary[2]));
    // the balance after the last row is everything received
    assert_eq!(fen(&table.rows[249][7]), income);
}

#[tokio::test]
async fn a_day_without_trades_has_no_bill() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    // What WeChat Pay answers (pay.weixin.qq.com/doc/v3/merchant/4013071254,
    // and the 400 quoted on developers.weixin.qq.com).
    for path in ["v3/bill/tradebill", "v3/bill/fundflowbill"] {
        let yesterday =
            &wechatpay_chain::clock::rfc3339(wechatpay_chain::clock::unix_now() - 86_400)[..10];
        match apply(&client, path, json!({"bill_date": yesterday})).await {
            Err(Error::Api(api)) => {
                assert_eq!(api.status, 400);
                assert_eq!(api.code, "NO_STATEMENT_EXIST");
                assert_eq!(api.message, "请求的账单文件不存在");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
    // set_bill_rows(0) goes back to bills of what the mock holds
    server.set_bill_rows(10);
    assert!(apply(
        &client,
        "v3/bill/tradebill",
        json!({"bill_date": "2026-01-01"})
    )
    .await
    .is_ok());
    server.set_bill_rows(0);
    assert!(apply(
        &client,
        "v3/bill/tradebill",
        json!({"bill_date": "2026-01-01"})
    )
    .await
    .is_err());
}

#[tokio::test]
async fn bad_bill_parameters_are_param_errors_naming_the_field() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    server.set_bill_rows(1);
    let cases = [
        (
            "v3/bill/tradebill",
            json!({"bill_date": "2026-02-30"}),
            "bill_date",
        ),
        (
            "v3/bill/tradebill",
            json!({"bill_date": "2026-01-01", "bill_type": "PAID"}),
            "bill_type",
        ),
        (
            "v3/bill/tradebill",
            json!({"bill_date": "2026-01-01", "bill_type": "ALL_SPECIAL"}),
            "bill_type",
        ),
        (
            "v3/bill/tradebill",
            json!({"bill_date": "2026-01-01", "tar_type": "ZIP"}),
            "tar_type",
        ),
        (
            "v3/bill/fundflowbill",
            json!({"bill_date": "2026-01-01", "account_type": "SAVINGS"}),
            "account_type",
        ),
    ];
    for (path, query, field) in cases {
        match apply(&client, path, query.clone()).await {
            Err(Error::Api(api)) => {
                assert_eq!(
                    (api.status, api.code.as_str()),
                    (400, "PARAM_ERROR"),
                    "{query}"
                );
                assert_eq!(api.detail.unwrap()["field"], field, "{query}");
            }
            other => panic!("{query}: {other:?}"),
        }
    }
    // the documented values are accepted
    for bill_type in ["ALL", "SUCCESS", "REFUND"] {
        let query = json!({"bill_date": "2026-01-01", "bill_type": bill_type});
        assert!(apply(&client, "v3/bill/tradebill", query).await.is_ok());
    }
    for account_type in ["BASIC", "OPERATION", "FEES", "ALL"] {
        let query = json!({"bill_date": "2026-01-01", "account_type": account_type});
        assert!(apply(&client, "v3/bill/fundflowbill", query).await.is_ok());
    }
}

/// Today in China time, `YYYY-MM-DD`: the day the mock's payments fall in.
fn today() -> String {
    wechatpay_chain::clock::rfc3339(wechatpay_chain::clock::unix_now())[..10].to_owned()
}

/// A paid JSAPI order of `total` fen, its description and attach as given.
async fn paid(
    server: &MockServer,
    client: &Client,
    no: &str,
    total: i64,
    extra: serde_json::Value,
) {
    let mut order = jsapi_order(no, "http://127.0.0.1:9/notify", total);
    if let (Some(order), Some(extra)) = (order.as_object_mut(), extra.as_object()) {
        order.extend(extra.clone());
    }
    client["v3/pay/transactions/jsapi"]
        .post(json!({ "json": order }))
        .await
        .unwrap();
    let (status, answer) = control(server, &format!("transactions/{no}/pay"), None).await;
    assert_eq!(status, 200, "{answer}");
}

/// Today's bill of `path` (`v3/bill/tradebill` or `v3/bill/fundflowbill`),
/// as text without the BOM.
async fn todays(client: &Client, path: &str) -> String {
    let query = json!({"bill_date": today(), "account_type": "ALL"});
    let query = if path.ends_with("tradebill") {
        json!({"bill_date": today()})
    } else {
        query
    };
    let info = apply(client, path, query).await.unwrap();
    let file = download(client, &info, Compression::None).await;
    String::from_utf8(file[3..].to_vec()).unwrap()
}

/// The data lines of a bill split on the separator WeChat Pay writes
/// between values (`` ,` ``, FLOWS.md §5), by hand: the header, the rows
/// (every line that starts with a backquote but the last), the footer.
fn split(text: &str) -> (Vec<String>, Vec<Vec<String>>, Vec<String>) {
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    let values = |line: &str| -> Vec<String> {
        line.trim_start_matches('`')
            .split(",`")
            .map(str::to_owned)
            .collect()
    };
    let header = lines[0].split(',').map(str::to_owned).collect();
    let data: Vec<Vec<String>> = lines[1..lines.len() - 2]
        .iter()
        .map(|l| values(l))
        .collect();
    (header, data, values(lines[lines.len() - 1]))
}

/// Issue 26, defect 3: a value holding `` ,` `` shifted every later column
/// (30 values for 27 columns; 订单金额 read as "777777.00"). The format has
/// no escape (FLOWS.md §5): the mock writes such a value with `` ,' `` in
/// its place, so every row has exactly the header's 27 values and each
/// column holds its own value.
#[tokio::test]
async fn a_value_holding_the_separator_does_not_shift_the_bill() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    paid(
        &server,
        &client,
        "SHIFT00001",
        1234,
        json!({"description": "咖啡,`999999.00", "attach": "a,`888888.00,`777777.00"}),
    )
    .await;
    let text = todays(&client, "v3/bill/tradebill").await;
    let (header, rows, _) = split(&text);
    assert_eq!(header, TRADE_COLUMNS);
    assert_eq!(rows.len(), 1, "{text}");
    assert_eq!(rows[0].len(), 27, "{:?}", rows[0]);
    let column = |name: &str| TRADE_COLUMNS.iter().position(|c| *c == name).unwrap();
    assert_eq!(rows[0][column("订单金额")], "12.34");
    assert_eq!(rows[0][column("商品名称")], "咖啡,'999999.00");
    assert_eq!(rows[0][column("商户数据包")], "a,'888888.00,'777777.00");
    // the API still answers the values as they were given
    let order: wechatpay_chain::Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": "SHIFT00001", "query": {"mchid": "1900000109"}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(order["attach"], "a,`888888.00,`777777.00");
}

/// Issue 26, defect 2: the two bills of one day disagreed on a refund that
/// did not succeed — the trade bill counted a CLOSED refund of 50.00 in
/// 退款总金额 and gave its fee back, the fund-flow bill moved no money. One
/// rule now (docs/mock.md, "Bills"): a refund row is listed whatever its
/// 退款状态 (the trade bill's own words, FLOWS.md §5), with what was asked
/// in 申请退款金额; 退款金额 and the fee given back count only what reached
/// the payer (SUCCESS), which is what the fund-flow bill moves. So the
/// trade bill's 退款总金额 and 手续费总金额 equal the fund-flow bill's
/// refunds and net fees, whatever became of the refunds.
#[tokio::test]
async fn the_trade_and_fund_flow_bills_agree_on_refunds_that_did_not_succeed() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    paid(&server, &client, "AGREE00001", 10_000, json!({})).await;
    for (no, outcome) in [
        ("R-CLOSED", Some("close")),
        ("R-SUCCESS", Some("succeed")),
        ("R-ABNORMAL", Some("abnormal")),
        ("R-PENDING", None),
    ] {
        client["v3/refund/domestic/refunds"]
            .post(
                json!({"json": {"out_trade_no": "AGREE00001", "out_refund_no": no,
                "amount": {"refund": 1_000, "total": 10_000, "currency": "CNY"}}}),
            )
            .await
            .unwrap();
        if let Some(outcome) = outcome {
            let (status, answer) = control(&server, &format!("refunds/{no}/{outcome}"), None).await;
            assert_eq!(status, 200, "{answer}");
        }
    }
    let trade = todays(&client, "v3/bill/tradebill").await;
    let (_, rows, footer) = split(&trade);
    let column = |name: &str| TRADE_COLUMNS.iter().position(|c| *c == name).unwrap();
    // every refund is listed, in the bill's words, with what was asked
    let mut listed: Vec<(String, String, String)> = rows
        .iter()
        .filter(|r| r[column("交易状态")] == "REFUND")
        .map(|r| {
            (
                r[column("退款状态")].clone(),
                r[column("申请退款金额")].clone(),
                r[column("退款金额")].clone(),
            )
        })
        .collect();
    listed.sort();
    let owned = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        listed,
        [
            owned("CHANGE", "10.00", "0.00"),
            owned("PROCESSING", "10.00", "0.00"),
            owned("REFUNDCLOSE", "10.00", "0.00"),
            owned("SUCCESS", "10.00", "10.00"),
        ]
    );
    let refunded = fen(&footer[2]);
    let fees = fen(&footer[4]);

    let flow = todays(&client, "v3/bill/fundflowbill").await;
    let (_, entries, _) = split(&flow);
    let sum = |name: &str, kind: &str| -> i64 {
        entries
            .iter()
            .filter(|e| e[3] == name && e[4] == kind)
            .map(|e| fen(&e[6]))
            .sum()
    };
    assert_eq!(
        refunded,
        sum("退款", "退款"),
        "trade:\n{trade}\nflow:\n{flow}"
    );
    assert_eq!(refunded, 1_000, "only the SUCCESS refund reached the payer");
    let net_fees = sum("交易", "扣除交易手续费") - sum("退款", "退还交易手续费");
    assert_eq!(fees, net_fees, "trade:\n{trade}\nflow:\n{flow}");
    // 0.60% of 100.00 charged, of 10.00 given back: 0.60 - 0.06
    assert_eq!(fees, 54);
}

/// Asking `tar_type=GZIP` and downloading with `Compression::None`, or the
/// reverse, is named before anything is written: the gzip magic bytes
/// `1f 8b` (RFC 1952) tell which arrived.
#[tokio::test]
async fn a_compression_mismatch_is_named() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    server.set_bill_rows(3);
    let zipped = apply(
        &client,
        "v3/bill/tradebill",
        json!({"bill_date": "2026-01-01", "tar_type": "GZIP"}),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let err = client
        .download_bill(&zipped, Compression::None, &mut out)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the download arrived gzip-compressed (it starts with 1f 8b) but Compression::None was given: \
         pass Compression::Gzip (Compression::Gzip when the bill was asked with tar_type=GZIP, \
         Compression::None without tar_type)"
    );
    assert!(out.is_empty(), "nothing written");

    let plain = apply(
        &client,
        "v3/bill/tradebill",
        json!({"bill_date": "2026-01-01"}),
    )
    .await
    .unwrap();
    let path = std::env::temp_dir().join(format!("bills-mismatch-{}.csv", std::process::id()));
    let err = client
        .download_bill_to_file(&plain, Compression::Gzip, &path)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the download arrived plain (not gzip) but Compression::Gzip was given: \
         pass Compression::None (Compression::Gzip when the bill was asked with tar_type=GZIP, \
         Compression::None without tar_type)"
    );
    assert!(!path.exists(), "no file left");
    // The right pairs still download.
    assert_eq!(
        download(&client, &zipped, Compression::Gzip).await,
        download(&client, &plain, Compression::None).await
    );
}

/// A one-byte answer can not be gzip: still named, not a decoder's error.
#[tokio::test]
async fn a_one_byte_download_is_checked_too() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0; 65536];
        let _ = socket.read(&mut buffer).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\n\r\n\x1f")
            .await;
    });
    let client = wechatpay_chain::Client::builder()
        .mchid("1900000109")
        .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
        .private_key_file("src/mock/data/merchant_key.pem")
        .platform_certificate_file("src/mock/data/platform_cert.pem")
        .base_url(&base)
        .build()
        .unwrap();
    let mut out = Vec::new();
    let err = client
        .download_url(
            &format!("{base}v3/billdownload/file?token=x"),
            Compression::Gzip,
            &mut out,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::CompressionMismatch {
                asked: "Gzip",
                pass: "None",
                ..
            }
        ),
        "{err}"
    );
    assert!(out.is_empty());
}

/// The hand-written real bill read by name, amounts exact in fen
/// (FLOWS.md §5: 0.03 paid, 0.01 refunded, fee 0.01000, footer 0.0).
#[test]
fn bill_amounts_are_exact_and_read_by_name() {
    let bill = hand_written_trade_bill();
    let table = BillTable::parse(std::str::from_utf8(&bill).unwrap()).unwrap();
    let (paid, refund) = (&table.rows[0], &table.rows[1]);
    assert_eq!(table.column("商户订单号"), Some(6));
    assert_eq!(table.value(paid, "交易状态").unwrap(), "SUCCESS");
    assert_eq!(table.value(paid, "商品名称").unwrap(), "咖啡,大杯");
    assert_eq!(table.amount_fen(paid, "订单金额").unwrap(), 3);
    assert_eq!(table.amount_fen(paid, "手续费").unwrap(), 1);
    assert_eq!(table.amount_fen(refund, "退款金额").unwrap(), 1);
    assert_eq!(table.summary_value("总交易单数").unwrap(), "2.0");
    assert_eq!(table.summary_amount_fen("充值券退款总金额").unwrap(), 0);
    assert_eq!(table.summary_amount_fen("应结订单总金额").unwrap(), 3);
    let err = table.value(paid, "订单号").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "bill: no column `订单号` (the columns are {})",
            TRADE_COLUMNS.join(", ")
        )
    );
    let err = table.amount_fen(paid, "费率").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bill: column `费率`: amount `39.00%` is not a decimal number of yuan (digits, an optional `-` and `.`)"
    );
}

/// What a careless or hostile bill holds where an amount should be.
#[test]
fn bill_amounts_refuse_what_is_not_yuan() {
    use wechatpay_chain::download::fen;
    for (text, fen_value) in [
        ("0", 0),
        ("19.99", 1999),
        ("0.1", 10),
        ("-0.01", -1),
        ("92233720368547758.07", i64::MAX),
    ] {
        assert_eq!(fen(text).unwrap(), fen_value, "{text}");
    }
    for text in [
        "", "-", ".5", "1.", "+1.00", " 1.00", "1.00 ", "1,000.00", "１.00", "1e3", "--1", "0x10",
        "NaN", "1.0.0", "0.001", "0.00600",
    ] {
        assert!(matches!(fen(text), Err(Error::Bill(_))), "{text:?}");
    }
    assert_eq!(
        fen("92233720368547758.08").unwrap_err().to_string(),
        "bill: amount `92233720368547758.08` does not fit in 64 bits of fen"
    );
    assert!(fen(&"9".repeat(10_000)).is_err());
}

/// Issue 26: a value holding the separator `` ,` `` (a description
/// `` 咖啡,`999999.00 ``, an attach `` a,`888888.00,`777777.00 ``) gave a
/// row of 30 values for 27 columns, and 订单金额 was read as 777777.00.
/// Now the row is reported, by its line.
#[test]
fn a_shifted_row_is_reported_not_read() {
    let mut bill = hand_written_trade_bill();
    let text = String::from_utf8(bill.clone()).unwrap();
    let shifted = text.replacen(
        "`咖啡,大杯,`attach,",
        "`咖啡,`999999.00,`a,`888888.00,`777777.00,",
        1,
    );
    assert_ne!(shifted, text);
    assert_eq!(
        BillTable::parse(&shifted).unwrap_err().to_string(),
        "bill: line 2 has 30 values for 27 columns (a value holding \",`\" splits in two): not read, rather than read shifted"
    );
    // A short footer too.
    bill.truncate(bill.len() - "`0.01\r\n".len() - 1);
    bill.extend_from_slice(b"\r\n");
    let err = BillTable::parse(std::str::from_utf8(&bill).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bill: line 5 has 6 values for 7 columns (a value holding \",`\" splits in two): not read, rather than read shifted"
    );
}
