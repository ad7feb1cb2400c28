// The lb web console (docs/console.md). Plain JavaScript, no build step, no dependencies.
// Reads the controller's /v1 API, listens to /v1/stream (Server-Sent Events) to know what to
// refetch, and sends changes with the token the operator typed (Authorization: Bearer).
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const MIN_REFRESH_MS = 500;  // At most two refetches a second per view, however many events.
const SPARK_POINTS = 30;
const OVERVIEW_MAX_CLUSTERS = 50;  // Clusters whose endpoint status the overview fetches.

// ---- API ----------------------------------------------------------------------------------

let token = sessionStorage.getItem('lb-token') || '';

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// fetch() of the REST API; resolves to the parsed JSON (or null for 204), rejects with an
// ApiError carrying the controller's own code and message.
async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && token) headers['Authorization'] = 'Bearer ' + token;
  let resp;
  try {
    resp = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) {
    throw new ApiError(0, 'UNAVAILABLE', 'cannot reach the controller: ' + e.message);
  }
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  if (!resp.ok) {
    const err = json && json.error;
    throw new ApiError(resp.status, err ? err.code : 'HTTP_' + resp.status,
                       err ? err.message : (text.trim() || resp.statusText));
  }
  return json;
}

const enc = encodeURIComponent;
const endpointPath = (cluster, ep) =>
  `/v1/clusters/${enc(cluster)}/endpoints/${enc(ep.address)}/${ep.port}`;

// ---- small DOM helpers --------------------------------------------------------------------

// h('td', {class: 'num', text: '3'}, child...) builds an element; attributes go through
// setAttribute and text through textContent (never innerHTML).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

function toast(message, ok) {
  const t = $('#toast');
  t.textContent = message;
  t.className = ok ? 'toast ok' : 'toast';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, ok ? 3000 : 10000);
}

function announce(text) { $('#announce').textContent = text; }

const fmt = {
  rps: (v) => (v === undefined || v === null) ? '—' : (v >= 100 ? v.toFixed(0) : v.toFixed(1)),
  pct: (v) => (v === undefined || v === null) ? '—' : (100 * v).toFixed(2) + '%',
  ms: (v) => (!v) ? '—' : v.toFixed(1) + ' ms',
};

function errorText(e) { return e instanceof ApiError ? `${e.code}: ${e.message}` : String(e); }

// ---- coalesced refresh --------------------------------------------------------------------

// schedule(key, fn): runs fn soon, at most once per MIN_REFRESH_MS per key; calls that come
// while one is pending or running fold into one more run, of the latest fn given.
const pending = new Map();
function schedule(key, fn) {
  let p = pending.get(key);
  if (!p) { p = {last: 0, timer: null, running: false, again: false, fn}; pending.set(key, p); }
  p.fn = fn;
  if (p.timer || p.running) { p.again = true; return; }
  const wait = Math.max(0, p.last + MIN_REFRESH_MS - Date.now());
  p.timer = setTimeout(async () => {
    p.timer = null; p.running = true; p.again = false; p.last = Date.now();
    try { await p.fn(); } catch (e) { console.error(e); }
    p.running = false;
    if (p.again) schedule(key, p.fn);
  }, wait);
}

// ---- live stream --------------------------------------------------------------------------

let proxiesDigest = '';
let source = null;

function connectStream() {
  const live = $('#live');
  source = new EventSource('/v1/stream');
  source.onopen = () => { live.textContent = 'live'; live.className = 'live on'; };
  source.onerror = () => { live.textContent = 'reconnecting…'; live.className = 'live off'; };
  source.addEventListener('cluster', (ev) => view.onCluster && view.onCluster(JSON.parse(ev.data)));
  source.addEventListener('routes', () => {});
  source.addEventListener('resync', () => view.refresh && schedule('view', view.refresh));
  source.addEventListener('tick', (ev) => {
    const d = JSON.parse(ev.data);
    const changed = d.proxies !== proxiesDigest;
    proxiesDigest = d.proxies;
    if (view.onTick) view.onTick(changed);
  });
}

