// A deploy in the browser, on a real OpenSSH host (scripts/sshhost.sh): a developer files a
// deploy task, a reviewer approves it on its page, the developer starts it and upgrades the
// instance while the sub-task's output streams in, the instance shows the new version; after a
// second version the instance is reverted from the same page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, page, hydrated, login, BASE, ADMIN_USER, ADMIN_PASSWORD } from './helpers.mjs';

const KEY = process.env.OPSDECK_E2E_SSH_KEY;
const SSH_PORT = Number(process.env.OPSDECK_E2E_SSH_PORT || 2292);
let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// A JSON call from the signed-in page (same origin, its session cookie).
async function api(p, method, url, body) {
  return p.evaluate(async ([method, url, body]) => {
    const r = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    return { status: r.status, json: await r.json() };
  }, [method, url, body]);
}

// A package of an application printing its version; uploaded from the page as raw bytes.
function pkg(version) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-pkg-'));
  fs.writeFileSync(path.join(dir, 'VERSION'), version);
  fs.writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\ni=0\nwhile [ $i -lt 300 ]; do echo "tick $(cat VERSION)"; sleep 0.2; i=$((i+1)); done\n', { mode: 0o755 });
  const out = path.join(dir, 'p.tgz');
  execFileSync('tar', ['-czf', out, '-C', dir, 'VERSION', 'run.sh']);
  return fs.readFileSync(out).toString('base64');
}

async function upload(p, name, b64) {
  return p.evaluate(async ([name, b64]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const r = await fetch(`/api/application/artifacts/?filename=${name}`, { method: 'POST', body: bytes });
    return { status: r.status, json: await r.json() };
  }, [name, b64]);
}

async function waitTask(p, id) {
  for (let i = 0; i < 200; i++) {
    const t = await api(p, 'GET', `/api/tasks/${id}/`);
    if (t.json.status !== 'running') return t.json;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`task ${id} still running`);
}

const versionShown = (p, v) => p.waitForFunction((v) =>
  document.querySelector('#deploy-instances .instance-version')?.textContent === v, v, { timeout: 30000 });

