// Builds one random web page (HTML) and its click targets, each with the instructions that name
// it, from a seeded random stream. gen.mjs renders the page with Chromium and keeps the targets
// that are visible. Kinds are those of evalsets/real-screens' records (text_button, icon, link,
// field, menu_item, checkbox, radio, tab, toggle), so the same per-kind summary applies.
import * as V from './vocab.mjs';

// mulberry32: a small, fast, seedable generator (uniform in [0, 1)).
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    chance: (p) => next() < p,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    // k distinct elements, in random order
    sample: (xs, k) => {
      const c = xs.slice();
      for (let i = c.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [c[i], c[j]] = [c[j], c[i]];
      }
      return c.slice(0, Math.min(k, c.length));
    },
  };
  return r;
}

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const lower = (s) => (/^[A-Z][a-z]/.test(s) ? s[0].toLowerCase() + s.slice(1) : s);

const FONTS = ['DejaVu Sans', 'DejaVu Serif', 'Liberation Sans', 'Liberation Serif', 'Noto Sans', 'Noto Serif',
  'sans-serif', 'serif', 'Arial', 'Helvetica', 'Times New Roman', 'DejaVu Sans Mono'];
const ACCENTS = ['#2563eb', '#0f766e', '#7c3aed', '#db2777', '#ea580c', '#16a34a', '#0891b2', '#4f46e5',
  '#b91c1c', '#1d4ed8', '#9333ea', '#ca8a04', '#334155'];

function theme(r) {
  const dark = r.chance(0.35);
  const accent = r.pick(ACCENTS);
  if (dark) {
    const bg = r.pick(['#0f172a', '#111827', '#18181b', '#1e1e1e', '#0b1020', '#202124', '#1c1917']);
    return { dark, accent, bg, card: r.pick(['#1e293b', '#1f2937', '#27272a', '#2a2a2e', '#292524']),
      fg: r.pick(['#e5e7eb', '#f1f5f9', '#fafafa', '#d4d4d8']), muted: r.pick(['#94a3b8', '#9ca3af', '#a1a1aa']),
      border: r.pick(['#334155', '#3f3f46', '#4b5563']), input: r.pick(['#0f172a', '#111827', '#18181b', '#262626']) };
  }
  return { dark, accent, bg: r.pick(['#ffffff', '#f8fafc', '#f3f4f6', '#fafaf9', '#f5f5f4', '#eef2f7']),
    card: r.pick(['#ffffff', '#ffffff', '#fdfdfd', '#f9fafb']), fg: r.pick(['#111827', '#0f172a', '#1f2937', '#222222']),
    muted: r.pick(['#6b7280', '#64748b', '#71717a', '#888888']), border: r.pick(['#d1d5db', '#e5e7eb', '#cbd5e1', '#c0c0c0']),
    input: r.pick(['#ffffff', '#ffffff', '#f9fafb']) };
}

// The page under construction: HTML parts plus the targets registry.
class Page {
  constructor(r) {
    this.r = r;
    this.targets = [];
    this.th = theme(r);
  }

  // Registers a target; returns the attribute that marks its element.
  t(kind, label, instructions, extra = {}) {
    const id = this.targets.length;
    this.targets.push({ id, kind, label, instructions: [...new Set(instructions.map((s) => s.trim()))], ...extra });
    return `data-t="${id}"`;
  }

  // A label as a user writes it: as shown, or lower-cased.
  L(label) {
    return this.r.chance(0.3) ? lower(label) : label;
  }

  icon(ic, size) {
    const r = this.r;
    if (ic.html) return `<span style="font-size:${Math.round(size * 0.8)}px;line-height:1">${ic.html}</span>`;
    if (ic.glyph && (!ic.svg || r.chance(0.4))) {
      return `<span style="font-size:${Math.round(size * 0.95)}px;line-height:1">${esc(r.pick(ic.glyph))}</span>`;
    }
    const sw = r.pick([1.5, 2, 2, 2.5]);
    const fill = ic.key === 'more' || ic.key === 'play' ? 'currentColor' : 'none';
    return `<svg width="${size}" height="${size}" viewBox="0 0 24 24" fill="${fill}" stroke="currentColor" stroke-width="${sw}" stroke-linecap="round" stroke-linejoin="round">${ic.svg}</svg>`;
  }

