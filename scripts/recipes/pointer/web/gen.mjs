// Generates click records on random web pages rendered by a real browser (Debian's chromium
// through playwright-core): the training data closest to what desktop users click in a browser.
// Pages come from page.mjs (seeded), ground truth from the DOM.
//
//   PLAYWRIGHT_CORE=… node gen.mjs --n SCREENS --seed SEED --out DIR [--per-screen K] [--nothing-rate P] [--kinds K1,K2,…]
//
// Writes DIR/images/web-NNNNNN.png and DIR/data.jsonl (reticle's dataset contract: one click
// record per line, up to K per screen and 2 per kind, each naming a different visible target by an instruction
// no other visible target on the screen answers to). Screen i depends only on (SEED, i). Images
// already written are kept on a rerun (resumable); data.jsonl is written last, atomically.
//
// --nothing-rate P: that share of the records naming a target by its text instead names a
// label of an earlier screen that no text on this one contains (nor its fields' placeholders):
// target {"boxes": []}, meta.kind "nothing" (the instruction names nothing here; the nothing
// head's data). Icons are left alone (their instructions name a shape, not a text). Drawn from
// a stream of its own, so at P = 0 the records are those of a run without the option.
//
// --kinds K1,K2,…: only targets of these kinds (meta.kind: text_button icon link field
// menu_item checkbox radio tab toggle) become records — more of the kinds a model misses.
import fs from 'node:fs';
import path from 'node:path';
import { launchChromium, parseArgs, writeAtomic } from '../../../chromium.mjs';
import { buildPage, rng } from './page.mjs';

// The kinds of target a page marks (meta.kind), for --kinds.
const KINDS = ['text_button', 'icon', 'link', 'field', 'menu_item', 'checkbox', 'radio', 'tab', 'toggle'];

function args(argv) {
  const o = parseArgs(argv, {
    '--n': ['n', Number], '--seed': ['seed', Number], '--out': ['out', String], '--per-screen': ['perScreen', Number],
    '--nothing-rate': ['nothingRate', Number], '--kinds': ['kinds', (v) => String(v).split(',').filter(Boolean)],
  }, { perScreen: 6, nothingRate: 0 }, 'gen.mjs --n SCREENS --seed SEED --out DIR [--per-screen K] [--nothing-rate P] [--kinds K1,K2,…]');
  for (const k of ['n', 'seed', 'perScreen']) {
    if (!Number.isInteger(o[k]) || o[k] < 0) throw new Error(`--${k === 'perScreen' ? 'per-screen' : k} must be a non-negative integer, got ${o[k]}`);
  }
  if (!(o.nothingRate >= 0 && o.nothingRate <= 1)) throw new Error(`--nothing-rate must be in [0, 1], got ${o.nothingRate}`);
  if (!o.out) throw new Error('--out DIR is required');
  const unknown = (o.kinds || []).filter((k) => !KINDS.includes(k));
  if (unknown.length) throw new Error(`--kinds: unknown kind ${unknown.join(', ')} (known: ${KINDS.join(', ')})`);
  return o;
}

// In the page: the viewport box (CSS px) of every marked target that is fully on screen and not
// covered (its centre and inner edges show it; data-overlay backdrops are not looked through).
function boxesInPage() {
  const vw = window.innerWidth, vh = window.innerHeight;
  const shows = (el, x, y) => {
    const h = document.elementFromPoint(x, y);
    return !!h && (h === el || el.contains(h) || (h.tagName === 'LABEL' && h.contains(el)));
  };
  const out = {};
  for (const el of document.querySelectorAll('[data-t]')) {
    const b = el.getBoundingClientRect();
    if (b.width < 4 || b.height < 4 || b.left < 0 || b.top < 0 || b.right > vw || b.bottom > vh) continue;
    const cx = (b.left + b.right) / 2, cy = (b.top + b.bottom) / 2;
    const ix = Math.min(2, b.width / 4);
    if (![[cx, cy], [b.left + ix, cy], [b.right - ix, cy]].every(([x, y]) => shows(el, x, y))) continue;
    out[el.dataset.t] = [b.left, b.top, b.right, b.bottom];
  }
  return out;
}

// At most this many records of one kind per screen (a pager's five page links are one lesson).
const MAX_PER_KIND = 2;

const round = (v) => Math.round(v * 100) / 100;

// A target whose label --nothing-rate may swap or lend: text-named, not a page number.
const nameable = (t) => t.kind !== 'icon' && t.label.length > 2 && !/^\d+$/.test(t.label);

// Every text the page shows, lower-cased: visible text and the fields' placeholders.
function textInPage() {
  const ph = [...document.querySelectorAll('input[placeholder]')].map((e) => e.placeholder).join('\n');
  return `${document.body.innerText}\n${ph}`.toLowerCase();
}