test('a deploy task is filed, approved by a second user, started, deployed with live output, then reverted', async () => {
  assert.ok(KEY, 'OPSDECK_E2E_SSH_KEY (scripts/sshhost.sh) is set');
  const tag = Date.now().toString(36);
  const admin = await page(browser);
  admin.on('dialog', (d) => d.accept());
  await login(admin, ADMIN_USER, ADMIN_PASSWORD);

  // The estate: an application with an instance on the SSH host, its deploy settings, two people.
  const app = await api(admin, 'POST', '/api/applications/', { name: `shop${tag}`, run_user: 'deploy',
    startup_cmd: 'nohup ./run.sh > /dev/null 2>&1 & echo $! > app.pid', stop_cmd: 'kill $(cat app.pid) 2>/dev/null; true',
    pid_path: 'app.pid' });
  assert.equal(app.status, 201, JSON.stringify(app.json));
  const cred = await api(admin, 'POST', '/api/hosts/ssh-credentials/', { name: `e2e-${tag}`, username: 'root',
    kind: 'private_key', private_key: fs.readFileSync(KEY, 'utf8') });
  assert.equal(cred.status, 201, JSON.stringify(cred.json));
  const host = await api(admin, 'POST', '/api/hosts/', { name: `e2e-host-${tag}` });
  const access = await api(admin, 'PUT', `/api/hosts/${host.json.id}/access/`, { credential_id: cred.json.id, address: '127.0.0.1', port: SSH_PORT });
  assert.equal(access.status, 200, JSON.stringify(access.json));
  const check = await api(admin, 'POST', `/api/hosts/${host.json.id}/actions/check-ssh/`, {});
  assert.equal((await waitTask(admin, check.json.task_id)).status, 'finished');
  const inst = await api(admin, 'POST', `/api/application/${app.json.id}/instances/`, [{ hostid: host.json.id }]);
  assert.ok(inst.status < 300, JSON.stringify(inst.json));
  const settings = await api(admin, 'PATCH', `/api/application/${app.json.id}/deploy-settings/`, { enabled: true,
    deploy_path: `/srv/shop${tag}`, script_running_user: 'deploy', keep_backups: 2, lifecycle_hooks: { running_user: 'deploy' } });
  assert.equal(settings.status, 200, JSON.stringify(settings.json));
  // The admin writes a hook script (a Jinja error is shown inline with its line), attaches it in
  // the application's deploy settings and previews it for the instance.
  await admin.goto(`${BASE}/deploy/scripts`);
  await hydrated(admin);
  await admin.fill('#script-form input[name=name]', `hello${tag}`);
  await admin.fill('#script-form textarea[name=content]', 'echo {{ version');
  await admin.click('#script-save');
  await admin.waitForFunction(() => /line/.test(document.querySelector('#script-form .field-error')?.textContent || ''));
  await admin.fill('#script-form textarea[name=content]', 'echo hello {{ version }} on {{ host.name }}');
  await admin.click('#script-save');
  await admin.waitForFunction((n) => (document.querySelector('#deploy-scripts')?.textContent || '').includes(n), `hello${tag}`);
  await admin.goto(`${BASE}/applications/${app.json.id}/deploy`);
  await hydrated(admin);
  await admin.waitForSelector('#settings-form select[name=pre_exec]');
  await admin.selectOption('#settings-form select[name=pre_exec]', { label: `hello${tag}` });
  await admin.click('#settings-save');
  await admin.waitForSelector('#hook-preview select');
  await hydrated(admin);
  await admin.fill('#hook-preview input', '9.9');
  await admin.click('#preview-run');
  await admin.waitForFunction((h) => (document.querySelector('#preview-output')?.textContent || '') === `echo hello '9.9' on '${h}'`,
    `e2e-host-${tag}`, { timeout: 10000 });

  const people = {};
  for (const [name, perms] of [['dev', { view_app: true, deploy_app: true }], ['rev', { view_app: true, review_app_deploy_task: true }]]) {
    const u = await api(admin, 'POST', '/api/users/', { username: `${name}${tag}`, password: 'e2e-pass-123', email: `${name}${tag}@example.test` });
    assert.equal(u.status, 201, JSON.stringify(u.json));
    await api(admin, 'POST', `/api/users/${u.json.id}/application/perms/`, { authorizations: [{ id: app.json.id, permission: perms }] });
    people[name] = u.json.id;
  }

  // The developer uploads the package and files the task in the form.
  const dev = await page(browser);
  dev.on('dialog', (d) => d.accept());
  await login(dev, `dev${tag}`, 'e2e-pass-123');
  const a1 = await upload(dev, 'shop-1.0.tgz', pkg('1.0'));
  assert.equal(a1.status, 201, JSON.stringify(a1.json));
  await dev.goto(`${BASE}/deploy/tasks/new`);
  await hydrated(dev);
  await dev.waitForSelector('#deploy-app option >> nth=1', { state: 'attached' });
  await dev.selectOption('#deploy-app', String(app.json.id));
  await dev.fill('#deploy-form input[name=version]', '1.0');
  await dev.fill('#deploy-form textarea[name=description]', 'first release');
  await dev.fill('#deploy-form input[name=package_source]', a1.json.source);
  await dev.click('#deploy-submit');
  await dev.waitForURL(/\/deploy\/tasks\/\d+$/, { timeout: 15000 });
  const taskId = Number(dev.url().split('/').pop());
  await dev.waitForSelector('#deploy-title [data-status=wait_review]');

  // A second user approves it on its page.
  const rev = await page(browser);
  rev.on('dialog', (d) => d.accept());
  await login(rev, `rev${tag}`, 'e2e-pass-123');
  await rev.goto(`${BASE}/deploy/tasks?view=inbox`);
  await hydrated(rev);
  await rev.click('#deploy-views button:has-text("Waiting for me")');
  await rev.waitForFunction((id) => (document.querySelector('#deploy-tasks')?.textContent || '').includes(String(id)), taskId);
  await rev.goto(`${BASE}/deploy/tasks/${taskId}`);
  await hydrated(rev);
  await rev.click('#action-approve');
  await rev.waitForSelector('#deploy-title [data-status=approved]');

  // The developer starts it and upgrades the instance; the output streams into the page.
  await dev.reload();
  await hydrated(dev);
  await dev.click('#action-start');
  await dev.waitForSelector('#deploy-title [data-status=deploying]');
  await hydrated(dev);
  await dev.check('#deploy-instances input[type=checkbox]');
  await dev.click('#action-upgrade');
  await dev.waitForSelector('#sub-task-output');
  await dev.waitForFunction(() => /current -> releases\/1\.0/.test(document.querySelector('#task-output')?.textContent || ''), null, { timeout: 30000 });
  await dev.waitForFunction(() => document.querySelector('#task-status')?.textContent === 'finished', null, { timeout: 30000 });
  await versionShown(dev, '1.0');

  // Version 2.0 (filed and approved through the API), deployed from its page.
  const a2 = await upload(dev, 'shop-2.0.tgz', pkg('2.0'));
  const t2 = await api(dev, 'POST', '/api/application/deploy-tasks/', { application_id: app.json.id, version: '2.0',
    description: 'second', level: 'C', package_source: a2.json.source, planned_exec_time: 0 });
  assert.equal(t2.status, 201, JSON.stringify(t2.json));
  assert.equal((await api(rev, 'POST', `/api/application/deploy-tasks/${t2.json.id}/actions/approve/`)).status, 200);
  assert.equal((await api(dev, 'POST', `/api/application/deploy-tasks/${t2.json.id}/actions/start/`)).status, 200);
  await dev.goto(`${BASE}/deploy/tasks/${t2.json.id}`);
  await hydrated(dev);
  await dev.check('#deploy-instances input[type=checkbox]');
  await dev.click('#action-upgrade');
  await dev.waitForFunction(() => document.querySelector('#task-status')?.textContent === 'finished'
    && /releases\/2\.0/.test(document.querySelector('#task-output')?.textContent || ''), null, { timeout: 30000 });
  await versionShown(dev, '2.0');

  // Revert to the kept 1.0 from the same page.
  await hydrated(dev);
  await dev.check('#deploy-instances input[type=checkbox]');
  await dev.selectOption('#revert-version', '1.0');
  await dev.click('#action-revert');
  await dev.waitForFunction(() => document.querySelector('#task-status')?.textContent === 'finished'
    && /current -> releases\/1\.0/.test(document.querySelector('#task-output')?.textContent || ''), null, { timeout: 30000 });
  await versionShown(dev, '1.0');
  // The script refused on purpose is a 400 the browser reports; nothing else went wrong.
  for (const p of [admin, dev, rev]) assert.deepEqual(p.errors.filter((e) => !/status of 400/.test(e)), []);
});
