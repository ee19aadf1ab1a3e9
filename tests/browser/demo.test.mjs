// The demo as a person does it, in Debian's chromium: connect Slack through the authorize
// page, request an approval, approve it as Ana, click again as Ben on a frozen (stale) screen
// and be told it was already decided, and see the signed webhook at the host. Then: "Act as"
// surviving reloads and requests, the sandbox at phone width, and a request's PDF and
// comments going both ways between its Slack thread and the host. Screenshots: build/browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
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
    env: { ...process.env, DEV_PORTS: 'auto', RUST_LOG: process.env.DEV_LOG ?? 'info' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Everything the stack logs is kept for scripts/check-logs.sh (no secret, no token);
  // its errors still show here.
  mkdirSync(`${ROOT}build/logs`, { recursive: true });
  const log = createWriteStream(`${ROOT}build/logs/dev-server.log`);
  stack.stdout.on('data', (chunk) => log.write(chunk));
  stack.stderr.on('data', (chunk) => { log.write(chunk); process.stderr.write(chunk); });
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

// Connects the demo tenant to Slack unless it already is (a test before may have uninstalled).
async function connect(page) {
  await page.goto(`${urls.host}/settings`);
  if ((await page.locator('#slack-status').textContent()) === 'Active') return;
  await page.getByRole('button', { name: 'Connect Slack' }).click();
  await page.waitForURL(/\/oauth\/v2\/authorize/);
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/\/settings\?slack=connected/);
}

// Waits until Chromium's PDF viewer shows the document in `iframe`: the viewer is a frame in
// the iframe's frame, the document a frame in the viewer's, laid out once its #sizer has a
// height.
async function pdfShown(page, iframe) {
  await iframe.scrollIntoViewIfNeeded();
  const child = async (parent) => {
    const isChild = (frame) => frame.parentFrame() === parent;
    const attached = page.waitForEvent('frameattached', { predicate: isChild, timeout: STEP_MS }).catch(() => null);
    const frame = page.frames().find(isChild) ?? await attached;
    assert.ok(frame, `a frame opened in ${parent.url()}`);
    return frame;
  };
  const pdf = await child(await child(await (await iframe.elementHandle()).contentFrame()));
  await pdf.waitForFunction(() => document.getElementById('sizer')?.offsetHeight > 0);
}

