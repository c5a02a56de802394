/*
 * The status page talking to the dispatcher: the ManagementToken the operator
 * typed, kept only in this tab's sessionStorage and sent only in the
 * Authorization header (never in a URL); calls to the management API
 * (ARVADOS.md section 7), their errors in words; and the controller's health,
 * the event feed and spot reclaims, read from the dispatcher's own
 * /metrics.json.
 */
'use strict';
(function () {
  var ds = window.dispatchStatus;
  var str = ds.str;
  var TOKEN_KEY = 'arvados-dispatch-cloud.management-token';
  var API = 'arvados/v1/dispatch/';

  function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; } }
  function setToken(t) {
    try { if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ }
  }

  function apiError(res, body) {
    if (res.status === 401) return 'The API wants a token (401): type the cluster\'s ManagementToken above.';
    if (res.status === 403) return 'The API refused this token (403): it is not the ManagementToken (or none is configured).';
    var detail = '';
    try { var j = JSON.parse(body); detail = (j.errors && j.errors.join('; ')) || j.error || ''; } catch (e) { detail = body.slice(0, 200); }
    return 'HTTP ' + res.status + (detail ? ': ' + detail : '');
  }

  function call(method, path) {
    return fetch(new URL(API + path, document.baseURI), {
      method: method,
      headers: { 'Authorization': 'Bearer ' + token(), 'Accept': 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    }).then(function (res) {
      return res.text().then(function (body) {
        if (!res.ok) { var err = new Error(apiError(res, body)); err.status = res.status; throw err; }
        return body ? JSON.parse(body) : {};
      });
    });
  }

  // ---------- controller health ----------
  // From the dispatcher's own /metrics.json (same token): why fewer
  // containers may run than the cloud allows. When it cannot be read (an
  // older dispatcher, a proxy that hides it) the card is left out.
  function loadController() {
    return fetch(new URL('metrics.json', document.baseURI), {
      headers: { 'Authorization': 'Bearer ' + token(), 'Accept': 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    }).then(function (res) { return res.ok ? res.json() : null; }).catch(function () { return null; });
  }
  function gauge(families, name, labelName) {
    var f = (families || []).filter(function (x) { return x && x.name === 'arvados_dispatchcloud_' + name; })[0];
    if (!f || !f.metric) return undefined;
    if (!labelName) return f.metric[0] && f.metric[0].gauge ? Number(f.metric[0].gauge.value) : undefined;
    var on = f.metric.filter(function (m) { return m.gauge && Number(m.gauge.value) === 1; })[0];
    var l = on && (on.label || []).filter(function (x) { return x.name === labelName; })[0];
    return l ? str(l.value) : undefined;
  }
  function controllerOf(families) {
    if (!Array.isArray(families)) return null;
    var limit = gauge(families, 'max_concurrent_containers');
    if (limit === undefined) return null;
    return {
      limit: limit, last503: gauge(families, 'last_503_time'), state: gauge(families, 'controller_state', 'state') || 'normal',
      feed: gauge(families, 'event_feed_state', 'state'),
      feedToken: gauge(families, 'event_feed_token', 'state'),
      feedEvents: counter(families, 'event_feed_messages_total', 'kind', 'container'),
      feedRefreshes: counter(families, 'event_feed_refreshes_total', 'kind', 'refresh'),
      feedDeaf: counter(families, 'event_feed_deaf_total'),
      costPerHour: gauge(families, 'cost_per_hour_dollars'),
      reclaims: reclaimsOf(families),
      capSoft: labelled(families, 'spending_cap_dollars_per_hour', 'level', 'soft'),
      capHard: labelled(families, 'spending_cap_dollars_per_hour', 'level', 'hard'),
      forecast: gauge(families, 'spend_forecast_dollars'),
      startsHeld: gauge(families, 'start_breaker_open') === 1
        ? { held: gauge(families, 'start_breaker_held_containers') || 0, trials: counter(families, 'start_breaker_trials_total') || 0 }
        : null,
    };
  }
  // Spot reclaims: per instance type and zone, with the containers lost and
  // each type's recent share of VMs reclaimed (what the ranking reads).
  function reclaimsOf(families) {
    function series(name) {
      var f = families.filter(function (x) { return x && x.name === 'arvados_dispatchcloud_' + name; })[0];
      return (f && f.metric) || [];
    }
    function label(m, name) {
      var l = (m.label || []).filter(function (x) { return x.name === name; })[0];
      return l ? str(l.value) : '';
    }
    var rows = {}, total = 0;
    series('instances_reclaimed_total').forEach(function (m) {
      var n = m.counter ? Number(m.counter.value) : 0;
      var key = label(m, 'instance_type') + (label(m, 'zone') ? ' @ ' + label(m, 'zone') : '');
      rows[key] = { vms: n, containers: 0 };
      total += n;
    });
    series('containers_lost_to_reclaims_total').forEach(function (m) {
      var key = label(m, 'instance_type') + (label(m, 'zone') ? ' @ ' + label(m, 'zone') : '');
      if (rows[key] && m.counter) rows[key].containers = Number(m.counter.value);
    });
    var rates = series('instance_type_reclaim_rate').map(function (m) {
      return { type: label(m, 'instance_type'), rate: m.gauge ? Number(m.gauge.value) : 0 };
    });
    return { total: total, rows: rows, rates: rates };
  }
  // A gauge's value for one label value (spending cap levels).
  function labelled(families, name, labelName, labelValue) {
    var m = sampleWith(families, name, labelName, labelValue);
    return m && m.gauge ? Number(m.gauge.value) : undefined;
  }
  function sampleWith(families, name, labelName, labelValue) {
    var f = (families || []).filter(function (x) { return x && x.name === 'arvados_dispatchcloud_' + name; })[0];
    return f && (f.metric || []).filter(function (m) {
      if (labelName === undefined) return true;
      return (m.label || []).some(function (l) { return l.name === labelName && l.value === labelValue; });
    })[0];
  }
  function counter(families, name, labelName, labelValue) {
    var m = sampleWith(families, name, labelName, labelValue);
    return m && m.counter ? Number(m.counter.value) : undefined;
  }

  ds.token = token;
  ds.setToken = setToken;
  ds.call = call;
  ds.loadController = loadController;
  ds.controllerOf = controllerOf;
})();
