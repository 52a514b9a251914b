// The one way reticle's node scripts start the browser and write files: imported by
// evalsets/real-screens/tools/render.mjs and scripts/recipes/pointer/web/gen.mjs. Needs
// PLAYWRIGHT_CORE (set by scripts/chromium.sh) and Debian's chromium (or CHROMIUM=path).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--force-color-profile=srgb'];

// Headless chromium through playwright-core, with the flags that keep renders reproducible.
export async function launchChromium() {
  const pw = process.env.PLAYWRIGHT_CORE;
  if (!pw) throw new Error('set PLAYWRIGHT_CORE to the playwright-core package folder (scripts/chromium.sh does)');
  const { chromium } = await import(pathToFileURL(path.join(pw, 'index.mjs')).href);
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: LAUNCH_ARGS });
}

// Writes `data` to a temporary name beside `file` and renames it: readers never see half a file.
export function writeAtomic(file, data) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}
