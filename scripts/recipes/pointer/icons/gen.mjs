// Renders sheets of icons from the npm icon sets (classes.mjs) with a real browser, for the
// perception stage's icon reader: each cell draws one icon — of a class, or another icon, a few
// letters, a form control ("other") — at a random size, colour, stroke width, background and
// button style. Crops are cut in the trainer (the icon's ink inside the box written here).
//
//   PLAYWRIGHT_CORE=… ICON_SETS=DIR node gen.mjs --n SHEETS --seed SEED --out DIR [--sets held-out|train|all]
//
// Writes DIR/images/sheet-NNNNNN.png, DIR/icons.jsonl (one line per cell: image, box in device
// pixels, label — a class key or "other" —, set, file) and DIR/classes.json (the classes'
// keys and names). Sheet i depends only on (SEED, i); --sets held-out draws only the sets
// HELD_OUT names (the classifier's held-out styles), train all others.
import fs from 'node:fs';
import path from 'node:path';
import { launchChromium, parseArgs, writeAtomic } from '../../../chromium.mjs';
import { rng } from '../web/page.mjs';
import { CLASSES, SETS, stem } from './classes.mjs';

// Whole icon styles never trained on: the classifier's held-out figure comes from these.
export const HELD_OUT = ['eva-icons', '@primer/octicons'];

const FONTS = ['DejaVu Sans', 'DejaVu Serif', 'Liberation Sans', 'Liberation Serif', 'Noto Sans', 'Noto Serif', 'DejaVu Sans Mono'];
const CELL = 52; // CSS px
const COLS = 20, ROWS = 15;

function args(argv) {
  const o = parseArgs(argv, { '--n': ['n', Number], '--seed': ['seed', Number], '--out': ['out', String], '--sets': ['sets', String] },
    { sets: 'train' }, 'gen.mjs --n SHEETS --seed SEED --out DIR [--sets held-out|train|all]');
  for (const k of ['n', 'seed']) if (!Number.isInteger(o[k]) || o[k] < 0) throw new Error(`--${k} must be a non-negative integer, got ${o[k]}`);
  if (!o.out) throw new Error('--out DIR is required');
  if (!['held-out', 'train', 'all'].includes(o.sets)) throw new Error(`--sets must be held-out, train or all, got ${o.sets}`);
  return o;
}

const walk = (d) => fs.readdirSync(d, { withFileTypes: true })
  .flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith('.svg') ? [path.join(d, e.name)] : []))
  .sort();

// Every drawing of the chosen sets: { label, set, file, svg, stroke }.
function drawings(root, which) {
  const byStem = new Map(CLASSES.flatMap((c) => c.stems.map((s) => [s, c.key])));
  // A variant of a class's stem ("search-alt", "trash-2-x") is neither that class nor "other".
  const prefixes = CLASSES.flatMap((c) => c.stems.map((s) => `${s}-`));
  const out = [];
  for (const s of SETS) {
    const held = HELD_OUT.includes(s.pkg);
    if ((which === 'held-out' && !held) || (which === 'train' && held)) continue;
    for (const d of s.dirs) {
      const dir = path.join(root, s.pkg, d);
      if (!fs.existsSync(dir)) throw new Error(`icon set folder ${dir} is missing (run scripts/icon_sets.sh)`);
      for (const f of walk(dir)) {
        const st = stem(path.basename(f));
        const label = byStem.get(st) || (prefixes.some((p) => st.startsWith(p)) ? null : 'other');
        if (!label) continue;
        let svg = fs.readFileSync(f, 'utf8').replace(/<\?xml[^>]*>/, '').replace(/<!--[\s\S]*?-->/g, '').trim();
        if (!/^<svg[\s>]/.test(svg) || svg.length > 12000) continue;
        out.push({ label, set: s.pkg, file: path.relative(root, f), svg, stroke: !!s.stroke });
      }
    }
  }
  return out;
}

const hsl = (h, s, l) => `hsl(${h} ${s}% ${l}%)`;

// One cell's HTML: the icon (or a negative) inside an optional button, marked data-c.
function cell(r, i, item) {
  const dark = r.chance(0.4);
  const bg = dark ? hsl(r.int(0, 359), r.int(0, 30), r.int(5, 25)) : hsl(r.int(0, 359), r.int(0, 30), r.int(88, 100));
  const fg = r.chance(0.3) ? hsl(r.int(0, 359), r.int(40, 90), dark ? r.int(55, 80) : r.int(25, 50))
    : dark ? hsl(0, 0, r.int(70, 100)) : hsl(0, 0, r.int(0, 40));
  const size = r.int(12, 28);
  let inner;
  if (item.kind === 'svg') {
    let svg = item.svg.replace(/^<svg/, `<svg data-c="${i}" width="${size}" height="${size}"`);
    if (!/^<svg[^>]*\sfill=/.test(item.svg)) svg = svg.replace(/^<svg/, '<svg fill="currentColor"');
    if (item.stroke) svg = svg.replace(/stroke-width="[\d.]+"/, `stroke-width="${r.pick([1.25, 1.5, 2, 2, 2.5])}"`);
    inner = svg;
  } else if (item.kind === 'text') {
    inner = `<span data-c="${i}" style="font:${r.chance(0.5) ? 'bold ' : ''}${r.int(11, 22)}px '${r.pick(FONTS)}'">${item.text}</span>`;
  } else {
    inner = `<input data-c="${i}" type="${item.control}" ${r.chance(0.5) ? 'checked' : ''} style="margin:0;width:${r.int(12, 20)}px;height:${r.int(12, 20)}px">`;
  }
  const style = [`background:${bg}`, `color:${fg}`, `padding-left:${r.int(0, 6)}px`, `padding-top:${r.int(0, 6)}px`];
  const btn = r.pick(['none', 'none', 'square', 'round', 'border']);
  if (btn !== 'none') {
    const b = dark ? hsl(r.int(0, 359), r.int(0, 40), r.int(20, 40)) : hsl(r.int(0, 359), r.int(0, 40), r.int(75, 95));
    const pad = r.int(2, 7);
    const deco = btn === 'border' ? `border:1px solid ${fg};border-radius:${r.int(0, 6)}px` : `background:${b};border-radius:${btn === 'round' ? '50%' : `${r.int(2, 8)}px`}`;
    inner = `<span style="display:inline-flex;padding:${pad}px;${deco}">${inner}</span>`;
  }
  return `<div style="${style.join(';')}">${inner}</div>`;
}

