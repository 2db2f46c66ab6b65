//! Bills on the mock: `v3/bill/tradebill` and `v3/bill/fundflowbill` answer
//! a signed `download_url` and SHA-1; `v3/billdownload/file` streams the CSV
//! (gzip on request), unsigned, generated row by row so that a bill of any
//! size costs no memory.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use openssl::sha::Sha1;
use serde_json::json;

use super::answer::Answer;
use crate::crypto::random_alphanumeric;

/// Rows a bill has unless [`super::MockServer::set_bill_rows`] says otherwise.
pub const DEFAULT_BILL_ROWS: u64 = 3;

const TRADE_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额\n";
const FUND_HEADER: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号\n";

/// One bill that can be downloaded.
#[derive(Debug, Clone)]
pub(crate) struct BillSpec {
    date: String,
    fund_flow: bool,
    pub(crate) gzip: bool,
    rows: u64,
}

/// The bills handed out, by download token.
#[derive(Default)]
pub(crate) struct Bills {
    issued: Mutex<HashMap<String, BillSpec>>,
    rows: AtomicU64,
}

impl Bills {
    pub(crate) fn set_rows(&self, rows: u64) {
        self.rows.store(rows, Ordering::Relaxed);
    }

    fn rows(&self) -> u64 {
        match self.rows.load(Ordering::Relaxed) {
            0 => DEFAULT_BILL_ROWS,
            n => n,
        }
    }

    /// `GET v3/bill/tradebill` / `v3/bill/fundflowbill`.
    pub(crate) fn request(
        &self,
        fund_flow: bool,
        query: &[(String, String)],
        base_url: &str,
        wrong_hash: bool,
        _ledger: Ledger,
    ) -> Answer {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let Some(date) = get("bill_date").filter(|d| is_date(d)) else {
            return Answer::query_error("bill_date", "格式为 YYYY-MM-DD");
        };
        let gzip = match get("tar_type") {
            None => false,
            Some("GZIP") => true,
            Some(_) => return Answer::query_error("tar_type", "只支持 GZIP"),
        };
        let spec = BillSpec {
            date: date.to_owned(),
            fund_flow,
            gzip,
            rows: self.rows(),
        };
        let mut hasher = Sha1::new();
        for chunk in plain_chunks(&spec) {
            hasher.update(&chunk);
        }
        let mut hash_value = crate::hex::encode(&hasher.finish());
        if wrong_hash {
            hash_value = hash_value.chars().rev().collect();
        }
        let Ok(token) = random_alphanumeric(32) else {
            return Answer::for_status(500);
        };
        if let Ok(mut issued) = self.issued.lock() {
            issued.insert(token.clone(), spec);
        }
        Answer::json(
            200,
            &json!({"hash_type": "SHA1", "hash_value": hash_value,
                    "download_url": format!("{base_url}v3/billdownload/file?token={token}")}),
        )
    }

    /// `GET v3/billdownload/file?token=…`: the file, unsigned.
    pub(crate) fn download(&self, query: &[(String, String)]) -> Answer {
        let token = query
            .iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.as_str());
        let spec = token.and_then(|t| self.issued.lock().ok()?.get(t).cloned());
        match spec {
            Some(spec) => Answer {
                status: 200,
                body: Bytes::new(),
                signed: false,
                stream: Some(spec),
                content_type: "application/octet-stream",
            },
            None => Answer::error(400, "INVALID_REQUEST", "下载链接无效或已过期", None),
        }
    }
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// The CSV in chunks of about 64 KiB: header, rows, summary.
pub(crate) fn plain_chunks(spec: &BillSpec) -> impl Iterator<Item = Bytes> + Send + 'static {
    let spec = spec.clone();
    let mut next = 0u64;
    let mut state = 0u8; // 0 header, 1 rows, 2 summary, 3 done
    std::iter::from_fn(move || {
        let mut out = Vec::with_capacity(68 * 1024);
        loop {
            match state {
                0 => {
                    out.extend_from_slice(
                        if spec.fund_flow {
                            FUND_HEADER
                        } else {
                            TRADE_HEADER
                        }
                        .as_bytes(),
                    );
                    state = 1;
                }
                1 if next < spec.rows => {
                    row(&spec, next, &mut out);
                    next += 1;
                }
                1 => state = 2,
                2 => {
                    summary(&spec, &mut out);
                    state = 3;
                }
                _ => return (!out.is_empty()).then(|| Bytes::from(out)),
            }
            if out.len() >= 64 * 1024 {
                return Some(Bytes::from(out));
            }
        }
    })
}

