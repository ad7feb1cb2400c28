// Browser tests of the web console (docs/console.md) in a real headless Chromium, driven by
// puppeteer-core. Starts a controller (with a token), three backends, a proxy and an xDS client
// that NACKs, all on ports the kernel picks, then checks what an operator sees and does.
//
// Environment (set by console_test.sh): LB_CONTROLLER, LB_PROXY, LB_BACKEND, LB_NACK_CLIENT
// (binaries), LB_CHROMIUM (browser), LB_PUPPETEER (directory whose node_modules has
// puppeteer-core). Results: JUnit XML in $XML_OUTPUT_FILE (one testcase per check), screenshots
// and timings in $TEST_UNDECLARED_OUTPUTS_DIR (else $LB_UI_ARTIFACTS, else ./ui-artifacts).
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';

const require = createRequire(path.join(process.env.LB_PUPPETEER, 'package.json'));
const puppeteer = require('puppeteer-core');

const TOKEN = 'ui-test-token';
const tmp = fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || os.tmpdir(), 'lb-ui-'));
const artifacts = process.env.TEST_UNDECLARED_OUTPUTS_DIR || process.env.LB_UI_ARTIFACTS ||
    path.resolve('ui-artifacts');
fs.mkdirSync(artifacts, {recursive: true});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];

// ---- processes ----------------------------------------------------------------------------

function start(name, bin, args) {
  const log = fs.openSync(path.join(tmp, name + '.log'), 'w');
  const child = spawn(bin, args, {stdio: ['ignore', log, log]});
  child.name = name;
  children.push(child);
  return child;
}

// Waits (bounded) for a ready file and returns its JSON.
async function readyFile(file, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try { return JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { await sleep(50); }
  }
  throw new Error(`${what} did not start within ${timeoutMs} ms (see ${tmp})`);
}

// Polls `cond` (sync or async) every `everyMs` until it returns a truthy value; returns that
// value, or throws `what` after `timeoutMs`.
async function until(what, cond, timeoutMs = 15000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try { last = await cond(); } catch (e) { last = e; }
    if (last && !(last instanceof Error)) return last;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
                  (last instanceof Error ? `: ${last.message}` : ''));
}

// ---- REST and proxy -----------------------------------------------------------------------

let rest = 0;
async function call(method, p, body, withToken = true) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (withToken) headers['Authorization'] = 'Bearer ' + TOKEN;
  const r = await fetch(`http://127.0.0.1:${rest}${p}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await r.text();
  return {status: r.status, json: text ? JSON.parse(text) : null};
}

let proxyPort = 0;
// Sends `n` requests through the proxy; returns {backendName: count}.
async function spread(n) {
  const counts = {};
  for (let i = 0; i < n; i++) {
    const r = await fetch(`http://127.0.0.1:${proxyPort}/`, {headers: {Connection: 'close'}});
    await r.text();
    const who = r.status === 200 ? r.headers.get('x-backend') : `status ${r.status}`;
    counts[who] = (counts[who] || 0) + 1;
  }
  return counts;
}

// ---- results ------------------------------------------------------------------------------

