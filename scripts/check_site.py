#!/usr/bin/env python3
"""Check the built book in headless Chromium: every page, offline, rendered.

Serves ``_build/html`` on ``http://127.0.0.1:<port>`` from a thread and visits every HTML page
of the site with Debian's ``chromium`` + ``/usr/bin/chromedriver`` (selenium 4). A page fails on

- a SEVERE entry in the browser console log;
- a request to any host other than 127.0.0.1, an HTTP status >= 400, or a failed load
  (Chrome DevTools ``Network`` events from the performance log, plus the Resource Timing API);
- a ``<script src>``, ``<link href>``, ``<img src>``, ``<iframe src>`` ... pointing outside the
  site in the HTML file itself (static scan);
- math not rendered: a ``.math`` element without an ``mjx-container`` holding an ``svg``, a
  MathJax error node, or a raw ``$$`` left in the text;
- an image that did not load (``naturalWidth == 0``), or a notebook page
  (``book/notebooks/``) without any image;
- a notebook error output (traceback) shown on the page;
- a notebook output showing a warning ("...Warning") or a path of the machine that ran it;
- a notebook text output wider than its block (lines that run past the right edge; wide tables
  scroll sideways in their own block instead);
- on the introduction, a "Claims at a glance" section without its table;
- on a chapter that writes or shows verdict records, its "At a glance" box
  (``papers.verdicts.header``) missing or below the first screen.

A screenshot of each page goes to ``artifacts/screenshots/``. Exit status 1 with the list of
problems, 0 when the whole site is clean.

Usage: .venv/bin/python scripts/check_site.py [--site _build/html] [--page PATH]...
Needs: apt-get install -y chromium chromium-driver
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import sys
import tempfile
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,900", "--hide-scrollbars",
]
LOCAL_SCHEMES = ("data", "blob", "about", "chrome", "chrome-extension", "devtools")
#: what no notebook output may show: warnings and paths of the machine that ran it.
OUTPUT_PROBLEMS = [(re.compile(r"\w*Warning\b"), "a warning"),
                   (re.compile(r"(?<![\w.])/(?:work|tmp|home|root|usr|opt|var)/[\w./-]+"),
                    "a machine path")]
#: the height of the first screen (the browser window).
FIRST_SCREEN_PX = 900


def _verdict_chapters() -> set[str]:
    """The chapters that write verdict records (``data/verdicts/*.json``) or show them (a
    ``V.header(`` call): their "At a glance" box must be in the first screen."""
    out = {p.stem for p in (ROOT / "notebooks").glob("*.py") if "V.header(" in p.read_text()}
    for path in (ROOT / "data" / "verdicts").glob("*.json"):
        try:
            out |= {Path(r["chapter"]).stem for r in json.loads(path.read_text())}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


VERDICT_CHAPTERS = _verdict_chapters()

# ---------------------------------------------------------------------------------------------
# The page-side checks, run after the page and MathJax have finished.
PAGE_STATE_JS = r"""
const done = arguments[arguments.length - 1];
const finish = () => {
  const maths = Array.from(document.querySelectorAll('.math'));
  const unrendered = maths.filter(el => !el.querySelector('mjx-container svg'))
                          .map(el => el.textContent.slice(0, 80));
  const errors = Array.from(document.querySelectorAll(
      'mjx-merror, [data-mjx-error], g[data-mml-node="merror"]'))
      .map(el => (el.getAttribute('data-mjx-error') || el.textContent || '').slice(0, 80));
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, textarea, mjx-container, .highlight')
       .forEach(el => el.remove());
  const text = clone.textContent;
  const imgs = Array.from(document.querySelectorAll('img')).map(img => ({
      src: img.currentSrc || img.src, complete: img.complete, width: img.naturalWidth}));
  const resources = performance.getEntriesByType('resource').map(e => e.name);
  const outputs = Array.from(document.querySelectorAll('.cell_output')).map(el => el.innerText);
  const overflowing = Array.from(document.querySelectorAll(
      '.cell_output pre'))
      .filter(el => el.scrollWidth > el.clientWidth + 2 && el.clientWidth > 0)
      .map(el => el.innerText.split('\n').reduce((a, b) => b.length > a.length ? b : a, '')
                 .slice(0, 80));
  const heading = document.getElementById('claims-at-a-glance');
  const claims = heading ? (heading.querySelector('table') !== null ||
                            heading.textContent.includes('No verdict')) : null;
  const verdict = document.querySelector('div.ibn-header');
  const verdictTop = verdict ? verdict.getBoundingClientRect().top + window.scrollY : null;
  done({
    outputs: outputs,
    overflowing: overflowing,
    claims: claims,
    verdict_top: verdictTop,
    n_math: maths.length,
    n_svg: document.querySelectorAll('mjx-container svg').length,
    unrendered: unrendered,
    math_errors: errors,
    raw_dollars: text.includes('$$'),
    raw_parens: /\\\(|\\\[/.test(text),
    n_error_outputs: document.querySelectorAll('.output.traceback, .output.error').length,
    imgs: imgs,
    resources: resources,
    height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight),
    title: document.title,
  });
};
const timeout = new Promise(resolve => setTimeout(() => resolve('timeout'), 20000));
if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  Promise.race([MathJax.startup.promise, timeout]).then(finish, finish);
} else {
  finish();
}
"""


class _ExternalRefs(HTMLParser):
    """Collect the URLs of resources a page *loads* (not plain links)."""

    ATTRS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "audio": "src",
             "video": "src", "embed": "src", "object": "data", "track": "src"}

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link":
            rel = (attrs.get("rel") or "").lower()
            # hyperlinks in <link> (canonical, next, prev, search...) are not loaded
            if any(r in rel for r in ("stylesheet", "preload", "icon", "modulepreload",
                                      "prefetch", "manifest", "dns-prefetch", "preconnect")):
                self.urls.append(attrs.get("href") or "")
        elif tag in self.ATTRS:
            self.urls.append(attrs.get(self.ATTRS[tag]) or "")
        if tag == "img" and attrs.get("srcset"):
            self.urls += [part.strip().split(" ")[0] for part in attrs["srcset"].split(",")]
        style = attrs.get("style") or ""
        self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", style)


def static_external_refs(html_file: Path) -> list[str]:
    parser = _ExternalRefs()
    parser.feed(html_file.read_text(encoding="utf-8", errors="replace"))
    return [u for u in parser.urls if re.match(r"^(https?:)?//", u.strip(), re.I)]


def is_local(url: str, port: int) -> bool:
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES or not parts.scheme:
        return True
    return parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.port == port


# ---------------------------------------------------------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    server_errors: list[str] = []

    def log_message(self, fmt, *args):  # noqa: D401 - silence the access log
        pass

    def log_request(self, code="-", size="-"):
        try:
            if int(code) >= 400:
                self.server_errors.append(f"{code} {self.path}")
        except (TypeError, ValueError):
            pass


def start_server(site: Path):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    return server, thread


def make_driver(profile_dir: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(90)
    driver.set_script_timeout(60)
    return driver


def network_problems(perf_log: list[dict], port: int) -> list[str]:
    """Requests leaving the machine, HTTP errors and failed loads, from CDP Network events."""
    problems, urls = [], {}
    for entry in perf_log:
        try:
            msg = json.loads(entry["message"])["message"]
        except (KeyError, ValueError, TypeError):
            continue
        method, params = msg.get("method", ""), msg.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            urls[params.get("requestId")] = url
            if not is_local(url, port):
                problems.append(f"request outside the site: {url}")
        elif method == "Network.responseReceived":
            resp = params.get("response", {})
            if int(resp.get("status") or 0) >= 400:
                problems.append(f"HTTP {resp.get('status')}: {resp.get('url')}")
        elif method == "Network.loadingFailed":
            url = urls.get(params.get("requestId"), "?")
            problems.append(f"failed to load ({params.get('errorText')}): {url}")
    return problems


def check_page(driver, base: str, rel: str, port: int, shots: Path) -> list[str]:
    problems: list[str] = []
    driver.get(f"{base}/{rel}")
    # let redirects (index.html) and deferred scripts settle
    for _ in range(100):
        if driver.execute_script("return document.readyState") == "complete":
            break
        time.sleep(0.1)
    state = driver.execute_async_script(PAGE_STATE_JS)
    time.sleep(0.2)

    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            problems.append(f"console SEVERE: {entry.get('message', '')[:300]}")
    problems += network_problems(driver.get_log("performance"), port)
    for url in state["resources"]:
        if not is_local(url, port):
            problems.append(f"resource outside the site (Resource Timing): {url}")

    if state["unrendered"]:
        problems.append(f"{len(state['unrendered'])} of {state['n_math']} math element(s) "
                        f"without MathJax SVG, e.g. {state['unrendered'][0]!r}")
    if state["math_errors"]:
        problems.append(f"MathJax errors: {state['math_errors'][:3]}")
    if state["raw_dollars"]:
        problems.append("raw '$$' in the page text (unparsed math)")
    if state["raw_parens"] and state["n_math"] == 0:
        problems.append("raw '\\(' or '\\[' in the page text (unrendered math)")
    if state["n_error_outputs"]:
        problems.append(f"{state['n_error_outputs']} error output(s) (traceback) in the page")
    for img in state["imgs"]:
        if not img["complete"] or img["width"] == 0:
            problems.append(f"image not loaded: {img['src'][:120]}")
    if rel.startswith("book/notebooks/") and not state["imgs"]:
        problems.append("notebook page without any figure (img)")
    for text in state["outputs"]:
        for pattern, what in OUTPUT_PROBLEMS:
            found = pattern.search(text)
            if found:
                problems.append(f"{what} in an output: {found.group(0)!r}")
    if state["overflowing"]:
        problems.append(f"{len(state['overflowing'])} text output(s) wider than their block, "
                        f"e.g. {state['overflowing'][0]!r}")
    if rel in ("book/intro.html", "index.html") and state["claims"] is False:
        problems.append("the claims table is missing from 'Claims at a glance'")
    if rel in ("book/intro.html",) and state["claims"] is None:
        problems.append("no 'Claims at a glance' section")
    if Path(rel).stem in VERDICT_CHAPTERS and (state["verdict_top"] is None
                                               or state["verdict_top"] > FIRST_SCREEN_PX):
        problems.append(f"the 'At a glance' box is not in the first screen (top at "
                        f"{state['verdict_top']} px, screen {FIRST_SCREEN_PX} px)")

    # full-page screenshot (height capped)
    shots.mkdir(parents=True, exist_ok=True)
    name = rel.replace("/", "__").removesuffix(".html") + ".png"
    height = int(min(max(state["height"], 900), 8000))
    try:
        driver.set_window_size(1280, height)
        driver.save_screenshot(str(shots / name))
    finally:
        driver.set_window_size(1280, 900)
    print(f"  {rel}: {state['n_math']} math ({state['n_svg']} svg), {len(state['imgs'])} img, "
          f"{len(problems)} problem(s)", flush=True)
    return problems


def list_pages(site: Path) -> list[str]:
    skip = ("_static/", "_sources/", "_images/", "_downloads/")
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if not p.relative_to(site).as_posix().startswith(skip))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--page", action="append", help="check only this page (repeatable)")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "artifacts" / "screenshots")
    args = parser.parse_args(argv)

    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"no built site at {site} (run scripts/book first)", file=sys.stderr)
        return 2
    for path in (CHROMEDRIVER, shutil.which("chromium") or "/usr/bin/chromium"):
        if not Path(path).exists():
            print(f"missing {path}: apt-get install -y chromium chromium-driver", file=sys.stderr)
            return 2
    pages = args.page or list_pages(site)

    problems: dict[str, list[str]] = {}
    for rel in pages:
        refs = static_external_refs(site / rel)
        if refs:
            problems.setdefault(rel, []).extend(f"HTML loads an outside URL: {u}" for u in refs)

    t0 = time.perf_counter()
    server, thread = start_server(site)
    port = server.server_address[1]
    base = f"http://127.0.0.1:{port}"
    print(f"[check_site] serving {site} on {base}; {len(pages)} page(s)", flush=True)
    profile = tempfile.mkdtemp(prefix="ibn-chromium-")
    driver = None
    try:
        driver = make_driver(profile)
        # The browser opens on its own new-tab page (chrome://new-tab-page-third-party/), which
        # tries to reach the internet and fails: that is not the site, so discard its events.
        driver.get("about:blank")
        time.sleep(0.5)
        driver.get_log("performance")
        driver.get_log("browser")
        for rel in pages:
            try:
                found = check_page(driver, base, rel, port, args.screenshots)
            except Exception as err:  # noqa: BLE001 - a crash on a page is a problem of it
                found = [f"check crashed: {type(err).__name__}: {str(err).splitlines()[0]}"]
            if found:
                problems.setdefault(rel, []).extend(found)
    finally:
        if driver is not None:
            driver.quit()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        shutil.rmtree(profile, ignore_errors=True)
    for err in _QuietHandler.server_errors:
        problems.setdefault("(server)", []).append(f"served an error: {err}")

    elapsed = time.perf_counter() - t0
    try:
        shots = args.screenshots.relative_to(ROOT)
    except ValueError:
        shots = args.screenshots
    if problems:
        print(f"\n[check_site] FAILED: {sum(map(len, problems.values()))} problem(s) on "
              f"{len(problems)} page(s) ({elapsed:.1f} s):")
        for rel, found in problems.items():
            for problem in dict.fromkeys(found):
                print(f"  {rel}: {problem}")
        return 1
    print(f"[check_site] OK: {len(pages)} page(s) clean in {elapsed:.1f} s; screenshots in {shots}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
