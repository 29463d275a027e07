// register → open the emailed link → confirm → log in → dashboard, once hydrated and once
// with JavaScript disabled.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, PASSWORD, startServer } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function signUpAndLogIn(page, email, { hydrated }) {
  await page.goto(`${server.base}/register`);
  if (hydrated) {
    // The wasm bundle loaded and hydrated the page…
    await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
    // …and a purely client-side control works: "Show" reveals the password.
    const password = page.locator('#password');
    await password.fill(PASSWORD);
    assert.equal(await password.getAttribute('type'), 'password');
    await page.getByRole('button', { name: 'Show' }).click();
    assert.equal(await password.getAttribute('type'), 'text');
    // …and the strength meter follows the typing (scored on the server: no dictionary in the
    // bundle).
    const meter = page.getByTestId('password-strength');
    await meter.waitFor();
    assert.match(await meter.getAttribute('data-score'), /^[0-4]$/);
  } else {
    await page.locator('#password').fill(PASSWORD);
  }
  await page.locator('#email').fill(email);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/check-email');
  assert.match(await page.locator('h1').innerText(), /Check your email/);

  await page.goto(await server.linkFor(email));
  await page.getByRole('button', { name: 'Confirm my email' }).click();
  await page.waitForURL('**/login?verified=1');
  assert.match(await page.locator('.alert.success').innerText(), /confirmed/);

  await page.locator('#username').fill(email);
  await page.locator('#password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/dashboard');
  await page.waitForSelector('[data-testid="dashboard-email"]');
  assert.equal(await page.locator('[data-testid="dashboard-email"]').innerText(), email);
}

test('hydrated: sign up, confirm, log in, see the dashboard', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const wasm = page.waitForResponse((r) => r.url().endsWith('.wasm'));
  await signUpAndLogIn(page, 'hydrated@example.com', { hydrated: true });
  const wasmResponse = await wasm;
  assert.equal(wasmResponse.status(), 200);
  assert.equal(wasmResponse.headers()['content-type'], 'application/wasm');
  await context.close();
});

test('without JavaScript: the same flow works through plain form posts', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signUpAndLogIn(page, 'nojs@example.com', { hydrated: false });
  assert.equal(await page.locator('body').getAttribute('data-hydrated'), null, 'never hydrated');
  await context.close();
});

test('field errors appear beside the fields', async () => {
  for (const javaScriptEnabled of [true, false]) {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    await page.goto(`${server.base}/register`);
    if (javaScriptEnabled) await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
    await page.locator('#email').fill('not-an-email');
    await page.locator('#password').fill('123');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForSelector('#email-error:has-text("valid email")');
    assert.match(await page.locator('#password-error').innerText(), /too short/);
    await context.close();
  }
});