  // An icon button and the instructions naming it; `where` qualifies ("in the toolbar").
  iconButton(ic, size, where = []) {
    const r = this.r;
    const forms = [];
    for (const n of ic.names) {
      forms.push(`the ${n} icon`, `click the ${n} icon`, `the ${n} button`, `click the ${n} button`);
      for (const w of where) forms.push(`the ${n} icon ${w}`, `click the ${n} button ${w}`);
    }
    for (const a of ic.actions) {
      forms.push(a, `${a} (${r.pick(ic.names)} icon)`, `${a} (the ${r.pick(ic.names)})`);
    }
    const pad = r.int(3, 9);
    const shape = r.pick(['border-radius:4px', 'border-radius:50%', 'border-radius:6px', 'border-radius:0']);
    const bordered = r.chance(0.35) ? `border:1px solid ${this.th.border}` : 'border:0';
    const bg = r.chance(0.3) ? this.th.card : 'transparent';
    return `<button class="ib" ${this.t('icon', ic.names[0], forms, { icon: ic.key })} style="padding:${pad}px;${shape};${bordered};background:${bg}">${this.icon(ic, size)}</button>`;
  }

  button(label, actions, where = [], primary = null) {
    const r = this.r;
    const L = this.L(label);
    const forms = [`click ${L}`, `click the ${L} button`, `the ${L} button`, `press ${L}`, `tap ${L}`,
      `click on "${label}"`, `hit ${L}`, `the button ${label}`, ...actions];
    for (const w of where) forms.push(`click ${L} ${w}`, `the ${L} button ${w}`);
    const style = primary ?? r.pick(['primary', 'primary', 'outline', 'ghost', 'soft']);
    return `<button class="b ${style}" ${this.t('text_button', label, forms)}>${esc(label)}</button>`;
  }

  link(label, where = [], cls = 'a') {
    const L = this.L(label);
    const forms = [`the ${L} link`, `click the ${L} link`, `open ${L}`, `go to ${L}`, `click ${L}`, `the link ${label}`];
    for (const w of where) forms.push(`the ${L} link ${w}`, `${L} ${w}`, `open ${L} ${w}`);
    return `<a href="#" class="${cls}" ${this.t('link', label, forms)}>${esc(label)}</a>`;
  }

  field(label, where = []) {
    const r = this.r;
    const L = this.L(label);
    const forms = [`the ${L} field`, `click the ${L} field`, `the field labelled ${L}`, `the ${L} box`,
      `click into ${L}`, `the ${L} input`, `the ${L} text box`, `type in the ${L} field`, `enter the ${lower(label)}`,
      `click the ${L} input box`, `the input for ${L}`];
    for (const w of where) forms.push(`the ${L} field ${w}`);
    const pos = r.pick(['above', 'above', 'above', 'left', 'placeholder']);
    const ph = pos === 'placeholder' ? label : r.chance(0.3) ? r.pick(['Required', 'Optional', '', 'e.g. 12']) : '';
    const w = r.int(160, 340);
    const input = `<input class="in" ${this.t('field', label, forms, { label_pos: pos })} style="width:${w}px" placeholder="${esc(ph)}">`;
    if (pos === 'placeholder') return `<div class="row">${input}</div>`;
    if (pos === 'left') return `<div class="row"><label class="lab" style="display:inline-block;width:${r.int(110, 160)}px">${esc(label)}</label>${input}</div>`;
    return `<div class="row"><label class="lab" style="display:block;margin-bottom:${r.int(2, 8)}px">${esc(label)}</label>${input}</div>`;
  }

