//! APIv2 on the mock: XML in, `sign` checked with the APIv2 key, signed XML
//! out. `pay/micropay` and `pay/orderquery` keep orders; every other APIv2
//! operation of the corpus answers SUCCESS with an echo.

use std::sync::Mutex;

use serde_json::{Map, Value};

use super::kept::{trailing_sequence, Kept, KEPT_ORDERS};
use crate::crypto::random_alphanumeric;
use crate::mock::wire::answer::Answer;
use crate::mock::wire::log::Note;
use crate::mock::wire::store::{Batch, Store};
use crate::v2::sign::{self, SignType};
use crate::v2::{rules, xml};

/// Micropay orders by `out_trade_no`: at most [`KEPT_ORDERS`], the oldest
/// goes first, like the APIv3 books.
pub(crate) struct V2Orders {
    orders: Mutex<V2Book>,
}

struct V2Book {
    orders: Kept<String, Map<String, Value>>,
    /// Numbers the `transaction_id`s, so that no two orders share one.
    next: u64,
}

impl Default for V2Orders {
    fn default() -> Self {
        V2Orders::with_limit(KEPT_ORDERS)
    }
}

/// The store's name for the micropay orders.
const KIND: &str = "v2_micropay";

/// The longest `out_trade_no` micropay takes: String(32) on WeChat Pay's
/// page (https://pay.weixin.qq.com/doc/v2/merchant/4011937125).
const MAX_OUT_TRADE_NO: usize = 32;

/// Where the 仿真 sandbox's calls live (`xdc/apiv2sandbox/pay/micropay`).
const SANDBOX_PREFIX: &str = "xdc/apiv2sandbox/";

/// The sandbox key the mock hands out: derived from the APIv2 key, so that
/// it is stable and differs from it.
pub(crate) fn sandbox_key(key: &str) -> String {
    openssl::hash::hash(
        openssl::hash::MessageDigest::md5(),
        format!("sandbox:{key}").as_bytes(),
    )
    .map(|digest| crate::hex::encode(&digest))
    .unwrap_or_default()
}

/// One APIv2 call as received.
pub(crate) struct Call<'a> {
    pub(crate) method: &'a str,
    /// No `v2/`, no leading slash.
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) body: &'a [u8],
    /// The mock's clock (Unix seconds): `time_end`, the transaction id's date.
    pub(crate) now: i64,
}

impl Call<'_> {
    /// The signed fields, where WeChat Pay reads them: the XML body, or
    /// for a GET the query string (and then no body).
    fn fields(&self) -> Result<Map<String, Value>, String> {
        if self.method != "GET" {
            return xml::parse(self.body).map_err(|e| format!("XML格式错误: {e}"));
        }
        if !self.body.is_empty() {
            return Err("GET请求不能带请求体，参数须在查询串中签名".to_owned());
        }
        let mut fields = Map::new();
        for (key, value) in url::form_urlencoded::parse(self.query.as_bytes()) {
            if fields
                .insert(key.clone().into_owned(), Value::String(value.into_owned()))
                .is_some()
            {
                return Err(format!("参数{key}重复"));
            }
        }
        Ok(fields)
    }
}

impl V2Orders {
    fn with_limit(limit: usize) -> Self {
        V2Orders {
            orders: Mutex::new(V2Book {
                orders: Kept::new(limit),
                next: 0,
            }),
        }
    }

    /// Keeps at most `limit` orders from now on (the retention setting).
    pub(crate) fn set_retention(&self, limit: usize) {
        if let Ok(mut book) = self.orders.lock() {
            book.orders.set_limit(limit);
        }
    }

    /// Notes changes from now on, for [`V2Orders::save`].
    pub(crate) fn track(&self) {
        if let Ok(mut book) = self.orders.lock() {
            book.orders.track();
        }
    }

    /// The orders changed or forgotten since the last save.
    pub(crate) fn save(&self, batch: &mut Batch) {
        if let Ok(mut book) = self.orders.lock() {
            book.orders.save_changes(KIND, batch);
        }
    }

    /// Rebuilds the book from the store.
    pub(crate) fn load(&self, store: &Store) -> Result<(), String> {
        let mut book = self.orders.lock().map_err(|_| "busy")?;
        book.orders.load(store, KIND)?;
        // transaction_id ends with the book's sequence number.
        let next = book
            .orders
            .iter()
            .filter_map(|(_, order)| order.get("transaction_id")?.as_str())
            .map(|id| trailing_sequence(id, 12))
            .max()
            .unwrap_or(0);
        book.next = book.next.max(next);
        Ok(())
    }