// Waits until "Act as" shows `user`: the page may first draw the default person.
const actingAs = (page, user) => page.waitForFunction(
  (id) => document.getElementById('act-as').value === id, user, { timeout: STEP_MS });

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
    // Each scope in plain words, its name kept small beside it.
    await ana.locator('#app-name').filter({ hasText: 'Sandbox Approvals' }).waitFor();
    const scopes = ana.locator('#scopes li');
    await scopes.filter({ hasText: 'Send messages as the app' }).filter({ hasText: 'chat:write' }).first().waitFor();
    await scopes.filter({ hasText: "View people's email addresses, to match them with your users" })
      .filter({ hasText: 'users:read.email' }).waitFor();
    await ana.screenshot({ path: `${OUT}/after-oauth-authorize.png`, fullPage: true });
    await ana.getByRole('button', { name: 'Allow' }).click();
    await ana.waitForURL(/\/settings\?slack=connected/);
    assert.equal(await ana.locator('#slack-status').textContent(), 'Active');
    assert.equal(await ana.locator('#team-id').textContent(), 'T0SANDBOX');
    await ana.locator('#banner').filter({ hasText: 'Slack is connected.' }).waitFor();
    await ana.getByRole('link', { name: 'Next: request an approval →' }).waitFor();
    await ana.screenshot({ path: `${OUT}/after-demo-settings.png`, fullPage: true });

    // The webhook log stays open from here on: it must update itself, keeping a selection.
    const log = await context.newPage();
    await log.goto(`${urls.host}/`);
    await log.locator('#webhooks li').filter({ hasText: 'slack.connected' }).first().waitFor();
    await log.evaluate(() => {
      window.neverReloaded = true;
      getSelection().selectAllChildren(document.querySelector('#webhooks li pre'));
    });

    // 2. Request an approval from the sandbox page, as a host would.
    await ana.goto(`${urls.slack}/?channel=C0APPROVALS&user=U0ANA`);
    await ana.getByRole('button', { name: 'Request approval' }).click();
    await ana.waitForURL(new RegExp(`^${urls.slack}/`));

    // 3. See it, with its buttons.
    const message = ana.locator('.message').filter({ hasText: 'Deal registration: Initech' }).first();
    await message.getByRole('button', { name: 'Approve' }).waitFor();

    // The app's messages are signed with the app's name.
    await message.locator('.author').filter({ hasText: /^Sandbox Approvals$/ }).waitFor();

    // Ben's screen loads now and he freezes it: a stale client, as Slack's can be.
    await ben.goto(`${urls.slack}/?channel=C0APPROVALS&user=U0BEN`);
    const bensCopy = ben.locator('.message').filter({ hasText: 'Deal registration: Initech' }).first();
    await bensCopy.getByRole('button', { name: 'Reject' }).waitFor();
    await ben.getByRole('button', { name: 'Freeze screen' }).click();
    await ben.locator('#frozen-banner').filter({ hasText: 'Screen frozen — live updates paused' }).waitFor();
    assert.equal(await ben.locator('#freeze').getAttribute('aria-pressed'), 'true');

    // 4–5. Ana approves; the message changes without a reload.
    await message.getByRole('button', { name: 'Approve' }).click();
    await ana.locator('#delivery').filter({ hasText: /block_actions.*200/ }).waitFor();
    await ana.locator('.message').filter({ hasText: 'Approved by' }).first().waitFor();
    assert.equal(await message.getByRole('button', { name: 'Approve' }).count(), 0, 'the buttons are gone');

    // 6. Ben's frozen copy still has its buttons; he clicks Reject, resumes live updates and
    // is told it was already approved.
    await bensCopy.getByRole('button', { name: 'Reject' }).click();
    await ben.locator('#delivery').filter({ hasText: /block_actions.*200.*screen is frozen/ }).waitFor();
    assert.equal(await ben.getByText('Already approved by').count(), 0, 'nothing new is drawn while frozen');
    await ben.screenshot({ path: `${OUT}/after-frozen-screen.png` });
    await ben.getByRole('button', { name: 'Resume live updates' }).click();
    await ben.locator('#frozen-banner').waitFor({ state: 'hidden' });
    await ben.getByText('Already approved by').first().waitFor();
    await ben.locator('.message').filter({ hasText: 'Approved by' }).first().waitFor();
    assert.equal(await bensCopy.getByRole('button', { name: 'Reject' }).count(), 0, 'live again: the buttons are gone');

    // The open log shows the decision without a reload, and the selection is still there.
    await log.locator('#webhooks li').filter({ hasText: 'approval.decided' }).first().waitFor();
    assert.equal(await log.evaluate(() => window.neverReloaded), true, 'the log was not reloaded');
    assert.match(await log.evaluate(() => getSelection().toString()), /slack\.connected/);
    await log.screenshot({ path: `${OUT}/after-webhook-log.png`, fullPage: true });

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
    await connect(page);

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

    // A request still pending when the host disconnects.
    const pendingOne = () => page.locator('.message').filter({ hasText: 'Pending across disconnect' }).first();
    await as('U0PAT', 'C0APPROVALS');
    await page.locator('#request-title').fill('Pending across disconnect');
    await page.locator('#request-approvers').fill('u-ana, u-ben');
    await page.locator('#request-requester').fill('u-pat');
    await page.getByRole('button', { name: 'Request approval' }).click();
    await pendingOne().getByRole('button', { name: 'Approve' }).waitFor();

    // Disconnecting asks first; Cancel keeps the connection.
    await page.goto(`${urls.host}/settings`);
    await page.getByRole('link', { name: 'Disconnect…' }).click();
    await page.getByRole('heading', { name: 'Disconnect Slack from demo?' }).waitFor();
    await page.getByRole('link', { name: 'Cancel' }).click();
    assert.equal(await page.locator('#slack-status').textContent(), 'Active');
    await page.getByRole('link', { name: 'Disconnect…' }).click();
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.waitForURL(/\/settings\?slack=disconnected/);
    assert.equal(await page.locator('#slack-status').textContent(), 'Disconnected');
    await page.getByText('You disconnected it here.').waitFor();
    // An install refusal in the URL reads as a sentence, its code small beside it.
    await page.goto(`${urls.host}/settings?slack=error&reason=access_denied`);
    await page.locator('#banner').filter({ hasText: 'You cancelled the install in Slack' })
      .filter({ hasText: 'access_denied' }).waitFor();

    // A click while disconnected still decides, and the clicked message shows it at once.
    await as('U0ANA', 'C0APPROVALS');
    await pendingOne().getByRole('button', { name: 'Approve' }).click();
    await pendingOne().filter({ hasText: 'Approved by' }).waitFor();
    assert.equal(await pendingOne().getByRole('button', { name: 'Approve' }).count(), 0);
    await page.screenshot({ path: `${OUT}/after-stale-buttons-after-decision.png`, fullPage: true });
    // Ben's DM waited for the workspace: connecting again brings it up to date.
    await connect(page);
    await as('U0BEN', 'D0BEN');
    await pendingOne().filter({ hasText: 'Approved by' }).waitFor();
    assert.equal(await pendingOne().getByRole('button', { name: 'Approve' }).count(), 0);
  } catch (error) {
    await shot('failure').catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
});

