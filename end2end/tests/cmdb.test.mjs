// CMDB in the browser: create a host with two IP addresses, find it by IP with the filter in the URL,
// open its detail page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, page, hydrated, login, BASE, ADMIN_USER, ADMIN_PASSWORD } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a host with two addresses is created, found by IP and opened', async () => {
  const p = await page(browser);
  await login(p, ADMIN_USER, ADMIN_PASSWORD);
  const n = Date.now() % 200 + 20;
  const name = `db-${Date.now().toString(36)}`;
  await p.click('nav.sidebar a[data-module=host]');
  await p.waitForURL(/\/hosts/);
  await hydrated(p);
  await p.click('#new-host');
  await p.fill('#new-host-form input[name=host-name]', name);
  // A wrong address is caught by the shared validation before any request.
  await p.fill('#new-host-form textarea[name=host-ips]', '10.77.1.999/24');
  await p.click('#new-host-form button[type=submit]');
  await p.waitForSelector('#new-host-form .field-error');
  assert.match(await p.textContent('#new-host-form .field-error'), /not an IP address/);
  await p.fill('#new-host-form textarea[name=host-ips]', `10.77.${n}.5/24\n192.168.${n}.7/16`);
  await p.click('#new-host-form button[type=submit]');
  await p.waitForSelector(`#hosts-table tr[data-host="${name}"]`);
  // Search by an IP fragment: the filter goes into the URL, so the view can be shared.
  await p.fill('#host-search', `10.77.${n}.`);
  await p.press('#host-search', 'Enter');
  await p.waitForURL(new RegExp(`q=10\\.77\\.${n}\\.`));
  await p.waitForFunction((h) => {
    const rows = document.querySelectorAll('#hosts-table tbody tr');
    return rows.length === 1 && rows[0].dataset.host === h;
  }, name);
  // Reloading the shared URL shows the same result, rendered by the server.
  await p.reload();
  await p.waitForSelector(`#hosts-table tr[data-host="${name}"]`);
  await p.click(`#hosts-table tr[data-host="${name}"] a`);
  await p.waitForSelector('#host-title');
  const ips = await p.textContent('#host-ips');
  assert.match(ips, new RegExp(`10\\.77\\.${n}\\.5`));
  assert.match(ips, /255\.255\.0\.0/);
  assert.deepEqual(p.errors, []);
});
