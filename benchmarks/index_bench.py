"""Index benchmark: the 882-page handbook through the sandbox into the semantic index, side by side with a
LangChain-style baseline (the seed toolkit's pipeline).

    python benchmarks/index_bench.py [--corpus ../shared/corpora/handbook.jsonl] [--space DEPT] [--skip-baseline]

Ours: full index, no-change re-index, one edited page re-indexed (targets from issue 5: <= 15 s, <= 5 % of full,
<= 1 s). The sandbox runs in a subprocess, as a real Confluence would be another machine.

Baseline: the seed toolkit's pipeline, LangChain `ConfluenceLoader` (view format → markdownify) + `PGVector` (ONE
vector per page, `add_documents` in batches of 20), same sandbox, Postgres and embedder, in two configurations:
`seed` is what the seed's `index_data` runs by default (10 bodies per request, `include_restricted_content=False`,
so one restriction GET per page) and is the one the target is judged against; `tuned` is the loader at its best
(50 bodies per request, no restriction check). With `--langchain-python` (a venv holding langchain-community,
langchain-postgres and atlassian-python-api<4; newer atlassian releases break the loader) it runs the real
packages in a subprocess; otherwise a minimal re-implementation of the same steps. Its re-index downloads and
converts every page again and skips embedding only for unchanged pages (the seed's dedup on `updated_on`).
Prints figures only.

Set CONFLUENCE_MCP_DATABASE_URL to use an external Postgres; otherwise an embedded one in a temp directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from confluence_mcp.config import IndexSettings, Settings, load_settings
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.index.embedders import load_embedder
from confluence_mcp.index.pg import EmbeddedPostgres, create_database
from confluence_mcp.index.service import close_shared_stores, open_service
from confluence_mcp.index.sync import IndexReport, Selection, index_pages
from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "handbook.jsonl"
AUTH = ("sandbox@example.com", "sandbox-token")


def settings_for(base_url: str, dsn: str) -> Settings:
    return load_settings(overrides={
        "credentials": {"default": {"base_url": base_url, "username": AUTH[0], "api_token": AUTH[1]}},
        "toolkits": {"default": {}},
        "index": {"database_url": dsn},
    }, environ={})


async def run_ours(settings: Settings, selection: Selection) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    async with ConfluenceClient(settings.resolved_toolkits()[0]) as client:
        service = await open_service(settings)
        await service.embedder()  # model load is a one-off per process; not part of an indexing run
        try:
            await service.drop_collection("bench")
            full: IndexReport = await index_pages(service, client, "bench", selection)
            figures["full"] = full
            figures["noop"] = await index_pages(service, client, "bench", selection)
            listing = await client.content_search(selection.query(), limit=1, expand="version")
            page = await client.get_page(str(listing.results[0]["id"]), expand="version,body.storage")
            await client.update_page(page["id"], title=page["title"], version=page["version"]["number"] + 1,
                                     storage=page["body"]["storage"]["value"] + "<p>Edited by the benchmark.</p>")
            figures["edit"] = await index_pages(service, client, "bench", selection)
        finally:
            await close_shared_stores()
    return figures


# Loader settings of the two baseline configurations: bodies per request, and whether restricted pages are kept
# without asking (False = one restriction GET per page, the seed's default).
BASELINES = {"seed": (10, False), "tuned": (50, True)}


def langchain_baseline(base_url: str, dsn: str, space: str | None, config: str) -> dict[str, float]:
    """The real LangChain pipeline: `ConfluenceLoader` (view format → markdownify) + `PGVector`, batches of 20."""
    import psycopg
    import sqlalchemy
    from langchain_community.document_loaders import ConfluenceLoader
    from langchain_community.document_loaders.confluence import ContentFormat
    from langchain_core.embeddings import Embeddings
    from langchain_postgres import PGVector

    embedder = load_embedder(IndexSettings())

    class SameEmbedder(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in row] for row in embedder.embed_batch(list(texts))]

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    engine = sqlalchemy.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn))
    store = PGVector(embeddings=SameEmbedder(), collection_name="bench", connection=engine, use_jsonb=True,
                     pre_delete_collection=True)

    def one_run(stored: dict[str, str]) -> float:
        began = time.perf_counter()
        limit, keep_restricted = BASELINES[config]
        loader = ConfluenceLoader(url=base_url, username=AUTH[0], api_key=AUTH[1], cloud=True, space_key=space,
                                  cql=None if space else "type = page", content_format=ContentFormat.VIEW,
                                  keep_markdown_format=True, include_restricted_content=keep_restricted,
                                  limit=limit, max_pages=100_000)
        documents = loader.load()
        fresh = [d for d in documents if stored.get(d.metadata["id"]) != d.metadata["when"]]
        for start in range(0, len(fresh), 20):
            batch = fresh[start:start + 20]
            store.add_documents(batch, ids=[d.metadata["id"] for d in batch])
            stored.update({d.metadata["id"]: d.metadata["when"] for d in batch})
        return time.perf_counter() - began

    stored: dict[str, str] = {}
    return {"full": one_run(stored), "noop": one_run(stored), "kind": 1.0}


def emulated_baseline(base_url: str, dsn: str, space: str | None, config: str) -> dict[str, float]:
    """The same pipeline re-implemented minimally, for machines without the LangChain packages."""
    import psycopg
    from markdownify import markdownify
    from pgvector.psycopg import register_vector

    embedder = load_embedder(IndexSettings())
    with psycopg.connect(dsn, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("DROP TABLE IF EXISTS langchain_pg_embedding")
        conn.execute(f"CREATE TABLE langchain_pg_embedding (id text PRIMARY KEY, collection text, document text, "
                     f"cmetadata jsonb, embedding vector({embedder.dimensions}))")

        def one_run(stored: dict[str, str]) -> float:
            began = time.perf_counter()
            cql = f'space = "{space}" AND type = page' if space else "type = page"
            limit, keep_restricted = BASELINES[config]
            documents: list[tuple[str, str, dict[str, Any]]] = []
            with httpx.Client(base_url=f"{base_url}/rest/api", auth=AUTH, timeout=60) as http:
                start = 0
                while True:  # the loader's offset paging, bodies included
                    body = http.get("/content/search", params={"cql": cql, "limit": limit, "start": start,
                                                               "expand": "body.view,version"}).json()
                    for page in body["results"]:
                        if not keep_restricted:
                            http.get(f"/content/{page['id']}/restriction/byOperation").raise_for_status()
                        text = markdownify(page["body"]["view"]["value"], heading_style="ATX")
                        documents.append((str(page["id"]), text, {"title": page["title"], "id": str(page["id"]),
                                                                  "when": page["version"]["when"]}))
                    if len(body["results"]) < limit:
                        break
                    start += limit
            fresh = [d for d in documents if stored.get(d[0]) != d[2]["when"]]
            for start in range(0, len(fresh), 20):  # PGVector.add_texts in batches of 20
                batch = fresh[start:start + 20]
                vectors = embedder.embed_batch([text for _, text, _ in batch])
                for (page_id, text, meta), vector in zip(batch, vectors, strict=True):
                    conn.execute("INSERT INTO langchain_pg_embedding VALUES (%s, 'bench', %s, %s, %s) ON CONFLICT "
                                 "(id) DO UPDATE SET document = EXCLUDED.document, embedding = EXCLUDED.embedding",
                                 (page_id, text, json.dumps(meta), vector))
                    stored[page_id] = meta["when"]
            return time.perf_counter() - began

        stored: dict[str, str] = {}
        return {"full": one_run(stored), "noop": one_run(stored), "kind": 0.0}


def run_baseline(base_url: str, dsn: str, space: str | None, langchain_python: str | None,
                 config: str) -> dict[str, float]:
    """The real LangChain pipeline in `langchain_python` (a venv with the packages), else the emulation."""
    if not langchain_python:
        return emulated_baseline(base_url, dsn, space, config)
    root = str(Path(__file__).resolve().parents[1])
    command = [langchain_python, __file__, "--langchain-worker", base_url, dsn, space or "", config]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=root,
                          env={**os.environ, "PYTHONPATH": root}, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"LangChain baseline failed:\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--space", help="index one space only (default: every page)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--langchain-python", default=os.environ.get("INDEX_BENCH_LANGCHAIN_PYTHON"),
                        help="python of a venv with langchain-community, langchain-postgres and "
                             "atlassian-python-api<4 (default: emulate the pipeline)")
    parser.add_argument("--langchain-worker", nargs=4, metavar=("BASE_URL", "DSN", "SPACE", "CONFIG"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.langchain_worker:
        base_url, dsn, space, config = args.langchain_worker
        print(json.dumps(langchain_baseline(base_url, dsn, space or None, config)))
        return 0

    with tempfile.TemporaryDirectory(prefix="index-bench-") as tmp:
        external = os.environ.get("CONFLUENCE_MCP_DATABASE_URL")
        server = None
        if external:
            root_dsn = external
        else:
            server = EmbeddedPostgres(Path(tmp) / "pg")
            root_dsn = server.start()
        dsn = create_database(root_dsn, "index_bench")
        began = time.perf_counter()
        sandbox = start_sandbox(SandboxOptions(seed=args.corpus), subprocess=True)
        print(f"sandbox with {args.corpus.name} ready in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        try:
            settings = settings_for(sandbox.base_url, dsn)
            selection = Selection(space=args.space, cql=None if args.space else "type = page")
            ours = anyio.run(run_ours, settings, selection)
            baselines = {} if args.skip_baseline else {
                config: run_baseline(sandbox.base_url, dsn, args.space, args.langchain_python, config)
                for config in BASELINES}
        finally:
            sandbox.stop()
            if server is not None:
                server.stop()
    report(ours, baselines)
    return 0


def report(ours: dict[str, Any], baselines: dict[str, dict[str, float]]) -> None:
    full, noop, edit = ours["full"], ours["noop"], ours["edit"]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"ours     full index     {full.seconds:7.2f} s  ({full.added} pages, {full.chunks} chunks)  target <= 15 s")
    print(f"ours     no-change      {noop.seconds:7.2f} s  ({noop.seconds / full.seconds:.1%} of full, "
          f"{noop.unchanged} unchanged)  target <= 5 %")
    print(f"ours     one edited     {edit.seconds:7.2f} s  (updated {edit.updated}, {edit.chunks} chunks)  "
          f"target <= 1 s")
    for config, baseline in baselines.items():
        kind = "real LangChain ConfluenceLoader + PGVector" if baseline.get("kind") else "emulated LangChain"
        limit, keep_restricted = BASELINES[config]
        print(f"baseline {config}: {kind}, {limit} bodies per request, "
              f"{'no restriction check' if keep_restricted else 'one restriction GET per page'}")
        print(f"  full index            {baseline['full']:7.2f} s  (one vector per page)")
        print(f"  no-change             {baseline['noop']:7.2f} s  (re-downloads every page)")
        target = "  target >= 5x" if config == "seed" else ""
        print(f"  speed-up full {baseline['full'] / full.seconds:.1f}x, "
              f"no-change {baseline['noop'] / noop.seconds:.1f}x{target}")


if __name__ == "__main__":
    sys.exit(main())
