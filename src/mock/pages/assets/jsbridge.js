// A stand-in for WeChat's WeixinJSBridge, served by the mock WeChat Pay at
// /_mock/jsbridge.js, for trying a JSAPI payment page in any browser:
//
//   <script src="http://127.0.0.1:PORT/_mock/jsbridge.js"></script>
//
// invoke('getBrandWCPayRequest', params, callback) asks the mock to check
// the parameters (POST /_mock/invocations, "user": "looks"), shows a payment
// sheet with the order's amount, and on "pay" asks the mock to pay
// ("user": "pays"). The callback gets {err_msg: "get_brand_wcpay_request:ok"},
// ":cancel" or ":fail" (with err_desc), as inside WeChat.
//
// invoke('requestMerchantTransfer', {mchId, appId, package, subMchId?,
// openId?}, callback) opens a transfer bill's confirm page the same way
// ("user": "looks", then "confirms"): the callback gets
// {err_msg: "requestMerchantTransfer:ok"} once the payee confirmed,
// ":cancel" when the page is closed (the bill still waits), ":fail" (with
// err_desc, e.g. 你的微信号与商家指定的微信号不一致) when WeChat refuses the
// parameters. Load it only in development: it is not WeChat, and it pays
// nothing.
(function () {
  'use strict';
  if (window.WeixinJSBridge) { return; }
  var script = document.currentScript;
  var base = new URL('.', script ? script.src : window.location.href).href;
  var PAY = 'getBrandWCPayRequest';
  var PREFIX = 'get_brand_wcpay_request';
  var TRANSFER = 'requestMerchantTransfer';

  function ask(params, user, api) {
    // text/plain keeps it a CORS "simple" request: no preflight.
    return fetch(base + 'invocations', {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify({ api: api || PAY, params: params, user: user })
    }).then(function (response) {
      return response.text().then(function (text) {
        var answer = {};
        try { answer = JSON.parse(text); } catch (ignored) { /* not JSON */ }
        if (!response.ok) {
          throw new Error(response.status + ' ' + (answer.code || '') + ' ' + (answer.message || text.slice(0, 200)));
        }
        return answer;
      });
    });
  }

  function yuan(fen) {
    return typeof fen === 'number' ? '¥' + (fen / 100).toFixed(2) : '';
  }

  // The payment sheet: amount, description, pay and cancel; Escape cancels.
  function sheet(order, choose) {
    open({ title: '微信支付（模拟） WeChat Pay (mock)', fen: order.amount && order.amount.total,
      text: order.description || '', ok: ['wxpay-mock-pay', '支付 Pay', 'pay'],
      no: ['wxpay-mock-cancel', '取消 Cancel', 'cancel'] }, choose);
  }

  // A transfer bill's confirm page: amount, remark, confirm and close.
  function confirmPage(bill, choose) {
    open({ title: '确认收款（模拟） Confirm receipt (mock)', fen: bill.transfer_amount,
      text: bill.transfer_remark || '', ok: ['wxpay-mock-confirm', '确认收款 Confirm', 'confirm'],
      no: ['wxpay-mock-decline', '关闭 Close', 'cancel'] }, choose);
  }

  function open(spec, choose) {
    var shade = document.createElement('div');
    shade.id = 'wxpay-mock-sheet';
    shade.setAttribute('role', 'dialog');
    shade.setAttribute('aria-modal', 'true');
    shade.setAttribute('aria-label', spec.title);
    shade.style.cssText = 'position:fixed;inset:0;background:rgba(0,0,0,.5);display:flex;align-items:flex-end;justify-content:center;z-index:2147483647;font:16px system-ui,sans-serif';
    var panel = document.createElement('div');
    panel.style.cssText = 'background:#fff;width:100%;max-width:480px;padding:24px;border-radius:12px 12px 0 0;text-align:center';
    var title = document.createElement('p');
    title.textContent = spec.title;
    var amount = document.createElement('p');
    amount.id = 'wxpay-mock-amount';
    amount.style.cssText = 'font-size:32px;font-weight:600;margin:8px 0';
    amount.textContent = yuan(spec.fen);
    var description = document.createElement('p');
    description.id = 'wxpay-mock-text';
    description.textContent = spec.text;
    panel.appendChild(title);
    panel.appendChild(amount);
    panel.appendChild(description);
    function button(id, text, primary, choice) {
      var b = document.createElement('button');
      b.type = 'button';
      b.id = id;
      b.textContent = text;
      b.style.cssText = 'font:inherit;margin:8px;padding:8px 24px;border-radius:6px;border:1px solid #07c160;' +
        (primary ? 'background:#07c160;color:#fff' : 'background:#fff;color:#1a1a1a');
      b.addEventListener('click', function () { close(choice); });
      panel.appendChild(b);
      return b;
    }
    function close(choice) {
      document.removeEventListener('keydown', escape, true);
      shade.remove();
      choose(choice);
    }
    function escape(event) { if (event.key === 'Escape') { event.preventDefault(); close('cancel'); } }
    var pay = button(spec.ok[0], spec.ok[1], true, spec.ok[2]);
    button(spec.no[0], spec.no[1], false, spec.no[2]);
    shade.appendChild(panel);
    document.body.appendChild(shade);
    document.addEventListener('keydown', escape, true);
    pay.focus();
  }

  function transfer(params, answer) {
    function fail(error) { answer({ err_msg: TRANSFER + ':fail', err_desc: error.message }); }
    ask(params, 'looks', TRANSFER).then(function (looked) {
      confirmPage(looked.bill || {}, function (choice) {
        if (choice === 'cancel') { answer({ err_msg: TRANSFER + ':cancel' }); return; }
        ask(params, 'confirms', TRANSFER).then(function () { answer({ err_msg: TRANSFER + ':ok' }); }, fail);
      });
    }, fail);
  }

  function invoke(api, params, callback) {
    var answer = typeof callback === 'function' ? callback : function () {};
    function fail(error) { answer({ err_msg: PREFIX + ':fail', err_desc: error.message }); }
    if (api === TRANSFER) { transfer(params, answer); return; }
    if (api !== PAY) {
      window.setTimeout(function () {
        answer({ err_msg: api + ':fail', err_desc: 'the mock simulates getBrandWCPayRequest and requestMerchantTransfer only' });
      }, 0);
      return;
    }
    ask(params, 'looks').then(function (looked) {
      sheet(looked.order || {}, function (choice) {
        if (choice === 'cancel') { answer({ err_msg: PREFIX + ':cancel' }); return; }
        ask(params, 'pays').then(function () { answer({ err_msg: PREFIX + ':ok' }); }, fail);
      });
    }, fail);
  }

  window.WeixinJSBridge = { invoke: invoke, on: function () {}, call: function () {} };

  // Pages wait for this event when the bridge was not there yet; fire it
  // once their own scripts have run.
  function ready() { document.dispatchEvent(new Event('WeixinJSBridgeReady')); }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', function () { window.setTimeout(ready, 0); });
  } else {
    window.setTimeout(ready, 0);
  }
}());
