// The foundation scenario of issue 2, through the browser: role, grant, member, what the member sees, audit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, page, hydrated, login, logout, BASE, ADMIN_USER, ADMIN_PASSWORD } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const suffix = Date.now().toString(36);
const member = `opal${suffix}`;
const role = `dns-team-${suffix}`;
const memberPassword = 'opal-pass-123';

test('admin grants a module through a role and the member sees only that module', async () => {
  assert.ok(ADMIN_PASSWORD, 'OPSDECK_ADMIN_PASSWORD must be set for the browser tests');
  const p = await page(browser);
  await login(p, ADMIN_USER, ADMIN_PASSWORD);

  // Create the second user through the users page (inline validation first).
  await p.goto(`${BASE}/admin/users`);
  await hydrated(p);
  await p.click('#new-user');
  await p.fill('#new-user-form input[name=username]', member);
  await p.fill('#new-user-form input[name=password]', 'short');
  await p.click('#new-user-form button[type=submit]');
  await p.waitForSelector('#new-user-form .field-error');
  assert.match(await p.textContent('#new-user-form .field-error'), /at least 8/);
  await p.fill('#new-user-form input[name=password]', memberPassword);
  await p.click('#new-user-form button[type=submit]');
  await p.waitForSelector(`#users-table tr[data-username="${member}"]`);

  // Create a role and open it.
  await p.goto(`${BASE}/admin/roles`);
  await hydrated(p);
  await p.fill('#new-role-form input[name=role-name]', role);
  await p.click('#new-role-form button[type=submit]');
  await p.click(`#roles-table tr[data-role="${role}"] a`);
  await p.waitForSelector('#perm-matrix-role');

  // Grant the DNS module to the role.
  await p.check('#perm-matrix-role fieldset[data-module=dns] input[name=enable_dns_mgmt]');
  await p.check('#perm-matrix-role fieldset[data-module=dns] input[name=manage_dns_server]');
  await p.click('#perm-matrix-role button[type=submit]');
  await p.waitForSelector('#perm-matrix-role .alert-ok');

  // Add the member.
  await p.fill('#add-member-form input[name=member]', member);
  await p.click('#add-member-form button[type=submit]');
  await p.waitForSelector(`#role-members li:has-text("${member}")`);
  assert.deepEqual(p.errors, [], 'no console errors for the admin');
  await logout(p);

  // The member sees the DNS module and no other, and no administration.
  await login(p, member, memberPassword);
  const modules = await p.$$eval('nav.sidebar a[data-module]', (as) => as.map((a) => a.dataset.module));
  assert.deepEqual(modules, ['dns']);
  assert.equal(await p.$('nav.sidebar a[href="/admin/users"]'), null);
  await p.click('nav.sidebar a[data-module=dns]');
  await p.waitForSelector('#module-title');
  assert.match(await p.textContent('.content'), /manage_dns_server/);
  // A page outside the member's permissions is refused by the server, not just hidden.
  await p.goto(`${BASE}/admin/audit`);
  await p.waitForSelector('.alert-error');
  await logout(p);

  // The audit page shows the grant.
  await login(p, ADMIN_USER, ADMIN_PASSWORD);
  await p.goto(`${BASE}/admin/audit`);
  await hydrated(p);
  await p.fill('#audit-search', 'manage_dns_server');
  await p.waitForSelector('#audit-table td:has-text("module_perm")');
  const text = await p.textContent('#audit-table');
  assert.match(text, new RegExp(role));
  assert.match(text, /manage_dns_server/);

  // "Why can the member manage DNS servers?" names the role.
  await p.goto(`${BASE}/admin/explain`);
  await hydrated(p);
  await p.fill('#explain-form input[name=username]', member);
  await p.fill('#explain-form input[name=object]', 'module:dns');
  await p.fill('#explain-form input[name=perm]', 'manage_dns_server');
  await p.click('#explain-form button[type=submit]');
  await p.waitForSelector('#explain-result .alert-ok');
  assert.match(await p.textContent('#explain-result'), new RegExp(`role ${role}`));
  assert.deepEqual(p.errors.filter((e) => !e.includes('403')), [], 'no console errors');
});

test('language switch translates the interface', async () => {
  const p = await page(browser);
  await login(p, ADMIN_USER, ADMIN_PASSWORD);
  await p.click('#lang-switch');
  await p.waitForSelector('nav.sidebar >> text=概览');
  await p.reload();
  await p.waitForSelector('nav.sidebar >> text=概览');
  await hydrated(p); // a click on the server-rendered page before it hydrates is lost
  await p.click('#lang-switch');
  await p.waitForSelector('nav.sidebar >> text=Dashboard');
});

test('the API reference is served by Opsdeck and sends requests with the session', async () => {
  const p = await page(browser);
  await login(p, ADMIN_USER, ADMIN_PASSWORD);
  await p.click('nav.sidebar a[href="/api-docs.html"]');
  await p.waitForSelector('details summary');
  const users = p.locator('details', { has: p.locator('summary .path', { hasText: /^\/api\/users\/$/ }) }).filter({ has: p.locator('.m.get') });
  await users.locator('summary').click();
  await users.locator('button').click();
  await users.locator('pre').waitFor();
  assert.match(await users.locator('pre').textContent(), /^200 /);
  assert.match(await users.locator('pre').textContent(), /"username": "admin"/);
  assert.deepEqual(p.errors, []);
});
