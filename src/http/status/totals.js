/*
 * The status page's Totals: a card each for the VMs by state and by idle
 * behaviour, the cost per hour, the queue, the containers on VMs, and (when
 * the dispatcher's /metrics.json could be read, see api.js) new locks held
 * by the start breaker, the controller, the event feed and spot reclaims.
 */
'use strict';
(function () {
  var ds = window.dispatchStatus;
  var $ = ds.$, state = ds.state, el = ds.el, cssToken = ds.cssToken, money = ds.money, ago = ds.ago;

  function countBy(list, key) {
    var m = new Map();
    list.forEach(function (x) { var k = key(x) || '?'; m.set(k, (m.get(k) || 0) + 1); });
    return Array.from(m.entries()).sort(function (a, b) { return b[1] - a[1]; })
      .map(function (e) { return e[0] + ': ' + e[1]; }).join('\n');
  }
  function card(id, title, big, small) {
    var c = el('div', null, 'card'); c.id = id;
    c.appendChild(el('div', title, 'small'));
    c.appendChild(el('div', big, 'big'));
    if (small) c.appendChild(el('div', small, 'small'));
    return c;
  }
  function reclaimCard() {
    var r = state.controller && state.controller.reclaims;
    if (!r || r.total === 0) return null;
    var lines = Object.keys(r.rows).sort().map(function (k) {
      return k + ': ' + r.rows[k].vms + ' VMs, ' + r.rows[k].containers + ' containers lost';
    });
    r.rates.forEach(function (x) { lines.push(x.type + ' recently reclaimed: ' + Math.round(x.rate * 100) + '%'); });
    return card('total-reclaims', 'spot reclaims', r.total, lines.join('\n'));
  }
  // The spending cap under the cost (settings SpendingCap): only when a level is set.
  function capNote() {
    var c = state.controller;
    if (!c || !(c.capSoft > 0 || c.capHard > 0)) return '';
    var levels = [];
    if (c.capSoft > 0) levels.push('soft ' + money(c.capSoft) + '/h');
    if (c.capHard > 0) levels.push('hard ' + money(c.capHard) + '/h');
    return '\nspending cap: ' + levels.join(', ') + (typeof c.forecast === 'number' && isFinite(c.forecast) ? '\nforecast today: ' + money(c.forecast) : '');
  }
  var FEED_WHY = {
    disabled: 'no Services.Websocket.ExternalURL (or turned off in the settings file): new containers wait for the next poll',
    connecting: 'connecting; polling meanwhile',
    unavailable: 'down: dispatching from polls only, retrying',
    stopped: 'stopped',
  };
  var FEED_TOKEN = {
    own: 'token: its own, read-only, renewed hourly',
    root: 'token: the SystemRootToken (arvados-ws and its proxy log it)',
  };
  function feedCard() {
    var c = state.controller;
    if (!c || !c.feed) return null;
    var lines = [];
    if (FEED_WHY[c.feed]) lines.push(FEED_WHY[c.feed]);
    if (c.feed !== 'disabled') lines.push('container events: ' + (c.feedEvents || 0) + ', refreshes: ' + (c.feedRefreshes || 0));
    if (c.feedDeaf) lines.push('found deaf ' + c.feedDeaf + ' times (connected, no event while polls found new containers): reconnected');
    if (FEED_TOKEN[c.feedToken]) lines.push(FEED_TOKEN[c.feedToken]);
    var k = card('total-feed', 'event feed', c.feed, lines.join('\n'));
    k.className += ' feed-' + cssToken(c.feed);
    return k;
  }
  var CONTROLLER_WHY = {
    normal: '',
    outage: 'every request failing: limit held until it answers',
    overload: '503s while other requests succeed: limit cut, regrows once quiet',
  };
  function controllerCard(now) {
    var c = state.controller;
    if (!c) return null;
    var last = c.last503 > 0 ? ago(now - c.last503 * 1000) + ' ago' : 'never';
    var lines = ['concurrency limit: ' + (c.limit > 0 ? c.limit : 'none'), 'last 503: ' + last];
    if (CONTROLLER_WHY[c.state]) lines.push(CONTROLLER_WHY[c.state]);
    var k = card('total-controller', 'controller', c.state, lines.join('\n'));
    k.className += ' ctl-' + cssToken(c.state);
    return k;
  }

  // The start breaker (settings StartBreaker): only while it holds new locks.
  function startsCard() {
    var h = state.controller && state.controller.startsHeld;
    if (!h) return null;
    var k = card('total-starts', 'new locks', 'held',
      'containers keep going back to the queue without running (see the log)\n' +
      h.held + ' queued containers held; ' + h.trials + ' tried one at a time since start');
    k.className += ' ctl-outage';
    return k;
  }

  function renderTotals() {
    var vms = state.instances, cs = state.containers;
    var cost = vms.reduce(function (s, v) { var p = Number(v.price); return s + (isFinite(p) ? p : 0); }, 0);
    // The dispatcher's gauge prices spot VMs at their current spot price;
    // without it (an older dispatcher), the configured prices are summed.
    var live = state.controller && state.controller.costPerHour;
    var hasLive = typeof live === 'number' && isFinite(live);
    var costNote = hasLive ? 'at current prices (spot where known)' : 'sum of VM prices';
    if (hasLive) cost = live;
    var costed = vms.filter(function (v) { return typeof v.cost === 'number' && isFinite(v.cost); });
    if (costed.length > 0) {
      costNote += '\nspent by these VMs: ' + money(costed.reduce(function (s, v) { return s + v.cost; }, 0));
    }
    costNote += capNote();
    var running = vms.reduce(function (s, v) { return s + ((v.running_container_uuids || []).length); }, 0);
    $('totals').replaceChildren(
      card('total-instances', 'VMs', vms.length, countBy(vms, function (v) { return v.worker_state; })),
      card('total-behaviour', 'VMs by idle behaviour', '', countBy(vms, function (v) { return v.idle_behavior; })),
      card('total-cost', 'cost per hour', money(cost), costNote),
      card('total-containers', 'containers in queue', cs.length, countBy(cs, function (e) { return e.container && e.container.state; })),
      card('total-running', 'containers on VMs', running, 'per crunch-run --list')
    );
    var starts = startsCard();
    if (starts) $('totals').appendChild(starts);
    var ctl = controllerCard(Date.now());
    if (ctl) $('totals').appendChild(ctl);
    var feed = feedCard();
    if (feed) $('totals').appendChild(feed);
    var reclaims = reclaimCard();
    if (reclaims) $('totals').appendChild(reclaims);
  }

  ds.renderTotals = renderTotals;
})();
