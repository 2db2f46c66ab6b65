//! The files themselves, in WeChat Pay's real format (FLOWS.md §5, from the
//! real trade bill in wechatpay-axios-plugin's `tests/fixtures/bill.ALL.csv`):
//! a UTF-8 BOM, CRLF after every line (the last one too), a header of bare
//! names, rows whose every field starts with a backquote, then a footer
//! caption and one backquoted line of sums over all rows.
//!
//! What the sources leave open, decided here:
//! - **Fee (手续费)**: the rate is [`FEE_RATE`] (0.60%, WeChat Pay's usual
//!   rate; the real file shows its test merchant's 39.00%). A payment's fee
//!   is its amount × rate rounded half up to the fen, written with 5
//!   decimals as in the real file (`0.01000`). A refund row carries the fee
//!   given back on the refunded amount, rounded the same way, negative
//!   (**[inference]**: the real sample only has refunds of 0.01 whose fee
//!   is 0). Each row is rounded on its own.
//! - **Refund status (退款状态)**: the bill's own words, which are APIv2's
//!   (`SUCCESS`, `PROCESSING`, `REFUNDCLOSE`, `CHANGE` for the API's
//!   `SUCCESS`, `PROCESSING`, `CLOSED`, `ABNORMAL`; **[inference]**, FLOWS
//!   notes that the two sets differ). 退款金额 and 申请退款金额 are both the
//!   refund: they differ only by non-recharge coupons, which the mock has none of.
//! - **Footer numbers** are written as the real file writes them: counts as
//!   `45.0`, amounts in the shortest form with at least one decimal (`0.0`,
//!   `0.47`, `1.5`) — **[inference]** from `45.0,0.47,0.14,0.0,0.08`.
//! - **Fund flow**: the basic account (`BASIC`) holds the payments (收入,
//!   交易) and the refunds that succeeded (支出, 退款); the fees go to the
//!   fee account (`FEES`: 扣除交易手续费 / 退还交易手续费); the operation
//!   account (`OPERATION`) has nothing; `ALL` is all three, by time. A
//!   partner order's money is the sub-merchant's, so it is in no fund-flow
//!   bill of the service provider. 账户结余 is the account's balance after
//!   the row, counted from the first record the mock holds.

use super::{PaymentRecord, RefundRecord};

/// The UTF-8 byte order mark every bill starts with.
pub(crate) const BOM: &str = "\u{feff}";

/// The 27 columns of a trade bill.
pub(crate) const TRADE_HEADER: [&str; 27] = [
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

/// The 7 columns of a trade bill's footer.
pub(crate) const TRADE_FOOTER: [&str; 7] = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
];

/// The 11 columns of a fund-flow bill.
pub(crate) const FUND_HEADER: [&str; 11] = [
    "记账时间",
    "微信支付业务单号",
    "资金流水单号",
    "业务名称",
    "业务类型",
    "收支类型",
    "收支金额（元）",
    "账户结余（元）",
    "资金变更提交申请人",
    "备注",
    "业务凭证号",
];

/// The 5 columns of a fund-flow bill's footer.
pub(crate) const FUND_FOOTER: [&str; 5] = ["资金流水总笔数", "收入笔数", "收入金额", "支出笔数", "支出金额"];

/// The fee rate, in ten-thousandths: 60 = 0.60%.
pub(crate) const FEE_RATE: i64 = 60;

/// Which rows a trade bill holds (`bill_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BillType {
    /// Payments and refunds.
    All,
    /// Payments only.
    Success,
    /// Refunds only.
    Refund,
    /// Refunds of recharge coupons: the mock has none.
    RechargeRefund,
}

/// Which account a fund-flow bill covers (`account_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Account {
    Basic,
    Operation,
    Fees,
    All,
}

/// One calendar day in China time (UTC+8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Day {
    /// `YYYY-MM-DD`.
    pub(crate) date: String,
    /// Unix seconds of its 00:00:00 +08:00.
    pub(crate) start: i64,
}

impl Day {
    /// A real date written `YYYY-MM-DD`, else `None`.
    pub(crate) fn parse(text: &str) -> Option<Day> {
        let b = text.as_bytes();
        let shaped = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shaped {
            return None;
        }
        let num = |range: std::ops::Range<usize>| text[range].parse::<i64>().ok();
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        let start = days_from_civil(y, m, d) * 86_400 - 8 * 3600;
        // 2026-02-30 comes back as another day: not a date.
        (china_time(start).get(..10) == Some(text)).then(|| Day {
            date: text.to_owned(),
            start,
        })
    }