// The instruction with the target's label swapped for `name`, or null when the instruction does
// not spell the label as a name: as shown, or lower-cased right after a word that introduces a
// name ("click", "the", "into", "labelled", a quote…) — not inside an action phrasing such as
// "publish it" or "accept all cookies", which would become nonsense rather than a missing name.
const CUE = /(?:^|\s)(?:click|the|press|tap|hit|open|to|into|for|check|tick|untick|uncheck|choose|select|pick|on|off|enable|disable|labelled|under|about)\s$|"$/;
function swapLabel(instruction, label, name) {
  let at = instruction.indexOf(label);
  let repl = name;
  if (at < 0) {
    const lo = instruction.toLowerCase().indexOf(label.toLowerCase());
    if (lo < 0 || !CUE.test(instruction.slice(0, lo))) return null;
    at = lo;
    repl = name[0].toLowerCase() + name.slice(1);
  }
  return instruction.slice(0, at) + repl + instruction.slice(at + label.length);
}

async function main() {
  const o = args(process.argv.slice(2));
  fs.mkdirSync(path.join(o.out, 'images'), { recursive: true });
  const browser = await launchChromium();
  const lines = [];
  const kinds = {};
  const pool = []; // labels of earlier screens' text targets, for --nothing-rate
  const t0 = Date.now();
  try {
    for (let i = 0; i < o.n; i++) {
      const r = rng((o.seed * 1000003 + i * 7919) >>> 0);
      const pg = buildPage(r);
      const [vw, vh] = pg.viewport;
      const name = `web-${String(i).padStart(6, '0')}`;
      const image = `images/${name}.png`;
      const file = path.join(o.out, image);
      const ctx = await browser.newContext({ viewport: { width: vw, height: vh }, deviceScaleFactor: pg.scale,
        colorScheme: pg.theme, reducedMotion: 'reduce', locale: 'en-GB', timezoneId: 'UTC' });
      await ctx.route(/^(?!about:|data:)/, (route) => route.abort());
      const tab = await ctx.newPage();
      await tab.setContent(pg.html, { waitUntil: 'load' });
      await tab.evaluate(() => document.fonts.ready.then(() => true));
      if (!fs.existsSync(file)) {
        writeAtomic(file, await tab.screenshot({ type: 'png', animations: 'disabled', caret: 'hide', scale: 'device' }));
      }
      const boxes = await tab.evaluate(boxesInPage);
      const shown = o.nothingRate > 0 ? await tab.evaluate(textInPage) : '';
      await ctx.close();
      const nr = rng((o.seed * 2654435761 + i * 40503 + 17) >>> 0);

      // Keep the instructions that exactly one visible target answers to.
      const visible = pg.targets.filter((t) => boxes[t.id]);
      const count = new Map();
      for (const t of visible) for (const s of new Set(t.instructions.map((x) => x.toLowerCase()))) count.set(s, (count.get(s) || 0) + 1);
      const w = Math.round(vw * pg.scale), h = Math.round(vh * pg.scale);
      let k = 0;
      const perKind = {};
      for (const t of r.sample(visible, visible.length)) {
        if (k >= o.perScreen) break;
        if ((perKind[t.kind] || 0) >= MAX_PER_KIND) continue;
        if (o.kinds && !o.kinds.includes(t.kind)) continue;
        const own = t.instructions.filter((s) => count.get(s.toLowerCase()) === 1);
        if (!own.length) continue;
        const box = boxes[t.id].map((v) => round(v * pg.scale));
        let instruction = r.pick(own);
        let target = { box };
        let meta = { kind: t.kind, label: t.label };
        if (o.nothingRate > 0 && nameable(t) && nr.chance(o.nothingRate)) {
          const absent = pool.filter((l) => !shown.includes(l.toLowerCase()) && !l.toLowerCase().includes(t.label.toLowerCase()));
          const swapped = absent.length ? swapLabel(instruction, t.label, nr.pick(absent)) : null;
          if (swapped) {
            instruction = swapped;
            target = { boxes: [] };
            meta = { kind: 'nothing', named_kind: t.kind, replaced_label: t.label };
          }
        }
        lines.push(JSON.stringify({
          id: `${name}-${k}`, image, instruction, task: 'click', target,
          meta: { ...meta, ...(t.icon ? { icon: t.icon } : {}), ...(t.label_pos ? { label_pos: t.label_pos } : {}),
            source: 'chromium', generator: 'web', seed: o.seed, theme: pg.theme, font: pg.font, font_px: pg.font_px,
            viewport: `${vw}x${vh}`, scale: pg.scale, width: w, height: h, components: pg.components },
        }));
        kinds[meta.kind] = (kinds[meta.kind] || 0) + 1;
        perKind[t.kind] = (perKind[t.kind] || 0) + 1;
        k += 1;
      }
      if (o.nothingRate > 0) {
        for (const t of visible) if (nameable(t)) pool.push(t.label);
        if (pool.length > 600) pool.splice(0, pool.length - 600);
      }
      if ((i + 1) % 50 === 0 || i + 1 === o.n) {
        const s = (Date.now() - t0) / 1000;
        console.error(`[web] ${i + 1}/${o.n} screens, ${lines.length} records, ${s.toFixed(0)} s (${(s / (i + 1)).toFixed(2)} s/screen)`);
      }
    }
  } finally {
    await browser.close();
  }
  writeAtomic(path.join(o.out, 'data.jsonl'), lines.join('\n') + '\n');
  console.error(`[web] wrote ${lines.length} records on ${o.n} screens to ${o.out}: ${JSON.stringify(kinds)}`);
}

main().catch((e) => { console.error(`[web] error: ${e.message || e}`); process.exit(1); });
