//! Bills on the mock: `v3/bill/tradebill` and `v3/bill/fundflowbill` answer
//! a signed `download_url` and the SHA-1 of the file; `v3/billdownload/file`
//! sends the file (gzip on request), unsigned.
//!
//! A bill is made of what the payment and refund stores hand over (a
//! [`Ledger`]) for the day asked, in WeChat Pay's real format (see
//! [`format`]). For size tests, [`crate::mock::MockServer::set_bill_rows`] asks
//! for synthetic bills of any number of rows instead, in the same format,
//! generated as they are sent so that they cost no memory.

mod format;

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use openssl::sha::Sha1;
use serde_json::json;

/// WeChat Pay's fee on an amount, as the bills charge it (profit sharing splits what is left).
pub(crate) use self::format::fee_on;
use self::format::{Account, BillType, Day};
use crate::crypto::random_alphanumeric;
use crate::mock::wire::answer::{Answer, Chunks};

/// Rows the synthetic bills had by default, when every bill was synthetic.
#[deprecated(note = "bills now come from the mock's payments and refunds; \
            `MockServer::set_bill_rows(n)` asks for a synthetic bill of n rows")]
pub const DEFAULT_BILL_ROWS: u64 = 3;

/// How long a `download_url` stays valid (FLOWS.md §5: 5 minutes).
/// Read on the mock's clock: moving it past them ends the links.
const TOKEN_LIFE: i64 = 300;

/// Download links kept at once; applying for more forgets the oldest.
const MAX_ISSUED: usize = 16;

/// The hour (China time) of the next day from which a day's bill exists.
/// WeChat Pay's page says 10:00 for the fund-flow bill and, in one copy,
/// 8:00 for the trade bill; FLOWS.md §5 and the SK sample say 10:00 for
/// both, and so does the mock.
const BILL_READY_HOUR: i64 = 10;

/// How far back a bill may be asked for: three months (92 days).
const BILL_WINDOW: i64 = 92 * 86_400;

/// Bytes per chunk sent.
const CHUNK: usize = 64 * 1024;

/// One payment as the bill sees it (amounts in fen, times unix seconds).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct PaymentRecord {
    pub(crate) success_time: i64,
    /// appid, or sub_appid/sp_appid for a partner order.
    pub(crate) appid: String,
    /// The merchant, or the service provider (sp_mchid).
    pub(crate) mchid: String,
    pub(crate) sub_mchid: Option<String>,
    pub(crate) transaction_id: String,
    pub(crate) out_trade_no: String,
    pub(crate) openid: String,
    /// JSAPI, APP, MWEB, NATIVE.
    pub(crate) trade_type: String,
    pub(crate) bank_type: String,
    pub(crate) currency: String,
    pub(crate) total: i64,
    pub(crate) description: String,
    pub(crate) attach: String,
}

/// One refund of a payment.
#[derive(Debug, Clone)]
pub(crate) struct RefundRecord {
    /// success_time, or create_time while not final.
    pub(crate) time: i64,
    /// The refunded payment.
    pub(crate) payment: PaymentRecord,
    pub(crate) refund_id: String,
    pub(crate) out_refund_no: String,
    /// Amount refunded.
    pub(crate) refund: i64,
    /// SUCCESS, PROCESSING, ABNORMAL, CLOSED.
    pub(crate) status: String,
}

/// What a bill is made of, handed over by the flows when a bill is applied for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ledger {
    pub(crate) payments: Vec<PaymentRecord>,
    pub(crate) refunds: Vec<RefundRecord>,
}

/// One bill that can be downloaded.
#[derive(Debug, Clone)]
pub(crate) struct BillSpec {
    pub(crate) gzip: bool,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// Rendered from a ledger when applied for.
    File(Bytes),
    /// Generated row by row as it is sent.
    Synthetic {
        day: Day,
        fund_flow: bool,
        rows: u64,
    },
}

/// The bills handed out, by download token.
#[derive(Default)]
pub(crate) struct Bills {
    /// Download links by token: when (the mock's clock, Unix seconds) and what.
    issued: Mutex<HashMap<String, (i64, BillSpec)>>,
    /// Rows of the synthetic bills; 0: bills come from the ledger.
    rows: AtomicU64,
}

impl Bills {
    pub(crate) fn set_rows(&self, rows: u64) {
        self.rows.store(rows, Ordering::Relaxed);
    }

