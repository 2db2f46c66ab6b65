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
//!   notes that the two sets differ). A refund is listed whatever its
//!   status; 申请退款金额 is what was asked, 退款金额 (and the fee given
//!   back) what reached the payer: the refund once SUCCESS, 0.00 before —
//!   the money the fund-flow bill moves, so the two bills of a day agree
//!   (**[inference]**: the real sample has only SUCCESS refunds; the mock has
//!   no coupons, the other difference between the two columns).
//! - **Values** cannot hold the format's separators: a line break is written
//!   as a space, `` ,` `` as `` ,' `` (no escape exists).
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
pub(crate) const FUND_FOOTER: [&str; 5] = [
    "资金流水总笔数",
    "收入笔数",
    "收入金额",
    "支出笔数",
    "支出金额",
];

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

/// [`FEE_RATE`] as the 费率 column writes it.
const RATE: &str = "0.60%";

/// A value as it can stand in a bill. The format has no quoting or escape:
/// a line break would end the row, and `` ,` `` inside a value is the
/// separator a reader splits on (issue 26: every later column shifted). So
/// line breaks are written as spaces and `` ,` `` as `` ,' ``; the API still
/// answers the value as it was given (docs/mock.md, "Bills").
fn clean(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains(['\r', '\n']) || value.contains(",`") {
        value.replace(['\r', '\n'], " ").replace(",`", ",'").into()
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
    let mut line = Line::new(out);
    for field in fields {
        line.put(field.as_ref());
    }
    line.end();
}

/// Writes one data line field by field, without building the fields first
/// (a synthetic bill of millions of rows goes through here).
struct Line<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Line<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Line { out, first: true }
    }

    fn put(&mut self, value: &str) -> &mut Self {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'`');
        self.out.extend_from_slice(clean(value).as_bytes());
        self
    }

    fn end(self) {
        self.out.extend_from_slice(b"\r\n");
    }
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

/// The columns a payment and its refunds share, up to 交易类型.
fn order_fields(line: &mut Line<'_>, p: &PaymentRecord, time: i64) {
    line.put(&china_time(time))
        .put(&p.appid)
        .put(&p.mchid)
        .put(p.sub_mchid.as_deref().unwrap_or("0"))
        .put("")
        .put(&p.transaction_id)
        .put(&p.out_trade_no)
        .put(&p.openid)
        .put(&p.trade_type);
}

