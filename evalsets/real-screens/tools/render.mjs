// Renders evalsets/real-screens/pages/*.html with Debian's chromium through playwright-core and
// reads the ground truth from the DOM (tools/extract.js).
//
//   PLAYWRIGHT_CORE=/path/to/node_modules/playwright-core node render.mjs PAGES_DIR STAGE_DIR [NAME…]
//
// For every shot in SHOTS it writes STAGE_DIR/images/<name>.png and STAGE_DIR/raw/<name>.json
// (targets and labels in screenshot pixels = CSS px × device scale factor). Each file is
// written to a temporary name and renamed. Exits non-zero if a page marks a target that is not
// fully visible, or a control's text is clipped (extract.js warnings), so pages stay honest.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { launchChromium, writeAtomic } from '../../../scripts/chromium.mjs';

// page, colour scheme, viewport (CSS px), device scale factor
export const SHOTS = [
  // every page once, 1280×800 at scale 1, in its main theme
  ['login', 'light', 1280, 800, 1],
  ['settings', 'light', 1280, 800, 1],
  ['dialog', 'light', 1280, 800, 1],
  ['menubar', 'light', 1280, 800, 1],
  ['mail', 'light', 1280, 800, 1],
  ['checkout', 'light', 1280, 800, 1],
  ['cookie', 'light', 1280, 800, 1],
  ['files', 'light', 1280, 800, 1],
  ['dashboard', 'dark', 1280, 800, 1],
  ['wizard', 'light', 1280, 800, 1],
  ['tabs', 'light', 1280, 800, 1],
  ['navbar', 'light', 1280, 800, 1],
  ['table', 'light', 1280, 800, 1],
  ['editor', 'dark', 1280, 800, 1],
  // the other theme
  ['login', 'dark', 1280, 800, 1],
  ['settings', 'dark', 1280, 800, 1],
  ['mail', 'dark', 1280, 800, 1],
  ['files', 'dark', 1280, 800, 1],
  ['dashboard', 'light', 1280, 800, 1],
  ['editor', 'light', 1280, 800, 1],
  ['navbar', 'dark', 1280, 800, 1],
  // full HD
  ['mail', 'light', 1920, 1080, 1],
  ['dashboard', 'dark', 1920, 1080, 1],
  ['table', 'light', 1920, 1080, 1],
  ['navbar', 'light', 1920, 1080, 1],
  ['checkout', 'dark', 1920, 1080, 1],
  ['menubar', 'light', 1920, 1080, 1],
  // fractional and double scale
  ['login', 'light', 1280, 800, 1.25],
  ['settings', 'dark', 1280, 800, 1.25],
  ['dialog', 'light', 1280, 800, 1.25],
  ['files', 'light', 1280, 800, 1.25],
  ['cookie', 'light', 1280, 800, 1.25],
  ['editor', 'dark', 1920, 1080, 1.25],
  ['login', 'dark', 1280, 800, 2],
  ['menubar', 'light', 1280, 800, 2],
  ['wizard', 'light', 1280, 800, 2],
  ['tabs', 'dark', 1280, 800, 2],
];

export const shotName = ([page, theme, w, h, s]) => `${page}-${theme}-${w}x${h}-${s}x`;

const round = (v) => Math.round(v * 100) / 100;

async function main() {
  const [pagesDir, stageDir, ...only] = process.argv.slice(2);
  if (!pagesDir || !stageDir) throw new Error('usage: render.mjs PAGES_DIR STAGE_DIR [NAME…]');
  const extractSrc = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'extract.js'), 'utf8');
  fs.mkdirSync(path.join(stageDir, 'images'), { recursive: true });
  fs.mkdirSync(path.join(stageDir, 'raw'), { recursive: true });

  const browser = await launchChromium();
  let failed = 0;
  try {
    for (const shot of SHOTS) {
      const [page, theme, w, h, scale] = shot;
      const name = shotName(shot);
      if (only.length && !only.includes(name) && !only.includes(page)) continue;
      const ctx = await browser.newContext({
        viewport: { width: w, height: h }, deviceScaleFactor: scale, colorScheme: theme,
        reducedMotion: 'reduce', locale: 'en-GB', timezoneId: 'UTC', javaScriptEnabled: true,
      });
      // nothing outside the page folder may be fetched
      await ctx.route(/^(?!file:)/, (route) => route.abort());
      const tab = await ctx.newPage();
      await tab.goto(pathToFileURL(path.resolve(pagesDir, `${page}.html`)).href, { waitUntil: 'load' });
      await tab.evaluate(() => document.fonts.ready.then(() => true));
      const png = await tab.screenshot({ type: 'png', animations: 'disabled', caret: 'hide', scale: 'device' });
      const dom = await tab.evaluate(`(${extractSrc})()`);
      await ctx.close();
      if (dom.warnings.length) {
        failed += 1;
        for (const wmsg of dom.warnings) console.error(`${name}: ${wmsg}`);
      }
      const k = (b) => b.map((v) => round(v * scale));
      const raw = {
        name, page, theme, viewport: [w, h], scale, width: Math.round(w * scale), height: Math.round(h * scale),
        source: 'chromium', title: dom.title,
        targets: dom.targets.map((t) => ({ ...t, box: k(t.box) })),
        labels: dom.labels.map((l) => ({ ...l, box: k(l.box), font_px: round(l.css_font_px * scale) })),
      };
      writeAtomic(path.join(stageDir, 'images', `${name}.png`), png);
      writeAtomic(path.join(stageDir, 'raw', `${name}.json`), JSON.stringify(raw, null, 1) + '\n');
      console.log(`${name}: ${raw.targets.length} targets, ${raw.labels.length} labels`);
    }
  } finally {
    await browser.close();
  }
  if (failed) { console.error(`${failed} shot(s) with warnings`); process.exit(1); }
}

main().catch((e) => { console.error(e); process.exit(1); });