  checkbox(label, where = []) {
    const r = this.r;
    const checked = r.chance(0.4);
    const L = this.L(label);
    const forms = [`the ${L} checkbox`, `click the ${L} checkbox`, `the checkbox next to ${L}`, `the checkbox ${label}`,
      checked ? `untick ${L}` : `tick ${L}`, checked ? `uncheck ${L}` : `check ${L}`, `the box for ${L}`];
    for (const w of where) forms.push(`the ${L} checkbox ${w}`);
    const tag = this.t('checkbox', label, forms);
    const box = r.chance(0.6)
      ? `<input type="checkbox" ${tag} ${checked ? 'checked' : ''} style="accent-color:${this.th.accent};margin:0 8px 0 0;${r.chance(0.4) ? 'width:18px;height:18px' : ''}">`
      : `<span ${tag} style="display:inline-block;width:16px;height:16px;border:2px solid ${checked ? this.th.accent : this.th.muted};background:${checked ? this.th.accent : 'transparent'};border-radius:${r.pick([2, 4])}px;margin-right:8px;vertical-align:middle;color:#fff;font-size:12px;line-height:16px;text-align:center">${checked ? '✓' : ''}</span>`;
    return `<div class="row"><label>${box}${esc(label)}</label></div>`;
  }

  radio(label, checked, group) {
    const r = this.r;
    const L = this.L(label);
    const forms = [`choose ${L}`, `select ${L}`, `the ${L} option`, `the radio button for ${L}`, `click the ${L} radio button`,
      `pick ${L}`, `the ${L} ${lower(group)} option`];
    const tag = this.t('radio', label, forms);
    const dot = r.chance(0.6)
      ? `<input type="radio" name="${esc(group)}" ${tag} ${checked ? 'checked' : ''} style="accent-color:${this.th.accent};margin:0 8px 0 0">`
      : `<span ${tag} style="display:inline-block;width:14px;height:14px;border:2px solid ${checked ? this.th.accent : this.th.muted};border-radius:50%;margin-right:8px;vertical-align:middle;box-shadow:inset 0 0 0 3px ${this.th.card};background:${checked ? this.th.accent : 'transparent'}"></span>`;
    return `<div class="row"><label>${dot}${esc(label)}</label></div>`;
  }

  toggle(label) {
    const r = this.r;
    const on = r.chance(0.5);
    const L = this.L(label);
    const forms = [`the ${L} switch`, `the toggle for ${L}`, `the ${L} toggle`, on ? `turn off ${L}` : `turn on ${L}`,
      on ? `switch off ${L}` : `switch on ${L}`, on ? `disable ${L}` : `enable ${L}`, `the switch next to ${L}`];
    const w = r.int(30, 44), h = Math.round(w * 0.55);
    const sw = `<span ${this.t('toggle', label, forms)} style="display:inline-block;position:relative;width:${w}px;height:${h}px;border-radius:${h}px;background:${on ? this.th.accent : this.th.border};vertical-align:middle"><span style="position:absolute;top:2px;${on ? 'right' : 'left'}:2px;width:${h - 4}px;height:${h - 4}px;border-radius:50%;background:#fff"></span></span>`;
    return r.chance(0.6)
      ? `<div class="row" style="display:flex;justify-content:space-between;align-items:center;max-width:${r.int(260, 420)}px"><span>${esc(label)}</span>${sw}</div>`
      : `<div class="row">${sw} <span style="margin-left:8px">${esc(label)}</span></div>`;
  }
}

// --- components: each returns HTML for one card or bar ---

function nav(p) {
  const r = p.r;
  const brand = r.pick(V.BRANDS);
  const links = r.sample(V.NAV, r.int(3, 6)).map((l) => p.link(l, ['in the navigation', 'in the top bar', 'in the menu bar'], 'nl')).join('');
  const icons = r.sample(V.ICONS.filter((i) => ['search', 'cart', 'user', 'bell', 'menu', 'settings', 'help', 'mail'].includes(i.key)), r.int(1, 3))
    .map((ic) => p.iconButton(ic, r.int(18, 24), ['in the header', 'at the top'])).join('');
  const cta = r.chance(0.6) ? p.button(r.pick(['Sign up', 'Log in', 'Get started', 'Try for free', 'Book a demo', 'Contact sales']), [], ['in the header'], 'primary') : '';
  const search = r.chance(0.3) ? p.field(r.pick(['Search', 'Search products', 'Search docs', 'Search mail'])).replace('class="row"', 'class="row" style="margin:0"') : '';
  return `<header class="nav"><b class="brand">${esc(brand)}</b><nav>${links}</nav><div class="sp"></div>${search}${icons}${cta}</header>`;
}