    /// Answers one APIv2 call.
    /// A `sign` that does not verify puts the string the mock signed, without
    /// `&key=…`, into `note`.
    pub(crate) fn serve(&self, call: &Call<'_>, key: &str, mchid: &str, note: &mut Note) -> Answer {
        // The 仿真 sandbox signs with the key getsignkey hands out.
        let sandbox = sandbox_key(key);
        let (path, key) = match call.path.strip_prefix(SANDBOX_PREFIX) {
            Some(rest) => (rest, sandbox.as_str()),
            None => (call.path, key),
        };
        let request = match call.fields() {
            Ok(fields) => fields,
            Err(message) => return fail(&message),
        };
        if text(&request, "sign").is_none() {
            return fail("缺少签名参数sign");
        }
        if !sign::verify(&request, key) {
            let signed = sign::string_to_sign(&request, "");
            let signed = signed.strip_suffix("&key=").unwrap_or(&signed);
            let which = match sandbox_key_used(call.path) {
                true => "the sandbox key getsignkey hands out",
                false => "the APIv2 key",
            };
            note.refused(
                &format!(
                    "return_code FAIL, 签名错误: `sign` does not match the fields the mock \
                     received, sorted and joined as below, then `&key=` and {which} (not shown)"
                ),
                Some(signed.as_bytes()),
            );
            return fail("签名错误");
        }
        if text(&request, "nonce_str").is_none() && !rules::may_be_nonceless(path) {
            return fail("缺少参数nonce_str");
        }
        if text(&request, "mch_id").is_some_and(|m| m != mchid) {
            return fail("mch_id参数错误");
        }
        let sign_type = SignType::from_field(text(&request, "sign_type"));
        let mut answer = Map::new();
        answer.insert("return_code".into(), "SUCCESS".into());
        answer.insert("return_msg".into(), "OK".into());
        for name in ["appid", "mch_id", "sub_mch_id", "device_info"] {
            if let Some(value) = request.get(name) {
                answer.insert(name.into(), value.clone());
            }
        }
        answer.insert(
            "nonce_str".into(),
            random_alphanumeric(16).unwrap_or_default().into(),
        );
        match path {
            "xdc/apiv2getsignkey/sign/getsignkey" => {
                answer.insert("sandbox_signkey".into(), Value::String(sandbox.clone()));
            }
            "pay/micropay" => self.micropay(&request, &mut answer, call.now),
            "pay/orderquery" => self.orderquery(&request, &mut answer),
            "pay/downloadbill" | "pay/downloadfundflow" => {
                return Answer::xml(
                    "交易时间,公众账号ID,商户号\n`2026-01-01 12:00:00,`wx1,`1900000109\n"
                        .to_owned(),
                )
            }
            _ => {
                answer.insert("result_code".into(), "SUCCESS".into());
                answer.insert("template".into(), Value::String(path.to_owned()));
                for (name, value) in &request {
                    if !["sign", "nonce_str", "sign_type"].contains(&name.as_str()) {
                        answer.entry(name.clone()).or_insert_with(|| value.clone());
                    }
                }
            }
        }
        if path == rules::JSON_RESPONSE {
            let mut json = Map::new();
            json.insert("retcode".into(), 0.into());
            json.insert("retmsg".into(), "OK".into());
            json.insert("template".into(), Value::String(path.to_owned()));
            return Answer::xml(Value::Object(json).to_string());
        }
        if !rules::is_unsigned(path) {
            if let Ok(signature) = sign::sign(&answer, key, sign_type) {
                answer.insert("sign".into(), Value::String(signature));
            }
        }
        Answer::xml(xml::write(&answer).unwrap_or_default())
    }

