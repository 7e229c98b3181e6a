// The page as people use it (issue 16), at a laptop's 1366×768, a projector's 1280×720
// and a tablet's 768×1024: one screen for the switch, keys and history, presenter mode
// and the keyboard, contrast, a step's view whatever the path to it, and "who last wrote
// this?". test.mjs runs these with its `check`; each viewport gets a page of its own.

import { join } from 'node:path';
import { copyFileSync } from 'node:fs';

export const VIEWPORTS = [
  { name: '1366x768', width: 1366, height: 768, oneScreen: true },
  { name: '1280x720', width: 1280, height: 720, oneScreen: true },
  { name: '768x1024', width: 768, height: 1024, oneScreen: false },
];

const stepOf = async (page) => Number((await page.textContent('#step-count')).replace(/\D/g, ''));
const notRunning = (page) => page.waitForSelector('#run', { timeout: 120000 });
const shows = (page, selector, state = 'visible', timeout = 2000) =>
  page.waitForSelector(selector, { state, timeout }).then(() => true, () => false);

/** Waits until the page shows `step` (a key's render comes after the event). */
const atStep = (page, step, timeout = 5000) =>
  page.waitForFunction((s) => document.querySelector('#step-count')?.textContent === `step ${s}`, step, { timeout })
    .then(() => true, () => false);

/** Opens a page at `url` (a fragment names the state) and waits for it to settle. */
async function fresh(context, url, viewport, errors) {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${viewport.name}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`${viewport.name}: ${e}`));
  await page.setViewportSize({ width: viewport.width, height: viewport.height });
  await page.goto(url);
  await page.waitForSelector('.stack.live', { timeout: 30000 });
  await notRunning(page);
  return page;
}

/** Answers every question waiting here with its first choice (a click). */
async function answerAll(page) {
  for (let k = 0; k < 6; k++) {
    const typed = await page.$('.question.pending .free-answer input:not([disabled])');
    if (typed) {
      await typed.fill('0');
      await typed.press('Enter');
    } else {
      const choice = await page.$('.question.pending .choice:not([disabled])');
      if (!choice) return;
      await choice.click();
    }
    await page.waitForTimeout(30);
  }
}

/** Continues (answering questions) until the thread faults, the process ends, or the
 * location is `place`. */
async function continueUntil(page, done) {
  for (let i = 0; i < 60; i++) {
    await answerAll(page);
    if (await done()) return true;
    if (await page.isDisabled('#run')) return done();
    await page.click('#run');
    await notRunning(page);
  }
  return done();
}

const atFault = (page) => page.isVisible('#signal-banner');

/** The bounding boxes of the one-screen views; each must lie inside the viewport. */
async function boxes(page) {
  return page.evaluate(() => {
    const box = (sel) => {
      const e = document.querySelector(sel);
      if (!e) return null;
      const r = e.getBoundingClientRect();
      return { sel, left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height };
    };
    return {
      scrollY: window.scrollY,
      pageHeight: document.documentElement.scrollHeight,
      views: [
        box('.line.current .text'),
        box('.line.current .machine .ins.current'),
        box('.registers'),
        box('.registers tr[data-reg="RSP"]'),
        box('.registers tr[data-reg="RIP"]'),
        box('.stack.live header'),
        box('.stack.live tr.sp'),
      ],
    };
  });
}

const inside = (b, vp) => b && b.width > 0 && b.height > 0 && b.left >= -0.5 && b.top >= -0.5 &&
  b.right <= vp.width + 0.5 && b.bottom <= vp.height + 0.5;

/** Whether `inner`'s box shows within its scrolling ancestors (a column scrolled away
 * is inside the viewport's rectangle but not visible). */
async function visibleInPanes(page, selector) {
  return page.$eval(selector, (e) => {
    const r = e.getBoundingClientRect();
    for (let p = e.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (/(auto|scroll|hidden)/.test(s.overflowX + s.overflowY)) {
        const q = p.getBoundingClientRect();
        if (r.right > q.right + 1 || r.left < q.left - 1 || r.bottom > q.bottom + 1 || r.top < q.top - 1) return false;
      }
    }
    return true;
  }).catch(() => false);
}

/** The one-screen check at a viewport: the current line with its instruction, the
 * registers and the live column's RSP row, all inside the viewport without scrolling
 * the page, and each visible within its pane. */
