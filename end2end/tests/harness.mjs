// Starts the real gatehouse binary on a free port with an empty data dir, launches Debian's
// Chromium through playwright-core, and reads the mail the server writes to its outbox.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleParser } from 'mailparser';
import { chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '..', '..');
export const PASSWORD = 'correct horse battery';

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

export async function startServer() {
  const bin = process.env.GATEHOUSE_BIN ?? join(root, 'target', 'debug', 'gatehouse');
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = { PATH: process.env.PATH, GATEHOUSE_BIND: `127.0.0.1:${port}`, GATEHOUSE_DATA_DIR: dataDir, GATEHOUSE_LOG: 'warn' };
  const child = spawn(bin, ['serve'], {
    cwd: dataDir, // any working directory must do
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch { /* not up yet */ }
    if (child.exitCode !== null) throw new Error(`gatehouse exited with ${child.exitCode}`);
    await sleep(100);
  }
  return {
    base,
    dataDir,
    /** Runs `gatehouse createsuperuser` on this server's data, as an operator would. */
    createSuperuser(email, password = PASSWORD) {
      execFileSync(bin, ['createsuperuser', '--email', email, '--password', password, '--no-input'], { env, stdio: 'ignore' });
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((ok) => (child.exitCode !== null ? ok() : child.once('exit', ok)));
      rmSync(dataDir, { recursive: true, force: true });
    },
    /** The first link of the newest mail to `to`, waiting up to 10 s for it. */
    async linkFor(to) {
      const outbox = join(dataDir, 'outbox');
      for (let i = 0; i < 200; i++) {
        let files = [];
        try {
          files = readdirSync(outbox).filter((f) => f.endsWith('.eml')).sort().reverse();
        } catch { /* no mail yet */ }
        for (const file of files) {
          const mail = await simpleParser(readFileSync(join(outbox, file)));
          if (mail.to?.text.includes(to)) return mail.text.match(/https?:\/\/\S+/)[0];
        }
        await sleep(50);
      }
      throw new Error(`no mail to ${to}`);
    },
  };
}

/** Signs a user up through the API and confirms the address, ready to log in. */
export async function createVerifiedUser(server, email) {
  const response = await fetch(`${server.base}/api/v1/auth/register/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (response.status !== 201) throw new Error(`register: ${response.status}`);
  const link = new URL(await server.linkFor(email));
  const verified = await fetch(`${server.base}/api/v1/auth/email/verify/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ uid: link.searchParams.get('uid'), token: link.searchParams.get('token') }),
  });
  if (verified.status !== 200) throw new Error(`verify: ${verified.status}`);
}

/** Logs in through the login page and waits for the dashboard. */
export async function logIn(page, server, email, password = PASSWORD) {
  await page.goto(`${server.base}/login`);
  await page.locator('#username').fill(email);
  await page.locator('#password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/dashboard');
}

/** Debian's Chromium, headless; `extraArgs` are added to its command line. */
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      ...extraArgs,
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** An API access token for the account. */
export async function apiToken(server, email, password = PASSWORD) {
  const response = await fetch(`${server.base}/api/v1/auth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (response.status !== 200) throw new Error(`token for ${email}: ${response.status}`);
  return (await response.json()).access;
}

/** A staff member (not a superuser), made through the admin API by a superuser. */
export async function createStaff(server, superuserEmail, email) {
  const token = await apiToken(server, superuserEmail);
  const response = await fetch(`${server.base}/api/v1/account/management/create/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ email, password: PASSWORD, is_staff: true }),
  });
  if (response.status !== 201) throw new Error(`create staff: ${response.status}`);
}