const results = [];
async function check(name, fn) {
  const t0 = Date.now();
  try {
    const note = await fn();
    results.push({name, ms: Date.now() - t0, skipped: note && note.skipped ? note.skipped : null});
    console.log(`PASS ${name}${note && note.skipped ? ' (skipped: ' + note.skipped + ')' : ''}`);
  } catch (e) {
    results.push({name, ms: Date.now() - t0, failure: e.stack || String(e)});
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}
function expect(cond, message) { if (!cond) throw new Error(message); }

function writeJunit() {
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  const failures = results.filter((r) => r.failure).length;
  const cases = results.map((r) => `  <testcase classname="tests.ui.console_test" name="${esc(r.name)}" time="${r.ms / 1000}">` +
      (r.failure ? `<failure message="${esc(r.failure.split('\n')[0])}">${esc(r.failure)}</failure>` : '') +
      (r.skipped ? `<skipped message="${esc(r.skipped)}"/>` : '') + '</testcase>').join('\n');
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="console_test" tests="${results.length}" failures="${failures}">\n${cases}\n</testsuite></testsuites>\n`;
  if (process.env.XML_OUTPUT_FILE) fs.writeFileSync(process.env.XML_OUTPUT_FILE, xml);
  fs.writeFileSync(path.join(artifacts, 'console_test.xml'), xml);
  return failures;
}

// ---- the tests ----------------------------------------------------------------------------

async function main() {
  const tokenFile = path.join(tmp, 'token');
  fs.writeFileSync(tokenFile, TOKEN + '\n', {mode: 0o600});
  start('controller', process.env.LB_CONTROLLER, [
    '--grpc_listen=127.0.0.1:0', '--rest_listen=127.0.0.1:0', `--data_dir=${tmp}/data`,
    `--auth_token_file=${tokenFile}`, '--lrs_interval=1s', `--ready_file=${tmp}/controller.ready`,
    '--ui_stream_tick_interval=500ms']);
  const ctl = await readyFile(`${tmp}/controller.ready`, 'the controller');
  rest = ctl.rest_port;
  const base = `http://127.0.0.1:${rest}/ui/`;

  const backends = {};
  for (const name of ['b1', 'b2', 'b3']) {
    const child = start(name, process.env.LB_BACKEND, [`--name=${name}`, `--ready_file=${tmp}/${name}.ready`]);
    backends[name] = {child, port: (await readyFile(`${tmp}/${name}.ready`, name)).port};
  }
  const key = (name) => `127.0.0.1:${backends[name].port}`;
  start('proxy', process.env.LB_PROXY, [
    `--controller=127.0.0.1:${ctl.grpc_port}`, '--listen=127.0.0.1:0', '--admin_listen=127.0.0.1:0',
    '--workers=1', '--node_id=ui-proxy', `--ready_file=${tmp}/proxy.ready`]);
  proxyPort = (await readyFile(`${tmp}/proxy.ready`, 'the proxy')).port;
  for (const name of Object.keys(backends)) {
    const r = await call('POST', '/v1/clusters/backend/endpoints',
                         {address: '127.0.0.1', port: backends[name].port, zone: 'zone-' + name});
    expect(r.status === 201, `adding ${name}: ${r.status} ${JSON.stringify(r.json)}`);
  }
  await until('requests reaching all three backends', async () => {
    const c = await spread(30);
    return c.b1 && c.b2 && c.b3;
  }, 20000, 200);

  const browser = await puppeteer.launch({
    executablePath: process.env.LB_CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    userDataDir: path.join(tmp, 'chromium'),
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({width: 1366, height: 800});
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (d) => d.accept());
    const shot = (name) => page.screenshot({path: path.join(artifacts, name + '.png'), fullPage: true});
    const rowSel = (k) => `tr.ep[data-key="${k}"]`;
    // Rows are rebuilt when their endpoint changes (live updates): an element found just before
    // may be replaced before the click lands. Such a click is retried (bounded).
    const click = async (sel, opts) => {
      for (let i = 0; ; i++) {
        try { return await page.click(sel, opts); } catch (e) {
          if (i >= 20 || !/detached|not clickable|No element/.test(e.message)) throw e;
          await sleep(100);
        }
      }
    };

    await check('fleet_page_lists_the_cluster_with_its_endpoints', async () => {
      await page.goto(base, {waitUntil: 'load'});
      const cells = await page.waitForFunction(() => {
        const tr = document.querySelector('tr[data-cluster="backend"]');
        return tr && tr.children[2].textContent === '3' ? [...tr.children].map((td) => td.textContent) : null;
      }, {timeout: 10000});
      const v = await cells.jsonValue();
      expect(v[0] === 'backend' && v[2] === '3' && v[3] === '0', `row: ${JSON.stringify(v)}`);
      await page.waitForFunction(() => document.querySelector('#live').textContent === 'live', {timeout: 10000});
      await shot('fleet');
    });

    await check('assets_have_content_type_etag_and_csp', async () => {
      const r = await fetch(base + 'app.js');
      expect(r.status === 200, `status ${r.status}`);
      expect(r.headers.get('content-type') === 'text/javascript; charset=utf-8', r.headers.get('content-type'));
      expect(/^"[0-9a-f]{16}"$/.test(r.headers.get('etag')), `etag ${r.headers.get('etag')}`);
      expect(r.headers.get('content-security-policy').includes("script-src 'self'"), 'csp');
      const again = await fetch(base + 'app.js', {headers: {'If-None-Match': r.headers.get('etag')}});
      expect(again.status === 304, `revalidation: ${again.status}`);
    });

    await check('cluster_page_shows_each_endpoint', async () => {
      await page.goto(base + '#/clusters/backend', {waitUntil: 'load'});
      await page.waitForFunction(() => document.querySelectorAll('tr.ep').length === 3, {timeout: 10000});
      const zone = await page.$eval(rowSel(key('b2')), (tr) => tr.children[1].textContent);
      expect(zone === 'zone-b2', `zone ${zone}`);
      const state = await page.$eval(rowSel(key('b1')), (tr) => tr.children[3].textContent);
      expect(state === 'ACTIVE', `state ${state}`);
      await shot('cluster');
    });

    await check('write_without_token_is_refused_with_the_controllers_message', async () => {
      // The same call the button makes, without a token: its answer is what the UI must show.
      const direct = await call('PATCH', `/v1/clusters/backend/endpoints/127.0.0.1/${backends.b1.port}`,
                                {admin_state: 'DRAINING'}, false);
      expect(direct.status === 401, `direct status ${direct.status}`);
      const want = `${direct.json.error.code}: ${direct.json.error.message}`;
      await click(`${rowSel(key('b1'))} button[aria-label="Drain ${key('b1')}"]`);
      const got = await page.waitForFunction(() => {
        const t = document.querySelector('#toast');
        return !t.hidden && t.textContent;
      }, {timeout: 10000});
      const text = await got.jsonValue();
      expect(text === want, `toast "${text}", want "${want}"`);
      const ep = await call('GET', `/v1/clusters/backend/endpoints/127.0.0.1/${backends.b1.port}`);
      expect(ep.json.admin_state === 'ACTIVE', `state changed: ${ep.json.admin_state}`);
      await shot('refused-without-token');
    });

    await check('drain_from_the_ui_stops_requests_to_the_endpoint', async () => {
      await page.type('#token', TOKEN);
      await click('#token-form button[type="submit"]');
      await page.waitForFunction(() => document.querySelector('#token-state').textContent === 'token set');
      await click(`${rowSel(key('b1'))} button[aria-label="Drain ${key('b1')}"]`);
      // The row turns DRAINING from the live stream, with no reload.
      await page.waitForFunction((sel) => {
        const tr = document.querySelector(sel);
        return tr && tr.children[3].textContent === 'DRAINING';
      }, {timeout: 10000}, rowSel(key('b1')));
      const ep = await call('GET', `/v1/clusters/backend/endpoints/127.0.0.1/${backends.b1.port}`);
      expect(ep.json.admin_state === 'DRAINING', `controller state ${ep.json.admin_state}`);
      // Once the proxy has the change, b1 gets nothing.
      await until('the proxy to stop sending to b1', async () => !(await spread(20)).b1, 15000, 200);
      const after = await spread(60);
      expect(!after.b1 && after.b2 + after.b3 === 60, `after drain: ${JSON.stringify(after)}`);
      await shot('drained');
    });

    await check('undrain_and_weight_from_the_ui', async () => {
      await click(`${rowSel(key('b1'))} button[aria-label="Undrain ${key('b1')}"]`);
      await page.waitForFunction((sel) => document.querySelector(sel).children[3].textContent === 'ACTIVE',
                                 {timeout: 10000}, rowSel(key('b1')));
      const input = `${rowSel(key('b2'))} input.weight`;
      await click(input, {clickCount: 3});
      await page.type(input, '7');
      await click(`${rowSel(key('b2'))} button[aria-label="Set weight of ${key('b2')}"]`);
      const weight = await until('weight 7 in the controller', async () => {
        const ep = await call('GET', `/v1/clusters/backend/endpoints/127.0.0.1/${backends.b2.port}`);
        return ep.json.weight === 7 ? 7 : null;
      }, 10000);
      expect(weight === 7, 'weight');
      // A bad weight: the controller's validation message is shown.
      await click(input, {clickCount: 3});
      await page.type(input, '0');
      await click(`${rowSel(key('b2'))} button[aria-label="Set weight of ${key('b2')}"]`);
      const direct = await call('PATCH', `/v1/clusters/backend/endpoints/127.0.0.1/${backends.b2.port}`, {weight: 0});
      const want = `${direct.json.error.code}: ${direct.json.error.message}`;
      await page.waitForFunction((w) => document.querySelector('#toast').textContent === w, {timeout: 10000}, want);
    });

    await check('endpoint_goes_unhealthy_after_its_backend_is_killed', async () => {
      backends.b3.child.kill('SIGKILL');
      // Traffic makes the proxy see the failures (outlier ejection); its next load report says so.
      await spread(40);
      const eps = await call('GET', '/v1/clusters/backend/endpoints');
      if (!eps.json.endpoints.some((e) => e.status)) {
        // No load reports on this controller (LRS not built in): it cannot know proxy health.
        // What it can show is checked: the row says so.
        const text = await page.$eval(rowSel(key('b3')), (tr) => tr.children[4].textContent);
        expect(text === 'no load reports', `health cell "${text}"`);
        return {skipped: 'the controller has no load reports (GET /v1/clusters/backend/endpoints has no status)'};
      }
      await page.waitForFunction((sel) => {
        const tr = document.querySelector(sel);
        return tr && tr.querySelector('.badge.UNHEALTHY, .badge.EJECTED');
      }, {timeout: 20000}, rowSel(key('b3')));
      await shot('unhealthy');
    });

    await check('remove_and_add_from_the_ui', async () => {
      await click(`${rowSel(key('b3'))} button[aria-label="Remove ${key('b3')}"]`);
      await page.waitForFunction((sel) => !document.querySelector(sel), {timeout: 10000}, rowSel(key('b3')));
      const gone = await call('GET', `/v1/clusters/backend/endpoints/127.0.0.1/${backends.b3.port}`);
      expect(gone.status === 404, `after remove: ${gone.status}`);
      await page.type('form.addform input[name="address"]', '127.0.0.1');
      await page.type('form.addform input[name="port"]', String(backends.b3.port));
      await page.type('form.addform input[name="zone"]', 'zone-again');
      await click('form.addform button[type="submit"]');
      await page.waitForSelector(rowSel(key('b3')), {timeout: 10000});
      const back = await call('GET', `/v1/clusters/backend/endpoints/127.0.0.1/${backends.b3.port}`);
      expect(back.status === 200 && back.json.zone === 'zone-again', `after add: ${JSON.stringify(back.json)}`);
      // Adding it again: the controller's ALREADY_EXISTS message appears under the form.
      await page.type('form.addform input[name="address"]', '127.0.0.1');
      await page.type('form.addform input[name="port"]', String(backends.b3.port));
      await click('form.addform button[type="submit"]');
      const dup = await call('POST', '/v1/clusters/backend/endpoints', {address: '127.0.0.1', port: backends.b3.port});
      const want = `${dup.json.error.code}: ${dup.json.error.message}`;
      await page.waitForFunction((w) => document.querySelector('p.nack[role="alert"]').textContent === w,
                                 {timeout: 10000}, want);
    });

    await check('nack_appears_on_the_proxies_page', async () => {
      start('nack_client', process.env.LB_NACK_CLIENT,
            [`--controller=127.0.0.1:${ctl.grpc_port}`, '--cluster=backend', '--node_id=ui-nack-client', '--max_seconds=300']);
      await page.goto(base + '#/proxies', {waitUntil: 'load'});
      const cell = await page.waitForFunction(() => {
        const td = document.querySelector('tr[data-node="ui-nack-client"] td[data-nack]');
        return td && td.textContent;
      }, {timeout: 20000});
      const text = await cell.jsonValue();
      expect(/nack_client: endpoints of backend version \S+ rejected by the test/.test(text), `NACK cell "${text}"`);
      const proxies = await page.$$eval('tr[data-node="ui-proxy"]', (trs) => trs.length);
      expect(proxies > 0, 'the proxy is listed');
      await shot('proxies');
    });

    await check('history_page_shows_the_audit_trail_or_says_it_is_unavailable', async () => {
      const events = await call('GET', '/v1/events');
      await page.goto(base + '#/history', {waitUntil: 'load'});
      if (events.status === 404) {
        const text = await (await page.waitForFunction(() => {
          const p = document.querySelector('#history-unavailable');
          return p && p.textContent;
        }, {timeout: 10000})).jsonValue();
        expect(text.startsWith('The audit trail is not available on this controller'), text);
        expect(text.includes(events.json.error.message), text);
      } else {
        const rows = await (await page.waitForFunction(() => {
          const t = document.querySelector('table[aria-label="Audit trail"]');
          return t && t.tBodies[0].rows.length;
        }, {timeout: 10000})).jsonValue();
        expect(rows === Math.max(1, events.json.events.length), `rows ${rows}`);
      }
      await shot('history');
    });

    // The load-report shape (EndpointStatus) as the controller documents it, injected into the
    // real endpoint list: the console's rendering of it is checked whether or not this
    // controller has load reports.
    await check('status_blocks_render_health_per_proxy_rates_and_p99', async () => {
      const statusOf = {
        [backends.b1.port]: {proxies_total: 2, proxies_healthy: 2, rps: 12.5, error_rate: 0.01, p99_ms: 4.2, in_flight: 3,
          per_proxy: [{node_id: 'p-a', health: 'HEALTHY'}, {node_id: 'p-b', health: 'HEALTHY'}]},
        [backends.b2.port]: {proxies_total: 2, proxies_healthy: 1, rps: 7.5, error_rate: 0.1, p99_ms: 20, in_flight: 0,
          per_proxy: [{node_id: 'p-a', health: 'HEALTHY'}, {node_id: 'p-b', health: 'EJECTED'}]},
      };
      const handler = async (req) => {
        const u = new URL(req.url());
        if (req.method() !== 'GET' || u.pathname !== '/v1/clusters/backend/endpoints') return req.continue();
        const real = await call('GET', u.pathname, undefined, false);
        // Only the injected blocks: the real load reports of the other endpoints would change the sums.
        for (const ep of real.json.endpoints) {
          if (statusOf[ep.port]) ep.status = statusOf[ep.port];
          else delete ep.status;
        }
        return req.respond({status: 200, contentType: 'application/json', body: JSON.stringify(real.json)});
      };
      await page.setRequestInterception(true);
      page.on('request', handler);
      try {
        await page.goto(base + '#/clusters/backend', {waitUntil: 'load'});
        await page.reload({waitUntil: 'load'});
        const cells = await (await page.waitForFunction((sel) => {
          const tr = document.querySelector(sel);
          return tr && tr.querySelector('.badge.EJECTED') ? [...tr.children].map((td) => td.textContent) : null;
        }, {timeout: 10000}, rowSel(key('b2')))).jsonValue();
        expect(cells[4] === '1/2 HEALTHYEJECTED', `health cell "${cells[4]}"`);
        expect(cells[5] === '7.5' && cells[7] === '20.0 ms', `rate and p99: ${JSON.stringify(cells)}`);
        const b1 = await page.$eval(rowSel(key('b1')), (tr) => [...tr.children].map((td) => td.textContent));
        expect(b1[4] === '2/2 HEALTHYHEALTHY' && b1[5] === '12.5' && b1[7] === '4.2 ms', `b1: ${JSON.stringify(b1)}`);
        const b1Rate = await page.$eval(rowSel(key('b1')), (tr) => tr.children[5].title);
        expect(b1Rate === '3 in flight, errors 1.00%', `b1 rate title "${b1Rate}"`);
        // Each tick refetches while there are load reports: the sparkline gets its points.
        await page.waitForFunction((sel) => document.querySelector(`${sel} svg.spark polyline`),
                                   {timeout: 10000}, rowSel(key('b1')));
        const info = await page.$eval('main p.muted', (p) => p.textContent);
        // 20 req/s; errors (12.5 * 0.01 + 7.5 * 0.1) / 20 = 4.38%.
        expect(info.endsWith('· 20.0 req/s · errors 4.38%'), `summary "${info}"`);
        await shot('cluster-status');
        await page.goto(base + '#/', {waitUntil: 'load'});
        const fleet = await (await page.waitForFunction(() => {
          const tr = document.querySelector('tr[data-cluster="backend"]');
          return tr && tr.children[5].textContent !== '—' ? [...tr.children].map((td) => td.textContent) : null;
        }, {timeout: 10000})).jsonValue();
        // 3 of 4 proxy views healthy.
        expect(fleet[4] === '75%' && fleet[5] === '20.0' && fleet[6] === '4.38%', `fleet row ${JSON.stringify(fleet)}`);
        await shot('fleet-status');
      } finally {
        page.off('request', handler);
        await page.setRequestInterception(false);
      }
    });

    await check('thousand_endpoints_render_and_stay_responsive', async () => {
      const endpoints = [];
      for (let i = 0; i < 1000; i++) endpoints.push({address: `10.1.${i >> 8}.${i & 255}`, port: 8080});
      const created = await call('POST', '/v1/clusters', {name: 'big', endpoints});
      expect(created.status === 201, `create: ${created.status} ${JSON.stringify(created.json).slice(0, 300)}`);
      const t0 = Date.now();
      await page.goto(base + '#/clusters/big', {waitUntil: 'load'});
      await page.waitForFunction(() => document.querySelector('main p.muted').textContent.startsWith('1000 endpoints'),
                                 {timeout: 20000});
      const loadMs = Date.now() - t0;
      const domRows = await page.$$eval('tr.ep', (trs) => trs.length);
      expect(domRows > 0 && domRows < 100, `rows in the DOM: ${domRows} (virtualized: only those in view)`);
      // Scroll through the whole list, a screen at a time, timing each frame in the page.
      const timing = await page.evaluate(async () => {
        const s = document.querySelector('#endpoint-scroller');
        const frames = [];
        let longest = 0;
        const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) longest = Math.max(longest, e.duration); });
        try { obs.observe({type: 'longtask', buffered: false}); } catch (e) { /* not supported */ }
        for (let guard = 0; guard < 500 && s.scrollTop + s.clientHeight < s.scrollHeight - 1; guard++) {
          const t = performance.now();
          s.scrollTop += s.clientHeight;
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          frames.push(performance.now() - t);
        }
        obs.disconnect();
        frames.sort((a, b) => a - b);
        return {screens: frames.length, median_ms: frames[frames.length >> 1], max_ms: frames[frames.length - 1],
                longest_task_ms: longest, last_render_ms: window.lbLastRenderMs};
      });
      // The last row is the last endpoint as the API lists them (created in one write, they share a
      // revision and are listed by key).
      const listed = await call('GET', '/v1/clusters/big/endpoints');
      const lastEp = listed.json.endpoints[listed.json.endpoints.length - 1];
      await page.waitForSelector(`tr.ep[data-key="${lastEp.address}:${lastEp.port}"]`, {timeout: 5000});
      // A change to one of the thousand shows up live.
      const drained = await call('PATCH', `/v1/clusters/big/endpoints/${lastEp.address}/${lastEp.port}`, {admin_state: 'DRAINING'});
      expect(drained.status === 200, `drain: ${drained.status}`);
      const tLive = Date.now();
      await page.waitForFunction((sel) => {
        const tr = document.querySelector(sel);
        return tr && tr.children[3].textContent === 'DRAINING';
      }, {timeout: 10000}, `tr.ep[data-key="${lastEp.address}:${lastEp.port}"]`);
      const report = {endpoints: 1000, page_load_ms: loadMs, dom_rows: domRows, ...timing,
                      live_update_ms: Date.now() - tLive};
      fs.writeFileSync(path.join(artifacts, 'thousand_endpoints.json'), JSON.stringify(report, null, 2) + '\n');
      console.log('1,000 endpoints (measured, not asserted): ' + JSON.stringify(report));
      await shot('cluster-1000');
    });

    await check('dark_and_light_follow_the_system_setting', async () => {
      await page.goto(base + '#/', {waitUntil: 'load'});
      const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      await page.emulateMediaFeatures([{name: 'prefers-color-scheme', value: 'light'}]);
      const light = await bg();
      await page.emulateMediaFeatures([{name: 'prefers-color-scheme', value: 'dark'}]);
      const dark = await bg();
      await shot('fleet-dark');
      await page.emulateMediaFeatures([]);
      expect(light === 'rgb(255, 255, 255)' && dark === 'rgb(15, 18, 22)', `light ${light}, dark ${dark}`);
    });

    await check('no_script_errors_in_the_page', async () => {
      expect(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
    });
  } finally {
    await browser.close();
  }
}

let failed = 0;
try {
  await main();
} catch (e) {
  results.push({name: 'setup', ms: 0, failure: e.stack || String(e)});
  console.log(`FAIL setup: ${e.stack || e}`);
} finally {
  for (const c of children) { try { c.kill('SIGKILL'); } catch (e) { /* gone */ } }
  failed = writeJunit();
  for (const f of fs.readdirSync(tmp)) {
    if (f.endsWith('.log')) fs.copyFileSync(path.join(tmp, f), path.join(artifacts, f));
  }
  console.log(`artifacts in ${artifacts}`);
  console.log(`${results.length - failed} passed, ${failed} failed`);
}
process.exit(failed === 0 ? 0 : 1);
