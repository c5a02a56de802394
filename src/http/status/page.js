/*
 * The status page's loop, loaded last: the refresh every few seconds (and
 * its pause box), the token prompt, the actions of the tables' buttons
 * (hold, drain, run, kill; "why" opens detail.js), and the first render.
 *
 * It tells charts.js when it has refreshed ('dispatch-status:refreshed', with
 * its time) and when the token is forgotten ('dispatch-status:cleared'), so
 * the charts keep no timers of their own.
 */
'use strict';
(function () {
  var ds = window.dispatchStatus;
  var $ = ds.$, state = ds.state, say = ds.say, str = ds.str;
  var token = ds.token, setToken = ds.setToken, call = ds.call, loadController = ds.loadController, controllerOf = ds.controllerOf;
  var renderTotals = ds.renderTotals, renderInstances = ds.renderInstances, renderContainers = ds.renderContainers, showDetail = ds.showDetail;
  var REFRESH_MS = 5000;

  function renderAll() {
    renderTotals();
    renderInstances();
    renderContainers();
    $('instances-title').textContent = 'Instances (' + state.instances.length + ')';
    $('containers-title').textContent = 'Queue, in scheduling order (' + state.containers.length + ')';
  }

  // ---------- loading ----------
  function schedule(ms) {
    clearTimeout(state.timer);
    state.timer = setTimeout(refresh, ms);
  }

  function refresh() {
    clearTimeout(state.timer);
    if (!token()) {
      say('Type the management token (the cluster\'s ManagementToken) above to see the dispatcher\'s state.', 'error');
      return Promise.resolve();
    }
    if (state.loading) return Promise.resolve();
    state.loading = true;
    var started = Date.now();
    return Promise.all([call('GET', 'instances'), call('GET', 'containers'), loadController()]).then(function (r) {
      var now = Date.now();
      state.controller = controllerOf(r[2]);
      state.instances = (r[0] && r[0].items) || [];
      state.containers = ((r[1] && r[1].items) || []).map(function (e, i) { e._pos = i + 1; return e; });
      var seen = new Map();
      state.instances.forEach(function (v) {
        var id = str(v.instance), old = state.seenSince.get(id);
        if (id === '') return;
        seen.set(id, old && old.state === v.worker_state ? old : { state: v.worker_state, since: now });
      });
      state.seenSince = seen;
      renderAll();
      $('updated').textContent = 'updated ' + new Date(now).toLocaleTimeString() + ' (' + (now - started) + ' ms)';
      if ($('message').className !== 'ok') say('');
      state.authProblem = false;
      document.dispatchEvent(new CustomEvent('dispatch-status:refreshed', { detail: { now: now } }));
    }).catch(function (err) {
      state.authProblem = err.status === 401 || err.status === 403;
      say((state.authProblem ? '' : 'Cannot load the dispatcher\'s state: ') + err.message, 'error');
    }).then(function () {
      state.loading = false;
      // Refresh every few seconds, but never spend more than a fifth of the
      // time fetching (a big queue is several MB of JSON); stop on auth errors.
      if (!state.authProblem && !$('pause').checked) schedule(Math.max(REFRESH_MS, 5 * (Date.now() - started)));
    });
  }

  // ---------- events ----------
  $('token').value = '';
  $('token-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var t = $('token').value.trim();
    if (!t) { say('The token field is empty.', 'error'); return; }
    setToken(t);
    $('token').value = '';
    $('token').placeholder = 'token set for this tab';
    say('Loading\u2026');
    refresh();
  });
  $('token-clear').addEventListener('click', function () {
    setToken('');
    clearTimeout(state.timer);
    state.instances = []; state.containers = []; state.controller = null;
    renderAll();
    $('token').placeholder = 'ManagementToken';
    say('Token forgotten.', '');
    $('updated').textContent = '';
    document.dispatchEvent(new Event('dispatch-status:cleared'));
  });
  $('pause').addEventListener('change', function () { if (!$('pause').checked) refresh(); else clearTimeout(state.timer); });

  var ACTIONS = {
    hold: function (id) { return ['instances/hold?instance_id=' + encodeURIComponent(id), 'VM ' + id + ' is now on hold.']; },
    drain: function (id) { return ['instances/drain?instance_id=' + encodeURIComponent(id), 'VM ' + id + ' is draining.']; },
    run: function (id) { return ['instances/run?instance_id=' + encodeURIComponent(id), 'VM ' + id + ' is back to run.']; },
    'kill-instance': function (id) {
      return ['instances/kill?instance_id=' + encodeURIComponent(id) + '&reason=' + encodeURIComponent('killed from the status page'), 'VM ' + id + ' is being destroyed.'];
    },
    'kill-container': function (id) {
      return ['containers/kill?container_uuid=' + encodeURIComponent(id) + '&reason=' + encodeURIComponent('killed from the status page'), 'Container ' + id + ' was sent SIGTERM.'];
    },
  };

  function onAction(ev) {
    var b = ev.target.closest('button[data-action]');
    if (!b) return;
    var action = b.dataset.action, id = b.dataset.id;
    if (action === 'why') {
      if (!token()) { say('Type the management token first.', 'error'); return; }
      showDetail(id);
      return;
    }
    if (!ACTIONS[action]) return;
    if (!token()) { say('Type the management token first.', 'error'); return; }
    if (action.indexOf('kill') === 0 && !window.confirm((action === 'kill-instance' ? 'Destroy VM ' : 'Kill container ') + id + '?')) return;
    var spec = ACTIONS[action](id);
    b.disabled = true;
    call('POST', spec[0]).then(function () {
      say(spec[1], 'ok');
    }).catch(function (err) {
      say(action.replace('-', ' ') + ' ' + id + ' failed: ' + err.message, 'error');
    }).then(function () { refresh(); });
  }
  $('instances').addEventListener('click', onAction);
  $('containers').addEventListener('click', onAction);

  renderAll();
  if (token()) { $('token').placeholder = 'token set for this tab'; say('Loading\u2026'); }
  refresh();
})();