    fn micropay(&self, request: &Map<String, Value>, answer: &mut Map<String, Value>, now: i64) {
        let Some(no) = text(request, "out_trade_no") else {
            return business_fail(answer, "PARAM_ERROR", "缺少参数out_trade_no");
        };
        // "要求32个字符内，只能是数字、大小写字母_-|*" (the micropay page)
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"_-|*".contains(&b);
        if no.len() > MAX_OUT_TRADE_NO || !no.bytes().all(allowed) {
            return business_fail(
                answer,
                "PARAM_ERROR",
                "参数错误: out_trade_no 要求32个字符内，只能是数字、大小写字母_-|*",
            );
        }
        let Some(fee) =
            text(request, "total_fee").filter(|f| f.parse::<u64>().is_ok_and(|n| n > 0))
        else {
            return business_fail(answer, "PARAM_ERROR", "total_fee必须是正整数");
        };
        if text(request, "auth_code").is_none() {
            return business_fail(answer, "AUTH_CODE_INVALID", "付款码无效");
        }
        let Ok(mut book) = self.orders.lock() else {
            return business_fail(answer, "SYSTEMERROR", "系统错误");
        };
        book.next += 1;
        let now = crate::clock::compact(now);
        let mut order = Map::new();
        order.insert("out_trade_no".into(), no.into());
        order.insert("total_fee".into(), fee.into());
        // 28 digits as the APIv3 ids, a 9 before the count so that the two
        // never meet
        order.insert(
            "transaction_id".into(),
            format!("4200000{}9{:012}", &now[..8], book.next).into(),
        );
        order.insert("trade_type".into(), "MICROPAY".into());
        order.insert("openid".into(), "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into());
        order.insert("bank_type".into(), "OTHERS".into());
        order.insert("fee_type".into(), "CNY".into());
        order.insert("cash_fee".into(), fee.into());
        order.insert("time_end".into(), now.into());
        answer.insert("result_code".into(), "SUCCESS".into());
        answer.extend(order.clone());
        book.orders.insert(no.to_owned(), order);
    }

    fn orderquery(&self, request: &Map<String, Value>, answer: &mut Map<String, Value>) {
        let no = text(request, "out_trade_no").unwrap_or_default();
        match self
            .orders
            .lock()
            .ok()
            .and_then(|book| book.orders.get(&no.to_owned()).cloned())
        {
            Some(order) => {
                answer.insert("result_code".into(), "SUCCESS".into());
                answer.extend(order);
                answer.insert("trade_state".into(), "SUCCESS".into());
                answer.insert("trade_state_desc".into(), "支付成功".into());
            }
            None => business_fail(answer, "ORDERNOTEXIST", "此交易订单号不存在"),
        }
    }
}

fn sandbox_key_used(path: &str) -> bool {
    path.starts_with(SANDBOX_PREFIX)
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str)
}

fn business_fail(answer: &mut Map<String, Value>, code: &str, description: &str) {
    answer.insert("result_code".into(), "FAIL".into());
    answer.insert("err_code".into(), code.into());
    answer.insert("err_code_des".into(), description.into());
}

/// Longest `return_msg` (characters): a message may quote the request.
const MAX_RETURN_MSG: usize = 256;

/// `return_code` FAIL: unsigned, as WeChat Pay sends it. The message may
/// quote the request, so it is cut, and a character XML cannot carry is
/// replaced (U+FFFD): a refusal is always a FAIL document, never empty.
fn fail(message: &str) -> Answer {
    let mut text: String = message
        .chars()
        .take(MAX_RETURN_MSG)
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c.is_control() => char::REPLACEMENT_CHARACTER,
            c => c,
        })
        .collect();
    if message.chars().nth(MAX_RETURN_MSG).is_some() {
        text.push('…');
    }
    let mut answer = Map::new();
    answer.insert("return_code".into(), "FAIL".into());
    answer.insert("return_msg".into(), text.into());
    let document = xml::write(&answer).unwrap_or_else(|_| {
        "<xml><return_code>FAIL</return_code><return_msg>参数错误</return_msg></xml>".to_owned()
    });
    Answer::xml(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pay(orders: &V2Orders, no: &str) -> Map<String, Value> {
        let mut request = Map::new();
        for (name, value) in [("out_trade_no", no), ("total_fee", "1"), ("auth_code", "1")] {
            request.insert(name.into(), value.into());
        }
        let mut answer = Map::new();
        // 2026-01-01 12:00 China time on the mock's clock.
        orders.micropay(&request, &mut answer, 1_767_240_000);
        answer
    }

    #[test]
    fn time_end_and_the_transaction_id_read_the_given_clock() {
        let answer = pay(&V2Orders::default(), "V2CLOCK01");
        assert_eq!(answer["time_end"], "20260101120000");
        assert!(answer["transaction_id"]
            .as_str()
            .unwrap()
            .starts_with("420000020260101"));
    }

    /// Issue 26, defect 5: micropay orders were kept without bound. Like the
    /// APIv3 books: the oldest goes first, and orderquery no longer finds it.
    #[test]
    fn micropay_orders_are_bounded_and_ids_unique() {
        let orders = V2Orders::with_limit(2);
        let ids: Vec<Value> = ["V2BOUND01", "V2BOUND02", "V2BOUND03"]
            .iter()
            .map(|no| pay(&orders, no)["transaction_id"].clone())
            .collect();
        assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
        let book = orders.orders.lock().unwrap();
        assert_eq!(book.orders.len(), 2);
        assert!(book.orders.get(&"V2BOUND01".to_owned()).is_none());
        assert!(book.orders.get(&"V2BOUND03".to_owned()).is_some());
    }
}