test('the 09:00 digest in Kolkata and the Home tab: approve from the digest, every copy follows', async () => {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_MS);
  const page = await context.newPage();
  const shot = (name) => page.screenshot({ path: `${OUT}/reminders-${name}.png`, fullPage: true });
  const as = (user, channel) => page.goto(`${urls.slack}/?channel=${channel}&user=${user}`);
  const title = 'Invoice: Umbrella Corp, $3,200';
  const inChannel = () => page.locator('.message').filter({ hasText: title }).first();
  const digest = () => page.locator('.message').filter({ hasText: 'Waiting for your decision' }).first();
  try {
    await connect(page);
    await page.goto(`${urls.host}/people`);
    await page.getByRole('button', { name: 'Map users' }).click();
    await page.locator('#users tr').filter({ hasText: 'u-cara' }).filter({ hasText: 'U0CARA' }).waitFor();

    // Pat asks Cara, who works in Kolkata.
    await as('U0PAT', 'C0APPROVALS');
    await page.locator('#request-title').fill(title);
    await page.locator('#request-approvers').fill('u-cara');
    await page.locator('#request-requester').fill('u-pat');
    await page.getByRole('button', { name: 'Request approval' }).click();
    await inChannel().getByRole('button', { name: 'Approve' }).waitFor();

    // The schedule's run at 03:30 UTC on a Wednesday: 09:00 in Kolkata.
    await page.locator('#reminders-time').fill('2026-11-25 03:30 UTC');
    await page.locator('#reminders-run').click();
    const ran = page.locator('#reminders-result').filter({ hasText: /^Run for 03:30 UTC/ });
    await ran.waitFor();
    assert.doesNotMatch(await ran.textContent(), /HTTP \d/, 'the run succeeded');

    // Cara's DM holds the digest, with the request's own buttons.
    await as('U0CARA', 'D0CARA');
    await digest().filter({ hasText: title }).getByRole('button', { name: 'Approve' }).waitFor();
    await shot('1-digest');

    // Her Home tab lists it too.
    await page.goto(`${urls.slack}/?team=T0SANDBOX&tab=home&user=U0CARA`);
    await page.locator('#home-view').filter({ hasText: title }).waitFor();
    await page.locator('#home-view').filter({ hasText: 'Waiting for your decision (1)' }).waitFor();
    await shot('2-home');

    // She approves from the digest: the digest, the channel message and her Home follow.
    await as('U0CARA', 'D0CARA');
    await digest().getByRole('button', { name: 'Approve' }).click();
    await digest().filter({ hasText: 'Approved by' }).waitFor();
    await shot('3-digest-approved');
    await as('U0PAT', 'C0APPROVALS');
    await inChannel().filter({ hasText: 'Approved by' }).waitFor();
    assert.equal(await inChannel().getByRole('button', { name: 'Approve' }).count(), 0);
    await page.goto(`${urls.slack}/?team=T0SANDBOX&tab=home&user=U0CARA`);
    await page.locator('#home-view').filter({ hasText: 'Waiting for your decision (0)' }).waitFor();
    await shot('4-home-after');
  } catch (error) {
    await shot('failure').catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
});