    pub(crate) fn contains(&self, unix: i64) -> bool {
        (self.start..self.start + 86_400).contains(&unix)
    }

    /// `YYYYMMDD`.
    pub(crate) fn compact(&self) -> String {
        self.date.replace('-', "")
    }
}

/// Howard Hinnant's days from 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-01-01 12:00:00`, China time, as bills write times.
pub(crate) fn china_time(unix: i64) -> String {
    let iso = crate::clock::rfc3339(unix);
    format!("{} {}", &iso[..10], &iso[11..19])
}

/// Fen as yuan with two decimals: `1` → `0.01`, `-150` → `-1.50`.
pub(crate) fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// A fee in fen as the bill writes it, with five decimals: `1` → `0.01000`.
pub(crate) fn fee(fen: i64) -> String {
    format!("{}000", yuan(fen))
}

/// A footer amount: the shortest form with at least one decimal.
pub(crate) fn footer_amount(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    let (whole, cents) = (abs / 100, abs % 100);
    if cents % 10 == 0 {
        format!("{sign}{whole}.{}", cents / 10)
    } else {
        format!("{sign}{whole}.{cents:02}")
    }
}

/// A footer count: `45` → `45.0`.
pub(crate) fn footer_count(n: u64) -> String {
    format!("{n}.0")
}

/// The fee on `amount` fen at [`FEE_RATE`], rounded half up to the fen.
pub(crate) fn fee_on(amount: i64) -> i64 {
    (amount.saturating_mul(FEE_RATE) + 5_000).div_euclid(10_000)
}

fn rate_text() -> String {
    format!("{}.{:02}%", FEE_RATE / 100, FEE_RATE % 100)
}

/// A value as it can stand in a bill: no line breaks (the format has no quoting).
fn clean(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains(['\r', '\n']) {
        value.replace(['\r', '\n'], " ").into()
    } else {
        value.into()
    }
}