// ---- views --------------------------------------------------------------------------------

let view = {};  // The page shown: {refresh, onCluster, onTick, leave}.

function setNav(id) {
  for (const a of document.querySelectorAll('nav a')) {
    if (a.id === id) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

function route() {
  if (view.leave) view.leave();
  const hash = location.hash.replace(/^#/, '') || '/';
  const main = $('#main');
  main.replaceChildren();
  const m = hash.match(/^\/clusters\/([^/]+)$/);
  if (m) view = clusterView(main, decodeURIComponent(m[1]));
  else if (hash === '/proxies') view = proxiesView(main);
  else if (hash === '/history') view = historyView(main);
  else view = fleetView(main);
  schedule('view', view.refresh);
}

// Sums the status blocks of `endpoints`; null when none has one (no load reports yet).
function aggregate(endpoints) {
  let any = false, total = 0, healthy = 0, rps = 0, errors = 0;
  for (const ep of endpoints) {
    const s = ep.status;
    if (!s) continue;
    any = true;
    total += s.proxies_total || 0;
    healthy += s.proxies_healthy || 0;
    rps += s.rps || 0;
    errors += (s.rps || 0) * (s.error_rate || 0);
  }
  if (!any) return null;
  return {total, healthy, rps, errorRate: rps > 0 ? errors / rps : 0};
}

function fleetView(main) {
  setNav('nav-fleet');
  document.title = 'Fleet · lb console';
  const tbody = h('tbody');
  const summary = h('div', {class: 'summary', 'aria-label': 'Fleet totals'});
  main.append(
    h('h2', {text: 'Fleet'}), summary,
    h('table', {'aria-label': 'Clusters'},
      h('thead', {}, h('tr', {},
        h('th', {scope: 'col', text: 'Cluster'}), h('th', {scope: 'col', text: 'Policy'}),
        h('th', {scope: 'col', class: 'num', text: 'Endpoints'}),
        h('th', {scope: 'col', class: 'num', text: 'Draining'}),
        h('th', {scope: 'col', class: 'num', text: 'Healthy'}),
        h('th', {scope: 'col', class: 'num', text: 'Req/s'}),
        h('th', {scope: 'col', class: 'num', text: 'Errors'}))),
      tbody));
  let hadStatus = false;
  async function refresh() {
    let list;
    try { list = await api('GET', '/v1/clusters'); } catch (e) {
      tbody.replaceChildren(h('tr', {}, h('td', {colspan: 7, text: errorText(e)})));
      return;
    }
    const clusters = (list && list.clusters) || [];
    // Load status lives in each cluster's endpoint list (filled from load reports).
    const stats = await Promise.all(clusters.slice(0, OVERVIEW_MAX_CLUSTERS).map((c) =>
      api('GET', `/v1/clusters/${enc(c.name)}/endpoints`).then(
        (r) => aggregate(r.endpoints || []), () => null)));
    hadStatus = stats.some((s) => s);
    let eps = 0, rps = 0;
    const rows = clusters.map((c, i) => {
      const endpoints = c.endpoints || [];
      const draining = endpoints.filter((e) => e.admin_state === 'DRAINING').length;
      const s = stats[i];
      eps += endpoints.length;
      if (s) rps += s.rps;
      return h('tr', {'data-cluster': c.name},
        h('td', {}, h('a', {href: '#/clusters/' + enc(c.name), text: c.name})),
        h('td', {text: c.lb_policy || ''}),
        h('td', {class: 'num', text: String(endpoints.length)}),
        h('td', {class: 'num', text: String(draining)}),
        h('td', {class: 'num', text: s && s.total ? Math.round(100 * s.healthy / s.total) + '%' : '—',
                 title: s ? `${s.healthy} of ${s.total} proxy views healthy` : 'no load reports'}),
        h('td', {class: 'num', text: fmt.rps(s && s.rps)}),
        h('td', {class: 'num', text: fmt.pct(s && s.errorRate)}));
    });
    tbody.replaceChildren(...(rows.length ? rows
      : [h('tr', {}, h('td', {colspan: 7, text: 'No clusters yet.'}))]));
    summary.replaceChildren(
      h('div', {}, h('b', {text: String(clusters.length)}), 'clusters'),
      h('div', {}, h('b', {text: String(eps)}), 'endpoints'),
      h('div', {}, h('b', {text: fmt.rps(hadStatus ? rps : null)}), 'req/s'));
  }
  return {
    refresh,
    onCluster: () => schedule('view', refresh),
    // Rates move only with load reports: without any, a tick changes nothing shown here.
    onTick: () => { if (hadStatus) schedule('view', refresh); },
  };
}

// The cluster page: endpoints in a virtualized table (only the rows in view are in the DOM,
// reused by key), so a cluster of thousands scrolls and updates without freezing.
function clusterView(main, name) {
  setNav('');
  document.title = name + ' · lb console';
  const ROW = 34;
  const OVERSCAN = 10;
  let endpoints = [];
  let version = 0;
  let hasStatus = false;
  const history = new Map();  // key -> recent rps samples (sparkline).
  const rowsByKey = new Map();  // key -> <tr> now in the DOM.
  const key = (ep) => ep.address + ':' + ep.port;

  const info = h('p', {class: 'muted', text: 'Loading…'});
  const addError = h('p', {class: 'nack', role: 'alert'});
  const addForm = h('form', {class: 'addform', 'aria-label': 'Add an endpoint'},
    h('label', {}, 'Address', h('input', {name: 'address', required: true, placeholder: '10.0.0.5'})),
    h('label', {}, 'Port', h('input', {name: 'port', required: true, type: 'number', min: 1, max: 65535})),
    h('label', {}, 'Weight', h('input', {name: 'weight', type: 'number', min: 1, max: 10000, class: 'weight'})),
    h('label', {}, 'Zone', h('input', {name: 'zone'})),
    h('button', {type: 'submit', text: 'Add endpoint'}));
  addForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(addForm);
    const body = {address: f.get('address'), port: Number(f.get('port'))};
    if (f.get('weight')) body.weight = Number(f.get('weight'));
    if (f.get('zone')) body.zone = f.get('zone');
    addError.textContent = '';
    try {
      await api('POST', `/v1/clusters/${enc(name)}/endpoints`, body);
      toast(`Added ${body.address}:${body.port}`, true);
      addForm.reset();
      schedule('view', refresh);
    } catch (e) {
      addError.textContent = errorText(e);
      toast(errorText(e));
    }
  });

  const topPad = h('tr', {class: 'pad', 'aria-hidden': 'true'}, h('td', {colspan: 9}));
  const bottomPad = h('tr', {class: 'pad', 'aria-hidden': 'true'}, h('td', {colspan: 9}));
  const tbody = h('tbody', {}, topPad, bottomPad);
  const table = h('table', {'aria-label': `Endpoints of ${name}`, 'aria-rowcount': 1},
    h('thead', {}, h('tr', {'aria-rowindex': 1},
      h('th', {scope: 'col', text: 'Endpoint'}), h('th', {scope: 'col', text: 'Zone'}),
      h('th', {scope: 'col', text: 'Weight'}), h('th', {scope: 'col', text: 'State'}),
      h('th', {scope: 'col', text: 'Health (per proxy)'}),
      h('th', {scope: 'col', class: 'num', text: 'Req/s'}), h('th', {scope: 'col', text: 'Trend'}),
      h('th', {scope: 'col', class: 'num', text: 'p99'}), h('th', {scope: 'col', text: 'Actions'}))),
    tbody);
  const scroller = h('div', {class: 'scroller', id: 'endpoint-scroller'}, table);
  scroller.addEventListener('scroll', () => requestAnimationFrame(paint), {passive: true});
  main.append(h('h2', {}, 'Cluster ', h('span', {id: 'cluster-name', text: name})), info,
              addForm, addError, scroller);

  async function act(ep, method, body, done) {
    try {
      await api(method, endpointPath(name, ep), body);
      toast(done, true);
      announce(done);
      schedule('view', refresh);
    } catch (e) {
      toast(errorText(e));
    }
  }

  function sparkline(samples) {
    const w = 80, hgt = 20;
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('width', w);
    svg.setAttribute('height', hgt);
    svg.setAttribute('aria-hidden', 'true');
    if (samples && samples.length > 1) {
      const max = Math.max(...samples, 1);
      const pts = samples.map((v, i) =>
        `${(i * w / (SPARK_POINTS - 1)).toFixed(1)},${(hgt - 1 - (v / max) * (hgt - 2)).toFixed(1)}`);
      const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
      line.setAttribute('points', pts.join(' '));
      svg.append(line);
    }
    return svg;
  }

  function healthCell(ep) {
    const s = ep.status;
    if (!s || !s.per_proxy || s.per_proxy.length === 0) {
      return h('td', {class: 'muted', text: s ? 'no proxy reports' : 'no load reports'});
    }
    const td = h('td', {title: s.per_proxy.map((p) => `${p.node_id}: ${p.health}`).join('\n')});
    td.append(h('span', {class: 'muted', text: `${s.proxies_healthy}/${s.proxies_total} `}));
    for (const p of s.per_proxy) {
      td.append(h('span', {class: 'badge ' + p.health, 'data-node': p.node_id,
                           text: p.health, 'aria-label': `${p.node_id}: ${p.health}`}));
    }
    return td;
  }

  // What a row shows: the endpoint and its sparkline's samples.
  const signature = (ep) => JSON.stringify(ep) + '|' + (history.get(key(ep)) || []).join(',');

  // Builds the row of `ep` (index i); a row is rebuilt only when its endpoint changed.
  function buildRow(ep, i) {
    const k = key(ep);
    const state = ep.admin_state === 'DRAINING' ? 'DRAINING' : 'ACTIVE';
    const weight = h('input', {type: 'number', min: 1, max: 10000, class: 'weight',
                               value: String(ep.weight || 1), 'aria-label': `Weight of ${k}`});
    const setWeight = h('button', {type: 'button', text: 'Set', 'aria-label': `Set weight of ${k}`,
      onclick: () => act(ep, 'PATCH', {weight: Number(weight.value)}, `Weight of ${k} set to ${weight.value}`)});
    weight.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') setWeight.click(); });
    const drain = state === 'DRAINING'
      ? h('button', {type: 'button', text: 'Undrain', 'aria-label': `Undrain ${k}`,
          onclick: () => act(ep, 'PATCH', {admin_state: 'ACTIVE'}, `${k} is active`)})
      : h('button', {type: 'button', text: 'Drain', 'aria-label': `Drain ${k}`,
          onclick: () => act(ep, 'PATCH', {admin_state: 'DRAINING'}, `${k} is draining`)});
    const remove = h('button', {type: 'button', class: 'danger', text: 'Remove', 'aria-label': `Remove ${k}`,
      onclick: () => { if (confirm(`Remove ${k} from ${name}?`)) act(ep, 'DELETE', undefined, `${k} removed`); }});
    const s = ep.status;
    const tr = h('tr', {class: 'ep', 'data-key': k, 'aria-rowindex': i + 2},
      h('td', {text: k, title: (ep.resolved_addresses || []).join(', ') || k}),
      h('td', {text: ep.zone || ''}),
      h('td', {}, weight, ' ', setWeight),
      h('td', {}, h('span', {class: 'badge ' + state, text: state})),
      healthCell(ep),
      h('td', {class: 'num', text: fmt.rps(s && s.rps),
               title: s ? `${s.in_flight || 0} in flight, errors ${fmt.pct(s.error_rate)}` : undefined}),
      h('td', {}, sparkline(history.get(k))),
      h('td', {class: 'num', text: fmt.ms(s && s.p99_ms)}),
      h('td', {}, drain, ' ', remove));
    tr.dataset.sig = signature(ep);
    return tr;
  }

  // Moves keyboard focus (and a value being typed) from a row being replaced to its new row:
  // the control with the same label, else the one at the same position.
  function keepFocus(old, tr) {
    const el = document.activeElement;
    const controls = (row) => [...row.querySelectorAll('input, button')];
    const at = controls(old).indexOf(el);
    const label = el.getAttribute('aria-label');
    const same = controls(tr).find((c) => c.getAttribute('aria-label') === label);
    const target = same || controls(tr)[at];
    if (!target) return;
    if (el.tagName === 'INPUT' && target.tagName === 'INPUT') target.value = el.value;
    old.replaceWith(tr);
    target.focus();
  }

  // Puts the rows in view (plus some overscan) in the table, reusing unchanged ones.
  function paint() {
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW) - OVERSCAN);
    const count = Math.ceil((scroller.clientHeight || 600) / ROW) + 2 * OVERSCAN;
    const last = Math.min(endpoints.length, first + count);
    topPad.style.height = (first * ROW) + 'px';
    bottomPad.style.height = ((endpoints.length - last) * ROW) + 'px';
    const wanted = new Map();
    const rows = [];
    for (let i = first; i < last; i++) {
      const ep = endpoints[i];
      const k = key(ep);
      let tr = rowsByKey.get(k);
      if (!tr || tr.dataset.sig !== signature(ep)) {
        const old = tr;
        tr = buildRow(ep, i);
        if (old && old.contains(document.activeElement)) keepFocus(old, tr);
      }
      tr.setAttribute('aria-rowindex', i + 2);
      wanted.set(k, tr);
      rows.push(tr);
    }
    for (const [k, tr] of rowsByKey) if (wanted.get(k) !== tr) tr.remove();
    rowsByKey.clear();
    for (const [k, tr] of wanted) rowsByKey.set(k, tr);
    // Insert in order between the pads; nodes already in place stay (no reflow of the rest).
    let at = topPad;
    for (const tr of rows) {
      if (at.nextSibling !== tr) at.after(tr);
      at = tr;
    }
    table.setAttribute('aria-rowcount', endpoints.length + 1);
  }

  async function refresh() {
    const t0 = performance.now();
    let r;
    try { r = await api('GET', `/v1/clusters/${enc(name)}/endpoints`); } catch (e) {
      info.textContent = errorText(e);
      endpoints = [];
      paint();
      return;
    }
    endpoints = r.endpoints || [];
    version = r.version;
    hasStatus = endpoints.some((e) => e.status);
    for (const ep of endpoints) {
      if (!ep.status) continue;
      const k = key(ep);
      const samples = history.get(k) || [];
      samples.push(ep.status.rps || 0);
      if (samples.length > SPARK_POINTS) samples.shift();
      history.set(k, samples);
    }
    const draining = endpoints.filter((e) => e.admin_state === 'DRAINING').length;
    const agg = aggregate(endpoints);
    info.textContent = `${endpoints.length} endpoints, ${draining} draining · version ${version}` +
      (agg ? ` · ${fmt.rps(agg.rps)} req/s · errors ${fmt.pct(agg.errorRate)}` : ' · no load reports yet');
    paint();
    window.lbLastRenderMs = performance.now() - t0;  // Read by the browser tests.
  }

  return {
    refresh,
    onCluster: (ev) => { if (ev.name === name) schedule('view', refresh); },
    // Load and health come from load reports: refetch on each tick while there are any.
    onTick: () => { if (hasStatus) schedule('view', refresh); },
  };
}

