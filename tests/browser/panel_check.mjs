// The web panel in a real headless Chromium (the system's, driven by puppeteer-core): run by
// tests/tests/it/panel.rs against the simulated lab (plus a `notebook` Thing holding markup as its value),
// which it serves over HTTP.
//
//   node panel_check.mjs --base http://127.0.0.1:PORT --auth-base http://127.0.0.1:PORT2 \
//        --chromium /usr/bin/chromium --shots DIR --hololinked-td td-stage-http.json
//
// Prints one `ok <step>` or `FAIL <step>: <why>` line a step and `ALL OK` at the end when every step passed.
// In the middle it asks the test to stop the server (`STOP-SERVER`, answered `stopped` on stdin) and to
// start it again on the same port (`START-SERVER`, answered `started`).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

// puppeteer-core is installed where the test runs this (target/browser-tools/), not beside the script.
const require = createRequire(join(process.cwd(), 'package.json'));
const puppeteer = require('puppeteer-core');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const { base, chromium, shots } = args;
const authBase = args['auth-base'];
const XSS = '<img src=x onerror=alert(1)>';
const WAIT = { timeout: 20000, polling: 100 };

let failed = false;
async function step(name, run) {
  try {
    await run();
    console.log('ok ' + name);
  } catch (e) {
    failed = true;
    console.log('FAIL ' + name + ': ' + String(e && e.message ? e.message : e).split('\n')[0]);
  }
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

const lines = createInterface({ input: process.stdin });
const waiting = [];
lines.on('line', (line) => {
  const next = waiting.shift();
  if (next) next(line.trim());
});
function ask(what, answer) {
  console.log(what);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no `' + answer + '` from the test')), 30000);
    waiting.push((line) => {
      clearTimeout(timer);
      if (line === answer) resolve();
      else reject(new Error('the test answered `' + line + '`, not `' + answer + '`'));
    });
  });
}

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});

// Every request any page makes, to check that nothing goes anywhere but the server.
const requested = new Set();
const dialogs = [];
const pageErrors = [];
async function open(path, options) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  page.on('request', (r) => requested.add(r.url()));
  page.on('dialog', async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  if (options && options.credentials) await page.authenticate(options.credentials);
  const response = await page.goto((options && options.base ? options.base : base) + path, { waitUntil: 'domcontentloaded' });
  return { page, response };
}

const card = (kind, name) => `[data-affordance="${kind}"][data-name="${name}"]`;

async function textOf(page, selector) {
  return page.$eval(selector, (el) => el.textContent);
}

async function setInput(page, selector, value) {
  await page.$eval(selector, (el, v) => {
    el.value = v;
  }, value);
}

// Pixels of a canvas that are not transparent: a plot that was drawn has many.
async function inkOf(page, selector) {
  return page.$eval(selector, (canvas) => {
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let ink = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink += 1;
    return ink;
  });
}

