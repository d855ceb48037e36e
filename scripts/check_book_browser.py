"""Open built book pages in headless Chromium, served from 127.0.0.1, and check that
(1) MathJax rendered the math on them, (2) none of the page's requests left the machine and
(3) the classroom page's offline explorer redraws: a mouse click moves its γ slider, then one
toggles LayerNorm, through the Chrome DevTools protocol, and after each its figure must change.

Usage: python scripts/check_book_browser.py [_build/html] [page.html ...] [--screenshot DIR]
Needs Debian's chromium package. Exits non-zero with the offending URLs or pages. With
``--screenshot DIR``, writes the explorer page before and after each step as PNGs to DIR.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=15000",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", ""}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def visit(url: str) -> tuple[str, set[str]]:
    """The rendered DOM of ``url`` and every URL Chromium requested while loading it."""
    with tempfile.TemporaryDirectory() as profile:
        netlog = Path(profile) / "net.json"
        cmd = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}/p", f"--log-net-log={netlog}",
               "--dump-dom", url]
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
        log = netlog.read_text(errors="replace") if netlog.exists() else ""
    try:
        events = json.loads(log).get("events", [])
    except json.JSONDecodeError:  # Chromium may leave the last event unterminated
        events = json.loads(log.rstrip().rstrip(",") + "]}").get("events", [])
    # Requests the page made carry its origin as initiator; Chromium's own background
    # services (updates, accounts) carry none and are not the book's doing.
    origin = "{0.scheme}://{0.netloc}".format(urlparse(url))
    urls = {e["params"]["url"] for e in events
            if "url" in e.get("params", {}) and e["params"].get("initiator") == origin}
    return dom, urls


EXPLORER_PAGE = "book/_executed/explore_self_excitation.html"


class DevTools:
    """A headless Chromium driven over the Chrome DevTools protocol (tornado's websocket client):
    ``call(method, **params)`` sends one command and returns its result."""

    def __init__(self, profile: Path):
        flags = [f for f in CHROMIUM_FLAGS if not f.startswith("--virtual-time-budget")]
        self.proc = subprocess.Popen(["chromium", *flags, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                      "--window-size=1400,1800", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.2)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            page = next(t for t in json.load(reply) if t["type"] == "page")
        from tornado.ioloop import IOLoop
        from tornado.websocket import websocket_connect

        self.loop = IOLoop()  # private: the caller may have no loop, or a running one
        self.ws = self.loop.run_sync(lambda: websocket_connect(page["webSocketDebuggerUrl"], max_message_size=1 << 26))
        self.next_id = 0

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        ident = self.next_id

        async def exchange():
            await self.ws.write_message(json.dumps({"id": ident, "method": method, "params": params}))
            while True:
                message = await self.ws.read_message()
                if message is None:
                    raise RuntimeError(f"Chromium closed the connection during {method}")
                reply = json.loads(message)
                if reply.get("id") == ident:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})

        return self.loop.run_sync(exchange, timeout=60)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 30):
        """Poll ``expression`` until it is truthy; errors while the page is still loading (its
        context not there yet) count as not yet."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                if value := self.evaluate(expression):
                    return value
            except RuntimeError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {expression}")
            time.sleep(0.2)

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.loop.close()


FIGURE = "JSON.stringify([...document.querySelectorAll('.seemlab-explorer svg path.curve')].map(p => p.getAttribute('d')))"
STATE = "document.querySelector('.seemlab-explorer-summary').textContent"


def centre(tools: DevTools, selector: str, fraction: float = 0.5) -> tuple[float, float]:
    """Viewport point ``fraction`` of the way across the element (scrolled into view)."""
    box = tools.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView("
                         "{block: 'center'}); const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()")
    if not box:
        raise RuntimeError(f"no element {selector}")
    left, top, width, height = box
    return left + fraction * width, top + height / 2


def explorer_steps(url: str, shots: Path | None = None) -> list[str]:
    """Move the explorer's γ slider to its low end by a mouse click, then click the LayerNorm
    toggle; after each, the figure's curves and the summary line must change. Returns problems."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as profile:
        tools = DevTools(Path(profile))
        try:
            tools.call("Page.enable")
            tools.call("Page.navigate", url=url)
            try:
                tools.wait_for("document.readyState === 'complete' && "
                               "!!(document.querySelector('.seemlab-explorer.ready') || "
                               "document.querySelector('.seemlab-explorer[data-error]'))")
            except RuntimeError:
                return [f"{url}: the explorer did not draw"]
            if error := tools.evaluate("document.querySelector('.seemlab-explorer').getAttribute('data-error')"):
                return [f"{url}: the explorer failed: {error}"]
            steps = [("gamma slider to its low end", "input[name=gamma]", 0.03),
                     ("LayerNorm toggle", "input[name=layernorm]", 0.5)]
            before, state = tools.evaluate(FIGURE), tools.evaluate(STATE)
            print(f"explorer: {len(json.loads(before))} curves; {state}")
            if shots:
                tools.screenshot(shots / "explorer-0-start.png")
            for i, (what, selector, fraction) in enumerate(steps, 1):
                tools.click(*centre(tools, selector, fraction))
                after, new_state = tools.evaluate(FIGURE), tools.evaluate(STATE)
                print(f"explorer after the {what}: {new_state}")
                if shots:
                    tools.screenshot(shots / f"explorer-{i}-{selector.split('=')[1].rstrip(']')}.png")
                if after == before or new_state == state:
                    problems.append(f"{url}: the figure did not change after the {what}")
                before, state = after, new_state
        finally:
            tools.close()
    return problems


def main(argv: list[str]) -> int:
    shots = None
    if "--screenshot" in argv:
        at = argv.index("--screenshot")
        shots = Path(argv[at + 1])
        shots.mkdir(parents=True, exist_ok=True)
        argv = argv[:at] + argv[at + 2:]
    root = Path(argv[0] if argv else "_build/html").resolve()
    pages = argv[1:] or ["index.html", "book/_executed/fig05_ntk_map.html", "book/_executed/scorecard.html",
                         EXPLORER_PAGE]
    server, port = serve(root)
    problems = []
    try:
        for page in pages:
            dom, urls = visit(f"http://127.0.0.1:{port}/{page}")
            remote = sorted(u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss")
                            and urlparse(u).hostname not in LOCAL_HOSTS)
            math = dom.count("<mjx-container")
            print(f"{page}: {math} formulas rendered, {len(urls)} requests, {len(remote)} remote")
            problems += [f"{page} requested {u}" for u in remote]
            if "$" in Path(root / page).read_text() and math == 0:
                problems.append(f"{page}: math present but MathJax rendered nothing")
            if "<mjx-merror" in dom:
                problems.append(f"{page}: MathJax reported an error")
        if (root / EXPLORER_PAGE).is_file():
            problems += explorer_steps(f"http://127.0.0.1:{port}/{EXPLORER_PAGE}", shots)
        else:
            problems.append(f"{EXPLORER_PAGE} is not in the build: the explorer's slider step did not run")
    finally:
        server.shutdown()
    for line in problems:
        print("FAIL", line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