test('the host stays in charge: 2 of 3 with progress, a withdrawal, a decision in the host, the timeline', async () => {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_MS);
  const page = await context.newPage();
  const shot = (name) => page.screenshot({ path: `${OUT}/host-${name}.png`, fullPage: true });
  const as = (user, channel) => page.goto(`${urls.slack}/?channel=${channel}&user=${user}`);
  const message = (title) => page.locator('.message').filter({ hasText: title }).first();
  const row = (title) => page.locator('#requests tr').filter({ hasText: title });
  const request = async (title, approvers, min, then = '') => {
    await page.goto(`${urls.host}/requests`);
    await page.locator('#new-title').fill(title);
    await page.locator('#new-approvers').fill(approvers);
    await page.locator('#new-min').fill(String(min));
    await page.locator('#new-then').fill(then);
    await page.getByRole('button', { name: 'Request', exact: true }).click();
    await page.waitForURL(`${urls.host}/requests`);
    await row(title).waitFor();
  };
  try {
    await connect(page);
    await page.goto(`${urls.host}/people`);
    await page.getByRole('button', { name: 'Map users' }).click();
    await page.locator('#users tr').filter({ hasText: 'u-ben' }).filter({ hasText: 'U0BEN' }).waitFor();

    // 1. Two of three: Ana approves, the message shows 1 of 2 with her name.
    const twoOfThree = 'Laptops: two of three';
    await request(twoOfThree, 'u-ana, u-ben, u-cara', 2);
    await as('U0ANA', 'C0APPROVALS');
    await message(twoOfThree).getByRole('button', { name: 'Approve' }).click();
    await message(twoOfThree).filter({ hasText: '1 of 2 approvals' }).waitFor();
    await shot('1-one-of-two');
    // 2. Ben approves: approved.
    await as('U0BEN', 'C0APPROVALS');
    await message(twoOfThree).getByRole('button', { name: 'Approve' }).click();
    await message(twoOfThree).filter({ hasText: 'Approved by' }).waitFor();

    // 3. A request withdrawn from the host while Ana's screen still shows its buttons.
    const withdrawn = 'Trade show booth: withdrawn';
    await request(withdrawn, 'u-ana', 1);
    await as('U0ANA', 'C0APPROVALS');
    await message(withdrawn).getByRole('button', { name: 'Approve' }).waitFor();
    await page.locator('#freeze').click();
    const host = await context.newPage();
    await host.goto(`${urls.host}/requests`);
    await host.locator('#requests tr').filter({ hasText: withdrawn }).getByRole('button', { name: 'Withdraw' }).click();
    await host.locator('#requests tr').filter({ hasText: withdrawn }).filter({ hasText: 'cancelled' }).waitFor();
    await message(withdrawn).getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('button', { name: 'Resume live updates' }).click();
    await page.getByText('This request was withdrawn').first().waitFor();
    await message(withdrawn).filter({ hasText: 'Withdrawn' }).waitFor();
    assert.equal(await message(withdrawn).getByRole('button', { name: 'Approve' }).count(), 0);
    await shot('3-withdrawn');

    // 4. Two steps, decided in the host at the first: every copy names who and where.
    const twoSteps = 'Budget: two steps';
    await request(twoSteps, 'u-ben', 1, 'u-cara');
    await page.goto(`${urls.host}/requests`);
    await row(twoSteps).filter({ hasText: 'step 2: 0 of 1 (waiting)' }).waitFor();
    await row(twoSteps).getByRole('button', { name: 'Approve in host' }).click();
    await row(twoSteps).filter({ hasText: 'approved' }).waitFor();
    await as('U0BEN', 'C0APPROVALS');
    await message(twoSteps).filter({ hasText: 'Approved by Ana Approver in' }).waitFor();

    // 5. The timeline of the two-of-three request lists it all, in order.
    await page.goto(`${urls.host}/requests`);
    await row(twoOfThree).getByRole('link', { name: 'Timeline' }).click();
    const kinds = await page.locator('#timeline li').evaluateAll((items) => items.map((li) => li.dataset.kind));
    assert.equal(kinds[0], 'created');
    assert.equal(kinds.filter((k) => k === 'vote').length, 2, kinds.join(', '));
    assert.ok(kinds.indexOf('approved') > kinds.lastIndexOf('vote'), kinds.join(', '));
    assert.ok(kinds.includes('effect_done'), kinds.join(', '));
    await shot('5-timeline');
  } catch (error) {
    await shot('failure').catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
});

