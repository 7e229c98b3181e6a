// End-to-end test of the stackswitch page in Debian's headless Chromium.
//
// Builds and serves the app with `cargo xtask serve --port 0`, opens it, steps until RSP
// leaves the goroutine's stack for g0's (the live-stack marker must move to the g0 column
// on exactly the `MOVQ (g_sched+gobuf_sp)(SI), SP` line), steps back, runs to the INT3,
// and fails on any console error. Screenshots go to a temporary directory (printed), and
// the end state also to /tmp/stackswitch-shots/.
//
// Usage: node tests/browser/test.mjs   (after `npm ci` in tests/browser)
// Env: CHROMIUM (default /usr/bin/chromium), SHOTS (screenshot directory).

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = process.env.SHOTS || mkdtempSync(join(tmpdir(), 'stackswitch-shots-'));
const leadShots = '/tmp/stackswitch-shots';
mkdirSync(shots, { recursive: true });
mkdirSync(leadShots, { recursive: true });

// The first build of the wasm can take minutes on a small machine.
const BUILD_TIMEOUT_MS = 20 * 60 * 1000;

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

/** Starts the server and resolves with its URL once it prints it. */
function serve() {
  const server = spawn('cargo', ['xtask', 'serve', '--port', '0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start in time')), BUILD_TIMEOUT_MS);
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      process.stdout.write(chunk);
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    server.on('exit', (code) => reject(new Error(`cargo xtask serve exited with ${code}`)));
  });
  return { server, url };
}

