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

test('product line → application with child → host with two IPs → instance → find by IP → export and re-import hosts CSV', async () => {
  const p = await page(browser);
  p.on('dialog', (d) => d.accept());
  await login(p, ADMIN_USER, ADMIN_PASSWORD);
  const tag = Date.now().toString(36);
  const n = Date.now() % 200 + 20;
  const line = `line-${tag}`, root = `shop${tag}`, child = 'api', host = `web-${tag}`;

  // A product line.
  await p.goto(`${BASE}/productions`);
  await hydrated(p);
  await p.fill('#new-production-form input[name=production-name]', line);
  await p.click('#new-production-form button[type=submit]');
  await p.waitForSelector(`#productions-table tr[data-production="${line}"]`);

  // An application in it, and a child under it (the parent is named by its full name).
  await p.goto(`${BASE}/applications`);
  await hydrated(p);
  await p.click('#new-app');
  await p.fill('#new-app-form input[name=app-name]', 'bad name!');
  await p.click('#new-app-form button[type=submit]');
  await p.waitForSelector('#new-app-form .field-error');
  await p.fill('#new-app-form input[name=app-name]', root);
  await p.fill('#new-app-form input[name=app-line]', line);
  await p.click('#new-app-form button[type=submit]');
  await p.waitForSelector('#new-app-form', { state: 'detached' });
  await p.click('#new-app');
  await p.fill('#new-app-form input[name=app-name]', child);
  await p.fill('#new-app-form input[name=app-parent]', root);
  await p.click('#new-app-form button[type=submit]');
  await p.waitForSelector('#new-app-form', { state: 'detached' });
  // The tree: open the product line, then the parent, and find the child.
  await p.click(`#app-tree li[data-line="${line}"] > details > summary`);
  await p.waitForSelector(`#app-tree a[data-app="${root}"]`);
  // Opening a node (its disclosure triangle, left of the link) loads its children.
  await p.click(`#app-tree li[data-node="${root}"] > details > summary`, { position: { x: 4, y: 8 } });
  await p.waitForSelector(`#app-tree a[data-app="${root}.${child}"]`);

  // A host with two addresses.
  await p.goto(`${BASE}/hosts`);
  await hydrated(p);
  await p.click('#new-host');
  await p.fill('#new-host-form input[name=host-name]', host);
  await p.fill('#new-host-form textarea[name=host-ips]', `10.88.${n}.5/24\n192.168.${n}.9/16`);
  await p.click('#new-host-form button[type=submit]');
  await p.waitForSelector(`#hosts-table tr[data-host="${host}"]`);

  // Attach an instance of the child on the host, from the application page.
  await p.goto(`${BASE}/applications?q=${root}.${child}`);
  await hydrated(p);
  await p.click(`#app-results a:text("${root}.${child}")`);
  await p.waitForSelector('#app-title');
  await hydrated(p);
  await p.fill('#attach-instance input[name=instance-host]', host);
  await p.click('#attach-instance button[type=submit]');
  await p.waitForSelector(`#app-instances tr[data-host="${host}"]`);
  // The dependency picture is there (just the application itself: no dependencies yet).
  assert.match(await p.textContent('main'), /No dependencies|没有依赖/);

  // Find the host by one of its IPs in the list.
  await p.goto(`${BASE}/hosts`);
  await hydrated(p);
  await p.fill('#host-search', `192.168.${n}.9`);
  await p.press('#host-search', 'Enter');
  await p.waitForFunction((h) => {
    const rows = document.querySelectorAll('#hosts-table tbody tr');
    return rows.length === 1 && rows[0].dataset.host === h;
  }, host);

  // Export the filtered list as CSV (the session cookie authenticates the download).
  await p.click('#bulk-hosts summary');
  const [download] = await Promise.all([p.waitForEvent('download'), p.click('#export-hosts')]);
  const fs = await import('node:fs/promises');
  const csv = await fs.readFile(await download.path(), 'utf8');
  const lines = csv.trim().split('\n');
  assert.equal(lines.length, 2, csv);
  assert.match(lines[1], new RegExp(`^${host},`));
  assert.match(lines[1], new RegExp(`10\\.88\\.${n}\\.5/255\\.255\\.255\\.0`));

  // Edit it "in a spreadsheet" (status raw → offline) and add a second host, then import it.
  const edited = csv.replace(`${host},PHY_HOST,raw`, `${host},PHY_HOST,offline`) + `${host}-b,ALI_ECS,raw,stopped,,2,4096,bj,,10.89.${n}.7/24\n`;
  assert.notEqual(edited, csv);
  const file = `${await fs.mkdtemp('/tmp/opsdeck-e2e-')}/hosts.csv`;
  await fs.writeFile(file, edited);
  await p.setInputFiles('#import-file-hosts', file);
  await p.click('#import-hosts');
  await p.waitForSelector('#import-status[data-status=done]', { timeout: 20000 });
  assert.equal((await p.textContent('#import-status .n-created')).trim(), '1');
  assert.equal((await p.textContent('#import-status .n-updated')).trim(), '1');
  assert.equal((await p.textContent('#import-status .n-refused')).trim(), '0');
  // The list reloads: the imported host is findable by its address.
  await p.fill('#host-search', `10.89.${n}.7`);
  await p.press('#host-search', 'Enter');
  await p.waitForSelector(`#hosts-table tr[data-host="${host}-b"]`);
  assert.deepEqual(p.errors, []);
});