/// A header or footer caption line: bare names.
pub(crate) fn caption(names: &[&str], out: &mut Vec<u8>) {
    out.extend_from_slice(names.join(",").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A data line: every field behind a backquote.
fn values<S: AsRef<str>>(fields: &[S], out: &mut Vec<u8>) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'`');
        out.extend_from_slice(clean(field.as_ref()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// The column sums of a trade bill, in fen, gathered row by row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TradeSums {
    pub(crate) rows: u64,
    pub(crate) settled: i64,
    pub(crate) refunded: i64,
    pub(crate) fees: i64,
    pub(crate) ordered: i64,
    pub(crate) applied: i64,
}

/// The columns a payment and its refunds share.
fn order_fields(p: &PaymentRecord, time: i64) -> [String; 9] {
    [
        china_time(time),
        p.appid.clone(),
        p.mchid.clone(),
        p.sub_mchid.clone().unwrap_or_else(|| "0".to_owned()),
        String::new(),
        p.transaction_id.clone(),
        p.out_trade_no.clone(),
        p.openid.clone(),
        p.trade_type.clone(),
    ]
}

/// A payment's row (交易状态 SUCCESS).
pub(crate) fn payment_row(p: &PaymentRecord, sums: &mut TradeSums, out: &mut Vec<u8>) {
    let fee_fen = fee_on(p.total);
    let [a, b, c, d, e, f, g, h, i] = order_fields(p, p.success_time);
    let total = yuan(p.total);
    values(
        &[
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
            "SUCCESS".to_owned(),
            p.bank_type.clone(),
            p.currency.clone(),
            total.clone(),
            "0.00".to_owned(),
            "0".to_owned(),
            "0".to_owned(),
            "0.00".to_owned(),
            "0.00".to_owned(),
            String::new(),
            String::new(),
            p.description.clone(),
            p.attach.clone(),
            fee(fee_fen),
            rate_text(),
            total,
            "0.00".to_owned(),
            String::new(),
        ],
        out,
    );
    sums.rows += 1;
    sums.settled += p.total;
    sums.fees += fee_fen;
    sums.ordered += p.total;
}

/// The bill's word for a refund's `status`.
fn refund_state(status: &str) -> &str {
    match status {
        "CLOSED" => "REFUNDCLOSE",
        "ABNORMAL" => "CHANGE",
        other => other,
    }
}

/// A refund's row (交易状态 REFUND), on its own line.
pub(crate) fn refund_row(r: &RefundRecord, sums: &mut TradeSums, out: &mut Vec<u8>) {
    let p = &r.payment;
    let fee_fen = -fee_on(r.refund);
    let [a, b, c, d, e, f, g, h, i] = order_fields(p, r.time);
    let refund = yuan(r.refund);
    values(
        &[
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
            "REFUND".to_owned(),
            p.bank_type.clone(),
            p.currency.clone(),
            "0.00".to_owned(),
            "0.00".to_owned(),
            r.refund_id.clone(),
            r.out_refund_no.clone(),
            refund.clone(),
            "0.00".to_owned(),
            "ORIGINAL".to_owned(),
            refund_state(&r.status).to_owned(),
            p.description.clone(),
            p.attach.clone(),
            fee(fee_fen),
            rate_text(),
            "0.00".to_owned(),
            refund,
            String::new(),
        ],
        out,
    );
    sums.rows += 1;
    sums.refunded += r.refund;
    sums.fees += fee_fen;
    sums.applied += r.refund;
}

/// The trade footer: caption and the sums.
pub(crate) fn trade_footer(sums: &TradeSums, out: &mut Vec<u8>) {
    caption(&TRADE_FOOTER, out);
    values(
        &[
            footer_count(sums.rows),
            footer_amount(sums.settled),
            footer_amount(sums.refunded),
            footer_amount(0),
            footer_amount(sums.fees),
            footer_amount(sums.ordered),
            footer_amount(sums.applied),
        ],
        out,
    );
}

/// The trade bill of `day`, or `None` when it would have no row.
pub(crate) fn trade_bill(
    ledger: &super::Ledger,
    day: &Day,
    sub_mchid: Option<&str>,
    bill_type: BillType,
) -> Option<Vec<u8>> {
    let wanted = |p: &PaymentRecord| sub_mchid.is_none_or(|s| p.sub_mchid.as_deref() == Some(s));
    // (time, payment first, index): a stable order for rows of the same second.
    let mut rows: Vec<(i64, u8, usize)> = Vec::new();
    if matches!(bill_type, BillType::All | BillType::Success) {
        rows.extend(
            (ledger.payments.iter().enumerate())
                .filter(|(_, p)| day.contains(p.success_time) && wanted(p))
                .map(|(i, p)| (p.success_time, 0, i)),
        );
    }
    if matches!(bill_type, BillType::All | BillType::Refund) {
        rows.extend(
            (ledger.refunds.iter().enumerate())
                .filter(|(_, r)| day.contains(r.time) && wanted(&r.payment))
                .map(|(i, r)| (r.time, 1, i)),
        );
    }
    if rows.is_empty() {
        return None;
    }
    rows.sort_unstable();
    let mut out = Vec::with_capacity(512 * (rows.len() + 4));
    out.extend_from_slice(BOM.as_bytes());
    caption(&TRADE_HEADER, &mut out);
    let mut sums = TradeSums::default();
    for (_, kind, i) in rows {
        match kind {
            0 => payment_row(&ledger.payments[i], &mut sums, &mut out),
            _ => refund_row(&ledger.refunds[i], &mut sums, &mut out),
        }
    }
    trade_footer(&sums, &mut out);
    Some(out)
}

/// One movement of money in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FundEntry {
    pub(crate) time: i64,
    pub(crate) account: Account,
    /// The payment's or refund's WeChat Pay id.
    pub(crate) business_no: String,
    pub(crate) mchid: String,
    pub(crate) name: &'static str,
    pub(crate) kind: &'static str,
    /// Positive in, negative out.
    pub(crate) amount: i64,
    /// The merchant's own number: `out_trade_no` or `out_refund_no`.
    pub(crate) voucher: String,
}

/// The column sums of a fund-flow bill, in fen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FundSums {
    pub(crate) income_rows: u64,
    pub(crate) income: i64,
    pub(crate) expense_rows: u64,
    pub(crate) expense: i64,
}