async function main() {
  const { server, url: urlPromise } = serve();
  const profile = mkdtempSync(join(tmpdir(), 'stackswitch-chromium-'));
  let context;
  try {
    const url = await urlPromise;
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      viewport: { width: 1500, height: 1250 },
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    });
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));

    const started = Date.now();
    await page.goto(url);
    await page.waitForSelector('.stack.live', { timeout: 30000 });
    console.log(`     page interactive after ${Date.now() - started} ms`);

    const live = () => page.getAttribute('.stack.live', 'data-stack');
    const stepCount = async () => Number((await page.textContent('#step-count')).replace(/\D/g, ''));
    const currentLine = async () => (await page.textContent('.line.current .text')).trim();

    check((await live()) === 'g1 stack', 'starts with RSP on the g1 stack');
    check((await page.textContent('#location')) === 'runtime·main', 'starts at runtime·main');
    const stacks = await page.$$eval('.stack', (cs) => cs.map((c) => c.dataset.stack));
    check(stacks.join(',') === 'g1 stack,m0.g0 stack,m0.gsignal stack', `stack columns: ${stacks}`);
    await page.screenshot({ path: join(shots, '1-start.png'), fullPage: true });

    // Step until the live stack changes.
    let before = '';
    for (let i = 0; i < 100 && (await live()) === 'g1 stack'; i++) {
      before = await currentLine();
      await page.click('#step');
    }
    check((await live()) === 'm0.g0 stack', 'stepping moves the live stack to the g0 column');
    check(before === 'MOVQ\t(g_sched+gobuf_sp)(SI), SP', `the switch is the load of g0.sched.sp (was: ${JSON.stringify(before)})`);
    const switchedAt = await stepCount();
    const rsp = await page.textContent('tr[data-reg="RSP"] .reading');
    check(rsp.startsWith('m0.g0 stack + '), `RSP reads as a place on the g0 stack: ${rsp}`);
    check(await page.isVisible('.stack.live tr.sp .mark'), 'the RSP arrow is in the live column');
    check((await page.textContent('tr[data-reg="RSP"]')).length > 0 &&
          (await page.getAttribute('tr[data-reg="RSP"]', 'class')).includes('changed'),
          'RSP is highlighted as changed');
    const g1Marks = await page.$$eval('.stack[data-stack="g1 stack"] .mark', (ms) => ms.map((m) => m.textContent));
    check(g1Marks.some((m) => m.startsWith('g1.sched.sp')), `the g1 column marks the saved SP: ${g1Marks}`);
    await page.screenshot({ path: join(shots, '2-on-g0.png'), fullPage: true });

    // The switching instruction in the other syntaxes (after the switch, RIP is on the next
    // line, so look at the line that has just run).
    await page.click('#back');
    check((await live()) === 'g1 stack', 'stepping back moves the live stack back to g1');
    await page.click('.syntax .toggle:has-text("Intel")');
    const intel = (await page.textContent('.ins.current .asm')).trim();
    check(intel === 'mov rsp, qword ptr [rsi+0x38]', `Intel syntax: ${intel}`);
    await page.click('.syntax .toggle:has-text("AT&T")');
    const att = (await page.textContent('.ins.current .asm')).trim();
    check(att === 'mov 0x38(%rsi),%rsp', `AT&T syntax: ${att}`);
    await page.click('.syntax .toggle:has-text("Go")');
    const bytes = (await page.textContent('.ins.current .asm')).trim();
    check(bytes === '48 8b 66 38', `Go view shows the bytes beside the line: ${bytes}`);
    check((await stepCount()) === switchedAt - 1, 'the step count goes back by one');
    await page.screenshot({ path: join(shots, '3-back-on-g1.png'), fullPage: true });

    // The same with the keys.
    await page.keyboard.press('ArrowRight');
    check((await live()) === 'm0.g0 stack', '→ steps');
    await page.keyboard.press('ArrowLeft');
    check((await live()) === 'g1 stack', '← steps back');

    // Run to the INT3 at the end of main.
    await page.keyboard.press('r');
    await page.waitForSelector('.stop.fault', { timeout: 10000 });
    const stop = await page.textContent('.stop.fault');
    check(stop.includes('SIGTRAP'), `run stops at the INT3 with SIGTRAP: ${stop}`);
    check((await page.textContent('tr[data-reg="RAX"] .value')) === '000000000000002a', 'RAX holds the C function\'s 42');
    check((await live()) === 'g1 stack', 'after the call, RSP is back on the g1 stack');
    const tlsG = await page.textContent('.threads .current-g .reading');
    check(tlsG === '&g1', `TLS names g1 again: ${tlsG}`);
    check(await page.isDisabled('#step'), 'Step is disabled at the trap');
    await page.screenshot({ path: join(shots, '4-end.png'), fullPage: true });
    copyFileSync(join(shots, '4-end.png'), join(leadShots, 'demo-end.png'));

    const trapLine = (await page.textContent('.line.faulted .text')).trim();
    check(trapLine === 'INT\t$3', `the INT3 line is marked as where the signal came from: ${JSON.stringify(trapLine)}`);
    await page.click('#back');
    check(!(await page.isVisible('.stop.fault')), 'stepping back from the trap clears it');
    await page.click('#reset');
    check((await stepCount()) === 0 && (await live()) === 'g1 stack', 'Reset goes back to step 0 on g1');

    // Step plus re-render, timed inside the page: from the click to the DOM change.
    const times = await page.evaluate(async () => {
      const counter = document.querySelector('#step-count');
      const out = [];
      for (let i = 0; i < 50; i++) {
        const button = document.querySelector('#step');
        if (button.disabled) break;
        const changed = new Promise((resolve) => {
          const watch = new MutationObserver(() => { watch.disconnect(); resolve(); });
          watch.observe(counter, { childList: true, characterData: true, subtree: true });
        });
        const t0 = performance.now();
        button.click();
        await changed;
        out.push(performance.now() - t0);
      }
      return out;
    });
    times.sort((a, b) => a - b);
    const pct = (p) => times[Math.min(times.length - 1, Math.floor(times.length * p))].toFixed(1);
    console.log(`     step + re-render over ${times.length} steps: median ${pct(0.5)} ms, 95th percentile ${pct(0.95)} ms`);
    check(times.length === 50, 'fifty steps in a row from the start');

    check(errors.length === 0, `no console errors${errors.length ? ': ' + errors.join(' | ') : ''}`);
  } finally {
    if (context) await context.close();
    server.kill();
    rmSync(profile, { recursive: true, force: true });
  }
  console.log(`screenshots in ${shots} (end state also in ${leadShots}/demo-end.png)`);
}

main().then(
  () => {
    console.log(failures ? `${failures} check(s) failed` : 'browser test passed');
    process.exit(failures ? 1 : 0);
  },
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
