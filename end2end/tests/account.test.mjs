// Profile, history and the admin in a real browser, with and without JavaScript: a person
// edits their profile and finds it in their history; a superuser searches for a user, changes
// their flags, ends their sessions and deletes them; a staff member sees the admin read-only.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createStaff, createVerifiedUser, launchBrowser, logIn, startServer } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  server.createSuperuser('root@example.com');
  await createStaff(server, 'root@example.com', 'staff@example.com');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function waitHydrated(page, javaScript) {
  if (javaScript) await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
}

for (const javaScript of [true, false]) {
  const mode = javaScript ? 'with JavaScript' : 'without JavaScript';
  const tag = javaScript ? 'js' : 'nojs';

  test(`a person edits their profile and sees it in their history (${mode})`, async () => {
    const email = `profile-${tag}@example.com`;
    await createVerifiedUser(server, email);
    const context = await browser.newContext({ javaScriptEnabled: javaScript, viewport: { width: 375, height: 740 } });
    const page = await context.newPage();
    await logIn(page, server, email);
    await page.goto(`${server.base}/profile`);
    await waitHydrated(page, javaScript);
    await page.locator('#first_name').fill('Grace');
    await page.locator('#profession').fill('Rear admiral');
    await page.locator('#bio').fill('Found a moth in the relay.');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.waitForURL('**/profile?saved=1');
    await page.getByText('Your profile is saved.').waitFor();
    assert.equal(await page.locator('#first_name').inputValue(), 'Grace');

    await page.goto(`${server.base}/history`);
    const update = page.locator('[data-testid="events"] tr[data-kind="profile_updated"]');
    await update.first().waitFor();
    assert.match(await update.first().innerText(), /Profile updated/);
    assert.match(await update.first().innerText(), /first_name/);
    await context.close();
  });

  test(`a superuser finds a user, changes their flags, ends their sessions and deletes them (${mode})`, async () => {
    const email = `managed-${tag}@example.com`;
    await createVerifiedUser(server, email);
    const theirs = await browser.newContext();
    const theirPage = await theirs.newPage();
    await logIn(theirPage, server, email);

    const context = await browser.newContext({ javaScriptEnabled: javaScript });
    const page = await context.newPage();
    await logIn(page, server, 'root@example.com');
    await page.goto(`${server.base}/admin/users`);
    await waitHydrated(page, javaScript);
    await page.locator('#search').fill(`managed-${tag}`);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(`**/admin/users?search=managed-${tag}*`);
    const rows = page.locator('[data-testid="users"] tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    await page.getByRole('link', { name: email }).click();
    await page.waitForURL('**/admin/users/*');
    await page.getByTestId('admin-user-email').waitFor();
    await waitHydrated(page, javaScript);

    await page.locator('#is_staff').check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForURL('**?saved=1');
    await page.getByText('The changes are saved.').waitFor();
    assert.match(await page.getByTestId('admin-user-role').innerText(), /Staff/);

    await page.getByRole('button', { name: 'End all sessions' }).click();
    await page.waitForURL('**?sessions_ended=1');
    await page.getByText('Every session of the user has ended.').waitFor();
    await theirPage.goto(`${server.base}/dashboard`);
    await theirPage.waitForURL('**/login');

    await page.getByRole('link', { name: 'Delete this user…' }).click();
    await page.waitForURL('**/delete');
    await page.getByRole('button', { name: 'Yes, delete this user' }).click();
    await page.waitForURL('**/admin/users?deleted=1');
    await page.getByText('The user is deleted.').waitFor();
    await theirs.close();
    await context.close();
  });
}

test('a staff member sees the admin read-only', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await logIn(page, server, 'staff@example.com');
  await page.goto(`${server.base}/admin/users`);
  await page.getByTestId('read-only').waitFor();
  assert.equal(await page.getByRole('link', { name: 'New user' }).count(), 0);
  await page.getByRole('link', { name: 'root@example.com' }).click();
  await page.getByTestId('admin-user-email').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Save changes' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'End all sessions' }).count(), 0);
  await context.close();
});
