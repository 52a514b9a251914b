// The one way reticle's node scripts start the browser, read their arguments and write files:
// imported by evalsets/real-screens/tools/render.mjs and scripts/recipes/pointer/{web,icons}/gen.mjs. Needs
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

// Reads `--flag value` pairs: `flags` maps each flag to [key, parse]; `o` holds the defaults.
// An unknown flag or a flag without a value is an error that shows `usage`.
export function parseArgs(argv, flags, o, usage) {
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (!(k in flags)) throw new Error(`unknown argument ${k} (usage: ${usage})`);
    if (v === undefined) throw new Error(`${k} needs a value`);
    const [key, parse] = flags[k];
    o[key] = parse(v);
  }
  return o;
}
