// Runs inside the page (Playwright page.evaluate). Reads the ground truth from the DOM:
//  - targets: elements with data-target="instruction|instruction…" and data-kind;
//  - labels: every visible text string, one per text node and rendered line, split where
//    something covers it; plus the text shown inside <input> and <select>.
// All boxes are returned in CSS pixels of the viewport; render.mjs multiplies them by the
// device scale factor.
() => {
  const vw = window.innerWidth;
  const vh = window.innerHeight;
  const EPS = 0.5;
  const warnings = [];

  function styleVisible(el) {
    for (let e = el; e; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.display === 'none' || cs.visibility === 'hidden' || cs.visibility === 'collapse') return false;
      if (parseFloat(cs.opacity) === 0) return false;
    }
    return true;
  }

  // The part of the viewport where el's content is not clipped by an overflow ancestor.
  function clipOf(el) {
    let c = { l: 0, t: 0, r: vw, b: vh };
    let fixed = false;
    for (let e = el; e && e !== document.documentElement && e !== document.body; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (e !== el && !fixed && (cs.overflowX !== 'visible' || cs.overflowY !== 'visible')) {
        const b = e.getBoundingClientRect();
        const bl = parseFloat(cs.borderLeftWidth), bt = parseFloat(cs.borderTopWidth);
        const br = parseFloat(cs.borderRightWidth), bb = parseFloat(cs.borderBottomWidth);
        c = { l: Math.max(c.l, b.left + bl), t: Math.max(c.t, b.top + bt),
              r: Math.min(c.r, b.right - br), b: Math.min(c.b, b.bottom - bb) };
      }
      if (cs.position === 'fixed') fixed = true;
    }
    return c;
  }

  function inside(r, c) {
    return r.left >= c.l - EPS && r.top >= c.t - EPS && r.right <= c.r + EPS && r.bottom <= c.b + EPS;
  }

  // Is the point (x, y) showing el (or a descendant/ancestor of el)? Elements marked
  // data-overlay (translucent backdrops) are looked through.
  function shows(el, x, y) {
    for (const h of document.elementsFromPoint(x, y)) {
      if (h.hasAttribute && h.hasAttribute('data-overlay')) continue;
      return h === el || el.contains(h) || h.contains(el);
    }
    return false;
  }

  // Sample the middle and the inner edges of a box (CSS px): all must show el.
  function showsBox(el, b, vertical) {
    const cx = (b[0] + b[2]) / 2, cy = (b[1] + b[3]) / 2;
    const ix = Math.min(2, (b[2] - b[0]) / 4), iy = Math.min(2, (b[3] - b[1]) / 4);
    const pts = [[cx, cy], [b[0] + ix, cy], [b[2] - ix, cy]];
    if (vertical) pts.push([cx, b[1] + iy], [cx, b[3] - iy]);
    return pts.every(([x, y]) => shows(el, x, y));
  }

  function transform(text, tt) {
    if (tt === 'uppercase') return text.toUpperCase();
    if (tt === 'lowercase') return text.toLowerCase();
    if (tt === 'capitalize') return text.replace(/(^|\s)(\S)/g, (m, a, b) => a + b.toUpperCase());
    return text;
  }

  function color(s) {
    const m = s.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  }
  function bgOf(el) {
    for (let e = el; e; e = e.parentElement) {
      const c = color(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  }
  function lum(c) {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  }

  const isIcon = (el, text) => !!(el.closest('[data-icon]')) || !/[\p{L}\p{N}]/u.test(text);

  function styleInfo(el, text) {
    const cs = getComputedStyle(el);
    const fg = color(cs.color) || { r: 0, g: 0, b: 0, a: 1 };
    const bg = bgOf(el);
    return {
      css_font_px: parseFloat(cs.fontSize),
      font_family: cs.fontFamily.split(',')[0].replace(/["']/g, '').trim(),
      font_weight: Number(cs.fontWeight) || 400,
      dom_fg_lum: +lum(fg).toFixed(4),
      dom_bg_lum: +lum(bg).toFixed(4),
      icon: isIcon(el, text),
    };
  }

  const rectOf = (r) => [r.left, r.top, r.right, r.bottom];
  const union = (a, b) => [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];

  // ---- targets ----
  const targets = [];
  for (const el of document.querySelectorAll('[data-target]')) {
    const r = el.getBoundingClientRect();
    const kind = el.getAttribute('data-kind') || '';
    const instructions = el.getAttribute('data-target').split('|').map((s) => s.trim()).filter(Boolean);
    const ok = styleVisible(el) && r.width > 0 && r.height > 0 && inside(r, clipOf(el)) && showsBox(el, rectOf(r), true);
    if (!ok) { warnings.push(`target not fully visible: ${instructions[0]}`); continue; }
    if (!kind) warnings.push(`target without data-kind: ${instructions[0]}`);
    targets.push({ instructions, kind, box: rectOf(r), tag: el.tagName.toLowerCase() });
  }

  // ---- labels from text nodes ----
  const labels = [];
  const SKIP = 'script,style,noscript,title,head,select,option,textarea,template';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(SKIP)) continue;
    if (!/\S/.test(node.data)) continue;
    if (!styleVisible(el)) continue;
    const tt = getComputedStyle(el).textTransform;
    const clip = clipOf(el);
    // words with their rectangles
    const words = [];
    const re = /\S+/g;
    let m;
    while ((m = re.exec(node.data))) {
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const rs = Array.from(range.getClientRects()).filter((q) => q.width > 0 && q.height > 0);
      if (!rs.length) continue;
      let box = rectOf(rs[0]);
      for (const q of rs.slice(1)) box = union(box, rectOf(q));
      const rr = { left: box[0], top: box[1], right: box[2], bottom: box[3] };
      const vis = inside(rr, clip) && showsBox(el, box, false);
      words.push({ text: transform(m[0], tt), box, vis });
    }
    // group into lines, then split lines at hidden words
    let cur = null;
    const flush = () => { if (cur) labels.push({ ...cur, ...styleInfo(el, cur.text) }); cur = null; };
    let prev = null;
    for (const w of words) {
      const h = w.box[3] - w.box[1];
      const newLine = !prev || Math.abs(w.box[1] - prev.box[1]) > 0.5 * h || w.box[0] < prev.box[0];
      if (newLine || !w.vis) flush();
      if (w.vis) {
        if (!cur) cur = { text: w.text, box: w.box.slice(), from: 'text' };
        else { cur.text += ' ' + w.text; cur.box = union(cur.box, w.box); }
      }
      prev = w;
    }
    flush();
  }

  // ---- labels from form controls (value / placeholder / selected option) ----
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d');
  const TEXTY = new Set(['text', 'email', 'search', 'tel', 'url', 'number', '']);
  for (const el of document.querySelectorAll('input, select')) {
    let text = null, from = null;
    if (el.tagName === 'SELECT') {
      text = el.selectedOptions.length ? el.selectedOptions[0].text : null; from = 'select';
    } else if (TEXTY.has((el.getAttribute('type') || '').toLowerCase())) {
      if (el.value) { text = el.value; from = 'value'; } else if (el.placeholder) { text = el.placeholder; from = 'placeholder'; }
    }
    if (!text || !/\S/.test(text) || !styleVisible(el)) continue;
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    const pl = parseFloat(cs.paddingLeft) + parseFloat(cs.borderLeftWidth);
    const pr = parseFloat(cs.paddingRight) + parseFloat(cs.borderRightWidth);
    const pt = parseFloat(cs.paddingTop) + parseFloat(cs.borderTopWidth);
    const pb = parseFloat(cs.paddingBottom) + parseFloat(cs.borderBottomWidth);
    ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const mt = ctx.measureText(text);
    const w = mt.width;
    const asc = mt.fontBoundingBoxAscent, desc = mt.fontBoundingBoxDescent;
    const contentW = r.width - pl - pr;
    if (w > contentW + 1) { warnings.push(`control text clipped: ${text}`); continue; }
    // Chromium's menu-list select draws its text 4 CSS px inside the padding (PopupInternalPaddingStart)
    const inner = el.tagName === 'SELECT' && cs.appearance !== 'none' ? 4 : 0;
    let x1 = r.left + pl + inner;
    if (cs.textAlign === 'right' || cs.textAlign === 'end') x1 = r.right - pr - w;
    if (cs.textAlign === 'center') x1 = r.left + pl + (contentW - w) / 2;
    const cy = r.top + pt + (r.height - pt - pb) / 2;
    const box = [x1, cy - (asc + desc) / 2, x1 + w, cy + (asc + desc) / 2];
    const rr = { left: box[0], top: box[1], right: box[2], bottom: box[3] };
    if (!inside(rr, clipOf(el)) || !showsBox(el, box, false)) continue;
    labels.push({ text: transform(text.replace(/\s+/g, ' ').trim(), cs.textTransform), box, from, ...styleInfo(el, text) });
  }

  return { targets, labels, warnings, title: document.title, dpr: window.devicePixelRatio, vw, vh };
}