test('act as survives a reload and a request; the decision is by the person acting', async () => {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_MS);
  const page = await context.newPage();
  try {
    await connect(page);

    // Act as Ben: the URL says so, and a reload keeps him.
    await page.goto(`${urls.slack}/?channel=C0APPROVALS`);
    await page.locator('#act-as').selectOption('U0BEN');
    await page.waitForURL(/[?&]user=U0BEN\b/);
    await page.reload();
    await actingAs(page, 'U0BEN');
    assert.equal(await page.locator('#reply-as').textContent(), 'Ben Buyer');

    // A page without a user in its URL (as after a redirect) comes back as Ben too.
    await page.goto(`${urls.slack}/?channel=C0APPROVALS`);
    await actingAs(page, 'U0BEN');
    await page.waitForURL(/[?&]user=U0BEN\b/);

    // The workspace picker shows its whole label.
    const fits = await page.evaluate(() => {
      const select = document.getElementById('workspace');
      const style = getComputedStyle(select);
      const context = document.createElement('canvas').getContext('2d');
      context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      const text = context.measureText(select.selectedOptions[0].textContent).width;
      // The drop-down arrow takes about 20 px of the content box.
      const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20;
      return { text, room };
    });
    assert.ok(fits.text <= fits.room, `the workspace label fits: ${JSON.stringify(fits)}`);

    // Ben requests from the form: the form says who is acting, and he is still Ben after.
    assert.equal(await page.locator('#request-as').inputValue(), 'U0BEN');
    await page.locator('#request-title').fill('Laptop purchase: Ben rejects');
    await page.locator('#request-approvers').fill('');
    await page.locator('#request-reason').selectOption('none');
    await page.getByRole('button', { name: 'Request approval' }).click();
    await page.waitForURL(new RegExp(`^${urls.slack}/`));
    const request = page.locator('.message').filter({ hasText: 'Laptop purchase: Ben rejects' }).first();
    await request.getByRole('button', { name: 'Reject' }).waitFor();
    await actingAs(page, 'U0BEN');
    assert.equal(await page.locator('#reply-as').textContent(), 'Ben Buyer');

    // His Reject is his.
    await request.getByRole('button', { name: 'Reject' }).click();
    await request.filter({ hasText: /Rejected by @ben/ }).waitFor();
    assert.equal(await request.getByText('@ana').count(), 0, 'not decided by the default person');
    await page.screenshot({ path: `${OUT}/after-ben-rejected.png`, fullPage: true });
  } catch (error) {
    await page.screenshot({ path: `${OUT}/failure-act-as.png`, fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
});

test('the sandbox at phone width: the sidebar folds away, the request form stacks', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  context.setDefaultTimeout(STEP_MS);
  const page = await context.newPage();
  try {
    await page.goto(`${urls.slack}/?channel=C0APPROVALS&user=U0BEN`);
    const toggle = page.locator('#sidebar-toggle');
    await toggle.waitFor();
    assert.equal(await page.locator('#request-title').isVisible(), false, 'the sidebar starts folded');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `nothing is wider than the phone: ${overflow}px too wide`);
    const actAs = await page.evaluate(() => {
      const style = getComputedStyle(document.getElementById('act-as'));
      return { color: style.color, background: style.backgroundColor };
    });
    assert.notEqual(actAs.color, actAs.background, 'the person acting can be read');
    await page.screenshot({ path: `${OUT}/after-mobile-sandbox-folded.png`, fullPage: true });

    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await page.locator('#request-title').waitFor();
    const label = await page.locator('label[for=request-title]').boundingBox();
    const input = await page.locator('#request-title').boundingBox();
    assert.ok(label.y + label.height <= input.y, 'the label sits above its input');
    assert.ok(input.width >= 300, `the input takes the width: ${input.width}px`);
    await page.screenshot({ path: `${OUT}/after-mobile-sandbox.png`, fullPage: true });
  } catch (error) {
    await page.screenshot({ path: `${OUT}/failure-mobile.png`, fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
});

test('files and comments: the PDF in the thread, a reply mentioning Ben reaches the host, the host answers in Slack', async () => {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_MS);
  const page = await context.newPage();
  const shot = (name) => page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });
  const title = 'Purchase order PO-1042: laptops';
  // The request's entry in the channel: its message and its thread.
  const entry = () => page.locator('#messages > li.entry').filter({ hasText: title });
  const replies = () => entry().locator('.thread article.message.reply');
  try {
    // Ben is mapped, so a mention makes him a follower at the host.
    await connect(page);
    await page.goto(`${urls.host}/people`);
    await page.getByRole('button', { name: 'Map users' }).click();
    await page.locator('#users tr').filter({ hasText: 'u-ben' }).filter({ hasText: 'U0BEN' }).waitFor();

    // 1. The host asks Ana, with the sample PDF attached.
    await page.goto(`${urls.host}/requests`);
    await page.locator('#new-title').fill(title);
    await page.locator('#new-approvers').fill('u-ana');
    await page.locator('#new-min').fill('1');
    await page.locator('#new-then').fill('');
    await page.locator('#attach-pdf').check();
    await page.getByRole('button', { name: 'Request', exact: true }).click();
    await page.waitForURL(`${urls.host}/requests`);
    const timeline = await page.locator('#requests tr').filter({ hasText: title })
      .getByRole('link', { name: 'Timeline' }).getAttribute('href');
    assert.match(timeline, /^\/requests\/apr_[0-9a-f]+$/);

    // 2. In Slack the PDF arrives in the request's thread (the worker uploads it after the
    // post), with its title, size and a preview.
    await page.goto(`${urls.slack}/?channel=C0APPROVALS&user=U0ANA`);
    await entry().locator('article.message').first().getByRole('button', { name: 'Approve' }).waitFor();
    const file = entry().locator('.thread div.file[data-file-id]').filter({ has: page.locator('iframe.file-preview') });
    await file.waitFor();
    await file.locator('a.file-title').filter({ hasText: 'Purchase order PO-1042' }).waitFor();
    assert.match(await file.locator('.file-size').textContent(), /application\/pdf/);
    assert.equal(await file.locator('a.file-download').getAttribute('download'), 'PO-1042.pdf');
    await pdfShown(page, file.locator('iframe.file-preview'));
    // The viewport, not the full page: resizing the page for that would redraw the viewer.
    await entry().evaluate((li) => li.scrollIntoView({ block: 'end' }));
    await page.screenshot({ path: `${OUT}/thread-pdf.png` });

    // 3. Ana replies in the thread and mentions Ben with the @-picker.
    await entry().locator('article.message').first().locator('button.reply-button').click();
    const box = page.locator('#reply-text');
    await box.fill('Looks right to me. ');
    await box.press('End');
    await box.pressSequentially('@be');
    const ben = page.locator('#mention-picker li.mention-option[data-user="U0BEN"]');
    await ben.click();
    await page.locator('#mention-picker').waitFor({ state: 'hidden' });
    assert.equal(await box.inputValue(), 'Looks right to me. @ben ');
    await box.pressSequentially('can you confirm the discount?');
    await page.locator('#reply-submit').click();
    await page.locator('#delivery').filter({ hasText: /message.*: 200/ }).waitFor();
    await replies().filter({ hasText: 'can you confirm the discount?' }).filter({ hasText: '@ben' }).waitFor();

    // 4. The host's page of the request: the comment (Ben by the host's name for him), Ben
    // following, the PDF uploaded. It updates itself as the webhooks arrive.
    await page.goto(`${urls.host}${timeline}`);
    const comment = page.locator('#comments li.comment[data-comment-id]').filter({ hasText: 'can you confirm the discount?' });
    await comment.waitFor();
    assert.equal(await comment.locator('.comment-author').textContent(), 'Ana Approver');
    assert.equal(await comment.locator('.mention').textContent(), '@Ben Buyer');
    await page.locator('#followers li.follower[data-user-id="u-ben"]').filter({ hasText: 'Ben Buyer' }).waitFor();
    await page.locator('#attachments li.attachment[data-status="done"]').filter({ hasText: 'Purchase order PO-1042' }).waitFor();
    await shot('host-comments');

    // 5. The host answers from its page, as Pat, mentioning Ben by the host's id for him.
    assert.equal(await page.locator('#comment-author').inputValue(), 'u-pat');
    await page.locator('#comment-text').fill('Thanks Ana. @u-ben: the 5% discount is in the PO.');
    await page.locator('#comment-submit').click();
    await page.waitForURL(`${urls.host}${timeline}#comments`);
    await page.locator('#comments li.comment.from-host').filter({ hasText: 'the 5% discount is in the PO' }).waitFor();

    // 6. In the Slack thread it reads as Pat's, via the host, with Ben mentioned.
    await page.goto(`${urls.slack}/?channel=C0APPROVALS&user=U0ANA`);
    const answer = replies().filter({ hasText: 'the 5% discount is in the PO' });
    await answer.locator('.author').filter({ hasText: /^Pat Partner via Demo Partner Portal$/ }).waitFor();
    assert.equal(await answer.locator('.mention').textContent(), '@ben');
    await pdfShown(page, entry().locator('iframe.file-preview'));
    await entry().evaluate((li) => li.scrollIntoView({ block: 'end' }));
    await page.screenshot({ path: `${OUT}/thread-host-reply.png` });
  } catch (error) {
    await shot('failure-files-comments').catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
});
