// The domain-request walk of issue 9 against real servers: a requester files a domain request in
// the form, an approver sees the inbox badge and approves, the record answers from the PowerDNS
// server itself, and the requester's mail arrives at the SMTP sink. scripts/test.sh starts the
// DNS server and the sink (OPSDECK_E2E_PDNS_*, OPSDECK_E2E_MAILDIR).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'playwright-core';
import { launch, page, hydrated, login, logout, approveFromList, BASE, ADMIN_USER, ADMIN_PASSWORD } from './helpers.mjs';

const PDNS_URL = process.env.OPSDECK_E2E_PDNS_URL;
const PDNS_KEY = process.env.OPSDECK_E2E_PDNS_KEY;
const PDNS_PORT = process.env.OPSDECK_E2E_PDNS_PORT;
const MAILDIR = process.env.OPSDECK_E2E_MAILDIR;
const tag = Date.now().toString(36);
const PASSWORD = 'domain-flow-pass-123';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function adminApi() {
  const ctx = await request.newContext({ baseURL: BASE });
  const r = await ctx.post('/api/auth/login/', { data: { username: ADMIN_USER, password: ADMIN_PASSWORD } });
  assert.equal(r.status(), 200, await r.text());
  const post = async (path, data) => {
    const res = await ctx.post(path, { data });
    const text = await res.text();
    assert.ok(res.ok(), `POST ${path} → ${res.status()} ${text}`);
    return JSON.parse(text);
  };
  return { post, close: () => ctx.dispose() };
}

function dig(name) {
  return execFileSync('dig', ['@127.0.0.1', '-p', PDNS_PORT, name, 'A', '+short'], { encoding: 'utf8' }).trim();
}

function mailsTo(address) {
  const out = [];
  for (const sub of ['new', 'cur']) {
    const d = join(MAILDIR, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      // Unfold long header lines (RFC 5322) before matching.
      const text = readFileSync(join(d, f), 'utf8').replace(/\r?\n[ \t]+/g, ' ');
      if (text.includes(`To: ${address}`)) out.push(text);
    }
  }
  return out;
}

test('a domain request: filed in the form, approved from the inbox, served by PowerDNS, mailed', async () => {
  assert.ok(PDNS_URL && PDNS_KEY && PDNS_PORT && MAILDIR, 'scripts/test.sh sets the DNS server and the mail sink');
  const zone = `${tag}.e2e.test`;
  const admin = await adminApi();
  const service = await admin.post('/api/dns-services/', { name: `pdns-${tag}`, type: 'powerdns', api_endpoint: PDNS_URL, api_key: PDNS_KEY, description: 'e2e' });
  await admin.post(`/api/dns-services/${service.id}/domains/`, { name: zone });
  const mk = async (name, perms) => {
    const u = await admin.post('/api/users/', { username: name, password: PASSWORD, email: `${name}@example.test` });
    await admin.post(`/api/users/${u.id}/system/perms/`, [{ module_name: 'resource_request', permissions: Object.fromEntries(perms.map((p) => [p, true])) }]);
    return u;
  };
  const requester = await mk(`dfreq${tag}`, ['enable_resource_req', 'create_resource_req']);
  const approver = await mk(`dfapr${tag}`, ['enable_resource_req', 'approve_domain_req']);
  await admin.close();

  const p = await page(browser);
  p.on('dialog', (d) => d.accept()); // the approve button asks for confirmation
  await login(p, requester.username, PASSWORD);
  await p.goto(`${BASE}/requests/domains/new`);
  await p.waitForSelector('#domain-request-form');
  await hydrated(p);
  const row = '#record-rows tr[data-row="0"]';
  await p.fill(`${row} input[name=record-name]`, `www.${zone}`);
  await p.fill(`${row} input[name=record-value]`, '10.9.8.7');
  await p.click('#submit-request');
  await p.waitForURL(/\/requests\/domains\/\d+$/);
  const id = Number(p.url().match(/\/(\d+)$/)[1]);
  await p.waitForSelector('#request-title [data-status=wait_review]');
  assert.equal(dig(`www.${zone}`), '', 'nothing is served before the approval');
  await logout(p);

  await login(p, approver.username, PASSWORD);
  await p.waitForSelector('#inbox-badge');
  // From the badge's module to the inbox row, as an approver works.
  await p.click('nav.sidebar a[data-module=resource_request]');
  await p.waitForURL(/\/requests/);
  await hydrated(p);
  await p.click('#kind-tabs [data-kind=domains]');
  await approveFromList(p, id);

  // The job runner of the server pushes the record; the request finishes.
  let served = '';
  for (let i = 0; i < 60 && served !== '10.9.8.7'; i++) {
    await p.waitForTimeout(250);
    served = dig(`www.${zone}`);
  }
  assert.equal(served, '10.9.8.7', 'the DNS server answers the approved record');
  for (let i = 0; i < 40 && !(await p.$('#request-title [data-status=finished]')); i++) {
    await p.waitForTimeout(250);
    await p.reload();
    await p.waitForSelector('#request-title');
  }
  assert.ok(await p.$('#request-title [data-status=finished]'), 'the request is finished');

  // The requester's mails arrived through SMTP: approved, then done, each with the link.
  let mails = [];
  for (let i = 0; i < 60 && mails.filter((m) => /is done/.test(m)).length === 0; i++) {
    await p.waitForTimeout(250);
    mails = mailsTo(`${requester.username}@example.test`);
  }
  assert.ok(mails.some((m) => /Subject: .*was approved/.test(m)), 'approval mail');
  assert.ok(mails.some((m) => /Subject: .*is done/.test(m)), 'fulfilment mail');
  assert.ok(mailsTo(`${approver.username}@example.test`).some((m) => /waits for your approval/.test(m)), 'the approver was mailed');
  assert.deepEqual(p.errors, [], 'no console errors');
});
