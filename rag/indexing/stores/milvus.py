"""The Milvus store: chunk and sentence vectors and BM25 in two Milvus collections.

One client code for Milvus Lite (``milvus-lite:PATH.db``, embedded, for tests and demos) and a
Milvus server or cluster (``milvus://HOST:PORT``). Each index owns two collections,
``<name>_chunks`` and ``<name>_sentences`` (the name is recorded in the manifest), with fields

    pk (``doc_id:n``) | doc_id | n | source | date (chunks) | text | sparse | vector

``text`` holds the row's BM25 terms (:func:`rag.indexing.lexical.terms`: stemmed, stop words removed, so
both stores score the same terms; Milvus Lite's analyzer has no stemmer) and Milvus's BM25
function turns it into ``sparse`` (a sparse inverted index); ``vector`` is searched by inner
product. ``doc_id``/``source``/``date`` are there for filters. Rows are keyed by document, so a
write deletes the rows of removed or changed documents and inserts those of new ones only.

The manifest, documents and row layout stay in the index folder, with ``lexical_stats.json``
(document frequencies: the IDF that answer scoring and the coverage signal read).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import StoreError
from rag.indexing.lexical import terms as text_terms
from rag.indexing.stores.base import Change, DocumentRows, Inconsistent, Stores
from rag.indexing.stores.milvus_bm25 import Lexical
from rag.ingestion.chunking import chunk_text

STATS = "lexical_stats.json"
JOURNAL = ".milvus-pending.json"
"""In the index folder while a write is under way: documents whose rows a crash may have left behind."""
BATCH = 1000
"""Rows per insert, ids per ``get``/filter expression."""
MAX_TEXT = 60_000
"""Characters of BM25 terms kept per row (Milvus VARCHAR holds 65,535 bytes)."""

CONNECT_SECONDS = 10
"""How long a client waits for a Milvus server before giving up (StoreError)."""

MAX_LIMIT = 16_384
"""Milvus returns at most this many rows per search (its ``topk`` limit)."""
VECTOR_CACHE = 200_000
"""Vectors kept per collection and process once read (about 300 MB at 384 dimensions)."""

_clients: dict[str, Any] = {}
_caches: dict[tuple[str, str], OrderedDict[str, np.ndarray]] = {}
_clients_lock = threading.Lock()


def client(uri: str) -> Any:
    """One MilvusClient per address and process (Milvus Lite starts its embedded server once per file)."""
    with _clients_lock:
        if uri not in _clients:
            try:
                from pymilvus import MilvusClient

                if not uri.startswith("http"):  # a Milvus Lite file: its folder may be new
                    Path(uri).parent.mkdir(parents=True, exist_ok=True)
                _clients[uri] = MilvusClient(uri=uri, timeout=CONNECT_SECONDS)
            except ImportError:
                raise StoreError("the Milvus store needs pymilvus and milvus-lite: pip install 'rag-cited[milvus]'") from None
            except Exception as err:  # pymilvus raises MilvusException and plain errors alike
                raise StoreError(f"cannot reach the Milvus store at {uri} ({_short(err)})") from None
        return _clients[uri]


def _short(err: BaseException) -> str:
    return " ".join(str(err).split())[:200]


class MilvusBackend:
    """Vectors and BM25 in Milvus (see the module docstring)."""

    required_files = (STATS,)

    def __init__(self, spec: Any, manifest: Mapping[str, Any] | None = None):
        self.spec = spec
        block = manifest.get("store") if manifest else None
        recorded = block.get("collection") if isinstance(block, dict) else None
        self.name = str(recorded) if recorded else f"rag_{uuid.uuid4().hex[:12]}"

    @cached_property
    def client(self) -> Any:
        return client(self.spec.uri)

    def open(self, folder: Path, manifest: Mapping[str, Any], layout: Any) -> Stores:
        stats = json.loads((folder / STATS).read_text("utf-8"))
        if stats.get("chunks", {}).get("n") != len(layout.chunks) or stats.get("sentences", {}).get("n") != len(layout.sentences):
            raise Inconsistent("BM25 statistics differ from the chunks")
        for kind in ("chunks", "sentences"):
            if not self._call("look up", self.client.has_collection, f"{self.name}_{kind}"):
                raise Inconsistent(f"the Milvus collection {self.name}_{kind} is missing from {self.spec}")
            self._call("load a collection", self.client.load_collection, f"{self.name}_{kind}")  # into memory for search
        keys, settings = Keys(layout), json.dumps([manifest.get("settings"), manifest.get("model")], sort_keys=True)
        chunks = Collection(self, f"{self.name}_chunks", keys.chunks, settings)
        sentences = Collection(self, f"{self.name}_sentences", keys.sentences, settings)
        return Stores(
            chunks, sentences, Lexical(chunks, stats["chunks"], lambda c: _chunk_text(layout, c)),
            Lexical(sentences, stats["sentences"], layout.sentence_text), {"client": self.client, "collection": self.name},
        )  # fmt: skip

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            raise StoreError(f"the Milvus store at {self.spec} could not {what} ({_short(err)})") from None

    def write(self, folder: Path, change: Change) -> dict[str, Any]:
        """Delete the rows of removed and changed documents, insert those of new ones (all of them
        when the index moves here from another store), then record the BM25 statistics."""
        journal = folder.parent / JOURNAL
        kept = {r.doc_id for r in change.rows if r.chunk_vectors is None} if change.same_store else set()
        fresh = [r for r in change.rows if r.doc_id not in kept]
        stale = set(_read_journal(journal)) | ({*change.previous_docs} if change.same_store else set())
        stale = (stale | {r.doc_id for r in fresh}) - kept
        journal.write_text(json.dumps(sorted(r.doc_id for r in fresh)), "utf-8")
        self._ensure(change.dim)
        for kind in ("chunks", "sentences"):
            for part in _batches(sorted(stale)):
                self._call("delete rows", self.client.delete, f"{self.name}_{kind}", filter=f"doc_id in {json.dumps(part)}")
        for kind in ("chunks", "sentences"):
            for batch in _batches(list(_entities(fresh, kind, change))):
                self._call("insert rows", self.client.insert, f"{self.name}_{kind}", batch)
            self._call("flush", self.client.flush, f"{self.name}_{kind}")
        (folder / STATS).write_text(json.dumps(_stats(change.rows)), "utf-8")
        return {"kind": self.spec.kind, "uri": self.spec.uri, "collection": self.name}

    def committed(self, index_dir: Path) -> None:
        (Path(index_dir) / JOURNAL).unlink(missing_ok=True)

    def _ensure(self, dim: int) -> None:
        """Create the two collections (schema, BM25 function, indexes) unless they exist."""
        from pymilvus import DataType, Function, FunctionType

        for kind in ("chunks", "sentences"):
            name = f"{self.name}_{kind}"
            if self._call("look up", self.client.has_collection, name):
                continue
            schema = self.client.create_schema(auto_id=False)
            schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=96)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=64)
            schema.add_field("n", DataType.INT64)
            if kind == "chunks":
                schema.add_field("source", DataType.VARCHAR, max_length=512)
                schema.add_field("date", DataType.VARCHAR, max_length=16)
            schema.add_field(
                "text", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params={"tokenizer": "standard"}
            )
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            schema.add_function(
                Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"])
            )
            index = self.client.prepare_index_params()
            if self.spec.kind == "milvus-lite":
                index.add_index("vector", index_type="FLAT", metric_type="IP")
            else:  # a server: approximate search, as one would at scale
                index.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 200})
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
            self._call("create a collection", self.client.create_collection, name, schema=schema, index_params=index)


def _chunk_text(layout: Any, chunk: int) -> str:
    row, start, end = layout.chunk_span(chunk)
    return chunk_text(layout.docs[row], start, end)


def _read_journal(path: Path) -> list[str]:
    try:
        ids = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return []
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


def _batches(items: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _entities(rows: Sequence[DocumentRows], kind: str, change: Change) -> Iterator[dict[str, Any]]:
    """The Milvus rows of documents ``rows``: vectors new, or read from the previous store."""
    for r in rows:
        if kind == "chunks":
            texts, vectors = r.chunk_texts, r.chunk_vectors
            if vectors is None:
                assert change.previous is not None and r.old_chunks is not None
                vectors = change.previous.chunk_vectors.vectors(r.old_chunks)
        else:
            texts, vectors = r.sentence_texts, r.sentence_vectors
            if vectors is None:
                assert change.previous is not None and r.old_sentences is not None
                vectors = change.previous.sentence_vectors.vectors(r.old_sentences)
            vectors = np.asarray(vectors, np.float16)  # as the embedded store keeps them: same similarities
        for n, (text, vector) in enumerate(zip(texts, np.asarray(vectors, np.float32))):
            row = {"pk": f"{r.doc_id}:{n}", "doc_id": r.doc_id, "n": n, "text": " ".join(text_terms(text))[:MAX_TEXT]}
            if kind == "chunks":
                row.update(source=r.source[:500], date=r.date[:16])
            row["vector"] = vector.tolist()
            yield row


def _stats(rows: Sequence[DocumentRows]) -> dict[str, Any]:
    """Row counts and document frequencies of every term, for chunks and for sentences."""
    out: dict[str, Any] = {}
    for kind in ("chunks", "sentences"):
        df: dict[str, int] = {}
        n = length = 0
        for r in rows:
            for text in r.chunk_texts if kind == "chunks" else r.sentence_texts:
                found = text_terms(text)
                n, length = n + 1, length + len(found)
                for term in set(found):
                    df[term] = df.get(term, 0) + 1
        out[kind] = {"n": n, "df": df, "avgdl": length / max(n, 1)}
    return out


class Keys:
    """Global row ids <-> Milvus keys (``doc_id:n``) of one index version."""

    def __init__(self, layout: Any):
        self.docs = [d.id for d in layout.docs]
        self.row = {doc_id: row for row, doc_id in enumerate(self.docs)}
        positions = np.arange(len(self.docs) + 1)
        self.chunks = _KeySpace(self, layout.chunks[:, 0], np.searchsorted(layout.chunks[:, 0], positions))
        self.sentences = _KeySpace(self, layout.sentences[:, 0], np.searchsorted(layout.sentences[:, 0], positions))


class _KeySpace:
    def __init__(self, keys: Keys, rows: np.ndarray, starts: np.ndarray):
        self.keys, self.rows, self.starts = keys, rows, starts

    def pks(self, ids: np.ndarray) -> list[str]:
        rows = self.rows[ids]
        return [f"{self.keys.docs[r]}:{i - self.starts[r]}" for r, i in zip(rows.tolist(), np.asarray(ids).tolist())]

    def id_of(self, doc_id: str, n: int) -> int:
        """The global id, or -1 for a row of a document this version does not hold (a write under way)."""
        row = self.keys.row.get(doc_id)
        if row is None or not 0 <= n < self.starts[row + 1] - self.starts[row]:
            return -1
        return int(self.starts[row] + n)


class Collection:
    """One collection as a vector store (``search``, ``vectors``) and what BM25 queries need."""

    def __init__(self, backend: MilvusBackend, name: str, keys: _KeySpace, settings: str):
        self.backend, self.name, self.keys = backend, name, keys
        # Keys are only stable under the same model and splitting settings: the cache is per settings.
        self.cache: OrderedDict[str, np.ndarray] = _caches.setdefault((name, settings), OrderedDict())

    def _search(self, data: list[Any], field: str, k: int, metric: str, filter: str = "") -> list[list[tuple[int, float]]]:
        found = self.backend._call(
            "search", self.backend.client.search, self.name, data=data, anns_field=field, limit=min(k, MAX_LIMIT), filter=filter,
            output_fields=["doc_id", "n"], search_params={"metric_type": metric},
        )  # fmt: skip
        return [
            [(self.keys.id_of(h["entity"]["doc_id"], int(h["entity"]["n"])), float(h["distance"])) for h in hits]
            for hits in found
        ]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, MAX_LIMIT)
        scores, ids = np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64)
        if k <= 0 or not len(queries):
            return scores, ids
        for q, hits in enumerate(self._search(np.asarray(queries, np.float32).tolist(), "vector", k, "IP")):
            hits = [h for h in hits if h[0] >= 0]
            ids[q, : len(hits)] = [i for i, _ in hits]
            scores[q, : len(hits)] = [s for _, s in hits]
        return scores, ids

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """Read from Milvus, then kept in a bounded cache: a key names a document's content hash and a
        position, so its vector never changes (the cache stays right across versions)."""
        pks = self.keys.pks(np.asarray(ids, np.int64))
        wanted = sorted({pk for pk in pks if pk not in self.cache})
        for part in _batches(wanted):
            for row in self.backend._call("read vectors", self.backend.client.get, self.name, ids=part, output_fields=["vector"]):
                self.cache[row["pk"]] = np.asarray(row["vector"], np.float32)
        missing = [pk for pk in pks if pk not in self.cache]
        if missing:
            raise StoreError(f"the Milvus collection {self.name} lacks rows of this index (e.g. {missing[0]}): rebuild it")
        out = np.stack([self.cache[pk] for pk in pks]) if pks else np.zeros((0, 0), np.float32)
        while len(self.cache) > VECTOR_CACHE:
            self.cache.popitem(last=False)  # the oldest first
        return out

    def bm25(self, texts: list[str], k: int) -> list[list[tuple[int, float]]]:
        """Each text's ``k`` best rows by Milvus's BM25 (its ``text`` terms), scores >= 0."""
        # Milvus returns BM25 as a score, Milvus Lite as its negation (a distance): the size is what counts.
        return [[(i, abs(s)) for i, s in hits if i >= 0] for hits in self._search(texts, "sparse", k, "BM25")]