// No lone B, I, U or S: an editor's bold, italic, underline and strike buttons draw those.
const TEXTS = ['A', 'OK', 'Ab', 'x2', '12', '3', 'Go', 'No', 'é', 'Aa', '%', '#', '&', '@', '$', '1/2', 'Hi', 'ø', 'ß'];

async function main() {
  const o = args(process.argv.slice(2));
  const root = process.env.ICON_SETS;
  if (!root) throw new Error('set ICON_SETS to the folder holding the icon packages (scripts/icon_sets.sh does)');
  const all = drawings(root, o.sets);
  const pos = all.filter((d) => d.label !== 'other');
  const neg = all.filter((d) => d.label === 'other');
  const byClass = new Map(CLASSES.map((c) => [c.key, pos.filter((d) => d.label === c.key)]));
  const empty = CLASSES.filter((c) => !byClass.get(c.key).length).map((c) => c.key);
  if (empty.length && o.sets !== 'held-out') throw new Error(`no drawing of class ${empty.join(', ')}`);
  const keys = CLASSES.map((c) => c.key).filter((k) => byClass.get(k).length);
  console.error(`[icons] ${pos.length} drawings of ${keys.length} classes, ${neg.length} others (${o.sets} sets)`);
  fs.mkdirSync(path.join(o.out, 'images'), { recursive: true });
  writeAtomic(path.join(o.out, 'classes.json'), JSON.stringify(CLASSES.map(({ key, names }) => ({ key, names })), null, 1) + '\n');
  const browser = await launchChromium();
  const lines = [];
  const t0 = Date.now();
  try {
    for (let i = 0; i < o.n; i++) {
      const r = rng((o.seed * 1000003 + i * 7919 + 5) >>> 0);
      const scale = r.pick([1, 1, 1.25, 1.5, 2]);
      const items = [];
      for (let c = 0; c < COLS * ROWS; c++) {
        const u = r.next();
        if (u < 0.7) { const d = r.pick(byClass.get(r.pick(keys))); items.push({ kind: 'svg', ...d }); }
        else if (u < 0.9) items.push({ kind: 'svg', ...r.pick(neg) });
        else if (u < 0.97) items.push({ kind: 'text', label: 'other', set: 'text', file: '', text: r.pick(TEXTS) });
        else items.push({ kind: 'control', label: 'other', set: 'control', file: '', control: r.pick(['checkbox', 'radio']) });
      }
      const html = `<!doctype html><html><head><meta charset="utf-8"><style>
        body{margin:0;display:grid;grid-template-columns:repeat(${COLS},${CELL}px);grid-auto-rows:${CELL}px}
        body>div{overflow:hidden;box-sizing:border-box;line-height:1}</style></head><body>
        ${items.map((it, c) => cell(r, c, it)).join('')}</body></html>`;
      const name = `sheet-${String(i).padStart(6, '0')}`;
      const image = `images/${name}.png`;
      const file = path.join(o.out, image);
      const ctx = await browser.newContext({ viewport: { width: COLS * CELL, height: ROWS * CELL }, deviceScaleFactor: scale });
      await ctx.route(/^(?!about:|data:)/, (route) => route.abort());
      const tab = await ctx.newPage();
      await tab.setContent(html, { waitUntil: 'load' });
      if (!fs.existsSync(file)) writeAtomic(file, await tab.screenshot({ type: 'png', scale: 'device' }));
      const boxes = await tab.evaluate(() => [...document.querySelectorAll('[data-c]')].map((e) => {
        const b = e.getBoundingClientRect();
        return [Number(e.dataset.c), b.left, b.top, b.right, b.bottom];
      }));
      await ctx.close();
      for (const [c, x1, y1, x2, y2] of boxes) {
        const it = items[c];
        const box = [x1, y1, x2, y2].map((v) => Math.round(v * scale * 100) / 100);
        // The cell (device px) bounds the ink search: nothing of a neighbour is inside it.
        const cx = (c % COLS) * CELL * scale, cy = Math.floor(c / COLS) * CELL * scale;
        const cellBox = [cx, cy, cx + CELL * scale, cy + CELL * scale].map((v) => Math.round(v));
        lines.push(JSON.stringify({ image, box, cell: cellBox, label: it.label, set: it.set, file: it.file }));
      }
      if ((i + 1) % 20 === 0 || i + 1 === o.n) {
        const s = (Date.now() - t0) / 1000;
        console.error(`[icons] ${i + 1}/${o.n} sheets, ${lines.length} cells, ${s.toFixed(0)} s`);
      }
    }
  } finally {
    await browser.close();
  }
  writeAtomic(path.join(o.out, 'icons.jsonl'), lines.join('\n') + '\n');
  console.error(`[icons] wrote ${lines.length} cells on ${o.n} sheets to ${o.out}`);
}

main().catch((e) => { console.error(`[icons] error: ${e.message || e}`); process.exit(1); });
