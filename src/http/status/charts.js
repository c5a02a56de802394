/*
 * The status page's charts of the last hours, drawn with uPlot (loaded just
 * before this file, from the daemon itself) from the dispatcher's history
 * (GET arvados/v1/dispatch/history, with the token the page keeps in this
 * tab's sessionStorage: api.js's `token`, loaded before this file).
 *
 * This script keeps no timers and reads no clock of its own: the page's
 * script tells it when it has refreshed (the 'dispatch-status:refreshed'
 * event, with the page's time) and when the token is forgotten
 * ('dispatch-status:cleared'). It fetches the history again once a new
 * sample may be there (one sample interval after the last fetch), so the
 * charts follow the page's refresh and its "pause refresh" box.
 *
 * Labels and titles are set by uPlot and here through textContent only: the
 * page's Content-Security-Policy allows scripts and styles from the daemon
 * itself, never inline markup from data.
 */
'use strict';
(function () {
  var token = window.dispatchStatus.token;
  var HISTORY = 'arvados/v1/dispatch/history';
  var HEIGHT = 170;

  function count(v) { return String(Math.round(v)); }
  function duration(v) {
    if (v < 90) return Math.round(v) + 's';
    if (v < 5400) return Math.round(v / 60) + 'm';
    return (v / 3600).toFixed(v < 36000 ? 1 : 0) + 'h';
  }
  function dollars(v) { return '$' + v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2); }
  function perMinute(v) { return String(+v.toFixed(v >= 10 ? 0 : v >= 1 ? 1 : 2)); }

  // Each chart: a group of the history's series, in its order, with a colour
  // and a legend label per series. Counts get whole-number ticks, waits
  // ticks at round durations.
  var CHARTS = [
    { group: 'vms', title: 'VMs by state', fmt: count, whole: true, series: [
      ['inuse', 'in use', '#1b7a2f'], ['idle', 'idle', '#268bd2'], ['booting', 'booting', '#b58900'],
      ['hold', 'hold', '#d33682'], ['unknown', 'unknown', '#8a8f98']] },
    { group: 'containers', title: 'Containers by state', fmt: count, whole: true, series: [
      ['Queued', 'queued', '#8a8f98'], ['Locked', 'locked', '#b58900'], ['Running', 'running', '#1b7a2f']] },
    { group: 'queue_wait_seconds', title: 'Queue wait', fmt: duration, incrs: [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400], series: [
      ['longest', 'longest waiting now', '#cb4b16'], ['started_median', 'median of those started', '#268bd2']] },
    { group: 'cost_per_hour_dollars', title: 'Cost per hour', fmt: dollars, series: [
      ['total', 'VMs alive', '#6c71c4']] },
    { group: 'cloud_errors_per_minute', title: 'Cloud errors per minute', fmt: perMinute, series: [
      ['rate_limit', 'rate limit', '#b58900'], ['quota', 'quota', '#d33682'], ['capacity', 'capacity', '#6c71c4'], ['other', 'other', '#b00020']] },
    { group: 'controller_errors_per_minute', title: 'Controller errors per minute', fmt: perMinute, series: [
      ['overload', 'overload (503, 429)', '#cb4b16'], ['failed', 'no answer', '#b00020']] },
  ];

  var root = document.getElementById('charts');
  var note = document.getElementById('charts-note');
  if (!root || typeof uPlot !== 'function') return;

  var plots = [];
  var fetchedAt = -Infinity;
  var intervalMs = 30000;
  var loading = false;

  function options(c, width) {
    return {
      width: width,
      height: HEIGHT,
      // From the first sample to the last; a young history still spans ten
      // minutes, its samples at the right (uPlot would stretch one sample's
      // scale to a thousand days).
      scales: { x: { time: true, range: function (u, min, max) {
        var t = u.data[0];
        if (!t.length) return [min, max];
        var lo = t[0], hi = t[t.length - 1];
        return hi - lo < 600 ? [hi - 600, hi] : [lo, hi];
      } }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.15 : 1]; } } },
      series: [{}].concat(c.series.map(function (s) {
        return {
          label: s[1], stroke: s[2], width: 1.5,
          value: function (u, v) { return v === null || v === undefined ? '\u2013' : c.fmt(v); },
        };
      })),
      axes: [
        { stroke: '#666', grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' } },
        { stroke: '#666', grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' }, size: 52,
          incrs: c.whole ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] : c.incrs,
          values: function (u, vals) { return vals.map(function (v) { return c.fmt(v); }); } },
      ],
      cursor: { drag: { x: false, y: false } },
      legend: { show: true },
      hooks: { ready: [showLatest], setData: [showLatest] },
    };
  }

  function dataOf(c, h) {
    var g = (h.series && h.series[c.group]) || {};
    return [h.times || []].concat(c.series.map(function (s) { return g[s[0]] || []; }));
  }

  function plotWidth(box) { return Math.max(240, box.clientWidth); }

  function draw(h) {
    intervalMs = Math.max(1000, Number(h.interval_seconds) * 1000 || intervalMs);
    var span = (Number(h.interval_seconds) * Number(h.max_samples)) / 3600;
    if (note) note.textContent = 'one sample every ' + h.interval_seconds + ' s, the last ' + (isFinite(span) ? +span.toFixed(1) : '?') + ' h kept' +
      ((h.times || []).length ? '' : ' (no sample yet)');
    if (!plots.length) {
      CHARTS.forEach(function (c) {
        var fig = document.createElement('figure');
        fig.className = 'chart';
        fig.dataset.group = c.group;
        var cap = document.createElement('figcaption');
        cap.textContent = c.title;
        var box = document.createElement('div');
        box.className = 'plot';
        fig.appendChild(cap);
        fig.appendChild(box);
        root.appendChild(fig);
        var p = { chart: c, box: box, plot: new uPlot(options(c, plotWidth(box)), dataOf(c, h), box) };
        box.addEventListener('mouseleave', function () { showLatest(p.plot); });
        plots.push(p);
      });
    } else {
      plots.forEach(function (p) { p.plot.setData(dataOf(p.chart, h)); });
    }
  }

  // Until the pointer is over a chart, its legend shows the latest sample.
  function showLatest(u) {
    var n = u.data[0].length;
    if (n && !(u.cursor.left >= 0)) u.setLegend({ idx: n - 1 });
  }

  function clear() {
    plots.forEach(function (p) { p.plot.destroy(); });
    plots = [];
    root.replaceChildren();
    if (note) note.textContent = '';
    fetchedAt = -Infinity;
  }

  function load(now) {
    if (loading || !token()) return;
    loading = true;
    fetch(new URL(HISTORY, document.baseURI), {
      headers: { 'Authorization': 'Bearer ' + token(), 'Accept': 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    }).then(function (res) {
      // A dispatcher without a history (an older version) answers 404: no charts, no error.
      if (res.status === 404) {
        clear();
        if (note) note.textContent = 'this dispatcher keeps no history';
        fetchedAt = now;
        return null;
      }
      return res.ok ? res.json() : null;
    }).then(function (h) {
      if (h) { draw(h); fetchedAt = now; }
    }).catch(function () { /* the page's own refresh reports trouble reaching the API */ }).then(function () {
      loading = false;
    });
  }

  document.addEventListener('dispatch-status:refreshed', function (ev) {
    var now = ev.detail && Number(ev.detail.now);
    if (!isFinite(now)) return;
    if (now - fetchedAt >= intervalMs) load(now);
  });
  document.addEventListener('dispatch-status:cleared', clear);
  window.addEventListener('resize', function () {
    plots.forEach(function (p) { p.plot.setSize({ width: plotWidth(p.box), height: HEIGHT }); });
  });
})();
