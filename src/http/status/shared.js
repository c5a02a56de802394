/*
 * What every script of the status page shares; index.html loads it before
 * the others. The page's scripts are plain scripts (no modules, no build
 * step): each is a function scope of its own that takes what it uses from,
 * and adds what it offers to, one global object, window.dispatchStatus. This
 * one creates it with the state of the last refresh and the small DOM and
 * formatting helpers.
 *
 * Everything that comes from the API (container fields are set by users) is
 * put on the page with el() and other textContent / DOM properties, never
 * parsed as markup.
 *
 * These scripts run in the browser, on the browser's clock, not the daemon's:
 * the house rule against raw timers (test/lint/no-raw-timers.test.ts) is about
 * daemon code and leaves src/http/status/ out.
 */
'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var state = {
    instances: [], containers: [], controller: null,
    // When this browser first saw each VM in its current state: the API has no
    // "state since", so "state seen for" is a lower bound measured here.
    seenSince: new Map(),
    timer: 0, loading: false, authProblem: false,
  };

  function say(text, kind) {
    var m = $('message');
    m.textContent = text;
    m.className = kind || '';
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function str(v) { return v === undefined || v === null ? '' : String(v); }
  function cssToken(v) { return str(v).replace(/[^A-Za-z0-9_-]/g, ''); }

  function money(p) {
    var n = Number(p);
    return isFinite(n) ? '$' + n.toFixed(n >= 100 ? 0 : 3) : '';
  }

  // Go's zero time ("0001-01-01T00:00:00Z") and unparsable values mean "never".
  function parseTime(s) {
    var t = Date.parse(str(s));
    return isFinite(t) && t > 946684800000 ? t : NaN;
  }
  function ago(ms) {
    if (!isFinite(ms)) return '';
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 90) return s + 's';
    var m = Math.round(s / 60);
    if (m < 90) return m + 'm';
    var h = Math.floor(m / 60);
    if (h < 48) return h + 'h' + String(m % 60).padStart(2, '0') + 'm';
    return Math.floor(h / 24) + 'd' + (h % 24) + 'h';
  }

  window.dispatchStatus = {
    $: $, state: state, say: say, el: el, str: str, cssToken: cssToken, money: money, parseTime: parseTime, ago: ago,
  };
})();
