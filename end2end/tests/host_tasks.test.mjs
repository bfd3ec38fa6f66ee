// Host power in the browser: a CloudStack host (behind a local stand-in for CloudStack that
// checks the request signature as CloudStack does) is picked in the host list and stopped; the
// task page follows the task until it finished and shows each host's result and the output;
// the host task list has it; the host's status is changed from its page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import { launch, page, hydrated, login, BASE, ADMIN_USER, ADMIN_PASSWORD } from './helpers.mjs';

const KEY = 'e2e-key', SECRET = 'e2e-secret';
let browser, fake, fakeUrl;
const vms = new Map();
const calls = [];

// RFC 3986 encoding, as CloudStack signs values.
const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function cloudstack(req, res) {
  const url = new URL(req.url, 'http://x');
  const q = [...url.searchParams.entries()];
  const get = (k) => url.searchParams.get(k);
  const cmd = (get('command') || '').toLowerCase();
  const reply = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ [`${cmd}response`]: body }));
  };
  const plain = q.filter(([k]) => k !== 'signature')
    .sort((a, b) => a[0].toLowerCase().localeCompare(b[0].toLowerCase()))
    .map(([k, v]) => `${k}=${enc(v)}`).join('&').toLowerCase();
  const want = crypto.createHmac('sha1', SECRET).update(plain).digest('base64');
  const expires = Date.parse((get('expires') || '').replace(/\+0000$/, 'Z'));
  if (get('apiKey') !== KEY || get('signature') !== want || get('signatureVersion') !== '3' || !(expires > Date.now())) {
    return reply(401, { errorcode: 401, errortext: 'unable to verify user credentials and/or request signature' });
  }
  calls.push(get('command'));
  const id = get('id');
  switch (get('command')) {
    case 'listVirtualMachines':
      return reply(200, vms.has(id) ? { count: 1, virtualmachine: [{ id, state: vms.get(id) }] } : {});
    case 'stopVirtualMachine':
      vms.set(id, 'Stopped');
      return reply(200, { jobid: `job-${id}` });
    case 'queryAsyncJobResult':
      return reply(200, { jobid: get('jobid'), jobstatus: 1, jobresult: {} });
    default:
      return reply(432, { errorcode: 432, errortext: 'The given command does not exist' });
  }
}

before(async () => {
  browser = await launch();
  fake = http.createServer(cloudstack);
  await new Promise((r) => fake.listen(0, '127.0.0.1', r));
  fakeUrl = `http://127.0.0.1:${fake.address().port}/client/api`;
});
after(async () => { await browser?.close(); fake?.close(); });

// A JSON call from the signed-in page (same origin, its session cookie).
async function api(p, method, path, body) {
  return p.evaluate(async ([method, path, body]) => {
    const r = await fetch(path, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    return { status: r.status, json: await r.json() };
  }, [method, path, body]);
}

test('a CloudStack host is stopped from the host list and its task is followed to the end', async () => {
  const p = await page(browser);
  p.on('dialog', (d) => d.accept());
  await login(p, ADMIN_USER, ADMIN_PASSWORD);
  const tag = Date.now().toString(36);
  const name = `cs-${tag}`, vm = `vm-${tag}`;
  vms.set(vm, 'Running');
  const acct = await api(p, 'POST', '/api/hosts/cloud-accounts/', { name: `acct-${tag}`, provider: 'cloudstack', endpoint: fakeUrl, secret_id: KEY, secret: SECRET });
  assert.equal(acct.status, 201, JSON.stringify(acct.json));
  assert.equal(acct.json.secret, '******');
  const host = await api(p, 'POST', '/api/hosts/', { name, host_type: 'CLOUDSTACK' });
  assert.equal(host.status, 201, JSON.stringify(host.json));
  const access = await api(p, 'PUT', `/api/hosts/${host.json.id}/access/`, { cloud_account_id: acct.json.id, cloud_instance_id: vm });
  assert.equal(access.status, 200, JSON.stringify(access.json));

  // Pick the host in the list; the power bar appears; stop it.
  await p.goto(`${BASE}/hosts?q=${name}`);
  await hydrated(p);
  await p.check(`#hosts-table tr[data-host="${name}"] input.pick`);
  await p.waitForSelector('#power-bar');
  await p.click('#power-stop');
  // The task page follows it until it finished.
  await p.waitForURL(/\/tasks\/\d+$/);
  await p.waitForFunction(() => document.querySelector('#task-status')?.textContent === 'finished', null, { timeout: 20000 });
  const targets = await p.textContent('#task-targets');
  assert.match(targets, new RegExp(name));
  assert.match(targets, /finished/);
  await p.waitForFunction(() => /stop done/.test(document.querySelector('#task-output')?.textContent || ''), null, { timeout: 10000 });
  assert.equal(vms.get(vm), 'Stopped');
  assert.ok(calls.includes('stopVirtualMachine'), calls.join(','));

  // The stop task list has it; the host shows stopped.
  await p.goto(`${BASE}/hosts/tasks`);
  await hydrated(p);
  await p.click('#task-kinds button:has-text("Stop")');
  await p.waitForFunction((n) => (document.querySelector('#host-tasks')?.textContent || '').includes(n), name);
  await p.goto(`${BASE}/hosts/${host.json.id}`);
  await hydrated(p);
  assert.match(await p.textContent('.facts'), /stopped/);

  // Its status, from its page: raw → inited.
  await p.selectOption('#host-status-move', 'inited');
  await p.waitForFunction(() => /inited/.test(document.querySelector('.facts')?.textContent || ''), null, { timeout: 10000 });
  assert.deepEqual(p.errors, []);
});