function menubar(p) {
  const r = p.r;
  const names = r.sample(Object.keys(V.MENUS), r.int(4, 6));
  const open = r.chance(0.7) ? r.pick(names) : null;
  let html = '<header class="mb">';
  for (const m of names) {
    const forms = [`open the ${m} menu`, `the ${m} menu`, `click ${m} in the menu bar`, `click the ${m} menu`];
    html += `<span class="mi" ${p.t('menu_item', m, forms)} style="position:relative${m === open ? `;background:${p.th.accent};color:#fff` : ''}">${esc(m)}`;
    if (m === open) {
      html += '<div class="dd">';
      for (const it of r.sample(V.MENUS[m], r.int(3, V.MENUS[m].length))) {
        const I = p.L(it.replace('…', ''));
        html += `<div class="ddi" ${p.t('menu_item', it, [`click ${I}`, `${I} from the ${m} menu`, `click ${I} in the ${m} menu`, `choose ${I}`, `select ${I} in the open menu`])}>${esc(it)}</div>`;
      }
      html += '</div>';
    }
    html += '</span>';
  }
  return html + '</header>';
}

function editorToolbar(p) {
  const r = p.r;
  const size = r.int(16, 22);
  const fmt = r.sample(V.FORMAT, r.int(4, 8));
  const more = r.sample(V.ICONS.filter((i) => ['undo', 'redo', 'print', 'search', 'zoom-in', 'zoom-out', 'attach', 'share', 'list', 'copy'].includes(i.key)), r.int(1, 4));
  const bs = [...more, ...fmt].map((ic) => p.iconButton(ic, size, ['in the toolbar', 'in the formatting bar'])).join(r.chance(0.5) ? '<span class="sep"></span>' : '');
  const text = r.sample(V.SENTENCES, 3).map((s) => s.join(' ')).join(' ');
  return `<section class="card"><div class="tb">${bs}</div><div style="padding:12px;min-height:90px;color:${p.th.muted}">${esc(text)}</div></section>`;
}

function form(p) {
  const r = p.r;
  const head = r.pick(V.HEADINGS);
  const where = [`in the ${lower(head)} form`];
  let html = `<section class="card"><h2>${esc(head)}</h2>`;
  for (const f of r.sample(V.FIELDS, r.int(2, 5))) html += p.field(f, where);
  for (const c of r.sample(V.CHECKS, r.int(0, 2))) html += p.checkbox(c, where);
  if (r.chance(0.3)) {
    const [l, s, e] = r.pick(V.SENTENCES);
    html += `<p class="small">${esc(l)} ${p.link(s)} ${esc(e)}</p>`;
  }
  const [b1, a1] = r.pick(V.BUTTONS);
  let [b2, a2] = r.pick(V.BUTTONS);
  if (b2 === b1) [b2, a2] = ['Cancel', ['cancel']];
  html += `<div class="row" style="display:flex;gap:10px;${r.chance(0.5) ? 'justify-content:flex-end' : ''}">`;
  html += r.chance(0.6) ? p.button(b2, a2, where, r.pick(['outline', 'ghost', 'soft'])) + p.button(b1, a1, where, 'primary') : p.button(b1, a1, where, 'primary');
  return html + '</div></section>';
}

function radios(p) {
  const r = p.r;
  const [group, opts] = r.pick(V.RADIO_GROUPS);
  const on = r.int(0, opts.length - 1);
  let html = `<section class="card"><h3>${esc(group)}</h3>`;
  opts.forEach((o, i) => { html += p.radio(o, i === on, group); });
  return html + '</section>';
}

function settings(p) {
  const r = p.r;
  let html = `<section class="card"><h2>${esc(r.pick(['Preferences', 'Notifications', 'Settings', 'Privacy settings', 'Accessibility']))}</h2>`;
  for (const t of r.sample(V.TOGGLES, r.int(2, 5))) html += p.toggle(t);
  for (const c of r.sample(V.CHECKS, r.int(0, 2))) html += p.checkbox(c);
  return html + '</section>';
}

