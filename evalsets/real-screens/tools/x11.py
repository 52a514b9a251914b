"""Screens of real X11 programs under Xvfb: Athena (xmessage) and GTK (zenity) dialogs.

    python x11.py STAGE_DIR

Writes STAGE_DIR/images/<name>.png and STAGE_DIR/raw/<name>.json in the same raw format as
render.mjs. No window manager runs, so windows have no title bars.

Ground truth:
- xmessage: Athena buttons are X windows; their boxes come from `xwininfo` (outer corner and
  border width). The buttons are the windows in the bottom row of xmessage's form, left to
  right in -buttons order. Text boxes are the ink of each button / of the message widget,
  found from the pixels (glyph components that do not touch the widget's edge).
- zenity: widget boxes and label/entry text ranges from AT-SPI (atspi_scene.py, run by
  Debian's python3-gi in a private D-Bus session); button text boxes from the ink.
Every box is checked by clicking its centre with xdotool and comparing the program's exit
status with the button's (the run fails otherwise).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
ROOT_COLOUR = "#3b6e8f"

# xmessage scenes: name, screen, xmessage arguments, message lines, font px, theme,
# buttons [(label, exit status, [instructions])]
XMESSAGE = [
    ("xmessage-delete", (1280, 800),
     ["-center", "-buttons", "Cancel:2,OK:3", "Delete the file?"],
     ["Delete the file?"], 13, "light",
     [("Cancel", 2, ["click Cancel", "cancel deleting the file"]),
      ("OK", 3, ["click OK", "confirm deleting the file (OK)"])]),
    ("xmessage-save", (1280, 800),
     ["-center", "-fn", "-adobe-helvetica-medium-r-normal--14-*-100-100-p-*-iso8859-1",
      "-buttons", "Save:10,Don't Save:11,Cancel:12", "-default", "Save",
      'The document "notes.txt" has unsaved changes.\nSave them before closing?'],
     ['The document "notes.txt" has unsaved changes.', "Save them before closing?"], 14, "light",
     [("Save", 10, ["click Save", "save the document"]),
      ("Don't Save", 11, ["click Don't Save", "close without saving"]),
      ("Cancel", 12, ["click Cancel"])]),
    ("xmessage-dark", (1280, 800),
     ["-geometry", "+140+96", "-fn", "10x20", "-bg", "#2b2b2b", "-fg", "#e8e8e8",
      "-buttons", "Retry:20,Ignore:21,Abort:22",
      "Connection to db-01.internal:5432 lost.\nRetrying in 30 s (attempt 3 of 5)."],
     ["Connection to db-01.internal:5432 lost.", "Retrying in 30 s (attempt 3 of 5)."], 20, "dark",
     [("Retry", 20, ["click Retry", "try to connect again"]),
      ("Ignore", 21, ["click Ignore"]),
      ("Abort", 22, ["click Abort", "abort the connection attempts"])]),
]

# zenity scenes: name, screen, zenity arguments, {button name: (exit status, [instructions])},
# {entry text: [instructions]}
ZENITY = [
    ("zenity-question", (1280, 800),
     ["--question", "--title=Unsaved changes", "--text=Save changes to report.txt before closing?",
      "--ok-label=Save", "--cancel-label=Don't Save"],
     {"Save": (0, ["click Save", "save report.txt"]),
      "Don't Save": (1, ["click Don't Save", "close without saving the report"])},
     {}),
    ("zenity-entry", (1920, 1080),
     ["--entry", "--title=Rename file", "--text=New name for “Q3 report.pdf”:",
      "--entry-text=Q3 report (final).pdf", "--ok-label=Rename"],
     {"Rename": (0, ["click Rename", "confirm the new name"]),
      "Cancel": (1, ["click Cancel", "cancel renaming"])},
     {"Q3 report (final).pdf": ["the text field with the new file name", "click the name field"]}),
]


def write_atomic(path, data):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data if isinstance(data, bytes) else data.encode())
    os.replace(tmp, path)


def to_rgb(path):
    """Re-save as plain 8-bit RGB: ImageMagick writes few-colour screens as palette PNGs, which
    some readers (rapidocr's loader among them) mis-read."""
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    tmp = path.with_name(f".{path.name}.rgb.png")
    rgb.save(tmp, format="PNG")
    os.replace(tmp, path)


class Xvfb:
    def __init__(self, size):
        self.size = size
        n = 90
        while Path(f"/tmp/.X{n}-lock").exists() or Path(f"/tmp/.X11-unix/X{n}").exists():
            n += 1
        self.display = f":{n}"
        self.proc = subprocess.Popen(
            ["Xvfb", self.display, "-screen", "0", f"{size[0]}x{size[1]}x24", "-nolisten", "tcp", "-noreset"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock = Path(f"/tmp/.X11-unix/X{n}")
        for _ in range(100):
            if sock.exists():
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"Xvfb {self.display} exited")
            time.sleep(0.1)
        self.env = dict(os.environ, DISPLAY=self.display, LANG="C.UTF-8", LC_ALL="C.UTF-8")
        self.env.pop("WAYLAND_DISPLAY", None)
        self.run(["xsetroot", "-solid", ROOT_COLOUR])

    def run(self, cmd, **kw):
        return subprocess.run(cmd, env=self.env, check=True, capture_output=True, text=True, **kw).stdout

    def screenshot(self, path):
        tmp = path.with_name(f".{path.name}.tmp.png")
        self.run(["import", "-window", "root", str(tmp)])
        os.replace(tmp, path)
        to_rgb(path)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ---------- pixels ----------

def ink_components(img, box, thresh=60):
    """Connected components (8-neighbour) of pixels far from the box's most common colour,
    without those that touch the box edge. Returns their bounding boxes (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = box
    reg = img.crop(box).convert("RGB")
    w, h = reg.size
    px = reg.load()
    counts = {}
    for y in range(h):
        for x in range(w):
            counts[px[x, y]] = counts.get(px[x, y], 0) + 1
    bg = max(counts, key=counts.get)
    ink = [[sum(abs(a - b) for a, b in zip(px[x, y], bg)) > thresh for x in range(w)] for y in range(h)]
    seen = [[False] * w for _ in range(h)]
    out = []
    for y in range(h):
        for x in range(w):
            if not ink[y][x] or seen[y][x]:
                continue
            stack = [(x, y)]
            seen[y][x] = True
            bx1, by1, bx2, by2 = x, y, x, y
            edge = False
            while stack:
                cx, cy = stack.pop()
                bx1, by1, bx2, by2 = min(bx1, cx), min(by1, cy), max(bx2, cx), max(by2, cy)
                if cx == 0 or cy == 0 or cx == w - 1 or cy == h - 1:
                    edge = True
                for dx in (-1, 0, 1):
                    for dy in (-1, 0, 1):
                        nx, ny = cx + dx, cy + dy
                        if 0 <= nx < w and 0 <= ny < h and ink[ny][nx] and not seen[ny][nx]:
                            seen[ny][nx] = True
                            stack.append((nx, ny))
            if not edge:
                out.append((x1 + bx1, y1 + by1, x1 + bx2 + 1, y1 + by2 + 1))
    return out


def union(boxes):
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def ink_lines(img, box, n_lines):
    """The ink in box split into text lines at blank pixel rows, top to bottom (every message
    line here has a tall letter, so an i's dot never makes a line of its own)."""
    comps = ink_components(img, box)
    rows = sorted({y for c in comps for y in range(c[1], c[3])})
    groups = []
    for y in rows:
        if groups and y == groups[-1][1]:
            groups[-1][1] = y + 1
        else:
            groups.append([y, y + 1])
    out = [union([c for c in comps if g[0] <= c[1] < g[1]]) for g in groups]
    if len(out) != n_lines:
        raise RuntimeError(f"expected {n_lines} text lines in {box}, found {len(out)}: {out}")
    return out


# ---------- xmessage ----------

TREE_LINE = re.compile(r"^\s*(0x[0-9a-f]+) (.*?): \(.*?\)\s+(\d+)x(\d+)\+(-?\d+)\+(-?\d+)\s+\+(-?\d+)\+(-?\d+)\s*$")


def window_tree(x, wid):
    """(id, name, w, h, rel_x, rel_y, abs_x, abs_y, depth) for wid's descendants."""
    out = []
    for line in x.run(["xwininfo", "-tree", "-id", wid]).splitlines():
        m = TREE_LINE.match(line)
        if m:
            depth = (len(line) - len(line.lstrip())) // 3
            out.append((m.group(1), m.group(2), *map(int, m.groups()[2:]), depth))
    return out


def border_width(x, wid):
    m = re.search(r"Border width:\s+(\d+)", x.run(["xwininfo", "-id", wid]))
    return int(m.group(1))


def find_toplevel(x, name, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        tree = x.run(["xwininfo", "-root", "-children"])
        for line in tree.splitlines():
            m = re.match(rf'^\s*(0x[0-9a-f]+) "{re.escape(name)}":', line)
            if m and "IsViewable" in x.run(["xwininfo", "-id", m.group(1)]):
                return m.group(1)
        time.sleep(0.1)
    raise RuntimeError(f"no mapped {name} window")


def xmessage_layout(x, args, n_buttons):
    proc = subprocess.Popen(["xmessage", *args], env=x.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    top = find_toplevel(x, "xmessage")
    time.sleep(0.3)
    tree = window_tree(x, top)
    # the form is the top-level's only child; its children are the message and the buttons
    form_depth = min(t[8] for t in tree)
    kids = [t for t in tree if t[8] == form_depth + 1]
    boxes = []
    for t in kids:
        bw = border_width(x, t[0])
        boxes.append((t[0], [t[6], t[7], t[6] + t[2] + 2 * bw, t[7] + t[3] + 2 * bw], bw))
    bottom = max(b[1][1] for b in boxes)
    buttons = sorted([b for b in boxes if b[1][1] == bottom], key=lambda b: b[1][0])
    others = [b for b in boxes if b[1][1] != bottom]
    if len(buttons) != n_buttons or len(others) != 1:
        raise RuntimeError(f"unexpected xmessage layout: {boxes}")
    # the message widget's own children (a scrollbar-like sink) are not text
    msg_id, msg_box, msg_bw = others[0]
    sub = [t for t in tree if t[8] > form_depth + 1]
    text_x1 = max([msg_box[0] + msg_bw] + [t[6] + t[2] + 1 for t in sub])
    msg_inner = [text_x1, msg_box[1] + msg_bw, msg_box[2] - msg_bw, msg_box[3] - msg_bw]
    return proc, buttons, msg_inner


def xmessage_scene(stage, scene):
    name, size, args, lines, font_px, theme, buttons = scene
    x = Xvfb(size)
    try:
        proc, wins, msg_inner = xmessage_layout(x, args, len(buttons))
        png = stage / "images" / f"{name}.png"
        x.screenshot(png)
        proc.terminate()
        proc.wait()
        img = Image.open(png).convert("RGB")
        targets, labels = [], []
        for (label, code, instr), (wid, box, bw) in zip(buttons, wins):
            targets.append({"instructions": instr, "kind": "text_button", "box": box, "tag": "xaw:Command"})
            inner = [box[0] + bw, box[1] + bw, box[2] - bw, box[3] - bw]
            labels.append({"text": label, "box": union(ink_components(img, inner)), "from": "x11-ink",
                           "font_px": font_px, "icon": False})
        for text, box in zip(lines, ink_lines(img, msg_inner, len(lines))):
            labels.append({"text": text, "box": box, "from": "x11-ink", "font_px": font_px, "icon": False})
        # check: clicking each box's centre makes xmessage exit with that button's status
        for label, code, _ in buttons:
            proc, wins, _ = xmessage_layout(x, args, len(buttons))
            box = wins[[b[0] for b in buttons].index(label)][1]
            cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
            x.run(["xdotool", "mousemove", str(cx), str(cy), "click", "1"])
            rc = proc.wait(timeout=10)
            if rc != code:
                raise RuntimeError(f"{name}: clicking {label} at {cx},{cy} gave exit {rc}, expected {code}")
            x.run(["xdotool", "mousemove", "0", "0"])
        return raw(name, "x11:xmessage", size, theme, targets, labels)
    finally:
        x.close()


# ---------- zenity (GTK) via AT-SPI ----------

def atspi(x, args, png=None, click=None):
    cmd = ["dbus-run-session", "--", "/usr/bin/python3", str(HERE / "atspi_scene.py"), "--app", "zenity"]
    if png:
        cmd += ["--png", str(png)]
    if click:
        cmd += ["--click", click]
    env = dict(x.env, GTK_CSD="0")
    out = subprocess.run([*cmd, "--", "zenity", *args], env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def zenity_scene(stage, scene):
    name, size, args, buttons, entries = scene
    x = Xvfb(size)
    try:
        png = stage / "images" / f"{name}.png"
        res = atspi(x, args, png=png)
        to_rgb(png)
        img = Image.open(png).convert("RGB")
        targets, labels = [], []
        nodes = res["nodes"]
        for n in nodes:
            pt = n.get("font_pt") or 10.0
            font_px = round(pt * 96 / 72, 2)
            if n["role"] == "push button":
                if n["name"] not in buttons:
                    raise RuntimeError(f"{name}: unexpected button {n['name']!r}")
                targets.append({"instructions": buttons[n["name"]][1], "kind": "text_button", "box": n["box"],
                                "tag": "gtk:GtkButton"})
                b = n["box"]
                labels.append({"text": n["name"], "box": union(ink_components(img, [b[0] + 2, b[1] + 2, b[2] - 2, b[3] - 2])),
                               "from": "x11-ink", "font_px": font_px, "icon": False})
            elif n["role"] == "label" and n.get("text"):
                labels.append({"text": n["text"], "box": n["text_box"] or n["box"], "from": "atspi",
                               "font_px": font_px, "icon": False})
            elif n["role"] == "text" and n.get("text") is not None:
                if n["text"] in entries:
                    targets.append({"instructions": entries[n["text"]], "kind": "field", "box": n["box"],
                                    "tag": "gtk:GtkEntry"})
                if n["text"] and n.get("text_box"):
                    labels.append({"text": n["text"], "box": n["text_box"], "from": "atspi",
                                   "font_px": font_px, "icon": False})
        found = {t["instructions"][0] for t in targets}
        want = {v[1][0] for v in buttons.values()} | {v[0] for v in entries.values()}
        if found != want:
            raise RuntimeError(f"{name}: targets {found} != {want}")
        for label, (code, _) in buttons.items():
            rc = atspi(x, args, click=label)["exit"]
            if rc != code:
                raise RuntimeError(f"{name}: clicking {label} gave exit {rc}, expected {code}")
        return raw(name, "x11:zenity", size, "light", targets, labels)
    finally:
        x.close()


def raw(name, source, size, theme, targets, labels):
    return {"name": name, "page": name, "theme": theme, "viewport": list(size), "scale": 1,
            "width": size[0], "height": size[1], "source": source, "targets": targets, "labels": labels}


def main():
    stage = Path(sys.argv[1])
    only = set(sys.argv[2:])
    (stage / "images").mkdir(parents=True, exist_ok=True)
    (stage / "raw").mkdir(parents=True, exist_ok=True)
    for tool in ("Xvfb", "xmessage", "xwininfo", "xdotool", "xsetroot", "import", "zenity", "dbus-run-session"):
        if not shutil.which(tool):
            raise SystemExit(f"x11.py: {tool} is missing")
    jobs = [(s[0], xmessage_scene, s) for s in XMESSAGE] + [(s[0], zenity_scene, s) for s in ZENITY]
    for name, fn, scene in jobs:
        if only and name not in only:
            continue
        r = fn(stage, scene)
        write_atomic(stage / "raw" / f"{name}.json", json.dumps(r, indent=1, ensure_ascii=False) + "\n")
        print(f"{name}: {len(r['targets'])} targets, {len(r['labels'])} labels")


if __name__ == "__main__":
    main()
