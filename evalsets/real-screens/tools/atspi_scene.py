#!/usr/bin/python3
"""Runs one GTK program under AT-SPI and reports its widgets (Debian's python3-gi, not a venv).

Run inside a private D-Bus session, with DISPLAY pointing at an Xvfb server:

    dbus-run-session -- /usr/bin/python3 atspi_scene.py --app zenity --png out.png [--click NAME] -- zenity --question …

It starts the accessibility bus, starts the program with the ATK bridge on, waits until the
program's first window is showing in the accessibility tree, and prints JSON:
{"nodes": [{"role", "name", "box": [x1,y1,x2,y2], "text", "text_box", "font_pt"}], "exit": code}
Boxes are screen pixels (the X root window). --png takes a root-window screenshot with
ImageMagick's `import` once the tree is read. --click NAME clicks the centre of the showing
widget with that accessible name (xdotool) and reports the program's exit status, so the
caller can check that the box really is that button.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402


def showing(acc):
    try:
        return acc.get_state_set().contains(Atspi.StateType.SHOWING)
    except Exception:
        return False


def extents(acc):
    try:
        e = acc.get_extents(Atspi.CoordType.SCREEN)
    except Exception:
        return None
    if e.width <= 0 or e.height <= 0:
        return None
    return [e.x, e.y, e.x + e.width, e.y + e.height]


def text_info(acc):
    try:
        t = acc.get_text_iface()
    except Exception:
        t = None
    if t is None:
        return None, None, None
    n = Atspi.Text.get_character_count(t)
    if n <= 0:
        return "", None, None
    s = Atspi.Text.get_text(t, 0, n)
    r = Atspi.Text.get_range_extents(t, 0, n, Atspi.CoordType.SCREEN)
    box = [r.x, r.y, r.x + r.width, r.y + r.height] if r.width > 0 and r.height > 0 else None
    pt = None
    try:
        attrs = Atspi.Text.get_default_attributes(t) or {}
        if "size" in attrs:
            pt = float(attrs["size"])
    except Exception:
        pass
    return s, box, pt


def walk(acc, out, depth=0):
    if depth > 40:
        return
    if showing(acc):
        box = extents(acc)
        if box is not None:
            text, tbox, pt = text_info(acc)
            out.append({"role": acc.get_role_name(), "name": acc.get_name() or "", "box": box,
                        "text": text, "text_box": tbox, "font_pt": pt})
    for i in range(acc.get_child_count()):
        child = acc.get_child_at_index(i)
        if child is not None:
            walk(child, out, depth + 1)


def find_app(name):
    desk = Atspi.get_desktop(0)
    for i in range(desk.get_child_count()):
        app = desk.get_child_at_index(i)
        if app is not None and app.get_name() == name:
            return app
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True, help="accessible application name to wait for")
    ap.add_argument("--png")
    ap.add_argument("--click")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd

    launcher = subprocess.Popen(["/usr/libexec/at-spi-bus-launcher", "--launch-immediately"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, NO_AT_BRIDGE="0", GTK_A11Y="atspi", GDK_BACKEND="x11",
               GTK_THEME="Adwaita", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    time.sleep(0.5)
    app = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = {"nodes": [], "exit": None}
    try:
        deadline = time.time() + a.timeout
        nodes = []
        while time.time() < deadline:
            acc = find_app(a.app)
            if acc is not None:
                nodes = []
                walk(acc, nodes)
                if any(n["role"] in ("dialog", "frame", "window") for n in nodes) and \
                        any(n["role"] == "push button" for n in nodes):
                    break
            time.sleep(0.3)
        else:
            raise SystemExit(f"atspi_scene: {a.app} did not show a window within {a.timeout} s")
        time.sleep(1.0)  # let the first frame settle, then read again
        nodes = []
        walk(find_app(a.app), nodes)
        result["nodes"] = nodes
        if a.png:
            tmp = a.png + ".tmp.png"
            subprocess.run(["import", "-window", "root", tmp], check=True)
            os.replace(tmp, a.png)
        if a.click:
            hits = [n for n in nodes if n["name"] == a.click and n["role"] == "push button"]
            if len(hits) != 1:
                raise SystemExit(f"atspi_scene: {len(hits)} push buttons named {a.click!r}")
            b = hits[0]["box"]
            x, y = (b[0] + b[2]) // 2, (b[1] + b[3]) // 2
            subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], check=True)
            try:
                result["exit"] = app.wait(timeout=10)
            except subprocess.TimeoutExpired:
                result["exit"] = None
    finally:
        if app.poll() is None:
            app.terminate()
            try:
                app.wait(timeout=5)
            except subprocess.TimeoutExpired:
                app.kill()
        launcher.terminate()
        try:
            launcher.wait(timeout=5)
        except subprocess.TimeoutExpired:
            launcher.kill()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
