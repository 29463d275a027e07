// Swagger UI at /api/v1/swagger/ui/: its assets come from the binary (utoipa-swagger-ui,
// vendored), it renders the server's own OpenAPI document, and the page asks no other host for
// anything.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, startServer } from './harness.mjs';

// The page is opened under a name, not 127.0.0.1: Swagger UI leaves out its online validator
// badge (an image from validator.swagger.io) only when the document's URL contains "localhost"
// or "127.0.0.1", so under the harness's address this test could not see that request. Chromium
// resolves the name to the loopback address the server listens on.
const HOST = 'gatehouse.test';

let server;
let browser;
let base;

before(async () => {
  server = await startServer();
  browser = await launchBrowser([`--host-resolver-rules=MAP ${HOST} 127.0.0.1`]);
  base = server.base.replace('127.0.0.1', HOST);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the OpenAPI document is JSON, OpenAPI 3.1', async () => {
  const response = await fetch(`${server.base}/api/v1/openapi.json`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^application\/json/);
  const doc = await response.json();
  assert.match(doc.openapi, /^3\.1\./);
});

test('Swagger UI renders the API, loading everything from the server itself', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const requested = [];
  const failed = [];
  const pageErrors = [];
  page.on('request', (request) => requested.push(request.url()));
  page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
  page.on('response', (response) => {
    if (response.status() >= 400) failed.push(`${response.url()}: ${response.status()}`);
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));

  const response = await page.goto(`${base}/api/v1/swagger/ui/`);
  assert.equal(response.status(), 200);
  // Rendered: the document was fetched and parsed, and its operations are listed.
  await page.waitForSelector('.swagger-ui .opblock', { timeout: 20_000 });
  await page.waitForLoadState('networkidle');

  // POST /api/v1/auth/token is among them. Swagger UI puts zero-width spaces before each "/"
  // of the displayed path; data-path holds it as written in the document (which may declare
  // /api/v1 as its server and the paths below it).
  const postPaths = await page.$$eval('.opblock.opblock-post .opblock-summary-path', (elements) =>
    elements.map((element) => element.getAttribute('data-path') ?? element.textContent.replace(/\u200b/g, '')),
  );
  const tokenPath = postPaths.find((path) => /^(\/api\/v1)?\/auth\/token\/?$/.test(path));
  assert.ok(tokenPath, `POST /api/v1/auth/token among the POST operations: ${postPaths.join(', ')}`);

  // Opening it renders its details (request body, responses) without resolver errors.
  const tokenBlock = page.locator('.opblock.opblock-post', {
    has: page.locator(`.opblock-summary-path[data-path="${tokenPath}"]`),
  });
  await tokenBlock.locator('.opblock-summary').first().click();
  await tokenBlock.locator('.opblock-body').first().waitFor({ timeout: 10_000 });
  await page.waitForLoadState('networkidle');
  assert.equal(await page.locator('.swagger-ui .errors-wrapper').count(), 0, 'Swagger UI shows errors');

  // The UI fetched the server's document…
  const origin = new URL(base);
  assert.ok(
    requested.some((url) => new URL(url).host === origin.host && new URL(url).pathname === '/api/v1/openapi.json'),
    `the page fetched /api/v1/openapi.json: ${requested.join(', ')}`,
  );
  // …and asked no other host for anything (inline data: and blob: URLs are no requests to a host).
  const elsewhere = requested.filter((url) => {
    const { protocol, host } = new URL(url);
    if (protocol === 'data:' || protocol === 'blob:') return false;
    return !['http:', 'https:'].includes(protocol) || host !== origin.host;
  });
  assert.deepEqual(elsewhere, [], 'requests to other hosts');
  assert.deepEqual(failed, [], 'failed requests or responses >= 400');
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
  await context.close();
});