async function oneScreen(page, vp, tag, check) {
  const b = await boxes(page);
  const out = b.views.filter((v) => !inside(v, vp));
  check(b.scrollY === 0 && out.length === 0,
        `${tag}: source line, its machine code, the registers and the live column's RSP row are on one screen at ${vp.name}` +
        (out.length ? ` (outside: ${out.map((v) => v ? `${v.sel} ${Math.round(v.left)},${Math.round(v.top)}–${Math.round(v.right)},${Math.round(v.bottom)}` : 'missing').join('; ')})` : ''));
  const shown = [];
  for (const sel of ['.line.current .machine .ins.current', '.stack.live tr.sp', '.stack.live header']) {
    if (!(await visibleInPanes(page, sel))) shown.push(sel);
  }
  check(shown.length === 0, `${tag}: none of them is scrolled out of its pane at ${vp.name}${shown.length ? ` (${shown.join(', ')})` : ''}`);
}

/** Every pane at least readable wide (the source column was 0 px wide at 768 px). */
async function widths(page, vp, tag, check) {
  const w = await page.evaluate(() => {
    const width = (sel) => {
      const e = document.querySelector(sel);
      return e ? Math.round(e.getBoundingClientRect().width) : -1;
    };
    return {
      lesson: width('#lesson'), source: width('.source'), text: width('.line.current .text'),
      machine: width('.line.current .machine'), registers: width('.registers'), stacks: width('.stacks'),
      live: width('.stack.live'), overflow: document.documentElement.scrollWidth - window.innerWidth,
    };
  });
  const narrow = Object.entries(w).filter(([k, v]) => k !== 'overflow' && v < (k === 'text' || k === 'machine' ? 120 : 240));
  check(narrow.length === 0 && w.overflow <= 1,
        `${tag}: every pane readable at ${vp.name} (${Object.entries(w).map(([k, v]) => `${k} ${v}`).join(', ')})`);
}

/** WCAG contrast of every visible text element against its effective background (the
 * first opaque background up its ancestors, composited over white), with opacity taken
 * into account. Returns the elements under 4.5:1. */