/// 资金流水单号: the merchant number, the date and ten digits that depend
/// only on the movement, so the same ledger gives the same bill.
fn flow_no(entry: &FundEntry) -> String {
    // FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in entry.business_no.bytes().chain(entry.kind.bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    let date = china_time(entry.time).get(..10).unwrap_or_default().replace('-', "");
    format!("{}{date}{:010}", entry.mchid, hash % 10_000_000_000)
}

/// A fund-flow row; `balance` is the account's balance after it.
pub(crate) fn fund_row(entry: &FundEntry, balance: i64, sums: &mut FundSums, out: &mut Vec<u8>) {
    let income = entry.amount >= 0;
    values(
        &[
            china_time(entry.time),
            entry.business_no.clone(),
            flow_no(entry),
            entry.name.to_owned(),
            entry.kind.to_owned(),
            if income { "收入" } else { "支出" }.to_owned(),
            yuan(entry.amount.abs()),
            yuan(balance),
            "system".to_owned(),
            String::new(),
            entry.voucher.clone(),
        ],
        out,
    );
    if income {
        sums.income_rows += 1;
        sums.income += entry.amount;
    } else {
        sums.expense_rows += 1;
        sums.expense -= entry.amount;
    }
}

/// The fund-flow footer: caption and the sums.
pub(crate) fn fund_footer(sums: &FundSums, out: &mut Vec<u8>) {
    caption(&FUND_FOOTER, out);
    values(
        &[
            footer_count(sums.income_rows + sums.expense_rows),
            footer_count(sums.income_rows),
            footer_amount(sums.income),
            footer_count(sums.expense_rows),
            footer_amount(sums.expense),
        ],
        out,
    );
}

/// Every movement of the merchant's own money the ledger implies, by time.
fn fund_entries(ledger: &super::Ledger) -> Vec<FundEntry> {
    let mut entries = Vec::new();
    let own = |p: &PaymentRecord| p.sub_mchid.is_none();
    for p in ledger.payments.iter().filter(|p| own(p)) {
        let entry = |account, kind, amount| FundEntry {
            time: p.success_time,
            account,
            business_no: p.transaction_id.clone(),
            mchid: p.mchid.clone(),
            name: "交易",
            kind,
            amount,
            voucher: p.out_trade_no.clone(),
        };
        entries.push(entry(Account::Basic, "交易", p.total));
        let fee_fen = fee_on(p.total);
        if fee_fen > 0 {
            entries.push(entry(Account::Fees, "扣除交易手续费", -fee_fen));
        }
    }
    let done = |r: &&RefundRecord| r.status == "SUCCESS" && own(&r.payment);
    for r in ledger.refunds.iter().filter(done) {
        let entry = |account, kind, amount| FundEntry {
            time: r.time,
            account,
            business_no: r.refund_id.clone(),
            mchid: r.payment.mchid.clone(),
            name: "退款",
            kind,
            amount,
            voucher: r.out_refund_no.clone(),
        };
        entries.push(entry(Account::Basic, "退款", -r.refund));
        let fee_fen = fee_on(r.refund);
        if fee_fen > 0 {
            entries.push(entry(Account::Fees, "退还交易手续费", fee_fen));
        }
    }
    // Stable: a payment's rows before its refund's when in the same second.
    entries.sort_by_key(|e| e.time);
    entries
}

/// The fund-flow bill of `day` for `account`, or `None` when it would
/// have no row.
pub(crate) fn fund_flow_bill(ledger: &super::Ledger, day: &Day, account: Account) -> Option<Vec<u8>> {
    let mut balances = [0i64; 3];
    let slot = |a: Account| match a {
        Account::Fees => 2,
        Account::Operation => 1,
        _ => 0,
    };
    let mut rows = Vec::new();
    for entry in fund_entries(ledger) {
        let balance = &mut balances[slot(entry.account)];
        *balance += entry.amount;
        let shown = account == Account::All || account == entry.account;
        if shown && day.contains(entry.time) {
            rows.push((entry, *balance));
        }
    }
    if rows.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(256 * (rows.len() + 4));
    out.extend_from_slice(BOM.as_bytes());
    caption(&FUND_HEADER, &mut out);
    let mut sums = FundSums::default();
    for (entry, balance) in &rows {
        fund_row(entry, *balance, &mut sums, &mut out);
    }
    fund_footer(&sums, &mut out);
    Some(out)
}
