"""Response time of the explorer's /api/generate over real HTTP (uvicorn on 127.0.0.1), and a screenshot.

    python benchmarks/explorer_latency.py RUN_DIR [--requests 200] [--screenshot docs/explorer.png]

Prints and writes benchmarks/results/explorer_latency.json: median and 95th-percentile milliseconds per
request, each request a different slider value (no caching), measured from a client in the same machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

import common
from common import ROOT


def main() -> int:
    import uvicorn

    from infogan.serve.explorer import create_app

    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--screenshot", default=None, help="save a Chromium screenshot of the page here")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "explorer_latency.json"))
    args = ap.parse_args()

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(create_app(args.run_dir), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    urllib.request.urlopen(f"{base}/api/generate").read()  # loads the generator
    times = []
    for i in range(args.requests):
        value = -2 + 4 * i / max(args.requests - 1, 1)
        t = time.perf_counter()
        body = urllib.request.urlopen(f"{base}/api/generate?category={i % 10}&c1={value:.3f}&seed={i}").read()
        times.append((time.perf_counter() - t) * 1000)
        assert body[:4] == b"\x89PNG"
    result = common.header(
        "explorer_latency",
        run_dir=args.run_dir,
        requests=args.requests,
        median_ms=round(statistics.median(times), 2),
        p95_ms=round(sorted(times)[int(0.95 * len(times)) - 1], 2),
        max_ms=round(max(times), 2),
    )
    print(json.dumps(result, indent=2))
    common.save(result, args.out)

    chromium = shutil.which("chromium")
    if args.screenshot and chromium:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            )
            page = browser.new_page(viewport={"width": 960, "height": 640})
            page.goto(base + "/")
            page.wait_for_function("document.getElementById('image').dataset.query !== undefined")
            page.locator(".cats button").nth(3).click()
            page.locator("#c1").fill("1.2")
            page.wait_for_function("document.getElementById('image').dataset.query.includes('c1=1.200')")
            page.wait_for_timeout(300)
            Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.screenshot, full_page=True)
            browser.close()
        print(f"screenshot: {args.screenshot}")
    server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