/// A payment's row (交易状态 SUCCESS).
pub(crate) fn payment_row(p: &PaymentRecord, sums: &mut TradeSums, out: &mut Vec<u8>) {
    let fee_fen = fee_on(p.total);
    let total = yuan(p.total);
    let mut line = Line::new(out);
    order_fields(&mut line, p, p.success_time);
    line.put("SUCCESS")
        .put(&p.bank_type)
        .put(&p.currency)
        .put(&total) // 应结订单金额
        .put("0.00") // 代金券金额
        .put("0") // 微信退款单号
        .put("0") // 商户退款单号
        .put("0.00") // 退款金额
        .put("0.00") // 充值券退款金额
        .put("") // 退款类型
        .put("") // 退款状态
        .put(&p.description)
        .put(&p.attach)
        .put(&fee(fee_fen))
        .put(RATE)
        .put(&total) // 订单金额
        .put("0.00") // 申请退款金额
        .put(""); // 费率备注
    line.end();
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

/// A refund's row (交易状态 REFUND), on its own line, whatever its status:
/// 申请退款金额 is what was asked; 退款金额 and the fee given back are what
/// reached the payer, so nothing until it is SUCCESS — the money the
/// fund-flow bill moves (issue 26: the two bills disagreed).
pub(crate) fn refund_row(r: &RefundRecord, sums: &mut TradeSums, out: &mut Vec<u8>) {
    let p = &r.payment;
    let moved = if r.status == "SUCCESS" { r.refund } else { 0 };
    let fee_fen = -fee_on(moved);
    let applied = yuan(r.refund);
    let refund = yuan(moved);
    let mut line = Line::new(out);
    order_fields(&mut line, p, r.time);
    line.put("REFUND")
        .put(&p.bank_type)
        .put(&p.currency)
        .put("0.00") // 应结订单金额
        .put("0.00") // 代金券金额
        .put(&r.refund_id)
        .put(&r.out_refund_no)
        .put(&refund) // 退款金额
        .put("0.00") // 充值券退款金额
        .put("ORIGINAL")
        .put(refund_state(&r.status))
        .put(&p.description)
        .put(&p.attach)
        .put(&fee(fee_fen))
        .put(RATE)
        .put("0.00") // 订单金额
        .put(&applied) // 申请退款金额
        .put(""); // 费率备注
    line.end();
    sums.rows += 1;
    sums.refunded += moved;
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

/// 资金流水单号: the merchant number, the date, the last 9 digits of the
/// business number and one digit for the kind of movement, so the same
/// ledger always gives the same bill (the real one is 28 digits too).
fn flow_no(entry: &FundEntry) -> String {
    let digits: Vec<u8> = entry
        .business_no
        .bytes()
        .filter(u8::is_ascii_digit)
        .collect();
    let tail = String::from_utf8_lossy(&digits[digits.len().saturating_sub(9)..]).into_owned();
    let kind = match entry.kind {
        "交易" => 0,
        "扣除交易手续费" => 1,
        "退款" => 2,
        _ => 3,
    };
    let date = china_time(entry.time)
        .get(..10)
        .unwrap_or_default()
        .replace('-', "");
    format!("{}{date}{tail:0>9}{kind}", entry.mchid)
}

/// A fund-flow row; `balance` is the account's balance after it.
pub(crate) fn fund_row(entry: &FundEntry, balance: i64, sums: &mut FundSums, out: &mut Vec<u8>) {
    let income = entry.amount >= 0;
    let mut line = Line::new(out);
    line.put(&china_time(entry.time))
        .put(&entry.business_no)
        .put(&flow_no(entry))
        .put(entry.name)
        .put(entry.kind)
        .put(if income { "收入" } else { "支出" })
        .put(&yuan(entry.amount.abs()))
        .put(&yuan(balance))
        .put("system") // 资金变更提交申请人
        .put("") // 备注
        .put(&entry.voucher);
    line.end();
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
pub(crate) fn fund_flow_bill(
    ledger: &super::Ledger,
    day: &Day,
    account: Account,
) -> Option<Vec<u8>> {
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

#[cfg(test)]
mod tests {
    //! Expected files written out by hand from FLOWS.md §5, not produced by
    //! the code under test.

    use super::super::{Ledger, PaymentRecord, RefundRecord};
    use super::*;

    const TRADE_HEADER_LINE: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n";
    const TRADE_FOOTER_LINE: &str =
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n";
    const FUND_HEADER_LINE: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号\r\n";
    const FUND_FOOTER_LINE: &str = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\r\n";

    /// 2026-01-01 12:00:00 in China (04:00:00Z).
    const NOON: i64 = 1_767_240_000;

    fn payment(time: i64, no: &str, total: i64, sub_mchid: Option<&str>) -> PaymentRecord {
        PaymentRecord {
            success_time: time,
            appid: "wxd678efh567hg6787".to_owned(),
            mchid: "1900000109".to_owned(),
            sub_mchid: sub_mchid.map(str::to_owned),
            transaction_id: format!("42000000012026010112345678{no}"),
            out_trade_no: format!("T202601010{no}"),
            openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned(),
            trade_type: "JSAPI".to_owned(),
            bank_type: "OTHERS".to_owned(),
            currency: "CNY".to_owned(),
            total,
            description: "咖啡".to_owned(),
            attach: "a1".to_owned(),
        }
    }

    fn refund(
        time: i64,
        payment: &PaymentRecord,
        no: &str,
        amount: i64,
        status: &str,
    ) -> RefundRecord {
        RefundRecord {
            time,
            payment: payment.clone(),
            refund_id: format!("503000000120260101123456{no}"),
            out_refund_no: format!("R202601010{no}"),
            refund: amount,
            status: status.to_owned(),
        }
    }

    /// One payment of 12.34 at noon refunded 5.00 at 13:30; one payment of
    /// 1.00 the evening before (balances carry over from it) and one the
    /// day after, which the bill of 2026-01-01 leaves out.
    fn ledger() -> Ledger {
        let paid = payment(NOON, "90", 1234, None);
        Ledger {
            payments: vec![
                payment(NOON - 12 * 3600 - 1, "89", 100, None),
                paid.clone(),
                payment(NOON + 12 * 3600, "91", 200, None),
            ],
            refunds: vec![refund(NOON + 5400, &paid, "78", 500, "SUCCESS")],
        }
    }

    fn day() -> Day {
        Day::parse("2026-01-01").expect("a date")
    }

    #[test]
    fn a_trade_bill_byte_for_byte() {
        let expected = String::from("\u{feff}")
            + TRADE_HEADER_LINE
            + "`2026-01-01 12:00:00,`wxd678efh567hg6787,`1900000109,`0,`,`4200000001202601011234567890,`T20260101090,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`OTHERS,`CNY,`12.34,`0.00,`0,`0,`0.00,`0.00,`,`,`咖啡,`a1,`0.07000,`0.60%,`12.34,`0.00,`\r\n"
            + "`2026-01-01 13:30:00,`wxd678efh567hg6787,`1900000109,`0,`,`4200000001202601011234567890,`T20260101090,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300000012026010112345678,`R20260101078,`5.00,`0.00,`ORIGINAL,`SUCCESS,`咖啡,`a1,`-0.03000,`0.60%,`0.00,`5.00,`\r\n"
            + TRADE_FOOTER_LINE
            + "`2.0,`12.34,`5.0,`0.0,`0.04,`12.34,`5.0\r\n";
        let file = trade_bill(&ledger(), &day(), None, BillType::All).expect("two rows");
        assert_eq!(String::from_utf8(file.clone()).unwrap(), expected);
        assert_eq!(&file[..3], b"\xEF\xBB\xBF");
        assert!(file.ends_with(b"\r\n"));
    }

    #[test]
    fn fund_flow_bills_byte_for_byte() {
        let basic = String::from("\u{feff}")
            + FUND_HEADER_LINE
            + "`2026-01-01 12:00:00,`4200000001202601011234567890,`1900000109202601012345678900,`交易,`交易,`收入,`12.34,`13.34,`system,`,`T20260101090\r\n"
            + "`2026-01-01 13:30:00,`50300000012026010112345678,`1900000109202601011123456782,`退款,`退款,`支出,`5.00,`8.34,`system,`,`R20260101078\r\n"
            + FUND_FOOTER_LINE
            + "`2.0,`1.0,`12.34,`1.0,`5.0\r\n";
        let file = fund_flow_bill(&ledger(), &day(), Account::Basic).expect("two rows");
        assert_eq!(String::from_utf8(file).unwrap(), basic);

        // fees: 1.00 × 0.60% = 0.006 → 0.01 the day before, 12.34 → 0.07,
        // 5.00 → 0.03 given back
        let fees = String::from("\u{feff}")
            + FUND_HEADER_LINE
            + "`2026-01-01 12:00:00,`4200000001202601011234567890,`1900000109202601012345678901,`交易,`扣除交易手续费,`支出,`0.07,`-0.08,`system,`,`T20260101090\r\n"
            + "`2026-01-01 13:30:00,`50300000012026010112345678,`1900000109202601011123456783,`退款,`退还交易手续费,`收入,`0.03,`-0.05,`system,`,`R20260101078\r\n"
            + FUND_FOOTER_LINE
            + "`2.0,`1.0,`0.03,`1.0,`0.07\r\n";
        let file = fund_flow_bill(&ledger(), &day(), Account::Fees).expect("two rows");
        assert_eq!(String::from_utf8(file).unwrap(), fees);

        let all = fund_flow_bill(&ledger(), &day(), Account::All).expect("four rows");
        let all = String::from_utf8(all).unwrap();
        assert!(
            all.ends_with("\r\n`4.0,`2.0,`12.37,`2.0,`5.07\r\n"),
            "{all}"
        );
        assert_eq!(all.matches("\r\n`2026-01-01 ").count(), 4);

        assert_eq!(fund_flow_bill(&ledger(), &day(), Account::Operation), None);
        let quiet = Day::parse("2026-01-03").unwrap();
        assert_eq!(fund_flow_bill(&ledger(), &quiet, Account::All), None);
    }

    /// Fen from a decimal the bill writes (`-0.03000`, `12.34`, `5.0`).
    fn fen(text: &str) -> i64 {
        let (sign, abs) = match text.strip_prefix('-') {
            Some(abs) => (-1, abs),
            None => (1, text),
        };
        let (whole, frac) = abs.split_once('.').expect("a decimal point");
        let frac = format!("{frac:0<2}");
        assert!(
            frac[2..].bytes().all(|b| b == b'0'),
            "{text} is not whole fen"
        );
        sign * (whole.parse::<i64>().unwrap() * 100 + frac[..2].parse::<i64>().unwrap())
    }

    #[test]
    fn the_trade_footer_sums_every_column_over_all_rows() {
        let partner = payment(NOON + 60, "92", 250, Some("1900000110"));
        let small = payment(NOON + 120, "93", 3, None);
        let one = payment(NOON + 180, "94", 1, None);
        let ledger = Ledger {
            payments: vec![
                partner.clone(),
                small.clone(),
                one,
                payment(NOON, "95", 999_999, None),
            ],
            refunds: vec![
                refund(NOON + 600, &small, "01", 1, "SUCCESS"),
                refund(NOON + 700, &partner, "02", 100, "PROCESSING"),
                refund(NOON + 800, &partner, "03", 150, "ABNORMAL"),
            ],
        };
        let file =
            String::from_utf8(trade_bill(&ledger, &day(), None, BillType::All).unwrap()).unwrap();
        let lines: Vec<&str> = file.split("\r\n").collect();
        let rows: Vec<Vec<&str>> = lines
            .iter()
            .filter_map(|l| l.strip_prefix('`'))
            .map(|l| l.split(",`").collect())
            .collect();
        // 7 data lines, the last of which is the footer's values
        let (footer, rows) = rows.split_last().unwrap();
        assert_eq!(rows.len(), 7);
        assert!(rows.iter().all(|r| r.len() == 27));
        assert_eq!(footer[0], "7.0");
        // 应结订单金额, 退款金额, 充值券退款金额, 手续费, 订单金额, 申请退款金额
        for (column, total) in [(12, 1), (16, 2), (17, 3), (22, 4), (24, 5), (25, 6)] {
            let sum: i64 = rows.iter().map(|r| fen(r[column])).sum();
            assert_eq!(sum, fen(footer[total]), "column {column}");
        }
        // fees: 2.50 → 0.015 → 0.02, 9999.99 → 59.99994 → 60.00, 0.03 and
        // 0.01 → 0. Refunds asked 0.01 + 1.00 + 1.50 = 2.51; only the
        // SUCCESS one (0.01, fee 0) reached the payer: 退款总金额 0.01, and
        // the PROCESSING and ABNORMAL ones give no fee back: 60.02.
        assert_eq!(
            footer[1..],
            ["10002.53", "0.01", "0.0", "60.02", "10002.53", "2.51"]
        );
        // the bill's refund states, and the sub-merchant in 特约商户号
        let states: Vec<&str> = rows
            .iter()
            .map(|r| r[19])
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(states, ["SUCCESS", "PROCESSING", "CHANGE"]);
        assert_eq!(rows.iter().filter(|r| r[3] == "1900000110").count(), 3);
    }

    #[test]
    fn bill_type_and_sub_mchid_choose_the_rows() {
        let partner = payment(NOON + 60, "92", 250, Some("1900000110"));
        let mut ledger = ledger();
        ledger.payments.push(partner.clone());
        ledger
            .refunds
            .push(refund(NOON + 90, &partner, "04", 50, "CLOSED"));
        let states = |bill_type, sub_mchid| -> Vec<String> {
            let Some(file) = trade_bill(&ledger, &day(), sub_mchid, bill_type) else {
                return Vec::new();
            };
            String::from_utf8(file)
                .unwrap()
                .split("\r\n")
                .filter(|l| l.starts_with('`') && l.contains(":"))
                .map(|l| l.split(",`").nth(9).unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            states(BillType::All, None),
            ["SUCCESS", "SUCCESS", "REFUND", "REFUND"]
        );
        assert_eq!(states(BillType::Success, None), ["SUCCESS", "SUCCESS"]);
        assert_eq!(states(BillType::Refund, None), ["REFUND", "REFUND"]);
        assert_eq!(
            states(BillType::All, Some("1900000110")),
            ["SUCCESS", "REFUND"]
        );
        assert!(states(BillType::All, Some("1900000111")).is_empty());
        assert!(states(BillType::RechargeRefund, None).is_empty());
        let quiet = Day::parse("2026-01-03").unwrap();
        assert_eq!(trade_bill(&ledger, &quiet, None, BillType::All), None);
    }

    #[test]
    fn the_node_plugins_parser_reads_our_bill() {
        // castCsvBill: drop 3 bytes, split on /\r?\n/, the last three are
        // the footer caption, the footer values and "".
        let file = trade_bill(&ledger(), &day(), None, BillType::All).unwrap();
        let text = std::str::from_utf8(&file[3..]).unwrap();
        let data: Vec<&str> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        let n = data.len();
        assert_eq!(data[0].split(',').next(), Some("交易时间"));
        assert_eq!(data[0].split(',').count(), 27);
        assert_eq!(data[n - 3].split(',').count(), 7);
        assert_eq!(data[n - 2], "`2.0,`12.34,`5.0,`0.0,`0.04,`12.34,`5.0");
        assert_eq!(data[n - 1], "");
        assert_eq!(data[1..n - 3].len(), 2);
    }

    #[test]
    fn days_are_china_days() {
        let day = day();
        assert_eq!(day.start, 1_767_196_800); // 2025-12-31T16:00:00Z
        assert!(day.contains(day.start) && day.contains(day.start + 86_399));
        assert!(!day.contains(day.start - 1) && !day.contains(day.start + 86_400));
        assert_eq!(
            Day::parse("2024-02-29").map(|d| d.compact()),
            Some("20240229".to_owned())
        );
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "20260101",
            "2026/01/01",
        ] {
            assert_eq!(Day::parse(bad), None, "{bad}");
        }
        assert_eq!(china_time(NOON), "2026-01-01 12:00:00");
    }

    #[test]
    fn amounts_and_fees() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(-150), "-1.50");
        assert_eq!(fee(0), "0.00000");
        assert_eq!(fee(-3), "-0.03000");
        assert_eq!(footer_amount(0), "0.0");
        assert_eq!(footer_amount(47), "0.47");
        assert_eq!(footer_amount(150), "1.5");
        assert_eq!(footer_amount(1000), "10.0");
        assert_eq!(footer_count(45), "45.0");
        assert_eq!(RATE, format!("{}.{:02}%", FEE_RATE / 100, FEE_RATE % 100));
        // 0.60%, half up: 0.83 → 0.00498 → 0.00; 0.84 → 0.00504 → 0.01
        assert_eq!((fee_on(83), fee_on(84), fee_on(250)), (0, 1, 2));
    }
}
