// driver.mjs runs one real livekit-client participant in headless Chromium
// and takes commands as JSON lines on stdin, answering JSON lines on
// stdout. internal/jsclient drives it from Go tests; the protocol is
// described there. stdout carries only protocol lines; everything else
// (Chromium's and the page's console) goes to stderr.
//
//   node interop/driver.mjs            (Chromium at $DTTUI_CHROMIUM or /usr/bin/chromium)
//
// Nothing is fetched from the network: the page and livekit-client's ESM
// build are served from this directory on 127.0.0.1, and Chromium is the
// system's (playwright-core never downloads a browser here).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'node_modules', 'livekit-client', 'dist');
const executablePath = process.env.DTTUI_CHROMIUM || '/usr/bin/chromium';

const t0 = performance.now();
const log = (...a) => process.stderr.write(`driver +${Math.round(performance.now() - t0)}ms: ${a.join(' ')}\n`);
const send = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

// Only these files are served.
const files = {
  '/': [join(here, 'page.html'), 'text/html'],
  '/page.mjs': [join(here, 'page.mjs'), 'text/javascript'],
  '/lk/livekit-client.esm.mjs': [join(dist, 'livekit-client.esm.mjs'), 'text/javascript'],
  '/lk/livekit-client.e2ee.worker.mjs': [join(dist, 'livekit-client.e2ee.worker.mjs'), 'text/javascript'],
};

const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  const f = files[path];
  if (!f) {
    res.writeHead(404).end();
    return;
  }
  try {
    const body = await readFile(f[0]);
    res.writeHead(200, { 'content-type': f[1], 'cache-control': 'no-store' }).end(body);
  } catch (err) {
    res.writeHead(500).end(String(err));
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath,
  headless: true,
  chromiumSandbox: false, // --no-sandbox: root in a container
  // playwright-core gives every launch a fresh temporary --user-data-dir
  // and removes it on close.
  args: [
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    // ICE on loopback only: the SFU listens on 127.0.0.1, and Chromium
    // otherwise leaves the loopback interface out of WebRTC.
    '--allow-loopback-in-peer-connection',
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    // A page nobody looks at must not have its timers or work throttled.
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
  ],
});

log('chromium', browser.version(), 'launched');

let closing = false;
async function shutdown(code) {
  if (closing) return;
  closing = true;
  try {
    await browser.close();
  } catch (err) {
    log('closing chromium:', err);
  }
  server.close();
  process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
browser.on('disconnected', () => {
  if (!closing) {
    log('chromium went away');
    send({ event: 'browserClosed' });
    shutdown(1);
  }
});

const page = await browser.newPage();
page.on('console', (m) => log(`[page ${m.type()}]`, m.text()));
page.on('pageerror', (err) => {
  log('[uncaught in page]', err);
  send({ event: 'pageError', error: String(err) });
});
await page.exposeFunction('dttuiEmit', (ev) => send(ev));
await page.goto(`${origin}/`);
await page.waitForFunction(() => window.dttui !== undefined, null, { timeout: 30000 });
const livekitClient = await page.evaluate(() => window.dttui.version);
log('page ready');
send({ event: 'ready', chromium: browser.version(), livekitClient, pid: process.pid });

// Commands run concurrently (a long push does not block counters); each
// answer carries its request's id.
const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', async (line) => {
  if (!line.trim()) return;
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    send({ ok: false, error: `bad JSON: ${err.message}` });
    return;
  }
  const { id, cmd, ...args } = req;
  if (cmd === 'quit') {
    send({ id, ok: true, result: {} });
    await shutdown(0);
    return;
  }
  try {
    const r = await page.evaluate(([c, a]) => window.dttui.call(c, a), [cmd, args]);
    send({ id, ...r });
  } catch (err) {
    send({ id, ok: false, error: String(err?.message ?? err) });
  }
});
// The Go side went away (or closed stdin): never outlive it.
rl.on('close', () => shutdown(0));