async function contrast(page) {
  return page.evaluate(() => {
    const parse = (c) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    };
    const lum = ({ r, g, b }) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const over = (top, under) => ({
      r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
      b: top.b * top.a + under.b * (1 - top.a), a: 1,
    });
    const background = (el) => {
      const layers = [];
      let opacity = 1;
      for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
        const s = getComputedStyle(e);
        opacity *= Number(s.opacity);
        const bg = parse(s.backgroundColor);
        if (bg && bg.a > 0) layers.push(bg);
        if (bg && bg.a >= 1) break;
      }
      let c = { r: 255, g: 255, b: 255, a: 1 };
      for (const l of layers.reverse()) c = over(l, c);
      return { bg: c, opacity };
    };
    const bad = [];
    let checked = 0;
    const all = document.querySelectorAll('body *');
    for (const el of all) {
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || r.bottom < 0 || r.top > innerHeight || r.right < 0 || r.left > innerWidth) continue;
      const s = getComputedStyle(el);
      if (s.visibility === 'hidden' || el.closest('[hidden]')) continue;
      // WCAG exempts text of a disabled control; ours stays legible anyway, and is measured.
      const svg = el instanceof SVGElement;
      const fg = parse(svg ? s.fill : s.color);
      if (!fg) continue;
      const { bg, opacity } = background(svg ? el.closest('svg').parentElement : el);
      const text = over({ ...fg, a: fg.a * opacity }, bg);
      const [hi, lo] = [lum(text), lum(bg)].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      checked++;
      if (ratio < 4.5) {
        bad.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}:1`);
      }
    }
    return { checked, bad };
  });
}

async function contrastCheck(page, tag, check) {
  const { checked, bad } = await contrast(page);
  check(checked > 100 && bad.length === 0,
        `${tag}: every one of ${checked} visible text elements has a contrast of at least 4.5:1${bad.length ? ` (${bad.length} under: ${[...new Set(bad)].slice(0, 8).join(' | ')})` : ''}`);
}

async function shoot(page, shots, leadShots, name) {
  await page.screenshot({ path: join(shots, name) });
  copyFileSync(join(shots, name), join(leadShots, name));
}

/** The view a step shows: what a learner reads to know which thread runs and where. */
const viewOf = (page) => page.evaluate(() => ({
  step: document.querySelector('#step-count').textContent,
  location: document.querySelector('#location').textContent,
  next: document.querySelector('#next-ins').textContent,
  line: document.querySelector('.line.current .text')?.textContent.trim() ?? null,
  registers: [...document.querySelectorAll('.registers tr')].map((r) => r.textContent),
  thread: [...document.querySelectorAll('.thread.shown')].map((t) => t.dataset.thread).join(),
  live: document.querySelector('.stack.live')?.dataset.stack ?? null,
}));

const differs = (a, b) => Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));

async function jump(page, to) {
  await page.$eval('#timeline', (el, to) => {
    el.value = String(to);
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, to);
  await notRunning(page);
  await atStep(page, to);
}

/** The lessons' links at the page's default release. */
const link = (url, lesson, step) => `${url}#v=1&lesson=${lesson}&go=${globalThis.NEWEST}&step=${step}`;

/** Lesson 10 at step `n` by every path: the timeline, Back from the step after, Step
 * from the step before, Continue from the start, and a link. */
async function samePaths(context, url, vp, errors, check) {
  const n = 146;
  const page = await fresh(context, link(url, 'seed-crash', 0), vp, errors);
  await answerAll(page);
  let viaContinue = null;
  for (let i = 0; i < 40 && (await stepOf(page)) < n; i++) {
    await answerAll(page);
    if (await page.isDisabled('#run')) break;
    await page.click('#run');
    await notRunning(page);
    if ((await stepOf(page)) === n) viaContinue = await viewOf(page);
  }
  await jump(page, n);
  const viaTimeline = await viewOf(page);
  await jump(page, n + 1);
  await page.keyboard.press('Shift+S');
  await atStep(page, n);
  const viaBack = await viewOf(page);
  await jump(page, n - 1);
  await answerAll(page);
  await page.keyboard.press('s');
  await atStep(page, n);
  const viaStep = await viewOf(page);
  await page.close();
  const linked = await fresh(context, link(url, 'seed-crash', n), vp, errors);
  await atStep(linked, n, 20000);
  const viaLink = await viewOf(linked);
  await linked.close();
  const paths = { Back: viaBack, Step: viaStep, link: viaLink };
  if (viaContinue) paths.Continue = viaContinue;
  for (const [how, v] of Object.entries(paths)) {
    const d = differs(viaTimeline, v);
    check(d.length === 0, `lesson 10, step ${n} reached by ${how} shows what the timeline shows (thread ${viaTimeline.thread}, ${viaTimeline.location})${d.length ? `; differs in ${d.map((k) => `${k}: ${JSON.stringify(v[k]).slice(0, 80)} vs ${JSON.stringify(viaTimeline[k]).slice(0, 80)}`).join('; ')}` : ''}`);
  }
  if (!viaContinue) console.log(`     (Continue from the start does not stop at step ${n} now; the other paths are compared)`);
}

/** Keys and history: the picker gives the keys back, Back and Forward move between
 * lessons, a pasted link opens its state, copy-link shares the step as an entry. */
async function keysAndHistory(context, url, vp, errors, check) {
  const page = await fresh(context, link(url, 'asmcgocall', 0), vp, errors);
  await page.selectOption('#lesson-picker', 'gosave');
  await page.waitForFunction(() => document.querySelector('#lesson')?.dataset.lesson === 'gosave');
  const focus = await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
  check(focus !== 'lesson-picker', `after a choice the picker gives the keys back (focus on ${focus})`);
  await page.keyboard.press('s');
  await page.keyboard.press('c');
  await notRunning(page);
  const lesson = await page.$eval('#lesson-picker', (s) => s.value);
  check(lesson === 'gosave' && (await stepOf(page)) > 0, `s and c after the choice step and run the lesson (${lesson}, step ${await stepOf(page)}), not the picker`);
  await page.focus('#lesson-picker');
  const stepBefore = await stepOf(page);
  await page.keyboard.press('F10');
  await page.waitForTimeout(200);
  check((await stepOf(page)) === stepBefore && (await page.$eval('#lesson-picker', (s) => s.value)) === lesson,
        'a debugger key pressed while the picker has focus does not act (the key is the picker\'s)');
  await page.evaluate(() => document.activeElement.blur());

  // History: three lessons, then Back, Back, Forward.
  const lessonOf = () => page.$eval('#lesson-picker', (s) => s.value);
  const reopen = async (id) => {
    await page.selectOption('#lesson-picker', id);
    await page.waitForFunction((id) => document.querySelector('#lesson')?.dataset.lesson === id, id);
    await page.waitForTimeout(50);
  };
  await reopen('tls-and-g');
  await page.goBack();
  await page.waitForFunction(() => document.querySelector('#lesson-picker').value === 'gosave');
  check((await lessonOf()) === 'gosave', 'Back goes to the lesson before');
  await page.goBack();
  const first = await page.waitForFunction(() => document.querySelector('#lesson-picker')?.value === 'asmcgocall', null, { timeout: 5000 }).then(() => true, () => false);
  check(first && page.url().startsWith(url), `Back again goes to the first lesson, still in the app (${page.url().replace(url, '')})`);
  await page.goForward();
  await page.waitForFunction(() => document.querySelector('#lesson-picker').value === 'gosave');
  check((await lessonOf()) === 'gosave', 'Forward goes to the next one again');

  // A link pasted into the open tab.
  await page.evaluate((h) => { location.hash = h; }, `v=1&lesson=seed-crash&go=${globalThis.NEWEST}&step=20`);
  const pasted = await page.waitForFunction(() => document.querySelector('#lesson-picker').value === 'seed-crash' &&
    document.querySelector('#step-count').textContent === 'step 20', null, { timeout: 20000 }).then(() => true, () => false);
  check(pasted, 'a link pasted into the open tab opens its lesson at its step');

  // Copy link: the step is shared and becomes an entry of its own.
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(url).origin });
  for (let i = 0; i < 3; i++) await page.keyboard.press('s');
  await atStep(page, 23);
  await page.click('#copy-link');
  await page.waitForSelector('#share-url');
  const shared = await page.inputValue('#share-url');
  const clip = await page.evaluate(() => navigator.clipboard.readText()).catch((e) => `(${e})`);
  check(shared.endsWith('lesson=seed-crash&go=' + globalThis.NEWEST + '&step=23') && clip === shared,
        `copy link puts this state's link on the clipboard (${shared.replace(/^[^#]*/, '')}; clipboard ${clip === shared ? 'the same' : clip})`);
  await page.evaluate(() => document.activeElement.blur());
  for (let i = 0; i < 2; i++) await page.keyboard.press('s');
  await atStep(page, 25);
  await page.waitForTimeout(400);
  await page.goBack();
  const back = await page.waitForFunction(() => document.querySelector('#step-count').textContent === 'step 23', null, { timeout: 20000 }).then(() => true, () => false);
  check(back, `Back after stepping on from a shared step returns to it (${await page.textContent('#step-count')})`);
  await page.close();
}

