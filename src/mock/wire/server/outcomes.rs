//! What a trigger (wire/triggers.rs) makes happen after the flow answered:
//! a refund marked `ABNORMAL` ends ABNORMAL as soon as it is accepted.

use serde_json::Value;

use super::Shared;
use crate::mock::flows::refunds::RefundOutcome;
use crate::mock::wire::answer::Answer;
use crate::mock::wire::triggers::marked;

impl Shared {
    /// The outcomes a trigger chooses after the flow answered: a refund
    /// marked `ABNORMAL` ends ABNORMAL as soon as it is accepted.
    pub(crate) fn follow_triggers(
        &self,
        method: &str,
        template: &str,
        body: &[u8],
        answer: &Answer,
    ) {
        if (method, template) != ("POST", "v3/refund/domestic/refunds") || answer.status != 200 {
            return;
        }
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let Some(no) = request.get("out_refund_no").and_then(Value::as_str) else {
            return;
        };
        if !marked(no, "ABNORMAL") {
            return;
        }
        let sub = request
            .get("sub_mchid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mchid = self.keys.credentials.mchid;
        let resolved = {
            // payments before refunds, always
            let (Ok(mut payments), Ok(mut refunds)) = (self.payments.lock(), self.refunds.lock())
            else {
                return;
            };
            let outcome = RefundOutcome::Abnormal;
            refunds.resolve(&mut payments, sub, no, outcome, mchid, self.clock.now())
        };
        if let Ok((_, Some(event))) = resolved {
            self.notifier.send(event);
        }
    }
}