    /// `GET v3/bill/tradebill` / `v3/bill/fundflowbill`: the bill of
    /// `bill_date` made of `ledger` (or a synthetic one), as a download URL
    /// and the SHA-1 of the uncompressed file.
    pub(crate) fn request(
        &self,
        fund_flow: bool,
        query: &[(String, String)],
        base_url: &str,
        wrong_hash: bool,
        ledger: Ledger,
        now: i64,
    ) -> Answer {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let Some(day) = get("bill_date").and_then(Day::parse) else {
            return Answer::query_error(
                "bill_date",
                "应为 YYYY-MM-DD 格式的日期 (a date, YYYY-MM-DD)",
            );
        };
        let gzip = match get("tar_type") {
            None => false,
            Some("GZIP") => true,
            Some(_) => return Answer::query_error("tar_type", "只支持 GZIP (only GZIP)"),
        };
        let synthetic = self.rows.load(Ordering::Relaxed);
        // A day's bill exists from 10:00 the next day, China time (FLOWS.md
        // §5, SK GetTradeBill.go); before that WeChat Pay answers 400
        // STATEMENT_CREATING 账单生成中 (the error table of its 下载账单 API
        // page). The synthetic bills of size tests take any date.
        let ready = day.start + 86_400 + BILL_READY_HOUR * 3600;
        if synthetic == 0 && now < ready {
            let issue = format!(
                "the bill of {} exists from {} (10:00 the next day, China time); it is {}: \
                 move the mock's clock (POST /_mock/clock/set, `wxpay mock clock set`) or wait",
                day.date,
                crate::clock::rfc3339(ready),
                crate::clock::rfc3339(now),
            );
            return Answer::error(
                400,
                "STATEMENT_CREATING",
                "账单生成中",
                Some(json!({"field": "bill_date", "location": "query", "issue": issue})),
            );
        }
        // Only the last three months can be asked for (FLOWS.md §5).
        if synthetic == 0 && day.start < now - BILL_WINDOW {
            return Answer::query_error(
                "bill_date",
                "只能申请三个月内的账单 (only bills of the last 3 months can be applied for)",
            );
        }
        let source = if fund_flow {
            let account = match parse_account(get("account_type")) {
                Ok(account) => account,
                Err(answer) => return answer,
            };
            match synthetic {
                0 => format::fund_flow_bill(&ledger, &day, account).map(|f| Source::File(f.into())),
                rows => Some(Source::Synthetic {
                    day,
                    fund_flow,
                    rows,
                }),
            }
        } else {
            let bill_type = match parse_bill_type(get("bill_type")) {
                Ok(bill_type) => bill_type,
                Err(answer) => return answer,
            };
            match synthetic {
                0 => format::trade_bill(&ledger, &day, get("sub_mchid"), bill_type)
                    .map(|f| Source::File(f.into())),
                rows => Some(Source::Synthetic {
                    day,
                    fund_flow,
                    rows,
                }),
            }
        };
        // What WeChat Pay answers for a day without a trade (or, for a
        // fund-flow bill, without a movement in that account): its FAQ,
        // pay.weixin.qq.com/doc/v3/merchant/4013071254, and the 400 quoted
        // in developers.weixin.qq.com threads.
        let Some(source) = source else {
            return Answer::error(400, "NO_STATEMENT_EXIST", "请求的账单文件不存在", None);
        };
        let spec = BillSpec { gzip, source };
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
            // Expired links go, so kept files do not pile up.
            issued.retain(|_, (at, _)| now - *at < TOKEN_LIFE);
            // Each link holds its file until it expires: a bounded number.
            while issued.len() >= MAX_ISSUED {
                let oldest = issued
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(token, _)| token.clone());
                match oldest {
                    Some(token) => issued.remove(&token),
                    None => break,
                };
            }
            issued.insert(token.clone(), (now, spec));
        }
        Answer::json(
            200,
            &json!({"hash_type": "SHA1", "hash_value": hash_value,
                    "download_url": format!("{base_url}v3/billdownload/file?token={token}")}),
        )
    }

    /// `GET v3/billdownload/file?token=…`: the file, unsigned.
    pub(crate) fn download(&self, query: &[(String, String)], now: i64) -> Answer {
        let token = query
            .iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.as_str());
        let spec = token.and_then(|t| {
            let issued = self.issued.lock().ok()?;
            let (at, spec) = issued.get(t)?;
            (now - at < TOKEN_LIFE).then(|| spec.clone())
        });
        match spec {
            Some(spec) => Answer {
                status: 200,
                body: Bytes::new(),
                signed: false,
                stream: Some(Chunks::new(move || body_chunks(&spec))),
                content_type: "application/octet-stream",
            },
            None => Answer::error(400, "INVALID_REQUEST", "下载链接无效或已过期", None),
        }
    }
}

/// `bill_type`, ALL by default (FLOWS.md §5 lists the values).
fn parse_bill_type(value: Option<&str>) -> Result<BillType, Answer> {
    match value {
        None | Some("ALL") => Ok(BillType::All),
        Some("SUCCESS") => Ok(BillType::Success),
        Some("REFUND") => Ok(BillType::Refund),
        Some("RECHARGE_REFUND") => Ok(BillType::RechargeRefund),
        Some("ALL_SPECIAL" | "SUC_SPECIAL" | "REF_SPECIAL") => Err(Answer::query_error(
            "bill_type",
            "个性化账单需开通，模拟服务不提供；请用 ALL、SUCCESS 或 REFUND \
             (special bills are enabled per merchant and not simulated: use ALL, SUCCESS or REFUND)",
        )),
        Some(_) => Err(Answer::query_error(
            "bill_type",
            "应为 ALL、SUCCESS、REFUND、RECHARGE_REFUND、ALL_SPECIAL、SUC_SPECIAL 或 REF_SPECIAL \
             (one of ALL, SUCCESS, REFUND, RECHARGE_REFUND, ALL_SPECIAL, SUC_SPECIAL, REF_SPECIAL)",
        )),
    }
}