/** Presenter mode: the questions as an overlay answered with keys, a blocked step says
 * why, the lesson runs to its end from the keyboard alone; breakpoints from the keyboard;
 * Tab reaches the stacks. */
async function keyboard(context, url, vp, errors, check, shots, leadShots) {
  const page = await fresh(context, link(url, 'asmcgocall', 0), vp, errors);
  await page.keyboard.press('p');
  await shows(page, '.app.presenter');
  let overlays = 0;
  let nudged = false;
  let keys = 0;
  for (; keys < 400; keys++) {
    if (await page.isVisible('#question-overlay .question.pending')) {
      if (overlays === 0) {
        const before = await stepOf(page);
        await page.keyboard.press('s');
        nudged = (await shows(page, '#nudge')) && (await stepOf(page)) === before;
        // One message for the waiting question, not the run's stop note beside it.
        const banners = await page.$$eval('#nudge, #note', (els) => els.map((e) => e.textContent));
        check(banners.length === 1, `presenter (${vp.name}): one banner says a question waits (${JSON.stringify(banners)})`);
        await shoot(page, shots, leadShots, `presenter-question-${vp.name}.png`);
      }
      overlays++;
      const typed = await page.$('#question-overlay .question.pending .free-answer input');
      if (typed) {
        await typed.fill('0');
        await typed.press('Enter');
      } else {
        await page.keyboard.press('1');
      }
      await shows(page, '#question-overlay .verdict');
      continue;
    }
    if (await page.isDisabled('#run')) break;
    await page.keyboard.press('c');
    await notRunning(page);
  }
  const ended = (await page.textContent('#terminal')).includes('[exit status');
  check(overlays >= 3 && ended, `presenter mode: the lesson runs to its end from the keyboard, ${overlays} questions answered in the overlay with keys (${keys} commands)`);
  check(nudged, 'a step while a question waits says why instead of doing nothing');
  await page.keyboard.press('p');

  // Breakpoints from the keyboard.
  await page.click('#reset');
  for (let i = 0; i < 3; i++) await page.keyboard.press('s');
  await page.keyboard.press('F9');
  check(await shows(page, '.line.current.breakpoint'), 'F9 sets a breakpoint on the current line');
  await page.keyboard.press('F9');
  check(await shows(page, '.line.current.breakpoint', 'hidden'), 'F9 again clears it');
  await page.keyboard.press('/');
  const focused = await page.evaluate(() => document.activeElement?.id);
  check(focused === 'break-at', `/ focuses the break-at-symbol field (${focused})`);
  // go1.27's asmcgocall saves the goroutine with gosave_systemstack_switch.
  await page.keyboard.type('gosave_systemstack_switch');
  await page.keyboard.press('Enter');
  check(await shows(page, '#nudge:has-text("Breakpoint at gosave_systemstack_switch")'), `break at a symbol: ${await page.textContent('#nudge').catch(() => '(no message)')}`);
  for (let i = 0; i < 10 && !(await page.textContent('#location')).includes('gosave'); i++) {
    await answerAll(page);
    await page.keyboard.press('c');
    await notRunning(page);
  }
  check((await page.textContent('#location')).includes('gosave') && (await page.isVisible('.line.current.breakpoint')),
        `continue stops at the symbol's breakpoint (${await page.textContent('#location')})`);

  // Tab reaches the stack columns.
  await page.evaluate(() => document.activeElement?.blur());
  let reached = null;
  for (let i = 0; i < 120 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.classList.contains('stack') ? document.activeElement.dataset.stack : null);
  }
  check(reached !== null, `Tab reaches the stack columns (${reached})`);
  await page.close();
}

