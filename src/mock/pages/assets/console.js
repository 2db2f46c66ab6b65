// The mock's pages, with JavaScript on: row and cashier buttons post to the
// /_mock/ controls without leaving the page, and the console's tables stay
// live. Everything here is optional: the server renders every table.
(function () {
  'use strict';
  var status = document.getElementById('status');
  function say(text) { if (status) { status.textContent = text; } }
  // The language the page shows (?lang=zh, ?lang=en, or both): status
  // lines are written in it.
  var shown = document.documentElement.getAttribute('data-show') || 'both';
  function words(zh, en) {
    return shown === 'en' ? en : shown === 'zh' ? zh : zh + ' ' + en;
  }
  // A button's label in the shown language (its spans hold both).
  function labelOf(button) {
    var part = shown === 'both' ? null : button.querySelector('[lang="' + shown + '"]');
    return (part || button).textContent.trim();
  }

  // The mock's messages read `中文: English …`: in English, the English.
  function inShown(message) {
    var cut = message.indexOf(': ');
    if (shown !== 'en' || cut < 0 || !/[\u3400-\u9fff]/.test(message.slice(0, cut))) { return message; }
    return message.slice(cut + 2);
  }

  // The control's error as one line: `CODE message`.
  function reason(response, text) {
    try {
      var error = JSON.parse(text);
      if (error.code) { return response.status + ' ' + error.code + ' ' + inShown(error.message || ''); }
    } catch (ignored) { /* not JSON */ }
    return response.status + ' ' + text.slice(0, 200);
  }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!form.hasAttribute('data-fetch')) { return; }
    event.preventDefault();
    var button = form.querySelector('button');
    if (button) { button.disabled = true; }
    fetch(form.action, { method: 'POST', headers: { Accept: 'application/json' } })
      .then(function (response) {
        return response.text().then(function (text) {
          if (!response.ok) { throw new Error(reason(response, text)); }
          var then = form.getAttribute('data-then');
          if (then) { window.location.assign(then); return; }
          say(words('完成', 'OK') + ': ' + (button ? labelOf(button) : form.action));
          return document.querySelector('[data-live]') ? refresh() : window.location.reload();
        });
      })
      .catch(function (error) { say(error.message); })
      .then(function () { if (button) { button.disabled = false; } });
  });

  // Live tables: refetch the page, swap the sections whose server HTML
  // changed, and give focus back to the same button if it was replaced.
  var sections = document.querySelectorAll('section[data-live]');
  if (!sections.length) { return; }
  var served = {};
  sections.forEach(function (section) { served[section.id] = section.innerHTML; });
  var live = true;
  var toggle = document.getElementById('live');
  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener('click', function () {
      live = !live;
      toggle.setAttribute('aria-pressed', String(live));
    });
  }

  function refresh() {
    return fetch(window.location.href, { cache: 'no-store', headers: { Accept: 'text/html' } })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, 'text/html');
        next.querySelectorAll('section[data-live]').forEach(function (fresh) {
          var current = document.getElementById(fresh.id);
          if (!current || served[fresh.id] === fresh.innerHTML) { return; }
          served[fresh.id] = fresh.innerHTML;
          var focused = document.activeElement;
          var key = focused && focused.getAttribute('data-action');
          current.innerHTML = fresh.innerHTML;
          if (key) {
            var again = current.querySelector('[data-action="' + CSS.escape(key) + '"]');
            if (again) { again.focus(); }
          }
        });
      })
      .catch(function () { say(words('… 模拟服务没有应答', '… the mock does not answer')); });
  }

  window.setInterval(function () { if (live && !document.hidden) { refresh(); } }, 2000);
}());
