"""End-to-end relevance: the handbook served by the sandbox, indexed and searched through the MCP tools.

Unlike `relevance.py` (which indexes the corpus markdown directly), this goes the way a user's data goes:
sandbox (markdown → storage) → `index_data` over REST → `search_index`. Reports page-level recall@5 and MRR for
each question file, with the tool's defaults and with `one_per_page=true`.

    python benchmarks/relevance_e2e.py [--corpus PATH] [--questions A.jsonl B.jsonl ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from confluence_mcp.config import load_settings  # noqa: E402
from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox  # noqa: E402
from confluence_mcp.server import build_server  # noqa: E402

HERE = Path(__file__).resolve().parent
SPACES = ["BENEFITS", "COMPANY", "DEPT", "HANDBOOK", "STRATEGY", "TEAM"]


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(ranked: list[list[str]], targets: list[str]) -> tuple[float, float]:
    recall = sum(t in r[:5] for r, t in zip(ranked, targets, strict=True)) / len(targets)
    mrr = sum(1 / (r.index(t) + 1) if t in r else 0.0 for r, t in zip(ranked, targets, strict=True)) / len(targets)
    return recall, mrr


def distinct(titles: list[str]) -> list[str]:
    seen: list[str] = []
    for title in titles:
        if title not in seen:
            seen.append(title)
    return seen


async def run(corpus: Path, question_files: list[Path], data_dir: Path) -> None:
    with start_sandbox(SandboxOptions(seed=str(corpus)), subprocess=True) as sandbox:
        settings = load_settings(environ={}, overrides={
            "credentials": {"default": {"base_url": sandbox.base_url, "username": "sandbox@example.com",
                                        "api_token": "sandbox-token"}},
            "toolkits": {"default": {"space": "HANDBOOK", "allowed_spaces": SPACES, "max_pages": 50}},
            "index": {"data_dir": str(data_dir)},
        })
        async with Client(build_server(settings)) as client:
            began = time.perf_counter()
            for space in SPACES:
                result = await client.call_tool("index_data", {"collection": "handbook", "space": space})
                assert not result.is_error, result.content
            print(f"indexed 6 spaces in {time.perf_counter() - began:.1f} s")
            for path in question_files:
                questions = load(path)
                for label, extra in (("defaults", {}), ("one_per_page", {"one_per_page": True})):
                    ranked, times = [], []
                    for q in questions:
                        t = time.perf_counter()
                        result = await client.call_tool("search_index", {"query": q["question"],
                                                                          "collection": "handbook", **extra})
                        times.append(time.perf_counter() - t)
                        hits = (result.structured_content or {}).get("results", [])
                        # Chunk results: a page counts at the rank of its first chunk.
                        ranked.append(distinct([h["title"] for h in hits]) if label == "one_per_page"
                                      else [h["title"] for h in hits])
                    recall, mrr = score(ranked, [q["title"] for q in questions])
                    times.sort()
                    print(f"{path.name:<32} {label:<13} n={len(questions):<3} recall@5 {recall:.3f}  MRR {mrr:.3f}"
                          f"  p50 {times[len(times) // 2] * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpora" / "handbook.jsonl")
    parser.add_argument("--questions", type=Path, nargs="*",
                        default=[HERE / "relevance_questions.jsonl", HERE / "relevance_validation.jsonl",
                                 HERE / "relevance_fresh.jsonl"])
    args = parser.parse_args()
    if not args.corpus.is_file():
        raise SystemExit(f"corpus {args.corpus} not found")
    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(run, args.corpus, [q for q in args.questions if q.is_file()], Path(tmp))


if __name__ == "__main__":
    main()
