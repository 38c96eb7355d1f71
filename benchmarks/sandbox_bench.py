"""Sandbox benchmark: handbook seeding time (cold and cached) and GET /content/{id} throughput on loopback.

    python benchmarks/sandbox_bench.py [--corpus ../shared/corpora/handbook.jsonl] [--seconds 3]

Targets from issue 2: load the 882-page handbook in <= 5 s; serve >= 500 GET /content/{id} per second.
Prints figures only (no assertions): timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from confluence_mcp.sandbox.app import build_app
from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox
from confluence_mcp.sandbox.seed import load_corpus
from confluence_mcp.sandbox.store import Store, default_user

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora" / "handbook.jsonl"


def time_load(corpus: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds incl. conversion workers, pages); CPU is fairer on a busy machine."""
    store = Store("cloud", user=default_user("sandbox@example.com"))
    began, began_cpu = time.perf_counter(), time.process_time() + _children_cpu()
    pages = load_corpus(store, corpus)
    return time.perf_counter() - began, time.process_time() + _children_cpu() - began_cpu, pages


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_gets(base_url: str, auth: tuple[str, str], ids: list[str], seconds: float, workers: int) -> float:
    """Requests per second over `seconds`, with `workers` keep-alive clients in threads."""
    counts = [0] * workers
    stop_at = time.perf_counter() + seconds

    def worker(slot: int) -> None:
        with httpx.Client(base_url=base_url, auth=auth, timeout=10) as client:
            index = slot
            while time.perf_counter() < stop_at:
                response = client.get(f"/rest/api/content/{ids[index % len(ids)]}")
                response.raise_for_status()
                counts[slot] += 1
                index += workers

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(workers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - began)


def measure_app_only(corpus: Path, ids: list[str], count: int = 2000) -> float:
    """Requests per second through the ASGI app alone (no sockets, no HTTP parsing): the app's ceiling."""
    import asyncio
    import base64

    app = build_app(SandboxOptions(seed=str(corpus)))
    token = b"Basic " + base64.b64encode(b"sandbox@example.com:sandbox-token")

    async def run() -> None:
        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            return None

        for number in range(count):
            path = f"/wiki/rest/api/content/{ids[number % len(ids)]}"
            scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
                     "headers": [(b"host", b"127.0.0.1:1"), (b"authorization", token)], "scheme": "http",
                     "server": ("127.0.0.1", 1), "client": ("127.0.0.1", 2), "root_path": "",
                     "http_version": "1.1", "asgi": {"version": "3.0"}}
            await app(scope, receive, send)  # type: ignore[arg-type]

    began = time.perf_counter()
    asyncio.run(run())
    return count / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS.resolve())
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}  load average: {os.getloadavg()[0]:.2f}")

    with tempfile.TemporaryDirectory() as cache_home:
        os.environ["XDG_CACHE_HOME"] = cache_home  # a private cache: the first load is truly cold
        cold, cold_cpu, pages = time_load(args.corpus)
        warm, warm_cpu, _ = time_load(args.corpus)
    print(f"seed {pages} pages: cold {cold:.2f} s wall / {cold_cpu:.2f} s CPU (markdown→storage + text + "
          f"index); cached conversion {warm:.2f} s wall / {warm_cpu:.2f} s CPU   [target <= 5 s]")

    # A subprocess sandbox, so the benchmark's own HTTP clients do not share the server's GIL.
    with start_sandbox(SandboxOptions(seed=str(args.corpus)), subprocess=True) as sandbox:
        listing = httpx.get(sandbox.base_url + "/rest/api/content", params={"limit": 200}, auth=sandbox.auth)
        ids = [item["id"] for item in listing.json()["results"]]
        for workers in (1, 4):
            rate = measure_gets(sandbox.base_url, sandbox.auth, ids, args.seconds, workers)
            print(f"GET /content/{{id}} (default expand), {workers} client(s): {rate:.0f} req/s   [target >= 500]")
    print(f"same, ASGI app alone (no sockets): {measure_app_only(args.corpus, ids):.0f} req/s")


if __name__ == "__main__":
    main()
