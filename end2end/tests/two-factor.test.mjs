// Two-factor authentication in a real browser, with and without JavaScript: set up an
// authenticator by reading the key the page shows (the code is computed here, as an app
// would), log out, log in through the second step, and log in with a recovery code.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as OTPAuth from 'otpauth';
import { createVerifiedUser, launchBrowser, PASSWORD, startServer } from './harness.mjs';

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

const PERIOD = 30;
const currentStep = () => Math.floor(Date.now() / 1000 / PERIOD);

/** The authenticator app: codes for the key the setup page showed. */
function authenticator(key) {
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(key), digits: 6, period: PERIOD, algorithm: 'SHA1' });
  let lastStep = -1;
  return {
    /**
     * A code the server accepts now: the current step's, or — if that step was used already —
     * the next one's (the server takes ±1 step and refuses a step it accepted before). So the
     * test never waits for the clock, and never depends on where in a step it runs.
     */
    next() {
      const step = Math.max(currentStep(), lastStep + 1);
      lastStep = step;
      return totp.generate({ timestamp: step * PERIOD * 1000 });
    },
  };
}

async function waitHydrated(page, javaScript) {
  if (javaScript) await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
}

async function passwordStep(page, email) {
  await page.goto(`${server.base}/login`);
  await page.locator('#username').fill(email);
  await page.locator('#password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function logOut(page) {
  await page.locator('.site-header').getByRole('button', { name: 'Log out', exact: true }).click();
  await page.waitForURL(`${server.base}/`);
}

/** Phone width: nothing may stick out sideways. */
async function assertFitsThePhone(page, javaScript) {
  if (!javaScript) return; // measuring needs a script
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
}

async function setUpTwoFactor(page, javaScript) {
  await page.goto(`${server.base}/security`);
  await waitHydrated(page, javaScript);
  assert.match(await page.getByTestId('two-factor-status').innerText(), /^Off/);
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await page.waitForURL('**/security/two-factor');
  await waitHydrated(page, javaScript);
  // After a client-side navigation the URL changes before the page's data arrives: wait for it.
  await page.locator('.qr svg').waitFor(); // the QR code is shown inline
  await assertFitsThePhone(page, javaScript);
  const key = (await page.getByTestId('totp-secret').innerText()).replace(/\s+/g, '');
  const app = authenticator(key);

  await page.locator('#code').fill('000000');
  await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
  await page.waitForSelector('#code-error:not(:empty)');
  assert.match(await page.locator('#code-error').innerText(), /not valid/);

  await page.locator('#code').fill(app.next());
  await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
  await page.waitForURL('**/security/recovery-codes');
  await page.getByTestId('recovery-codes').waitFor(); // after a client-side navigation, once loaded
  const codes = await page.getByTestId('recovery-codes').locator('code').allInnerTexts();
  assert.equal(codes.length, 10);
  await assertFitsThePhone(page, javaScript);
  await page.getByRole('link', { name: 'I have saved them' }).click();
  await page.waitForURL('**/security');
  assert.match(await page.getByTestId('two-factor-status').innerText(), /^On/);
  return { app, codes };
}

for (const javaScript of [true, false]) {
  const mode = javaScript ? 'with JavaScript' : 'without JavaScript';

  test(`set up two-factor, then log in with a code and with a recovery code (${mode})`, async () => {
    const email = `two-factor-${javaScript ? 'js' : 'nojs'}@example.com`;
    await createVerifiedUser(server, email);
    const context = await browser.newContext({ javaScriptEnabled: javaScript, viewport: { width: 375, height: 740 } });
    const page = await context.newPage();
    await passwordStep(page, email);
    await page.waitForURL('**/dashboard');
    const { app, codes } = await setUpTwoFactor(page, javaScript);
    await logOut(page);

    await passwordStep(page, email);
    await page.waitForURL('**/login/two-factor');
    await page.goto(`${server.base}/dashboard`);
    assert.ok(page.url().endsWith('/login/two-factor'), `every other page sends it to the second step: ${page.url()}`);
    await waitHydrated(page, javaScript);
    await assertFitsThePhone(page, javaScript);
    await page.locator('#code').fill(app.next());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL('**/dashboard');
    assert.equal(await page.getByTestId('dashboard-email').innerText(), email);
    await logOut(page);

    await passwordStep(page, email);
    await page.waitForURL('**/login/two-factor');
    await waitHydrated(page, javaScript);
    await page.getByText('Lost your phone? Use a recovery code').click();
    await page.locator('#recovery_code').fill(codes[0]);
    await page.getByRole('button', { name: 'Use recovery code' }).click();
    await page.waitForURL('**/dashboard');
    await page.goto(`${server.base}/security`);
    assert.match(await page.getByTestId('recovery-codes-left').innerText(), /9/);
    await context.close();
  });
}