function tabs(p) {
  const r = p.r;
  const names = r.sample(V.TABS, r.int(3, 6));
  const on = r.int(0, names.length - 1);
  let html = `<section class="card"><div class="tabs">`;
  names.forEach((n, i) => {
    const N = p.L(n);
    const forms = [`the ${N} tab`, `click the ${N} tab`, `switch to ${N}`, `switch to the ${N} tab`, `open the ${N} tab`, `go to ${N}`];
    html += `<span class="tab${i === on ? ' on' : ''}" ${p.t('tab', n, forms)}>${esc(n)}</span>`;
  });
  html += `</div><p class="small" style="padding:10px">${esc(r.pick(V.SENTENCES).join(' '))}</p>`;
  if (r.chance(0.5)) html += `<div style="padding:0 10px 10px">${p.button(...r.pick(V.BUTTONS))}</div>`;
  return html + '</section>';
}

function table(p) {
  const r = p.r;
  const items = r.sample(r.chance(0.5) ? V.ITEMS : V.PEOPLE, r.int(3, 6));
  const icons = r.sample(V.ICONS.filter((i) => ['edit', 'delete', 'download', 'share', 'more', 'star', 'copy'].includes(i.key)), r.int(1, 2));
  const checks = r.chance(0.6);
  let html = `<section class="card"><h3>${esc(r.pick(['Recent orders', 'Files', 'Members', 'Inventory', 'Documents', 'Users']))}</h3><table>`;
  for (const it of items) {
    html += '<tr>';
    if (checks) {
      const forms = [`the checkbox in the row for ${it}`, `select ${it}`, `tick ${it}`, `the checkbox next to ${it}`];
      html += `<td><input type="checkbox" ${p.t('checkbox', it, forms)} style="accent-color:${p.th.accent}"></td>`;
    }
    html += `<td>${esc(it)}</td><td class="small">${r.int(1, 28)} ${r.pick(['Mar', 'Jun', 'Sep', 'Nov'])} · ${r.int(2, 980)} ${r.pick(['kB', 'MB', 'items', '€'])}</td><td>`;
    for (const ic of icons) {
      const size = r.int(16, 20);
      const name = r.pick(ic.names);
      const act = r.pick(ic.actions).replace(/ it$/, '');
      const forms = [`the ${name} icon in the row for ${it}`, `${act} ${it} (${name} icon)`, `the ${name} button next to ${it}`, `click the ${name} icon for ${it}`];
      html += `<button class="ib" ${p.t('icon', name, forms, { icon: ic.key })} style="padding:3px;border:0;background:transparent">${p.icon(ic, size)}</button>`;
    }
    html += '</td></tr>';
  }
  return html + '</table></section>';
}

function article(p) {
  const r = p.r;
  let html = `<section class="card"><h2>${esc(r.pick(['Latest news', 'From the blog', 'About us', 'What’s new', 'Release notes']))}</h2>`;
  for (const [a, l, b] of r.sample(V.SENTENCES, r.int(2, 4))) html += `<p>${esc(a)} ${p.link(l, ['in the text', 'in the article'])} ${esc(b)}</p>`;
  if (r.chance(0.5)) html += `<p class="small">${r.sample(['Share', 'Save', 'Print', 'Report'], 2).map((l) => p.link(l)).join(' · ')}</p>`;
  return html + '</section>';
}

function products(p) {
  const r = p.r;
  let html = '<section class="card"><div style="display:flex;gap:12px;flex-wrap:wrap">';
  for (const it of r.sample(V.ITEMS.slice(0, 18), r.int(2, 4))) {
    const ic = r.pick(V.ICONS.filter((i) => ['heart', 'star', 'bookmark', 'share'].includes(i.key)));
    const name = r.pick(ic.names);
    const forms = [`the ${name} icon on ${it}`, `the ${name} button for ${it}`, `${r.pick(ic.actions).replace(/ it$/, '')} ${it}`];
    const add = r.pick(['Add to cart', 'Buy now', 'Add to basket']);
    const bforms = [`add ${it} to the cart`, `the ${add} button for ${it}`, `click ${add} under ${it}`, `buy the ${lower(it)}`];
    html += `<div style="border:1px solid ${p.th.border};padding:10px;width:150px;border-radius:6px"><div style="height:60px;background:${p.th.border};margin-bottom:6px"></div><b>${esc(it)}</b><div class="small">€${r.int(5, 400)}.${r.pick(['00', '50', '99'])}</div><div style="display:flex;justify-content:space-between;align-items:center;margin-top:6px">`
      + `<button class="b primary" ${p.t('text_button', add, bforms)}>${esc(add)}</button>`
      + `<button class="ib" ${p.t('icon', name, forms, { icon: ic.key })} style="border:0;background:transparent;padding:3px">${p.icon(ic, 18)}</button></div></div>`;
  }
  return html + '</div></section>';
}

