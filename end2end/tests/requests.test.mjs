// Resource requests in the browser: a requester files a host request through the form, an
// approver sees the inbox badge, refuses to reject without a reason, approves, and marks the
// hosts delivered; the domain form checks records as one types; the list filters by status.
// Users and permissions are set up through the JSON API (`api`, `makeUser`, `fileAndApprove`
// below are meant to be reused: the domain → DNS server → mail flow builds on them).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'playwright-core';
import { launch, page, hydrated, login, logout, approveFromList, BASE, ADMIN_USER, ADMIN_PASSWORD } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const tag = Date.now().toString(36);
const PASSWORD = 'request-pass-123';

// A JSON API session (cookies kept by the context) for `username`.
export async function api(username = ADMIN_USER, password = ADMIN_PASSWORD) {
  const ctx = await request.newContext({ baseURL: BASE });
  const r = await ctx.post('/api/auth/login/', { data: { username, password } });
  assert.equal(r.status(), 200, `login ${username}: ${await r.text()}`);
  const call = async (method, path, data) => {
    const res = await ctx.fetch(path, { method, data });
    const text = await res.text();
    const body = text ? JSON.parse(text) : null;
    if (!res.ok()) throw new Error(`${method} ${path} → ${res.status()} ${text}`);
    return body;
  };
  return {
    get: (path) => call('GET', path),
    post: (path, data = {}) => call('POST', path, data),
    patch: (path, data) => call('PATCH', path, data),
    close: () => ctx.dispose(),
  };
}

// Creates a user with a password and module flags: { resource_request: ['enable_resource_req', …] }.
export async function makeUser(admin, username, modules) {
  const u = await admin.post('/api/users/', { username, password: PASSWORD });
  const grants = Object.entries(modules).map(([module_name, perms]) => ({
    module_name,
    permissions: Object.fromEntries(perms.map((p) => [p, true])),
  }));
  await admin.post(`/api/users/${u.id}/system/perms/`, grants);
  return { ...u, password: PASSWORD };
}

// Files a request of `segment` (hosts | domains | ssl-certificates) as `requester` and approves it
// as `approver`, both through the API; answers the request as the approver then sees it.
export async function fileAndApprove(segment, body, requester, approver) {
  const r = await api(requester.username, requester.password);
  const a = await api(approver.username, approver.password);
  try {
    const filed = await r.post(`/api/resource-request/${segment}/`, body);
    await a.post(`/api/resource-request/${segment}/${filed.id}/actions/approve/`);
    return await a.get(`/api/resource-request/${segment}/${filed.id}/`);
  } finally {
    await r.close();
    await a.close();
  }
}

