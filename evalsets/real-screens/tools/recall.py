"""OCR recall of the visible text in labels.jsonl, for any reader that writes `read` JSON lines.

    python recall.py LABELS.jsonl READS.jsonl [--by source,scale] [--icons] [--misses 20] [--json]

READS.jsonl has one line per image, as `scripts/ocr_peer.py read` prints it:
{"image": PATH, "spans": [{"text", "box": [x1,y1,x2,y2], "score", "words"?: [{"text", "box"}]}]}.
Images are matched to labels.jsonl by file name. Images without a reads line count as read
with nothing found (and are reported).

A label is FOUND (exact) when, after case-folding and collapsing whitespace, some span's text or
some word's text equals it, or its words are a contiguous word sequence of a span's words.
Two more columns:
  exact@box  exact, and the matching span's (or word's) box intersects the label's box;
  loose      like exact, but words are compared on their letters and digits only (quotes,
             dots, brackets and separators such as "·" or "|" ignored, NFKC-normalised), and a
             label whose letters and digits form at least 4 characters may also sit inside a
             span with the spaces between words ignored (so "©2024 Northwind Ltd." finds
             "© 2024 Northwind Ltd. ·", and fragments of syntax-coloured code are found).
Labels marked "icon" (no letter or digit: glyphs, arrows, lone punctuation) are left out unless
--icons is given; they are then reported on their own.
"""
import argparse
import json
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path


def norm_exact(s):
    return " ".join(s.casefold().split())


def loose_tokens(s):
    s = unicodedata.normalize("NFKC", s).casefold()
    toks = ["".join(ch for ch in t if ch.isalnum()) for t in s.split()]
    return [t for t in toks if t]


def contains_seq(hay, needle):
    n = len(needle)
    if n == 0 or n > len(hay):
        return False
    return any(hay[i:i + n] == needle for i in range(len(hay) - n + 1))


def intersects(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class Reads:
    """The spans of one image, prepared for matching."""

    def __init__(self, spans):
        self.items = []  # (box, exact text, exact tokens, loose tokens, loose joined)
        for sp in spans:
            self._add(sp)
            for w in sp.get("words") or []:
                self._add(w)

    def _add(self, sp):
        t = sp.get("text") or ""
        e = norm_exact(t)
        lt = loose_tokens(t)
        self.items.append((sp.get("box"), e, e.split(), lt, "".join(lt)))

    def match(self, text, box):
        e = norm_exact(text)
        et = e.split()
        lt = loose_tokens(text)
        lj = "".join(lt)
        exact = at_box = loose = False
        for sbox, se, stoks, sl, slj in self.items:
            hit = se == e or contains_seq(stoks, et)
            if hit:
                exact = True
                if sbox is not None and intersects(sbox, box):
                    at_box = True
            if not loose and lt and (sl == lt or contains_seq(sl, lt) or (len(lj) >= 4 and lj in slj)):
                loose = True
            if exact and at_box and loose:
                break
        return exact, at_box, loose or exact


def font_bucket(px):
    if px < 12:
        return "<12px"
    if px < 16:
        return "12-16px"
    if px < 24:
        return "16-24px"
    return ">=24px"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("labels", type=Path)
    ap.add_argument("reads", type=Path)
    ap.add_argument("--by", default="source,scale,theme,light_on_dark,font",
                    help="comma-separated groupings: source, scale, theme, page, light_on_dark, font, from, image")
    ap.add_argument("--icons", action="store_true", help="also score icon labels (reported apart)")
    ap.add_argument("--misses", type=int, default=0, help="print up to N missed labels")
    ap.add_argument("--json", action="store_true", help="print the table as JSON")
    a = ap.parse_args()

    reads = {}
    for line in a.reads.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            reads[Path(r["image"]).name] = Reads(r.get("spans") or [])
    groups = [g.strip() for g in a.by.split(",") if g.strip()]
    tally = defaultdict(lambda: [0, 0, 0, 0])  # n, exact, at_box, loose
    misses, unread = [], []
    for line in a.labels.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        img = json.loads(line)
        name = Path(img["image"]).name
        rd = reads.get(name)
        if rd is None:
            unread.append(name)
            rd = Reads([])
        for lab in img["labels"]:
            if lab.get("icon") and not a.icons:
                continue
            ex, bx, lo = rd.match(lab["text"], lab["box"])
            keys = {
                "source": img.get("source", "?"), "scale": str(img.get("scale", "?")),
                "theme": img.get("theme", "?"), "page": img.get("page", "?"), "image": name,
                "light_on_dark": "light-on-dark" if lab.get("light_on_dark") else "dark-on-light",
                "font": font_bucket(lab.get("font_px", 0)), "from": lab.get("from", "text"),
            }
            kind = "icon" if lab.get("icon") else "text"
            rows = [(kind, "all", "all")] + [(kind, g, keys.get(g, "?")) for g in groups]
            for key in rows:
                t = tally[key]
                t[0] += 1
                t[1] += ex
                t[2] += bx
                t[3] += lo
            if not lo and len(misses) < a.misses:
                misses.append({"image": name, "text": lab["text"], "box": lab["box"], "font_px": lab.get("font_px"),
                               "light_on_dark": lab.get("light_on_dark")})
    order = {g: i for i, g in enumerate(["all"] + groups)}
    rows = sorted(tally.items(), key=lambda kv: (kv[0][0] != "text", order.get(kv[0][1], 99), kv[0][2]))
    if a.json:
        out = [{"labels": k[0], "group": k[1], "value": k[2], "n": t[0], "exact": t[1] / t[0],
                "exact_at_box": t[2] / t[0], "loose": t[3] / t[0]} for k, t in rows]
        print(json.dumps({"rows": out, "unread_images": unread, "misses": misses}, ensure_ascii=False, indent=1))
        return
    print(f"{'labels':6} {'group':14} {'value':22} {'n':>6} {'exact':>7} {'exact@box':>9} {'loose':>7}")
    for (kind, g, v), t in rows:
        n = t[0]
        print(f"{kind:6} {g:14} {v:22} {n:6d} {t[1] / n:7.1%} {t[2] / n:9.1%} {t[3] / n:7.1%}")
    if unread:
        print(f"\nno reads for {len(unread)} image(s): {', '.join(unread)}", file=sys.stderr)
    for m in misses:
        print("miss:", json.dumps(m, ensure_ascii=False))


if __name__ == "__main__":
    main()
