// Shared helpers: launch Debian's Chromium headless and sign in through the real login page.
import { chromium } from 'playwright-core';

export const BASE = process.env.OPSDECK_E2E_URL || 'http://127.0.0.1:3000';
export const ADMIN_USER = process.env.OPSDECK_ADMIN_USER || 'admin';
export const ADMIN_PASSWORD = process.env.OPSDECK_ADMIN_PASSWORD;

export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, // Playwright gives each launch a fresh, empty profile
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return browser;
}

// A fresh context with console errors collected (hydration problems show up there).
export async function page(browser) {
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  p.errors = [];
  p.on('console', (m) => { if (m.type() === 'error') p.errors.push(m.text()); });
  p.on('pageerror', (e) => p.errors.push(String(e)));
  return p;
}

export async function hydrated(p) {
  // Leptos marks nothing on hydration; wait for the wasm module to be fetched and idle network.
  await p.waitForLoadState('networkidle');
}

export async function login(p, user, password) {
  await p.goto(`${BASE}/login`);
  await hydrated(p);
  await p.fill('#username', user);
  await p.fill('#password', password);
  await p.click('#login-submit');
  await p.waitForSelector('#current-user', { timeout: 15000 });
  // The server-rendered page shows before it hydrates; a click before that is lost.
  await hydrated(p);
}

export async function logout(p) {
  await hydrated(p);
  await p.click('#logout');
  await p.waitForURL(/\/login$/, { timeout: 15000 });
}

// Opens request `id` from the requests table on the page and approves it (the caller's page
// accepts the confirmation dialog); waits for the approved (or already finished) request.
export async function approveFromList(p, id) {
  await p.waitForSelector(`#requests-table tr[data-request="${id}"]`);
  await hydrated(p);
  await p.click(`#requests-table tr[data-request="${id}"] a >> nth=0`);
  await p.waitForSelector('#action-approve');
  await hydrated(p);
  await p.click('#action-approve');
  await p.waitForSelector('#request-title [data-status=approved], #request-title [data-status=finished]');
}