async function waitForInk(page, selector, at) {
  await page.waitForSelector(selector, { timeout: WAIT.timeout });
  for (let i = 0; i < 100; i++) {
    const ink = await inkOf(page, selector);
    if (ink > at) return ink;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(selector + ' stays blank');
}

async function connected(page, state) {
  await page.waitForFunction((s) => document.getElementById('connection')?.dataset.state === s, WAIT, state);
}

// ---------------------------------------------------------------------------------------------------------

await step('the index lists every Thing with its title and description', async () => {
  const { page } = await open('/');
  await page.waitForFunction(() => {
    const cards = [...document.querySelectorAll('.things a.card')];
    return cards.length === 4 && cards.every((c) => c.querySelector('.status').textContent.includes('properties'));
  }, WAIT);
  const titles = await page.$$eval('.things a.card h3', (hs) => hs.map((h) => h.firstChild.textContent));
  expect(titles.includes('Spectrometer') && titles.includes('Thermostat'), 'titles: ' + titles.join(', '));
  const about = await textOf(page, '.things a.card[data-thing="spectrometer"] .description');
  expect(about.includes('spectrometer'), 'description: ' + about);
  await connected(page, 'connected');
  await page.screenshot({ path: shots + '/index.png', fullPage: true });
  await page.close();
});

const { page: spec } = await open('/spectrometer/');
const integration = card('property', 'integration_time_ms');

await step('a property shows its value and unit', async () => {
  await spec.waitForFunction((s) => /^\d+ms$/.test(document.querySelector(s + ' .value')?.textContent), WAIT, integration);
});

await step('writing integration_time_ms updates the live value', async () => {
  await setInput(spec, integration + ' input', '250');
  await spec.click(integration + ' button.write');
  await spec.waitForFunction((s) => document.querySelector(s + ' .value')?.textContent.startsWith('250'), WAIT, integration);
});

await step('an out-of-range value is refused with a message', async () => {
  await setInput(spec, integration + ' input', '20000');
  await spec.click(integration + ' button.write');
  await spec.waitForFunction((s) => document.querySelector(s + ' .error')?.textContent.includes('10000'), WAIT, integration);
  const value = await textOf(spec, integration + ' .value');
  expect(value.startsWith('250'), 'the value changed to ' + value);
});

await step('acquire runs, shows how long it took, and its spectrum is plotted', async () => {
  const acquire = card('action', 'acquire');
  await spec.click(acquire + ' button.run');
  await spec.waitForFunction((s) => document.querySelector(s + ' .status')?.textContent.startsWith('took'), WAIT, acquire);
  const summary = await textOf(spec, acquire + ' .result .value');
  expect(summary.startsWith('2048 values'), 'result: ' + summary);
  const ink = await waitForInk(spec, acquire + ' .result canvas', 2000);
  expect(ink > 2000, 'the plot has ' + ink + ' drawn pixels');
});

await step('the spectrum_ready event is logged and its spectrum plotted', async () => {
  const event = card('event', 'spectrum_ready');
  await spec.waitForFunction((s) => document.querySelectorAll(s + ' .log li').length >= 1, WAIT, event);
  await waitForInk(spec, event + ' .plot.line canvas', 2000);
  await spec.screenshot({ path: shots + '/spectrometer.png', fullPage: true });
});
await spec.close();

const { page: stage } = await open('/stage/');

await step('a value the page cannot check is refused by the server, with its message', async () => {
  const limits = card('property', 'limits');
  await stage.waitForSelector(limits + ' textarea');
  await setInput(stage, limits + ' textarea', '{"min": 50, "max": 10}');
  await stage.click(limits + ' button.write');
  await stage.waitForFunction((s) => document.querySelector(s + ' .error')?.textContent.length > 0, WAIT, limits);
  const message = await textOf(stage, limits + ' .error');
  expect(/min|max/.test(message), 'the error says: ' + message);
});

await step('a refused move shows the server\'s ValueError, a running move shows that it runs', async () => {
  const page = stage;
  const move = card('action', 'move_to');
  await page.waitForSelector(move + ' input');
  await setInput(page, move + ' input', '1000');
  await page.click(move + ' button.run');
  await page.waitForFunction((s) => document.querySelector(s + ' .error')?.textContent.length > 0, WAIT, move);
  const message = await textOf(page, move + ' .error');
  expect(/limit|outside/i.test(message), 'the error says: ' + message);
  await setInput(page, move + ' input', '20');
  await page.click(move + ' button.run');
  await page.waitForFunction((s) => document.querySelector(s)?.dataset.state === 'running', WAIT, move);
  const running = await textOf(page, move + ' .status');
  expect(running.startsWith('running'), 'status while moving: ' + running);
  const position = card('property', 'position');
  await page.waitForFunction((s) => parseFloat(document.querySelector(s + ' .value')?.textContent) > 0, WAIT, position);
  await page.waitForFunction((s) => document.querySelector(s)?.dataset.state === 'done', WAIT, move);
  await waitForInk(page, position + ' .plot.series canvas', 500);
  await page.screenshot({ path: shots + '/stage.png', fullPage: true });
});
await stage.close();

const { page: thermo } = await open('/thermostat/');
const reading = card('event', 'reading');

await step('thermostat readings arrive live and are drawn over time', async () => {
  await thermo.waitForFunction((s) => document.querySelectorAll(s + ' .log li').length >= 3, WAIT, reading);
  const first = await textOf(thermo, reading + ' .log li');
  expect(first.includes('celsius') && first.includes('setpoint'), 'a reading: ' + first);
  await waitForInk(thermo, reading + ' .plot.series canvas', 1000);
  await thermo.screenshot({ path: shots + '/thermostat.png', fullPage: true });
});

await step('pause stops the log, clear empties it', async () => {
  await thermo.click(reading + ' button.pause');
  const shown = await thermo.$$eval(reading + ' .log li', (l) => l.length);
  await thermo.waitForFunction((s) => document.querySelector(s + ' .status')?.textContent.includes('not shown while paused'), WAIT, reading);
  const after = await thermo.$$eval(reading + ' .log li', (l) => l.length);
  expect(after === shown, 'the paused log grew from ' + shown + ' to ' + after);
  await thermo.click(reading + ' button.clear');
  const cleared = await thermo.$$eval(reading + ' .log li', (l) => l.length);
  expect(cleared === 0, cleared + ' entries after clear');
  await thermo.click(reading + ' button.pause');
  await thermo.waitForFunction((s) => document.querySelectorAll(s + ' .log li').length >= 1, WAIT, reading);
});

await step('a server that stops shows "disconnected", and the panel reconnects when it is back', async () => {
  await ask('STOP-SERVER', 'stopped');
  await connected(thermo, 'disconnected');
  const before = await thermo.$$eval(reading + ' .log li', (l) => l.length);
  await ask('START-SERVER', 'started');
  await connected(thermo, 'connected');
  await thermo.waitForFunction((s, n) => document.querySelectorAll(s + ' .log li').length > n, WAIT, reading, before);
});
await thermo.close();

await step('a hololinked 0.4.2 Thing Description makes a panel too', async () => {
  // hololinked's own TD of the same stage (as its HTTP server serves it: absolute hrefs on another host,
  // dashed paths, a `state` property), answered in place of thingwire's; the panel follows its forms.
  const td = readFileSync(args['hololinked-td'], 'utf8');
  const page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('request', (r) => requested.add(r.url()));
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    if (r.url().endsWith('/stage/resources/wot-td')) r.respond({ status: 200, contentType: 'application/json', body: td });
    else r.continue();
  });
  await page.goto(base + '/stage/', { waitUntil: 'domcontentloaded' });
  const expected = JSON.parse(td);
  await page.setViewport({ width: 1400, height: 1000 });
  await page.waitForFunction((n) => document.querySelectorAll('[data-affordance]').length === n, WAIT,
    Object.keys(expected.properties).length + Object.keys(expected.actions).length + Object.keys(expected.events).length);
  const speed = card('property', 'speed');
  await page.waitForFunction((s) => /^\d/.test(document.querySelector(s + ' .value')?.textContent || ''), WAIT, speed);
  expect(await page.$(card('property', 'state')) !== null, 'no card for hololinked\'s `state`');
  await page.close();
});

