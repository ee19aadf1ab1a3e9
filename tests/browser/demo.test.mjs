// The demo as a person does it, in Debian's chromium: connect Slack through the authorize
// page, request an approval, approve it as Ana, click again as Ben on a stale screen and be
// told it was already decided, and see the signed webhook at the host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { once } from 'node:events';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const ROOT = new URL('../../', import.meta.url).pathname;
const OUT = `${ROOT}build/browser`;
const STEP_MS = 20_000;

let stack;
let urls;
let browser;

before(async () => {
  mkdirSync(OUT, { recursive: true });
  stack = spawn(`${ROOT}scripts/with-aws.sh`, [`${ROOT}target/debug/dev-server`], {
    cwd: ROOT,
    env: { ...process.env, DEV_PORTS: 'auto', RUST_LOG: process.env.DEV_LOG ?? 'warn' },
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The stack says "ready {urls}" on stdout once every server listens.
  const lines = readline.createInterface({ input: stack.stdout });
  urls = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the dev stack was not ready within 90 s')), 90_000);
    lines.on('line', (line) => {
      if (line.startsWith('ready ')) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice('ready '.length)));
      }
    });
    stack.once('exit', (code) => reject(new Error(`the dev stack exited early with ${code}`)));
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});

after(async () => {
  await browser?.close();
  if (stack && stack.exitCode === null) {
    const exited = once(stack, 'exit');
    process.kill(-stack.pid, 'SIGTERM');
    const timer = setTimeout(() => process.kill(-stack.pid, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
});

test('connect, request, approve, already decided, webhook received, uninstall', async () => {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_MS);
  const ana = await context.newPage();
  const ben = await context.newPage();
  try {
    // 1. Connect through Slack's authorize page.
    await ana.goto(`${urls.host}/settings`);
    assert.equal(await ana.locator('#slack-status').textContent(), 'Not connected');
    await ana.getByRole('button', { name: 'Connect Slack' }).click();
    await ana.waitForURL(/\/oauth\/v2\/authorize/);
    await ana.getByText('Sandbox Co').first().waitFor();
    await ana.getByRole('button', { name: 'Allow' }).click();
    await ana.waitForURL(/\/settings\?slack=connected/);
    assert.equal(await ana.locator('#slack-status').textContent(), 'Active');
    assert.equal(await ana.locator('#team-id').textContent(), 'T0SANDBOX');

    // 2. Request an approval from the sandbox page, as a host would.
    await ana.goto(`${urls.slack}/?channel=C0APPROVALS&user=U0ANA`);
    await ana.getByRole('button', { name: 'Request approval' }).click();
    await ana.waitForURL(new RegExp(`^${urls.slack}/`));

    // 3. See it, with its buttons.
    const message = ana.locator('.message').filter({ hasText: 'Deal registration: Initech' }).first();
    await message.getByRole('button', { name: 'Approve' }).waitFor();

    // Ben's screen loads now and stops updating: a stale client, as Slack's can be.
    await ben.route('**/_sandbox/ui/events**', (route) => route.abort());
    await ben.goto(`${urls.slack}/?channel=C0APPROVALS&user=U0BEN`);
    const bensCopy = ben.locator('.message').filter({ hasText: 'Deal registration: Initech' }).first();
    await bensCopy.getByRole('button', { name: 'Reject' }).waitFor();

    // 4–5. Ana approves; the message changes without a reload.
    await message.getByRole('button', { name: 'Approve' }).click();
    await ana.locator('#delivery').filter({ hasText: /block_actions.*200/ }).waitFor();
    await ana.locator('.message').filter({ hasText: 'Approved by' }).first().waitFor();
    assert.equal(await message.getByRole('button', { name: 'Approve' }).count(), 0, 'the buttons are gone');

    // 6. Ben clicks Reject on his stale copy and is told it was already approved.
    await bensCopy.getByRole('button', { name: 'Reject' }).click();
    // The click is sent asynchronously: wait for Slack's delivery to be acknowledged before
    // reloading, or the reload could cancel it.
    await ben.locator('#delivery').filter({ hasText: /block_actions.*200/ }).waitFor();
    await ben.unroute('**/_sandbox/ui/events**');
    await ben.reload();
    await ben.getByText('Already approved by').first().waitFor();
    await ben.locator('.message').filter({ hasText: 'Approved by' }).first().waitFor();

    // 7. The host received the signed decision webhook.
    await ana.goto(`${urls.host}/`);
    await ana.locator('#webhooks li').filter({ hasText: 'approval.decided' }).first().waitFor();
    const hook = await ana.locator('#webhooks li').filter({ hasText: 'approval.decided' }).first().textContent();
    assert.match(hook, /signature valid/);
    assert.match(hook, /"decision": "approved"/);
    assert.match(hook, /"slack_user_id": "U0ANA"/);
    await ana.goto(`${urls.slack}/?channel=C0APPROVALS&user=U0ANA`);
    await ana.screenshot({ path: `${OUT}/sandbox.png`, fullPage: true });

    // 8. Uninstalling the app from Slack's side disconnects the tenant at the host.
    await ana.getByRole('button', { name: 'Uninstall app' }).click();
    await ana.locator('#delivery').filter({ hasText: /app_uninstalled.*200/ }).waitFor();
    await ana.goto(`${urls.host}/settings`);
    assert.equal(await ana.locator('#slack-status').textContent(), 'Disconnected');
    await ana.goto(`${urls.host}/`);
    await ana.locator('#webhooks li').filter({ hasText: 'slack.disconnected' }).first().waitFor();
  } catch (error) {
    await ana.screenshot({ path: `${OUT}/failure-ana.png`, fullPage: true }).catch(() => {});
    await ben.screenshot({ path: `${OUT}/failure-ben.png`, fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
});

test('people: map users, ask two approvers in DMs, refuse others, reject with a reason', async () => {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_MS);
  const page = await context.newPage();
  const shot = (name) => page.screenshot({ path: `${OUT}/people-${name}.png`, fullPage: true });
  const as = (user, channel) => page.goto(`${urls.slack}/?channel=${channel}&user=${user}`);
  const request = () => page.locator('.message').filter({ hasText: 'Deal registration: Globex' }).first();
  try {
    // Connected again (the first test uninstalled the app).
    await page.goto(`${urls.host}/settings`);
    if ((await page.locator('#slack-status').textContent()) !== 'Active') {
      await page.getByRole('button', { name: 'Connect Slack' }).click();
      await page.waitForURL(/\/oauth\/v2\/authorize/);
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(/\/settings\?slack=connected/);
    }

    // 1. Map users: Ana is mapped with her time zone; Zed is in the "not integrated" list.
    await page.goto(`${urls.host}/people`);
    await page.getByRole('button', { name: 'Map users' }).click();
    await page.locator('#users tr').filter({ hasText: 'u-ana' }).filter({ hasText: 'U0ANA' }).waitFor();
    await page.locator('#not-integrated tr').filter({ hasText: 'u-zed' }).waitFor();
    assert.equal(await page.locator('#not-integrated tbody tr').count(), 1);
    await shot('1-mapped');

    // 2. Pat requests an approval from Ana and Ben.
    await as('U0PAT', 'C0APPROVALS');
    await page.locator('#request-title').fill('Deal registration: Globex, $12,000');
    await page.locator('#request-approvers').fill('u-ana, u-ben');
    await page.locator('#request-requester').fill('u-pat');
    await page.getByRole('button', { name: 'Request approval' }).click();
    await request().getByRole('button', { name: 'Approve' }).waitFor();

    // 3. Cara is no approver: she is told who is, and nothing changes.
    await as('U0CARA', 'C0APPROVALS');
    await request().getByRole('button', { name: 'Approve' }).click();
    await page.getByText('Only the approvers of this request can decide').first().waitFor();

    // 4. Pat asked for it: she may not decide it.
    await as('U0PAT', 'C0APPROVALS');
    await request().getByRole('button', { name: 'Approve' }).click();
    await page.getByText('You asked for this approval; someone else must decide.').first().waitFor();
    await shot('4-refused');

    // 5. Ben rejects in his DM, with a reason, in the modal.
    await as('U0BEN', 'D0BEN');
    await request().getByRole('button', { name: 'Reject' }).click();
    const modal = page.locator('dialog.view');
    await modal.getByLabel('Reason').fill('budget is frozen');
    await shot('5-modal');
    await modal.getByRole('button', { name: 'Reject' }).click();
    await modal.waitFor({ state: 'detached' });

    // 6. Both DMs and the channel show the rejection and the reason, without buttons.
    for (const [user, channel] of [['U0BEN', 'D0BEN'], ['U0ANA', 'D0ANA'], ['U0PAT', 'C0APPROVALS']]) {
      await as(user, channel);
      await request().filter({ hasText: 'Rejected by' }).filter({ hasText: 'budget is frozen' }).waitFor();
      assert.equal(await request().getByRole('button', { name: 'Approve' }).count(), 0, `${channel} keeps no buttons`);
    }
    await shot('6-channel');

    // 7. Pat is told in her DM.
    await as('U0PAT', 'D0PAT');
    await page.locator('.message').filter({ hasText: 'was rejected by' }).filter({ hasText: 'budget is frozen' }).first().waitFor();
    await shot('7-requester');

    // The host's webhook carries the reason.
    await page.goto(`${urls.host}/`);
    await page.locator('#webhooks li').filter({ hasText: 'budget is frozen' }).first().waitFor();
  } catch (error) {
    await shot('failure').catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
});
