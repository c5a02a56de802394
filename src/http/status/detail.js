/*
 * The status page's answer to "why is this container not running?" (its
 * row's "why" button): the container and its timeline from the management
 * API, shown under the tables.
 */
'use strict';
(function () {
  var ds = window.dispatchStatus;
  var $ = ds.$, say = ds.say, el = ds.el, str = ds.str, cssToken = ds.cssToken, money = ds.money, parseTime = ds.parseTime, ago = ds.ago;
  var call = ds.call;

  // The blocker in words (the API's summary), what is ahead, what
  // MaximumPriceFactor left out, the estimate and suggestions when the
  // dispatcher gives them, and the timeline as a bar of phases and a list.
  var detailUUID = '';
  function fact(dl, name, value) {
    if (value === undefined || value === null || value === '') return;
    dl.appendChild(el('dt', name));
    dl.appendChild(el('dd', value));
  }
  function showDetail(uuid) {
    detailUUID = uuid;
    var q = '?container_uuid=' + encodeURIComponent(uuid);
    return Promise.all([
      call('GET', 'container' + q),
      call('GET', 'container/timeline' + q).catch(function (err) { if (err.status === 404) return null; throw err; }),
    ]).then(function (r) {
      if (detailUUID !== uuid) return;
      renderDetail(r[0], r[1]);
    }).catch(function (err) {
      say('Cannot load ' + uuid + ': ' + err.message, 'error');
    });
  }
  function renderDetail(item, timeline) {
    var c = item.container || {};
    $('detail-uuid').textContent = str(c.uuid);
    var dl = $('detail-facts');
    dl.replaceChildren();
    fact(dl, 'state', str(c.state) + ', priority ' + str(c.priority));
    fact(dl, 'status', item.scheduling_status);
    var b = item.blocker;
    if (b) {
      fact(dl, 'why', b.summary || b.reason);
      if (b.ahead && b.ahead.containers > 0) {
        fact(dl, 'ahead', b.ahead.containers + ' waiting containers that can use its types, needing ' + b.ahead.vcpus + ' VCPUs and ' +
          (b.ahead.ram_bytes / 1073741824).toFixed(1) + ' GiB');
      }
      if (b.price_cap) {
        fact(dl, 'price cap', 'MaximumPriceFactor ' + b.price_cap.maximum_price_factor + ' leaves out ' +
          b.price_cap.types.map(function (t) { return str(t.name) + ' (' + money(t.price) + '/h, ' + str(t.now) + ')'; }).join(', '));
      }
    }
    var e = item.estimate;
    if (e && e.start_typical) {
      var now = Date.now();
      var mins = function (t) { return Math.max(0, Math.round((parseTime(t) - now) / 60000)); };
      fact(dl, 'estimate', 'starts in about ' + mins(e.start_typical) + ' min' + (e.start_low && e.start_high ? ' (' + mins(e.start_low) + '\u2013' + mins(e.start_high) + ' min)' : ''));
    }
    (item.suggestions || []).forEach(function (s) { fact(dl, 'would help', str(s.change) + ': ' + str(s.effect)); });
    var bar = $('detail-bar');
    bar.replaceChildren();
    var rows = $('detail-events').tBodies[0];
    rows.replaceChildren();
    var phases = (timeline && timeline.phases) || [];
    var total = phases.reduce(function (s, p) { return s + Math.max(0, Number(p.duration_ms) || 0); }, 0);
    bar.hidden = !phases.length;
    phases.forEach(function (p) {
      var d = el('div', str(p.phase).replace(/_/g, ' '), 'ph-' + cssToken(p.phase));
      var ms = Math.max(0, Number(p.duration_ms) || 0);
      d.style.flexGrow = String(total > 0 ? ms / total : 1);
      d.title = str(p.phase) + ': ' + ago(ms) + (p.to === null ? ' (so far)' : '');
      d.dataset.phase = str(p.phase);
      bar.appendChild(d);
    });
    ((timeline && timeline.events) || []).forEach(function (ev) {
      var tr = document.createElement('tr');
      var t = parseTime(ev.at);
      tr.appendChild(el('td', isFinite(t) ? new Date(t).toLocaleTimeString() : str(ev.at), 'num'));
      tr.appendChild(el('td', ev.kind));
      var detail = Object.keys(ev).filter(function (k) { return k !== 'at' && k !== 'kind'; })
        .map(function (k) { return k + '=' + str(ev[k]); }).join(' ');
      tr.appendChild(el('td', detail, 'mono'));
      rows.appendChild(tr);
    });
    $('detail').hidden = false;
  }
  $('detail-close').addEventListener('click', function () { detailUUID = ''; $('detail').hidden = true; });

  ds.showDetail = showDetail;
})();