function mail(p) {
  const r = p.r;
  let html = `<section class="card"><div class="tb">`;
  for (const ic of r.sample(V.ICONS.filter((i) => ['delete', 'refresh', 'more', 'mail', 'attach', 'filter', 'download'].includes(i.key)), r.int(2, 4))) html += p.iconButton(ic, 18, ['above the messages', 'in the toolbar']);
  html += '</div>';
  for (const s of r.sample(V.SUBJECTS, r.int(3, 5))) {
    const who = r.pick(V.PEOPLE);
    const forms = [`open the email "${s}"`, `the message from ${who}`, `open the message about ${lower(s)}`, `the email from ${who}`];
    html += `<div class="row" style="display:flex;gap:10px;padding:4px 0;border-bottom:1px solid ${p.th.border}"><span ${p.t('link', s, forms)} style="flex:1"><b>${esc(who)}</b> — ${esc(s)}</span><span class="small">${r.int(7, 18)}:${r.pick(['05', '30', '47'])}</span></div>`;
  }
  return html + '</section>';
}

function pager(p) {
  const r = p.r;
  const n = r.int(3, 6);
  let html = '<section class="card" style="display:flex;gap:6px;align-items:center">';
  const prev = V.ICONS.find((i) => i.key === 'prev'), next = V.ICONS.find((i) => i.key === 'next');
  if (r.chance(0.5)) html += p.button('Previous', ['go to the previous page'], [], 'outline');
  else html += p.iconButton(prev, 16, ['of the pages']);
  for (let k = 1; k <= n; k++) {
    html += `<a href="#" class="pg" ${p.t('link', String(k), [`page ${k}`, `go to page ${k}`, `the page ${k} link`, `click page ${k}`])}>${k}</a>`;
  }
  if (r.chance(0.5)) html += p.button('Next', ['go to the next page'], [], 'outline');
  else html += p.iconButton(next, 16, ['of the pages']);
  return html + '</section>';
}

function crumbs(p) {
  const r = p.r;
  const parts = r.sample(['Home', 'Documents', 'Projects', 'Shop', 'Account', 'Archive', 'Photos', '2026', 'Reports', 'Settings'], r.int(3, 4));
  const html = parts.map((c, i) => (i === parts.length - 1 ? `<b>${esc(c)}</b>`
    : `<a href="#" class="a" ${p.t('link', c, [`the ${c} breadcrumb`, `go back to ${c}`, `click ${c} in the breadcrumbs`, `the ${c} link in the path`])}>${esc(c)}</a>`)).join(` <span class="small">${r.pick(['/', '›', '>'])}</span> `);
  return `<section class="card" style="padding:8px 12px">${html}</section>`;
}

function sidebar(p) {
  const r = p.r;
  let html = '<aside class="side">';
  for (const l of r.sample(V.NAV, r.int(4, 7))) {
    const ic = r.chance(0.5) ? p.icon(r.pick(V.ICONS), 16) + ' ' : '';
    const L = p.L(l);
    html += `<div class="si" ${p.t('link', l, [`${L} in the sidebar`, `open ${L}`, `the ${L} item in the sidebar`, `click ${L}`, `go to ${L}`])}>${ic}${esc(l)}</div>`;
  }
  return html + '</aside>';
}

