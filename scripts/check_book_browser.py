"""Open built book pages in headless Chromium, served from 127.0.0.1, and check that
(1) MathJax rendered the math on them and (2) none of the page's requests left the machine.

Usage: python scripts/check_book_browser.py [_build/html] [page.html ...]
Needs Debian's chromium package. Exits non-zero with the offending URLs or pages.
"""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import tempfile
import threading
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


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "_build/html").resolve()
    pages = argv[1:] or ["index.html", "book/_executed/fig05_ntk_map.html", "book/_executed/scorecard.html"]
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
    finally:
        server.shutdown()
    for line in problems:
        print("FAIL", line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
