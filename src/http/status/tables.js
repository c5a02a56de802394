/*
 * The status page's two tables, instances and the queue in scheduling order:
 * their rows with the action buttons (page.js answers their clicks), and
 * the filter box and page controls of each. They are paginated here,
 * 100 rows a page, rather than virtualised: index.html's opening comment
 * says why.
 */
'use strict';
(function () {
  var ds = window.dispatchStatus;
  var $ = ds.$, state = ds.state, el = ds.el, str = ds.str, cssToken = ds.cssToken, money = ds.money, parseTime = ds.parseTime, ago = ds.ago;
  var PAGE_SIZE = 100;
  var tables = {
    instances: { page: 0, filter: '', rows: [] },
    containers: { page: 0, filter: '', rows: [] },
  };

  // ---------- rows ----------
  function actionButton(label, action, id, opts) {
    var b = el('button', label, opts && opts.danger ? 'danger' : '');
    b.type = 'button';
    b.dataset.action = action;
    b.dataset.id = id;
    if (opts && opts.disabled) b.disabled = true;
    if (opts && opts.title) b.title = opts.title;
    return b;
  }

  function instanceRow(v, now) {
    var tr = document.createElement('tr');
    var id = str(v.instance);
    // A create still in flight has no instance id yet: nothing can name it.
    var creating = id === '';
    tr.dataset.instance = id;
    var idCell = creating ? el('td', '(being created)', 'empty') : el('td', id, 'mono');
    // Ours: why a VM exists without a container asking (warm pool, pre-warming), and why it gets no new work (drain to save).
    if (v.note) idCell.appendChild(el('div', str(v.note), 'small note'));
    if (v.draining) idCell.appendChild(el('div', 'draining: ' + str(v.draining.reason), 'small draining'));
    tr.appendChild(idCell);
    tr.appendChild(el('td', v.worker_state, 'state-' + cssToken(v.worker_state)));
    tr.appendChild(el('td', v.idle_behavior, 'beh-' + cssToken(v.idle_behavior)));
    tr.appendChild(el('td', v.arvados_instance_type));
    tr.appendChild(el('td', v.provider_instance_type));
    tr.appendChild(el('td', money(v.price), 'num'));
    var running = v.running_container_uuids || [];
    var rc = el('td', running.join('\n'), 'mono');
    rc.style.whiteSpace = 'pre-line';
    if (!running.length && v.last_container_uuid) { rc.textContent = ''; rc.appendChild(el('span', 'last: ' + v.last_container_uuid, 'small')); rc.style.color = '#888'; }
    tr.appendChild(rc);
    var seen = creating ? undefined : state.seenSince.get(id);
    tr.appendChild(el('td', seen ? '\u2265 ' + ago(now - seen.since) : '', 'num'));
    var lb = parseTime(v.last_busy);
    tr.appendChild(el('td', isFinite(lb) ? ago(now - lb) + ' ago' : 'never', 'num'));
    tr.appendChild(el('td', v.address, 'mono'));
    var a = el('td', null, 'actions');
    var beh = str(v.idle_behavior);
    if (!creating) {
      a.appendChild(actionButton('hold', 'hold', id, { disabled: beh === 'hold', title: 'keep this VM; run no new containers on it' }));
      a.appendChild(actionButton('drain', 'drain', id, { disabled: beh === 'drain', title: 'shut it down once its containers finish' }));
      a.appendChild(actionButton('run', 'run', id, { disabled: beh === 'run', title: 'use it for containers as usual' }));
      a.appendChild(actionButton('kill', 'kill-instance', id, { danger: true, title: 'destroy this VM now' }));
    }
    tr.appendChild(a);
    return tr;
  }

  // The reference encodes instance types without their Name (`json:"-"`), so
  // fall back to the provider's type, which the API always has.
  function typeName(t) { return t ? str(t.Name || t.ProviderType) : ''; }

  function containerRow(e, now) {
    var c = e.container || {};
    var tr = document.createElement('tr');
    var uuid = str(c.uuid);
    tr.dataset.container = uuid;
    tr.appendChild(el('td', e._pos, 'num'));
    tr.appendChild(el('td', uuid, 'mono'));
    tr.appendChild(el('td', c.state, 'state-' + cssToken(c.state)));
    tr.appendChild(el('td', c.priority, 'num'));
    var types = (e.instance_types || []).map(function (t) { return typeName(t) + (t && t.Price !== undefined ? ' (' + money(t.Price) + ')' : ''); });
    var tt = el('td', types.slice(0, 3).join(', ') + (types.length > 3 ? ' +' + (types.length - 3) + ' more' : ''));
    if (types.length > 3) tt.title = types.join('\n');
    tr.appendChild(tt);
    var fs = parseTime(e.first_seen_at);
    tr.appendChild(el('td', isFinite(fs) ? ago(now - fs) : '', 'num'));
    tr.appendChild(el('td', e.scheduling_status, 'status'));
    var a = el('td', null, 'actions');
    a.appendChild(actionButton('why', 'why', uuid, { title: 'why it is not running, and its timeline' }));
    if (c.state === 'Locked' || c.state === 'Running') a.appendChild(actionButton('kill', 'kill-container', uuid, { danger: true, title: 'stop this container (SIGTERM)' }));
    tr.appendChild(a);
    return tr;
  }

  function instanceText(v) {
    return [v.instance, v.worker_state, v.idle_behavior, v.arvados_instance_type, v.provider_instance_type, v.address,
      v.last_container_uuid, v.note, v.draining && 'draining ' + v.draining.reason].concat(v.running_container_uuids || []).map(str).join(' ').toLowerCase();
  }
  function containerText(e) {
    var c = e.container || {};
    return [c.uuid, c.state, c.priority, e.scheduling_status].concat((e.instance_types || []).map(typeName))
      .map(str).join(' ').toLowerCase();
  }

  function renderTable(name, all, textOf, rowOf) {
    var t = tables[name];
    var words = t.filter.toLowerCase().split(/\s+/).filter(Boolean);
    t.rows = words.length ? all.filter(function (x) {
      var s = textOf(x);
      return words.every(function (w) { return s.indexOf(w) >= 0; });
    }) : all;
    var pages = Math.max(1, Math.ceil(t.rows.length / PAGE_SIZE));
    if (t.page >= pages) t.page = pages - 1;
    var from = t.page * PAGE_SIZE;
    var slice = t.rows.slice(from, from + PAGE_SIZE);
    var now = Date.now();
    var body = $(name).tBodies[0];
    var frag = document.createDocumentFragment();
    slice.forEach(function (x) { frag.appendChild(rowOf(x, now)); });
    if (!slice.length) {
      var tr = document.createElement('tr');
      var td = el('td', all.length ? 'nothing matches the filter' : 'none', 'empty');
      td.colSpan = $(name).tHead.rows[0].cells.length;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
    $(name + '-range').textContent = t.rows.length
      ? (from + 1) + '\u2013' + (from + slice.length) + ' of ' + t.rows.length + (t.rows.length !== all.length ? ' (filtered from ' + all.length + ')' : '') + ', page ' + (t.page + 1) + '/' + pages
      : '0 of ' + all.length;
    var ctl = document.querySelector('.controls[data-table="' + name + '"]');
    ctl.querySelector('[data-page=first]').disabled = t.page === 0;
    ctl.querySelector('[data-page=prev]').disabled = t.page === 0;
    ctl.querySelector('[data-page=next]').disabled = t.page >= pages - 1;
    ctl.querySelector('[data-page=last]').disabled = t.page >= pages - 1;
  }

  function renderInstances() { renderTable('instances', state.instances, instanceText, instanceRow); }
  function renderContainers() { renderTable('containers', state.containers, containerText, containerRow); }

  // ---------- filter and pages ----------
  ['instances', 'containers'].forEach(function (name) {
    var t = tables[name];
    var render = name === 'instances' ? renderInstances : renderContainers;
    $(name + '-filter').addEventListener('input', function (ev) { t.filter = ev.target.value; t.page = 0; render(); });
    document.querySelector('.controls[data-table="' + name + '"]').addEventListener('click', function (ev) {
      var b = ev.target.closest('button[data-page]');
      if (!b) return;
      var pages = Math.max(1, Math.ceil(t.rows.length / PAGE_SIZE));
      var p = b.dataset.page;
      t.page = p === 'first' ? 0 : p === 'last' ? pages - 1 : p === 'prev' ? Math.max(0, t.page - 1) : Math.min(pages - 1, t.page + 1);
      render();
    });
  });

  ds.renderInstances = renderInstances;
  ds.renderContainers = renderContainers;
})();