function cookie(p) {
  const r = p.r;
  const close = V.ICONS.find((i) => i.key === 'close');
  const acc = r.pick(['Accept all', 'Accept', 'Allow all', 'I agree', 'Got it']);
  const rej = r.pick(['Reject all', 'Decline', 'Only necessary', 'Reject']);
  const xForms = ['dismiss the cookie notice (×)', 'close the cookie banner', 'the × on the cookie banner', 'close the banner (x)', 'dismiss the banner', 'the close button of the cookie notice'];
  return `<div class="cookie">${esc(r.pick(['We use cookies to improve your experience.', 'This site uses cookies for analytics and ads.', 'Cookies help us deliver our services.']))}`
    + ` ${p.link(r.pick(['Cookie policy', 'Learn more', 'Privacy policy']), ['in the cookie banner'])}<div class="sp"></div>`
    + `<button class="b outline" ${p.t('text_button', rej, [`click ${rej}`, `the ${rej} button`, 'reject the cookies', `${lower(rej)} cookies`])}>${esc(rej)}</button>`
    + `<button class="b primary" ${p.t('text_button', acc, [`click ${acc}`, `the ${acc} button`, 'accept the cookies', 'accept all cookies'])}>${esc(acc)}</button>`
    + `<button class="ib" ${p.t('icon', 'close', xForms, { icon: 'close' })} style="border:0;background:transparent;padding:4px">${p.icon(close, 18)}</button></div>`;
}

function modal(p) {
  const r = p.r;
  const close = V.ICONS.find((i) => i.key === 'close');
  const title = r.pick(['Delete project?', 'Unsaved changes', 'Invite a teammate', 'Confirm payment', 'Session expired', 'Rename file', 'Leave this page?']);
  const xForms = ['close the dialog', 'close this dialog (×)', 'the × button', 'close the window (x)', `the close button of the ${lower(title.replace('?', ''))} dialog`, 'dismiss the dialog'];
  let html = `<div data-overlay style="position:fixed;inset:0;background:rgba(0,0,0,${r.pick([0.35, 0.5, 0.6])})"></div>`
    + `<div class="card modal"><div style="display:flex;align-items:center"><h2 style="margin:0">${esc(title)}</h2><div class="sp"></div>`
    + `<button class="ib" ${p.t('icon', 'close', xForms, { icon: 'close' })} style="border:0;background:transparent;padding:4px">${p.icon(close, 18)}</button></div>`
    + `<p class="small">${esc(r.pick(V.SENTENCES).join(' '))}</p>`;
  if (r.chance(0.5)) html += p.field(r.pick(V.FIELDS), ['in the dialog']);
  const [b1, a1] = r.pick(V.BUTTONS);
  html += `<div style="display:flex;gap:10px;justify-content:flex-end">${p.button('Cancel', ['cancel'], ['in the dialog'], 'outline')}${b1 === 'Cancel' ? '' : p.button(b1, a1, ['in the dialog'], 'primary')}</div></div>`;
  return html;
}