// Polls a request through the API (as `user`) until `pred(request)` holds; answers it. Pages are
// loaded once the state is reached: a server render racing a state change may not hydrate.
export async function waitForRequest(user, segment, id, pred, ms = 20000) {
  const s = await api(user.username, user.password);
  try {
    const end = Date.now() + ms;
    for (;;) {
      const r = await s.get(`/api/resource-request/${segment}/${id}/`);
      if (pred(r)) return r;
      if (Date.now() > end) throw new Error(`request ${id} never reached the state: ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  } finally {
    await s.close();
  }
}

const requesterFlags = { resource_request: ['enable_resource_req', 'create_resource_req'] };

test('a host request is filed in the form, refused a reasonless rejection, approved from the inbox and delivered', async () => {
  assert.ok(ADMIN_PASSWORD, 'OPSDECK_ADMIN_PASSWORD must be set for the browser tests');
  const admin = await api();
  const requester = await makeUser(admin, `req${tag}`, requesterFlags);
  const approver = await makeUser(admin, `apr${tag}`, { resource_request: ['enable_resource_req', 'approve_host_req'] });
  await admin.close();
  const host = `web-${tag}`;
  // What already waits for this approver (0 on a fresh database; reruns leave requests behind).
  const a = await api(approver.username, approver.password);
  const before = (await a.get('/api/resource-request/inbox/')).total;
  await a.close();

  // The requester fills the form: the shared validation refuses a bad name in its cell first.
  const p = await page(browser);
  p.on('dialog', (d) => d.accept());
  await login(p, requester.username, requester.password);
  assert.equal(await p.$('#inbox-badge'), null, 'no inbox badge for a requester');
  await p.click('nav.sidebar a[data-module=resource_request]');
  await p.waitForURL(/\/requests/);
  await hydrated(p);
  await p.click('#new-host-request');
  await p.waitForSelector('#host-request-form');
  await hydrated(p);
  await p.fill('#host-request-form textarea[name=purpose]', 'load test of the shop');
  await p.fill('#host-rows tr[data-row="0"] input[name=host-name]', 'bad name!');
  await p.click('#submit-request');
  await p.waitForSelector('#host-rows tr[data-row="0"] .field-error');
  assert.match(await p.textContent('#host-rows tr[data-row="0"] .field-error'), /letters, digits/);
  await p.fill('#host-rows tr[data-row="0"] input[name=host-name]', host);
  // Rows come and go: add two, remove the first added one; the remaining rows keep their values.
  await p.click('#add-host-row');
  await p.click('#add-host-row');
  await p.fill('#host-rows tr[data-row="1"] input[name=host-name]', `gone-${tag}`);
  await p.fill('#host-rows tr[data-row="2"] input[name=host-name]', `${host}-b`);
  await p.selectOption('#host-rows tr[data-row="2"] select[name=host-type]', 'PHY_HOST');
  await p.click('#host-rows tr[data-row="1"] button.remove-row');
  await p.waitForFunction(() => document.querySelectorAll('#host-rows tbody tr').length === 2);
  assert.equal(await p.inputValue('#host-rows tr[data-row="1"] input[name=host-name]'), `${host}-b`);
  await p.click('#submit-request');
  await p.waitForURL(/\/requests\/hosts\/\d+$/);
  const id = Number(p.url().match(/\/(\d+)$/)[1]);
  await p.waitForSelector('#request-title [data-status=wait_review]');
  assert.match(await p.textContent('#request-host-rows'), new RegExp(`${host}-b`));
  assert.doesNotMatch(await p.textContent('#request-host-rows'), /gone-/);
  assert.ok(await p.$('#action-close'), 'the requester may withdraw');
  assert.equal(await p.$('#action-approve'), null, 'nobody approves their own request');
  // While it waits, the requester edits it in the same form, prefilled.
  await hydrated(p);
  await p.click('#action-edit');
  await p.waitForURL(/\/edit$/);
  await p.waitForSelector('#host-request-form');
  await hydrated(p);
  assert.equal(await p.inputValue('#host-rows tr[data-row="1"] input[name=host-name]'), `${host}-b`);
  await p.fill('#host-request-form textarea[name=purpose]', 'load test of the shop, two weeks');
  await p.click('#submit-request');
  await p.waitForURL(new RegExp(`/requests/hosts/${id}$`));
  await p.waitForSelector('#request-timeline li[data-event=edited]');
  assert.match(await p.textContent('#request-facts'), /two weeks/);
  assert.deepEqual(p.errors, [], 'no console errors for the requester');
  await logout(p);

  // The approver sees the badge, opens the request from the inbox.
  await login(p, approver.username, approver.password);
  await p.waitForSelector('#inbox-badge');
  assert.equal((await p.textContent('#inbox-badge')).trim(), String(before + 1));
  await p.click('nav.sidebar a[data-module=resource_request]');
  await p.waitForSelector(`#requests-table tr[data-request="${id}"]`);
  assert.equal(await p.getAttribute('#view-tabs [data-view=inbox]', 'aria-selected'), 'true');
  await hydrated(p);
  await p.click(`#requests-table tr[data-request="${id}"] a >> nth=0`);
  await p.waitForSelector('#action-reject');
  await hydrated(p);

  // Reject without a reason: refused inline, nothing sent; Escape closes the dialog.
  await p.click('#action-reject');
  await p.waitForSelector('#reject-dialog textarea[name=reason]');
  await p.waitForFunction(() => document.activeElement?.name === 'reason');
  await p.click('#reject-dialog button[type=submit]');
  await p.waitForSelector('#reject-dialog .field-error');
  assert.match(await p.textContent('#reject-dialog .field-error'), /reason/);
  await p.keyboard.press('Escape');
  await p.waitForSelector('#reject-dialog', { state: 'detached' });
  await p.waitForSelector('#request-title [data-status=wait_review]');

  // Approve: the page reloads the request, the badge goes.
  await p.click('#action-approve');
  await p.waitForSelector('#request-title [data-status=approved]');
  if (before === 0) await p.waitForSelector('#inbox-badge', { state: 'detached' });
  else await p.waitForFunction((n) => document.querySelector('#inbox-badge')?.textContent.trim() === n, String(before));
  assert.match(await p.textContent('#request-decisions'), new RegExp(approver.username));
  assert.ok(await p.$('#request-timeline li[data-event=approved]'));

  // The fulfilment job registers the hosts; then the approver marks them delivered.
  await waitForRequest(approver, 'hosts', id, (r) => r.available_actions.includes('deliver'));
  await p.reload();
  await p.waitForSelector('#action-deliver');
  await hydrated(p);
  await p.click('#action-deliver');
  await p.waitForSelector('#request-title [data-status=finished]');
  assert.ok(await p.$('#request-timeline li[data-event=finished]'));
  assert.match(await p.textContent('#request-hosts'), /#\d+/);
  assert.deepEqual(p.errors, [], 'no console errors for the approver');
});

test('the domain request form checks records as one types and shows the server refusal in its cell', async () => {
  const admin = await api();
  const requester = await makeUser(admin, `dreq${tag}`, requesterFlags);
  await admin.close();
  const p = await page(browser);
  await login(p, requester.username, requester.password);
  await p.goto(`${BASE}/requests/domains/new`);
  await p.waitForSelector('#domain-request-form');
  await hydrated(p);
  const row = '#record-rows tr[data-row="0"]';
  await p.fill(`${row} input[name=record-name]`, `www.${tag}.test`);
  await p.fill(`${row} input[name=record-value]`, '10.0.0.300');
  // Checked while typing, before any submit.
  await p.waitForSelector(`${row} .field-error`);
  assert.match(await p.textContent(`${row} .field-error`), /IPv4/);
  await p.fill(`${row} input[name=record-value]`, '10.0.0.30');
  await p.waitForSelector(`${row} .field-error`, { state: 'detached' });
  // Priority is for MX and SRV only.
  assert.ok(await p.isDisabled(`${row} input[name=record-priority]`));
  await p.selectOption(`${row} select[name=record-type]`, 'MX');
  assert.ok(await p.isEnabled(`${row} input[name=record-priority]`));
  await p.selectOption(`${row} select[name=record-type]`, 'A');
  // No managed zone holds the name: the server's refusal lands in the row's name cell.
  await p.click('#submit-request');
  await p.waitForSelector(`${row} .field-error`);
  assert.match(await p.textContent(`${row} .field-error`), /zone/);
  assert.match(p.url(), /\/requests\/domains\/new$/);
  // A refused server function answers with an error status, which Chromium logs as a failed load.
  assert.deepEqual(p.errors.filter((e) => !e.startsWith('Failed to load resource')), []);
});

test('my requests list filters by status, kept in the URL', async () => {
  const admin = await api();
  const requester = await makeUser(admin, `lreq${tag}`, requesterFlags);
  const approver = await makeUser(admin, `lapr${tag}`, { resource_request: ['enable_resource_req', 'approve_host_req'] });
  await admin.close();
  const approved = await fileAndApprove('hosts', { purpose: 'listed', required_hosts: [{ name: `list-a-${tag}` }] }, requester, approver);
  assert.ok(['approved', 'finished'].includes(approved.status), approved.status);
  const r = await api(requester.username, requester.password);
  const waiting = await r.post('/api/resource-request/hosts/', { purpose: 'still waiting', required_hosts: [{ name: `list-b-${tag}` }] });
  await r.close();

  const p = await page(browser);
  await login(p, requester.username, requester.password);
  await p.goto(`${BASE}/requests`);
  await p.waitForSelector(`#requests-table tr[data-request="${waiting.id}"]`);
  await p.waitForSelector(`#requests-table tr[data-request="${approved.id}"]`);
  await hydrated(p);
  await p.selectOption('#request-filters select[name=status]', 'wait_review');
  await p.waitForURL(/status=wait_review/);
  await p.waitForSelector(`#requests-table tr[data-request="${approved.id}"]`, { state: 'detached' });
  assert.ok(await p.$(`#requests-table tr[data-request="${waiting.id}"]`));
  // The shared URL renders the same list on the server.
  await p.reload();
  await p.waitForSelector(`#requests-table tr[data-request="${waiting.id}"] [data-status=wait_review]`);
  await hydrated(p);
  assert.equal(await p.$(`#requests-table tr[data-request="${approved.id}"]`), null);
  // Switching the language translates the badges.
  await p.click('#lang-switch');
  await p.waitForSelector(`#requests-table tr[data-request="${waiting.id}"] :text("待审批")`);
  await p.click('#lang-switch');
  assert.deepEqual(p.errors, []);
});

// A PowerDNS authoritative server with its HTTP API on free loopback ports (empty SQLite
// database in a temp dir), as shared/INTEGRATIONS.md describes; `stop()` ends it by PID.
export async function startPowerDns() {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { spawn, execFileSync } = await import('node:child_process');
  const net = await import('node:net');
  const free = () => new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
  const dir = await mkdtemp('/tmp/opsdeck-e2e-pdns-');
  execFileSync('sqlite3', [`${dir}/pdns.sqlite3`], { input: await (await import('node:fs/promises')).readFile('/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql') });
  const [dnsPort, apiPort] = [await free(), await free()];
  const key = `e2e-pdns-${dnsPort}`;
  await (await import('node:fs/promises')).mkdir(`${dir}/run`);
  await writeFile(`${dir}/pdns.conf`, [
    'launch=gsqlite3', `gsqlite3-database=${dir}/pdns.sqlite3`, 'local-address=127.0.0.1', `local-port=${dnsPort}`,
    'api=yes', `api-key=${key}`, 'webserver=yes', 'webserver-address=127.0.0.1', `webserver-port=${apiPort}`,
    'webserver-allow-from=127.0.0.1', `socket-dir=${dir}/run`, 'daemon=no', 'guardian=no', 'disable-syslog=yes',
    'security-poll-suffix=', 'default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 3600',
    'cache-ttl=0', 'query-cache-ttl=0', 'negquery-cache-ttl=0', 'zone-cache-refresh-interval=0', '',
  ].join('\n'));
  const apiUrl = `http://127.0.0.1:${apiPort}/`;
  let child;
  const start = async () => {
    child = spawn('/usr/sbin/pdns_server', [`--config-dir=${dir}`], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try { if ((await fetch(`${apiUrl}api/v1/servers/localhost`, { headers: { 'X-API-Key': key } })).ok) return; } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('pdns_server did not start');
  };
  await start();
  return {
    apiUrl, key, dnsPort,
    // What the server answers for `name` (`dig +short`), one line per record, sorted.
    dig: (name, type = 'A') => execFileSync('dig', [`@127.0.0.1`, '-p', String(dnsPort), name, type, '+short', '+tries=1', '+time=2'])
      .toString().trim().split('\n').filter(Boolean).sort(),
    // Changes the server behind Opsdeck's back (for drift).
    replace: (zone, name, type, contents) => fetch(`${apiUrl}api/v1/servers/localhost/zones/${zone}.`, {
      method: 'PATCH', headers: { 'X-API-Key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ rrsets: [{ name: `${name}.`, type, ttl: 600, changetype: 'REPLACE', records: contents.map((content) => ({ content, disabled: false })) }] }),
    }),
    // Stops the server (its data kept) and waits until it has exited; `start` runs it again.
    stop: () => new Promise((res) => {
      if (child.exitCode !== null || child.signalCode !== null) return res();
      child.once('exit', () => res());
      child.kill('SIGTERM');
    }),
    start,
  };
}

// Waits until `f()` (sync or async) is truthy.
async function until(f, what, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('DNS in the browser: a PowerDNS service is registered and tested, a zone added, records added, edited, disabled and drift pushed back', async () => {
  const pdns = await startPowerDns();
  try {
    const p = await page(browser);
    p.on('dialog', (d) => d.accept());
    await login(p, ADMIN_USER, ADMIN_PASSWORD);
    await p.click('nav.sidebar a[data-module=dns]');
    await p.waitForSelector('#module-title');
    await hydrated(p);
    const service = `pdns-${tag}`;
    const zone = `z${tag}.test`;

    // Register the service; the connection test shows what PowerDNS said.
    await p.click('#new-dns-service');
    await p.fill('#new-dns-service-form input[name=name]', service);
    await p.fill('#new-dns-service-form input[name=api_endpoint]', pdns.apiUrl);
    await p.fill('#new-dns-service-form input[name=api_key]', pdns.key);
    await p.click('#new-dns-service-form button[type=submit]');
    await p.waitForSelector(`#dns-services tr[data-service="${service}"]`);
    await p.click(`#dns-services tr[data-service="${service}"] .test-connection`);
    await p.waitForSelector(`#dns-services tr[data-service="${service}"] .test-result[data-ok=true]`);

    // A zone on it.
    await p.click(`#dns-services tr[data-service="${service}"] a`);
    await p.waitForSelector('#new-zone-form');
    await hydrated(p);
    await p.fill('#new-zone-form input[name=zone]', zone);
    await p.click('#new-zone-form button[type=submit]');
    await p.waitForSelector(`#dns-zones tr[data-zone="${zone}"]`);
    await p.click(`#dns-zones tr[data-zone="${zone}"] a`);
    await p.waitForSelector('#add-record-form');
    await hydrated(p);

    // Add a record: the value is checked as one types; then it reaches the server.
    await p.fill('#add-record-form input[name=record-name]', 'www');
    await p.fill('#add-record-form input[name=record-value]', '10.9.8.300');
    await p.waitForSelector('#add-record-form .field-error');
    assert.match(await p.textContent('#add-record-form .field-error'), /IPv4/);
    await p.fill('#add-record-form input[name=record-value]', '10.9.8.7');
    await p.click('#add-record-form button[type=submit]');
    const row = `#dns-records tr[data-name="www.${zone}"][data-type=A]`;
    await p.waitForSelector(row);
    await until(() => pdns.dig(`www.${zone}`).join() === '10.9.8.7', 'the record to answer');
    // The pending badge goes once pushed (the page looks again by itself).
    await p.waitForSelector(`${row} .badge.pending`, { state: 'detached', timeout: 20000 });

    // Edit in place: Enter saves.
    await p.click(`${row} .edit-record`);
    await p.fill('#dns-records tr.editing input[name=edit-value]', '10.9.8.8');
    await p.press('#dns-records tr.editing input[name=edit-value]', 'Enter');
    await p.waitForSelector('#dns-records tr.editing', { state: 'detached' });
    await until(() => pdns.dig(`www.${zone}`).join() === '10.9.8.8', 'the edit to answer');

    // Disable: gone from the server, kept in Opsdeck; enable brings it back.
    await p.click(`${row} .toggle-record`);
    await until(() => pdns.dig(`www.${zone}`).length === 0, 'the disabled record to stop answering');
    await p.waitForSelector(`${row}.disabled`);
    await p.click(`${row} .toggle-record`);
    await until(() => pdns.dig(`www.${zone}`).join() === '10.9.8.8', 'the enabled record to answer');

    // Drift: the server is changed behind Opsdeck's back; "push ours" puts Opsdeck's back.
    await (await pdns.replace(zone, `www.${zone}`, 'A', ['10.6.6.6'])).text();
    assert.deepEqual(pdns.dig(`www.${zone}`), ['10.6.6.6']);
    await p.click('#zone-tabs [data-tab=drift]');
    await p.click('#check-drift');
    const diff = `#drift-table tr[data-name="www.${zone}"][data-type=A]`;
    await p.waitForSelector(diff);
    assert.match(await p.textContent(diff), /10\.6\.6\.6/);
    await p.click(`${diff} .push-ours`);
    await until(() => pdns.dig(`www.${zone}`).join() === '10.9.8.8', 'ours to be pushed back');
    await p.click('#check-drift');
    await p.waitForSelector('#drift-none');

    // Delete.
    await p.click('#zone-tabs [data-tab=records]');
    await p.click(`${row} .delete-record`);
    await p.waitForSelector(row, { state: 'detached' });
    await until(() => pdns.dig(`www.${zone}`).length === 0, 'the deleted record to go');

    // The server down: a new record waits `pending` under the push error banner; back up, it is
    // pushed (the job retries) and the banner goes.
    await pdns.stop();
    await p.fill('#add-record-form input[name=record-name]', 'late');
    await p.fill('#add-record-form input[name=record-value]', '10.9.8.9');
    await p.click('#add-record-form button[type=submit]');
    const late = `#dns-records tr[data-name="late.${zone}"][data-type=A]`;
    await p.waitForSelector(`${late} .badge.pending`);
    await p.waitForSelector('#push-error', { timeout: 20000 });
    await pdns.start();
    await until(() => pdns.dig(`late.${zone}`).join() === '10.9.8.9', 'the waiting record to be pushed', 40000);
    await p.waitForSelector('#push-error', { state: 'detached', timeout: 20000 });
    await p.waitForSelector(`${late} .badge.pending`, { state: 'detached', timeout: 20000 });
    assert.deepEqual(p.errors, []);
  } finally {
    await pdns.stop();
  }
});

test('a domain request filed in the form and approved from the inbox answers from the DNS server', async () => {
  const pdns = await startPowerDns();
  try {
    const admin = await api();
    const svc = await admin.post('/api/dns-services/', { name: `req-pdns-${tag}`, type: 'powerdns', api_endpoint: pdns.apiUrl, api_key: pdns.key });
    const zone = `r${tag}.test`;
    await admin.post(`/api/dns-services/${svc.id}/domains/`, { name: zone });
    const requester = await makeUser(admin, `dnsreq${tag}`, requesterFlags);
    const approver = await makeUser(admin, `dnsapr${tag}`, { resource_request: ['enable_resource_req', 'approve_domain_req'] });
    await admin.close();
    const a = await api(approver.username, approver.password);
    const before = (await a.get('/api/resource-request/inbox/')).total;
    await a.close();

    const p = await page(browser);
    p.on('dialog', (d) => d.accept());
    await login(p, requester.username, requester.password);
    await p.goto(`${BASE}/requests`);
    await hydrated(p);
    await p.click('#new-domain-request');
    await p.waitForSelector('#domain-request-form');
    await hydrated(p);
    await p.fill('#record-rows tr[data-row="0"] input[name=record-name]', `app.${zone}`);
    await p.fill('#record-rows tr[data-row="0"] input[name=record-value]', '10.1.2.3');
    await p.click('#add-record-row');
    await p.fill('#record-rows tr[data-row="1"] input[name=record-name]', zone);
    await p.selectOption('#record-rows tr[data-row="1"] select[name=record-type]', 'MX');
    await p.fill('#record-rows tr[data-row="1"] input[name=record-value]', `app.${zone}`);
    await p.click('#submit-request');
    // MX needs a priority: refused in its cell before anything is sent.
    await p.waitForSelector('#record-rows tr[data-row="1"] .field-error');
    assert.match(await p.textContent('#record-rows tr[data-row="1"] .field-error'), /priority/);
    await p.fill('#record-rows tr[data-row="1"] input[name=record-priority]', '10');
    await p.click('#submit-request');
    await p.waitForURL(/\/requests\/domains\/\d+$/, { timeout: 5000 }).catch(async (e) => {
      throw new Error(`not filed: ${await p.textContent('#domain-request-form')}`);
    });
    const id = Number(p.url().match(/\/(\d+)$/)[1]);
    await p.waitForSelector('#request-title [data-status=wait_review]');
    await logout(p);

    await login(p, approver.username, approver.password);
    await p.waitForSelector('#inbox-badge');
    assert.equal((await p.textContent('#inbox-badge')).trim(), String(before + 1));
    await p.click('nav.sidebar a[data-module=resource_request]');
    await approveFromList(p, id);
    await until(() => pdns.dig(`app.${zone}`).join() === '10.1.2.3', 'the requested record to answer');
    assert.deepEqual(pdns.dig(zone, 'MX'), [`10 app.${zone}.`]);
    // Fulfilment finishes the request once the server has the records.
    await waitForRequest(approver, 'domains', id, (r) => r.status === 'finished');
    await p.reload();
    await p.waitForSelector('#request-title [data-status=finished]');
    await hydrated(p);
    assert.ok(await p.$('#request-timeline li[data-event=finished]'));
    assert.deepEqual(p.errors, []);
  } finally {
    await pdns.stop();
  }
});

test('an SSL certificate request filed in the form is issued by Opsdeck\'s CA and downloaded from the certificates page', async () => {
  const admin = await api();
  const requester = await makeUser(admin, `sslreq${tag}`, requesterFlags);
  const approver = await makeUser(admin, `sslapr${tag}`, { resource_request: ['enable_resource_req', 'approve_ssl_cert_req'] });
  await admin.close();
  const domain = `shop.${tag}.test`;
  const p = await page(browser);
  await login(p, requester.username, requester.password);
  await p.goto(`${BASE}/requests/ssl-certificates/new`);
  await p.waitForSelector('#ssl-request-form');
  await hydrated(p);
  await p.fill('#ssl-request-form input[name=domain]', 'bad_domain!');
  await p.waitForSelector('#ssl-request-form .field-error');
  await p.fill('#ssl-request-form input[name=domain]', domain);
  await p.waitForSelector('#ssl-request-form .field-error', { state: 'detached' });
  await p.check('#ssl-request-form input[name=certificate_type][value=wizard]');
  assert.equal((await p.textContent('#cert-names')).includes(`*.${domain}, ${domain}`), true);
  await p.fill('#ssl-request-form textarea[name=purpose]', 'the shop front');
  await p.click('#submit-request');
  await p.waitForURL(/\/requests\/ssl-certificates\/\d+$/);
  const id = Number(p.url().match(/\/(\d+)$/)[1]);
  const a = await api(approver.username, approver.password);
  await a.post(`/api/resource-request/ssl-certificates/${id}/actions/approve/`);
  await a.close();
  // Issued by the fulfilment job: the request page links the certificate.
  await waitForRequest(requester, 'ssl-certificates', id, (r) => r.status === 'finished' && r.certificate_id);
  await p.reload();
  await p.waitForSelector('#request-certificate');
  await hydrated(p);
  await p.goto(`${BASE}/certificates`);
  const row = `#certs-table tr[data-domain="${domain}"]`;
  await p.waitForSelector(row);
  await hydrated(p);
  assert.match(await p.textContent(row), new RegExp(`\\*\\.${domain.replace(/\./g, '\\.')}`));
  const days = Number(await p.getAttribute(`${row} td[data-days]`, 'data-days'));
  assert.ok(days > 30, `fresh certificate, ${days} days left`);
  assert.equal(await p.getAttribute(`${row} td[data-days]`, 'class'), '', 'no expiry colour when far from expiry');
  // Downloads are links to the REST API, authorised by the session; the requester gets the key.
  for (const part of ['cert', 'fullchain', 'key']) {
    const href = await p.getAttribute(`${row} a[data-part=${part}]`, 'href');
    const res = await p.request.get(`${BASE}${href}`);
    assert.equal(res.status(), 200, part);
    assert.match(await res.text(), part === 'key' ? /BEGIN (EC |RSA )?PRIVATE KEY/ : /BEGIN CERTIFICATE/);
  }
  const ca = await p.request.get(`${BASE}${await p.getAttribute('#ca-download', 'href')}`);
  assert.match(await ca.text(), /BEGIN CERTIFICATE/);
  await p.click(`${row} a >> nth=0`);
  await p.waitForSelector('#cert-pem');
  assert.match(await p.textContent('#cert-pem'), /BEGIN CERTIFICATE/);
  assert.deepEqual(p.errors, []);
});