function proxiesView(main) {
  setNav('nav-proxies');
  document.title = 'Proxies · lb console';
  const tbody = h('tbody');
  const info = h('p', {class: 'muted'});
  main.append(h('h2', {text: 'Proxies'}), info,
    h('table', {'aria-label': 'Proxies'},
      h('thead', {}, h('tr', {},
        h('th', {scope: 'col', text: 'Node'}), h('th', {scope: 'col', text: 'Controller'}),
        h('th', {scope: 'col', text: 'Zone'}), h('th', {scope: 'col', text: 'Connected since'}),
        h('th', {scope: 'col', text: 'Type'}), h('th', {scope: 'col', text: 'Sent'}),
        h('th', {scope: 'col', text: 'ACKed'}), h('th', {scope: 'col', text: 'Last NACK'}))),
      tbody));
  async function refresh() {
    let r;
    try { r = await api('GET', '/v1/proxies'); } catch (e) {
      info.textContent = errorText(e);
      return;
    }
    const proxies = (r && r.proxies) || [];
    info.textContent = `${proxies.length} connected`;
    const rows = [];
    for (const p of proxies) {
      const resources = p.resources && p.resources.length ? p.resources : [{}];
      resources.forEach((res, i) => {
        const type = (res.type_url || '').split('.').pop();
        const nack = res.nacked_version
          ? h('td', {class: 'nack', 'data-nack': 'true', title: res.last_nack_error},
              `version ${res.nacked_version} (${res.nacks} in all): `, h('span', {text: res.last_nack_error}))
          : h('td', {class: 'muted', text: '—'});
        rows.push(h('tr', {'data-node': p.node_id},
          h('td', {text: i === 0 ? p.node_id : ''}),
          h('td', {text: i === 0 ? (p.controller || '') : ''}),
          h('td', {text: i === 0 ? (p.zone || '') : ''}),
          h('td', {text: i === 0 ? (p.connected_since || '') : ''}),
          h('td', {text: type}), h('td', {text: res.version_sent || ''}),
          h('td', {text: res.version_acked || ''}), nack));
      });
    }
    tbody.replaceChildren(...(rows.length ? rows
      : [h('tr', {}, h('td', {colspan: 8, text: 'No proxy is connected.'}))]));
  }
  return {refresh, onTick: (changed) => { if (changed) schedule('view', refresh); }};
}