function css(p, font, fs) {
  const t = p.th, r = p.r;
  const rad = r.pick([0, 3, 4, 6, 8, 12]);
  const bh = r.int(26, 40);
  return `*{box-sizing:border-box} body{margin:0;font-family:'${font}';font-size:${fs}px;background:${t.bg};color:${t.fg};overflow:hidden}
.nav,.mb{display:flex;align-items:center;gap:${r.int(8, 20)}px;padding:${r.int(6, 14)}px ${r.int(12, 28)}px;background:${r.chance(0.5) ? t.card : t.bg};border-bottom:1px solid ${t.border}}
.brand{font-size:${fs + 4}px;margin-right:12px} .nav nav{display:flex;gap:${r.int(10, 24)}px}
.nl{color:${r.chance(0.5) ? t.fg : t.accent};text-decoration:none} .sp{flex:1}
.mb{gap:2px;padding:2px 8px;font-size:${fs - 1}px} .mi{padding:4px 10px} .dd{position:absolute;left:0;top:100%;background:${t.card};color:${t.fg};border:1px solid ${t.border};box-shadow:0 4px 14px rgba(0,0,0,.25);min-width:190px;z-index:5;padding:4px 0}
.ddi{padding:5px 16px}
.wrap{display:flex} main{flex:1;display:grid;grid-template-columns:repeat(${r.int(1, 3)},minmax(0,1fr));gap:${r.int(10, 22)}px;padding:${r.int(10, 26)}px;align-items:start}
.card{background:${t.card};border:1px solid ${t.border};border-radius:${rad}px;padding:${r.int(10, 20)}px}
h2{font-size:${fs + r.int(2, 6)}px;margin:0 0 10px} h3{font-size:${fs + 1}px;margin:0 0 8px}
.row{margin:0 0 ${r.int(6, 14)}px} .lab{color:${r.chance(0.5) ? t.muted : t.fg};font-size:${fs - r.int(0, 2)}px}
.in{height:${bh}px;padding:0 8px;border:1px solid ${t.border};border-radius:${Math.min(rad, 8)}px;background:${t.input};color:${t.fg};font:inherit}
.in::placeholder{color:${t.muted}}
.b{height:${bh}px;padding:0 ${r.int(10, 20)}px;border-radius:${r.chance(0.2) ? bh : rad}px;font:inherit;cursor:pointer;white-space:nowrap}
.primary{background:${t.accent};color:#fff;border:1px solid ${t.accent}} .outline{background:transparent;color:${t.fg};border:1px solid ${t.border}}
.ghost{background:transparent;color:${t.accent};border:0} .soft{background:${t.border};color:${t.fg};border:0}
.ib{color:${r.chance(0.7) ? t.fg : t.muted};display:inline-flex;align-items:center;justify-content:center;cursor:pointer;vertical-align:middle;line-height:1}
.tb{display:flex;gap:${r.int(2, 8)}px;padding:6px;border-bottom:1px solid ${t.border};align-items:center;flex-wrap:wrap} .sep{width:1px;height:20px;background:${t.border};margin:0 4px}
.tabs{display:flex;gap:${r.int(0, 12)}px;border-bottom:1px solid ${t.border}} .tab{padding:8px 12px} .tab.on{border-bottom:2px solid ${t.accent};color:${t.accent}}
table{border-collapse:collapse;width:100%} td{padding:5px 6px;border-bottom:1px solid ${t.border}}
.small{color:${t.muted};font-size:${fs - 2}px} .a{color:${t.accent}} p{margin:0 0 8px;line-height:1.45}
.pg{padding:3px 8px;color:${t.accent};text-decoration:none;border:1px solid ${t.border};border-radius:4px}
.side{width:${r.int(170, 230)}px;padding:12px 8px;border-right:1px solid ${t.border};min-height:100vh;background:${r.chance(0.5) ? t.card : t.bg}} .si{padding:7px 10px;display:flex;gap:8px;align-items:center}
.cookie{position:fixed;left:0;right:0;bottom:0;display:flex;gap:12px;align-items:center;padding:14px 22px;background:${t.dark ? '#000' : '#1f2937'};color:#f9fafb;z-index:9}
.cookie .a{color:#93c5fd} .cookie .outline{color:#f9fafb;border-color:#6b7280} .cookie .ib{color:#f9fafb}
.modal{position:fixed;left:50%;top:${r.int(18, 32)}%;transform:translateX(-50%);width:${r.int(380, 520)}px;z-index:10;box-shadow:0 10px 40px rgba(0,0,0,.4)}`;
}

const BODY = [form, form, radios, settings, tabs, table, article, products, mail, editorToolbar, pager, crumbs];

// One page: { html, theme, viewport: [w, h], scale, targets, components }.
export function buildPage(r) {
  const p = new Page(r);
  const font = r.pick(FONTS);
  const fs = r.int(12, 17);
  const [vw, vh] = r.pick([[1280, 800], [1280, 800], [1280, 800], [1366, 768], [1440, 900], [1536, 864], [1024, 768]]);
  const scale = r.pick([1, 1, 1, 1, 1, 1.25, 1.25, 1.5, 2]);
  const parts = [];
  let top = '';
  const head = r.next();
  if (head < 0.65) { top = nav(p); parts.push('nav'); } else if (head < 0.85) { top = menubar(p); parts.push('menubar'); }
  const side = r.chance(0.3) ? sidebar(p) : '';
  if (side) parts.push('sidebar');
  const body = r.sample(BODY, r.int(2, 5)).map((c) => { parts.push(c.name); return c(p); }).join('');
  let over = '';
  if (r.chance(0.2)) { over += cookie(p); parts.push('cookie'); }
  if (r.chance(0.12)) { over += modal(p); parts.push('modal'); }
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><style>${css(p, font, fs)}</style></head>`
    + `<body>${top}<div class="wrap">${side}<main>${body}</main></div>${over}</body></html>`;
  return { html, theme: p.th.dark ? 'dark' : 'light', font, font_px: fs, viewport: [vw, vh], scale, targets: p.targets, components: parts };
}