/** One screen, widths, contrast and screenshots for lessons 6 and 10 at a viewport. */
async function layout(context, url, vp, errors, check, shots, leadShots) {
  const page = await fresh(context, link(url, 'asmcgocall', 0), vp, errors);
  const tag = `lesson 6 (${vp.name})`;
  // To the switch onto g0: the live column moves.
  for (let i = 0; i < 300 && (await page.$eval('.stack.live', (e) => e.dataset.stack)) === 'g1 stack'; i++) {
    await answerAll(page);
    await page.keyboard.press('s');
    await page.waitForTimeout(5);
  }
  const live = await page.$eval('.stack.live', (e) => e.dataset.stack);
  check(live.includes('g0'), `${tag}: stepped to the switch (RSP on ${live} at step ${await stepOf(page)})`);
  if (vp.oneScreen) await oneScreen(page, vp, tag, check);
  else await widths(page, vp, tag, check);
  await contrastCheck(page, tag, check);
  const toggles = await page.$$eval('.syntax .toggle', (bs) => bs.map((b) => b.textContent));
  check(toggles.join('|') === 'Go source + bytes|Intel|AT&T', `the syntax toggle names what it shows: ${toggles.join(' | ')}`);
  await shoot(page, shots, leadShots, `lesson-06-${vp.name}.png`);

  await page.keyboard.press('p');
  await shows(page, '.app.presenter');
  if (vp.oneScreen) {
    const b = await boxes(page);
    const need = b.views.filter((v) => v && !v.sel.startsWith('.registers'));
    const out = need.filter((v) => !inside(v, vp));
    check(b.scrollY === 0 && out.length === 0, `presenter (${vp.name}): the current line, its code and the live column on one screen` +
          (out.length ? ` (outside: ${out.map((v) => `${v.sel} ${Math.round(v.left)},${Math.round(v.top)}–${Math.round(v.right)},${Math.round(v.bottom)}`).join('; ')})` : ''));
  }
  await contrastCheck(page, `presenter (${vp.name})`, check);
  await shoot(page, shots, leadShots, `presenter-${vp.name}.png`);
  await page.keyboard.press('p');

  // Lesson 10 at its fault: the live column is brought into view.
  await page.goto(link(url, 'seed-crash', 0));
  await page.waitForSelector('.stack.live');
  const t10 = `lesson 10 at the fault (${vp.name})`;
  const faulted = await continueUntil(page, () => atFault(page));
  check(faulted, `${t10}: Continue reaches the SIGSEGV (step ${await stepOf(page)})`);
  if (vp.oneScreen) await oneScreen(page, vp, t10, check);
  else await widths(page, vp, t10, check);
  check(await visibleInPanes(page, '.stack.live'), `${t10}: the live column is scrolled into view`);
  await contrastCheck(page, t10, check);
  await shoot(page, shots, leadShots, `lesson-10-fault-${vp.name}.png`);
  // Disabled controls look disabled.
  const look = await page.evaluate(() => {
    const s = (id) => { const c = getComputedStyle(document.querySelector(id)); return `${c.backgroundColor} ${c.borderStyle} ${c.cursor}`; };
    return { back: s('#back'), reset: s('#reset'), disabled: [...document.querySelectorAll('.controls button:disabled')].map((b) => b.id) };
  });
  const end = await continueUntil(page, async () => (await page.textContent('#terminal')).includes('[exit status'));
  const looks = await page.evaluate(() => {
    const c = getComputedStyle(document.querySelector('#step'));
    return { step: `${c.backgroundColor} ${c.borderStyle} ${c.cursor}`, disabled: document.querySelector('#step').disabled };
  });
  check(end && looks.disabled && looks.step !== look.back && looks.step.includes('not-allowed'),
        `a disabled Step looks disabled (${looks.step}; enabled Back: ${look.back})`);
  await page.close();
}