function historyView(main) {
  setNav('nav-history');
  document.title = 'History · lb console';
  const body = h('div');
  main.append(h('h2', {text: 'History'}), body);
  async function refresh() {
    let r;
    try { r = await api('GET', '/v1/events'); } catch (e) {
      body.replaceChildren(h('p', {id: 'history-unavailable', role: 'status',
        text: e.status === 404 ? `The audit trail is not available on this controller (GET /v1/events: ${e.message}).`
                               : `Cannot read the audit trail: ${errorText(e)}`}));
      return;
    }
    const events = (r && r.events) || [];
    const pretty = (v) => v === undefined || v === null ? '' : JSON.stringify(v, null, 2);
    const rows = events.slice().reverse().map((e) => h('tr', {},
      h('td', {text: e.time || ''}), h('td', {text: e.api || ''}), h('td', {text: e.caller || ''}),
      h('td', {text: e.action || ''}), h('td', {text: e.kind || ''}), h('td', {text: e.name || ''}),
      h('td', {}, h('details', {}, h('summary', {text: 'before / after'}),
        h('pre', {text: 'before: ' + pretty(e.before) + '\nafter: ' + pretty(e.after)})))));
    body.replaceChildren(h('table', {'aria-label': 'Audit trail'},
      h('thead', {}, h('tr', {}, ...['Time', 'API', 'Caller', 'Action', 'Kind', 'Name', 'Change']
        .map((t) => h('th', {scope: 'col', text: t})))),
      h('tbody', {}, ...(rows.length ? rows : [h('tr', {}, h('td', {colspan: 7, text: 'No events.'}))]))));
  }
  return {refresh, onCluster: () => schedule('view', refresh)};
}

// ---- token --------------------------------------------------------------------------------

function showToken() {
  $('#token-state').textContent = token ? 'token set' : 'no token';
  $('#token').value = '';
}

document.addEventListener('DOMContentLoaded', () => {
  $('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('#token').value.trim();
    if (token) sessionStorage.setItem('lb-token', token); else sessionStorage.removeItem('lb-token');
    showToken();
  });
  $('#token-clear').addEventListener('click', () => {
    token = '';
    sessionStorage.removeItem('lb-token');
    showToken();
  });
  showToken();
  window.addEventListener('hashchange', () => { route(); $('#main').focus(); });
  connectStream();
  route();
});
