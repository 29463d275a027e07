// The Security page in a real browser: changing the password, logging out everywhere.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createVerifiedUser, launchBrowser, logIn, PASSWORD, startServer } from './harness.mjs';

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

test('change the password, then the old one no longer logs in', async () => {
  const email = 'changer@example.com';
  const newPassword = 'my new secret passphrase';
  await createVerifiedUser(server, email);
  const context = await browser.newContext();
  const page = await context.newPage();
  await logIn(page, server, email);
  await page.goto(`${server.base}/security`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
  await page.locator('#current_password').fill(PASSWORD);
  await page.locator('#new_password').fill(newPassword);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.waitForURL('**/security?password_changed=1');
  assert.match(await page.locator('.alert.success').innerText(), /password is changed/);

  const fresh = await browser.newContext({ javaScriptEnabled: false });
  const other = await fresh.newPage();
  await other.goto(`${server.base}/login`);
  await other.locator('#username').fill(email);
  await other.locator('#password').fill(PASSWORD);
  await other.getByRole('button', { name: 'Log in' }).click();
  await other.waitForSelector('.alert.error');
  assert.match(await other.locator('.alert.error').innerText(), /No active account/);
  await logIn(other, server, email, newPassword);
  await fresh.close();
  await context.close();
});

test('log out everywhere from one browser ends the other browser\'s session', async () => {
  const email = 'everywhere@example.com';
  await createVerifiedUser(server, email);
  const laptop = await browser.newContext();
  const phone = await browser.newContext();
  const laptopPage = await laptop.newPage();
  const phonePage = await phone.newPage();
  await logIn(laptopPage, server, email);
  await logIn(phonePage, server, email);

  await laptopPage.goto(`${server.base}/security`);
  assert.equal(await laptopPage.locator('[data-testid="sessions"] li').count(), 2);
  await laptopPage.getByRole('button', { name: 'Log out everywhere' }).click();
  await laptopPage.waitForURL('**/login?signed_out=everywhere');

  await phonePage.goto(`${server.base}/dashboard`);
  await phonePage.waitForURL('**/login');
  assert.equal(await phonePage.locator('[data-testid="dashboard-email"]').count(), 0);
  await laptop.close();
  await phone.close();
});