/** A browser zoom of 150 % on the laptop: the CSS viewport shrinks; the header must stay
 * small and must not stick over the page. */
async function zoom(context, url, errors, check, shots, leadShots) {
  const vp = { name: '1366x768 at 150%', width: Math.round(1366 / 1.5), height: Math.round(768 / 1.5) };
  const page = await fresh(context, link(url, 'asmcgocall', 0), vp, errors);
  const h = await page.evaluate(() => {
    const header = document.querySelector('header.top');
    const r = header.getBoundingClientRect();
    window.scrollTo(0, 400);
    const after = header.getBoundingClientRect().top;
    window.scrollTo(0, 0);
    return { height: r.height, position: getComputedStyle(header).position, after };
  });
  check(h.height <= vp.height * 0.45 && h.after < 0,
        `at 150 % zoom the header takes ${Math.round((100 * h.height) / vp.height)} % of the screen and scrolls away (${h.position})`);
  await shoot(page, shots, leadShots, 'zoom-150.png');
  await page.close();
}

/** "Who last wrote this?": in lesson 10, from the fault to the write that cleared ctx. */
async function provenance(context, url, vp, errors, check, shots, leadShots) {
  const page = await fresh(context, link(url, 'seed-crash', 0), vp, errors);
  const faulted = await continueUntil(page, () => atFault(page));
  if (!faulted) {
    check(false, 'lesson 10 reaches its fault');
    return;
  }
  const hasButton = await shows(page, '#provenance');
  check(hasButton, 'the fault view has the provenance button');
  if (!hasButton) {
    await page.close();
    return;
  }
  await page.click('#provenance');
  await notRunning(page);
  const summary = (await page.textContent('#who-wrote .summary').catch(() => '')).trim();
  const writes = await page.$$eval('#who-wrote .writes li', (ls) => ls.map((l) => ({
    thread: l.querySelector('.thread')?.textContent, ins: l.querySelector('.instruction')?.textContent, step: Number(l.dataset.step),
  })));
  const store = writes.find((w) => w.ins === 'mov qword ptr [0x600840], 0');
  const landed = await stepOf(page);
  check(/^thread 2 cleared/.test(summary) && store?.thread === 'thread 2' && landed === store.step,
        `one action from the fault: "${summary}"; landed at step ${landed} on ${store ? `${store.thread}'s ${store.ins}` : 'no store'} (${writes.length} hops)`);
  await shoot(page, shots, leadShots, `lesson-10-who-wrote-${vp.name}.png`);
  await page.close();
}

export async function screenChecks({ context, url, check, errors, shots, leadShots, newest, only }) {
  globalThis.NEWEST = newest;
  const want = (name) => !only || only.includes(name);
  for (const vp of VIEWPORTS) {
    if (want('layout')) await layout(context, url, vp, errors, check, shots, leadShots);
    if (want('keyboard')) await keyboard(context, url, vp, errors, check, shots, leadShots);
    if (want('history')) await keysAndHistory(context, url, vp, errors, check);
    if (want('paths')) await samePaths(context, url, vp, errors, check);
    if (want('provenance')) await provenance(context, url, vp, errors, check, shots, leadShots);
  }
  if (want('zoom')) await zoom(context, url, errors, check, shots, leadShots);
}