/// `account_type`, BASIC by default.
fn parse_account(value: Option<&str>) -> Result<Account, Answer> {
    match value {
        None | Some("BASIC") => Ok(Account::Basic),
        Some("OPERATION") => Ok(Account::Operation),
        Some("FEES") => Ok(Account::Fees),
        Some("ALL") => Ok(Account::All),
        Some(_) => Err(Answer::query_error(
            "account_type",
            "应为 BASIC、OPERATION、FEES 或 ALL (one of BASIC, OPERATION, FEES, ALL)",
        )),
    }
}

/// The uncompressed file in chunks of about [`CHUNK`] bytes.
fn plain_chunks(spec: &BillSpec) -> Box<dyn Iterator<Item = Bytes> + Send> {
    match &spec.source {
        Source::File(file) => {
            let file = file.clone();
            let mut at = 0;
            Box::new(std::iter::from_fn(move || {
                let end = file.len().min(at + CHUNK);
                let chunk = (at < end).then(|| file.slice(at..end));
                at = end;
                chunk
            }))
        }
        Source::Synthetic {
            day,
            fund_flow,
            rows,
        } => Box::new(synthetic_chunks(day.clone(), *fund_flow, *rows)),
    }
}

/// A synthetic bill of `rows` rows, made row by row: header, rows, footer.
fn synthetic_chunks(day: Day, fund_flow: bool, rows: u64) -> impl Iterator<Item = Bytes> + Send {
    let mut next = 0u64;
    let mut state = 0u8; // 0 header, 1 rows, 2 footer, 3 done
    let mut trade = format::TradeSums::default();
    let mut fund = format::FundSums::default();
    let mut balance = 0i64;
    let mut p = synthetic_template();
    std::iter::from_fn(move || {
        let mut out = Vec::with_capacity(CHUNK + 4096);
        loop {
            match state {
                0 => {
                    out.extend_from_slice(format::BOM.as_bytes());
                    let header: &[&str] = if fund_flow {
                        &format::FUND_HEADER
                    } else {
                        &format::TRADE_HEADER
                    };
                    format::caption(header, &mut out);
                    state = 1;
                }
                1 if next < rows => {
                    synthetic_payment(&day, next, &mut p);
                    if fund_flow {
                        balance += p.total;
                        let entry = format::FundEntry {
                            time: p.success_time,
                            account: Account::Basic,
                            business_no: p.transaction_id.clone(),
                            mchid: p.mchid.clone(),
                            name: "交易",
                            kind: "交易",
                            amount: p.total,
                            voucher: p.out_trade_no.clone(),
                        };
                        format::fund_row(&entry, balance, &mut fund, &mut out);
                    } else {
                        format::payment_row(&p, &mut trade, &mut out);
                    }
                    next += 1;
                }
                1 => state = 2,
                2 => {
                    if fund_flow {
                        format::fund_footer(&fund, &mut out);
                    } else {
                        format::trade_footer(&trade, &mut out);
                    }
                    state = 3;
                }
                _ => return (!out.is_empty()).then(|| Bytes::from(out)),
            }
            if out.len() >= CHUNK {
                return Some(Bytes::from(out));
            }
        }
    })
}

/// Row `i` of a synthetic bill, a paid JSAPI order during `day`, written
/// over row `i - 1` so that the strings are reused.
fn synthetic_payment(day: &Day, i: u64, p: &mut PaymentRecord) {
    use std::fmt::Write as _;
    let date = day.compact();
    p.success_time = day.start + i64::try_from(i % 86_400).unwrap_or(0);
    p.total = 1 + i64::try_from(i % 9_999).unwrap_or(0);
    p.transaction_id.clear();
    let _ = write!(p.transaction_id, "4200000000{date}{i:010}");
    p.out_trade_no.clear();
    let _ = write!(p.out_trade_no, "T{date}{i:010}");
    p.description.clear();
    let _ = write!(p.description, "商品{i}");
}

/// The parts every synthetic row shares.
fn synthetic_template() -> PaymentRecord {
    PaymentRecord {
        success_time: 0,
        appid: "wxd678efh567hg6787".to_owned(),
        mchid: "1900000109".to_owned(),
        sub_mchid: None,
        transaction_id: String::new(),
        out_trade_no: String::new(),
        openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned(),
        trade_type: "JSAPI".to_owned(),
        bank_type: "OTHERS".to_owned(),
        currency: "CNY".to_owned(),
        total: 0,
        description: String::new(),
        attach: String::new(),
    }
}

/// The body as sent: the file, gzip-compressed chunk by chunk if asked.
pub(crate) fn body_chunks(spec: &BillSpec) -> Box<dyn Iterator<Item = Bytes> + Send> {
    let plain = plain_chunks(spec);
    if !spec.gzip {
        return plain;
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