fn row(spec: &BillSpec, i: u64, out: &mut Vec<u8>) {
    let (hh, mm, ss) = (i / 3600 % 24, i / 60 % 60, i % 60);
    let cents = 1 + i % 9999;
    let amount = format!("{}.{:02}", cents / 100, cents % 100);
    let line = if spec.fund_flow {
        format!(
            "`{} {hh:02}:{mm:02}:{ss:02},`42000000{i:020},`5000{i:020},`交易,`交易,`收入,`{amount},`{amount},`system,`,`{i}\n",
            spec.date
        )
    } else {
        format!(
            "`{} {hh:02}:{mm:02}:{ss:02},`wxd678efh567hg6787,`1900000109,`0,`,`42000000{i:020},`T{i:030},`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`SUCCESS,`OTHERS,`CNY,`{amount},`0.00,`商品{i},`,`0.00000,`0.60%,`{amount}\n",
            spec.date
        )
    };
    out.extend_from_slice(line.as_bytes());
}

fn summary(spec: &BillSpec, out: &mut Vec<u8>) {
    let line = if spec.fund_flow {
        format!("资金流水总笔数,收入笔数\n`{},`{}\n", spec.rows, spec.rows)
    } else {
        format!(
            "总交易单数,应结订单总金额,退款总金额,手续费总金额\n`{},`-,`0.00,`0.00\n",
            spec.rows
        )
    };
    out.extend_from_slice(line.as_bytes());
}

/// The body as sent: the CSV, gzip-compressed chunk by chunk if asked.
pub(crate) fn body_chunks(spec: &BillSpec) -> Box<dyn Iterator<Item = Bytes> + Send> {
    let plain = plain_chunks(spec);
    if !spec.gzip {
        return Box::new(plain);
    }
    let mut encoder = Some(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut plain = plain.fuse();
    Box::new(std::iter::from_fn(move || loop {
        let encoder_ref = encoder.as_mut()?;
        match plain.next() {
            Some(chunk) => {
                if encoder_ref.write_all(&chunk).is_err() {
                    return None;
                }
                let compressed = std::mem::take(encoder_ref.get_mut());
                if !compressed.is_empty() {
                    return Some(Bytes::from(compressed));
                }
            }
            None => return encoder.take()?.finish().ok().map(Bytes::from),
        }
    }))
}

/// One payment as the bill sees it (amounts in fen, times unix seconds).
#[allow(dead_code)] // read by the real-format renderer (in progress)
#[derive(Debug, Clone)]
pub(crate) struct PaymentRecord {
    pub(crate) success_time: i64,
    pub(crate) appid: String,
    pub(crate) mchid: String,
    pub(crate) sub_mchid: Option<String>,
    pub(crate) transaction_id: String,
    pub(crate) out_trade_no: String,
    pub(crate) openid: String,
    pub(crate) trade_type: String,
    pub(crate) bank_type: String,
    pub(crate) currency: String,
    pub(crate) total: i64,
    pub(crate) description: String,
    pub(crate) attach: String,
}

/// One refund of a payment.
#[allow(dead_code)] // read by the real-format renderer (in progress)
#[derive(Debug, Clone)]
pub(crate) struct RefundRecord {
    pub(crate) time: i64,
    pub(crate) payment: PaymentRecord,
    pub(crate) refund_id: String,
    pub(crate) out_refund_no: String,
    pub(crate) refund: i64,
    pub(crate) status: String,
}

/// What a bill is made of, handed over by the flows when a bill is applied for.
#[allow(dead_code)] // read by the real-format renderer (in progress)
#[derive(Debug, Clone, Default)]
pub(crate) struct Ledger {
    pub(crate) payments: Vec<PaymentRecord>,
    pub(crate) refunds: Vec<RefundRecord>,
}
