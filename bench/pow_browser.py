"""How fast the waiting room's bot check is solved in a real browser: the page's own solver
(`ticketing_app/waiting/pow_solver.js`) in Chromium, on fresh challenges, hashes per second and
solve times. The default difficulty (`domain/pow.py`, DEFAULT_BITS) is chosen from this.

    python -m bench.pow_browser --bits 18 --runs 10 [--workers 4] [--inline]

Each run's hash count is geometric (mean 2^bits), so single solve times vary a lot; the rate is
the stable number: the expected solve time is 2^bits / rate.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import typer

from ticketing_app.domain.pow import leading_zero_bits, solution_digest
from ticketing_app.waiting.solver import solver_source

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
PAGE = b"<!doctype html><title>pow</title><progress id='pow-progress' max='100'></progress>"


class _Blank(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *_: Any) -> None:
        pass


def measure(bits: int, runs: int, workers: int, inline: bool, batch: int = 1024,
            headless: bool = True) -> list[dict[str, Any]]:
    """Solve `runs` fresh challenges in Chromium (a secure context: http://localhost)."""
    from playwright.sync_api import sync_playwright

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Blank)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = os.environ.get("BROWSER_PATH") or "/usr/bin/chromium"
    out = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                headless=headless, args=CHROMIUM_ARGS,
                executable_path=path if Path(path).exists() else None)
            page = browser.new_page()
            page.goto(f"http://localhost:{server.server_address[1]}/")
            for _ in range(runs):
                challenge = f"p1.bench.{bits}.{secrets.token_hex(12)}"
                opts = {"maxWorkers": workers, "inline": inline, "batch": batch}
                res = page.evaluate(f"([c, b, o]) => ({solver_source()})(c, b, o)",
                                    [challenge, bits, opts])
                assert "error" not in res, res
                assert leading_zero_bits(solution_digest(challenge, res["counter"])) >= bits
                out.append(res)
            browser.close()
    finally:
        server.shutdown()
    return out


def main(
    bits: Annotated[int, typer.Option(help="leading zero bits")] = 18,
    runs: Annotated[int, typer.Option(help="challenges to solve")] = 10,
    workers: Annotated[int, typer.Option(help="at most this many Web Workers")] = 1,
    inline: Annotated[bool, typer.Option(help="solve on the page, no workers")] = False,
    batch: Annotated[int, typer.Option(help="digests in flight per worker")] = 1024,
) -> None:
    res = measure(bits, runs, workers, inline, batch)
    hashes = sum(r["hashes"] for r in res)
    seconds = sum(r["ms"] for r in res) / 1000
    rate = hashes / seconds if seconds else 0.0
    summary = {
        "bits": bits, "runs": runs, "batch": batch, "mode": res[0]["mode"],
        "workers": res[0]["workers"],
        "cores": os.cpu_count(), "hashesPerSecond": round(rate),
        "expectedSolveSeconds": round(2**bits / rate, 2) if rate else None,
        "solveSeconds": {"median": round(statistics.median(r["ms"] for r in res) / 1000, 2),
                         "max": round(max(r["ms"] for r in res) / 1000, 2)},
    }
    typer.echo(json.dumps(summary))


if __name__ == "__main__":
    typer.run(main)
