// Resource requests in the browser: a requester files a host request through the form, an
// approver sees the inbox badge, refuses to reject without a reason, approves, and marks the
// hosts delivered; the domain form checks records as one types; the list filters by status.
// Users and permissions are set up through the JSON API (`api`, `makeUser`, `fileAndApprove`
// below are meant to be reused: the domain → DNS server → mail flow builds on them).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'playwright-core';
import { launch, page, hydrated, login, logout, BASE, ADMIN_USER, ADMIN_PASSWORD } from './helpers.mjs';

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

const requesterFlags = { resource_request: ['enable_resource_req', 'create_resource_req'] };

test('a host request is filed in the form, refused a reasonless rejection, approved from the inbox and delivered', async () => {
  assert.ok(ADMIN_PASSWORD, 'OPSDECK_ADMIN_PASSWORD must be set for the browser tests');
  const admin = await api();
  const requester = await makeUser(admin, `req${tag}`, requesterFlags);
  const approver = await makeUser(admin, `apr${tag}`, { resource_request: ['enable_resource_req', 'approve_host_req'] });
  await admin.close();
  const host = `web-${tag}`;

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
  assert.deepEqual(p.errors, [], 'no console errors for the requester');
  await logout(p);

  // The approver sees the badge, opens the request from the inbox.
  await login(p, approver.username, approver.password);
  await p.waitForSelector('#inbox-badge');
  assert.equal((await p.textContent('#inbox-badge')).trim(), '1');
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
  await p.waitForSelector('#inbox-badge', { state: 'detached' });
  assert.match(await p.textContent('#request-decisions'), new RegExp(approver.username));
  assert.ok(await p.$('#request-timeline li[data-event=approved]'));

  // The fulfilment job registers the hosts; then the approver marks them delivered.
  for (let i = 0; i < 50 && !(await p.$('#action-deliver')); i++) {
    await p.waitForTimeout(300);
    await p.reload();
    await p.waitForSelector('#request-title');
  }
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
  assert.equal(await p.$(`#requests-table tr[data-request="${approved.id}"]`), null);
  // Switching the language translates the badges.
  await p.click('#lang-switch');
  await p.waitForSelector(`#requests-table tr[data-request="${waiting.id}"] :text("待审批")`);
  await p.click('#lang-switch');
  assert.deepEqual(p.errors, []);
});