await step('markup in a value is shown as text, never run', async () => {
  const { page } = await open('/notebook/');
  const note = card('property', 'note');
  await page.waitForFunction((s, x) => document.querySelector(s + ' .value')?.textContent === x, WAIT, note, XSS);
  const images = await page.$$eval('main img', (l) => l.length);
  expect(images === 0, images + ' <img> elements in the page');
  const script = '<script>window.__pwned = 1</script><b>bold</b>';
  await setInput(page, note + ' input', script);
  await page.click(note + ' button.write');
  await page.waitForFunction((s, x) => document.querySelector(s + ' .value')?.textContent === x, WAIT, note, script);
  const pwned = await page.evaluate(() => window.__pwned);
  const bold = await page.$$eval('main b', (l) => l.length);
  expect(pwned === undefined && bold === 0, 'the markup was interpreted');
  expect(dialogs.length === 0, 'a dialog opened: ' + dialogs.join(', '));
  await page.close();
});

await step('a Basic-auth server asks for credentials, and the panel works with them', async () => {
  // A browser without credentials gets the challenge that makes it ask for them (headless Chromium, which
  // cannot ask, fails the navigation instead: the challenge is checked without it).
  const refused = await fetch(authBase + '/sensor/');
  const challenge = refused.headers.get('www-authenticate') || '';
  expect(refused.status === 401 && challenge.startsWith('Basic'), 'without credentials: ' + refused.status + ' ' + challenge);
  const { page } = await open('/sensor/', { base: authBase, credentials: { username: 'lab', password: 'secret' } });
  const gain = card('property', 'gain');
  try {
    await page.waitForFunction((s) => document.querySelector(s + ' .value')?.textContent.length > 0, WAIT, gain);
  } catch (e) {
    throw new Error(e.message + '; the page shows: ' + (await page.$eval('main', (m) => m.innerText)).slice(0, 300));
  }
  await setInput(page, gain + ' input', '2.5');
  await page.click(gain + ' button.write');
  await page.waitForFunction((s) => document.querySelector(s + ' .value')?.textContent.startsWith('2.5'), WAIT, gain);
  await page.close();
});

await step('nothing was requested from anywhere but the servers, and no script failed', async () => {
  const origins = new Set([new URL(base).origin, new URL(authBase).origin]);
  const foreign = [...requested].filter((u) => !origins.has(new URL(u).origin) && !u.startsWith('data:'));
  expect(foreign.length === 0, 'requests elsewhere: ' + foreign.join(', '));
  expect(pageErrors.length === 0, 'page errors: ' + pageErrors.join('; '));
});

await browser.close();
lines.close();
if (!failed) console.log('ALL OK');
process.exit(failed ? 1 : 0);
