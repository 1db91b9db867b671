"""Build or update an index: documents -> sentences -> chunks -> vectors -> store.

Incremental: documents whose content hash is unchanged keep their sentences, chunks and
vectors from the current index; only new or changed documents are embedded.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import BuildInterrupted, EmptyIndexError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.indexing import commit, store, stores
from rag.indexing.embedding import Embedder, SentenceTransformerEmbedder
from rag.indexing.lexical import BM25_STEMMER, QUESTION_WORDS_VERSION
from rag.indexing.resume import VectorCache
from rag.indexing.sources import Sources
from rag.indexing.stores.base import Change, DocumentRows
from rag.ingestion.chunking import chunk_sentences, chunk_text, embedding_text
from rag.ingestion.documents import load_documents
from rag.ingestion.sentences import split_sentences, split_to_fit
from rag.ingestion.structure import section_at
from rag.records import BuildReport, Chunk, Document, Sentence
from rag.settings import FORMAT_VERSION, BuildOptions, make_options

EMBED_WINDOW_TOKENS = 200
"""Sentences are embedded in windows of about this many cl100k tokens (re-packed smaller
when the model would truncate one): the context each in-context sentence vector sees."""


@dataclass
class Parts:
    """Sentences, chunks and vectors of one document, ready to assemble. A document unchanged
    since the previous version has no vectors here but their ids there (``old_*``)."""

    sentences: np.ndarray  # (n, 2) start, end
    chunks: np.ndarray  # (m, 3) first, last (document-local), tokens
    chunk_vectors: np.ndarray | None
    sentence_vectors: np.ndarray | None
    old_chunks: np.ndarray | None = None
    old_sentences: np.ndarray | None = None


def write_index(
    sources: Sources,
    index_dir: str | Path = "index",
    *,
    embedder: Embedder | None = None,
    on_progress: Progress | None = None,
    **options: Any,
) -> BuildReport:
    """Make the index at ``index_dir`` hold exactly the documents of ``sources``.

    The caller holds :func:`rag.indexing.commit.build_lock` (see :mod:`rag.manage`, which decides what
    the sources are). Options are those of :class:`rag.settings.BuildOptions`. Only new or
    changed documents are embedded; when neither documents, settings nor sources changed it
    returns at once without writing. The new version (with ``sources`` in its manifest) is
    swapped in atomically, so a crash leaves the previous index loadable. ``on_progress``, if
    given, is called with ``(fraction 0..1, what is happening)`` as the build goes (embedding
    is reported every few hundred passages).
    """
    started = time.perf_counter()
    opts = make_options(BuildOptions, options)
    index_path = Path(index_dir)
    roots = sources.roots(index_path)
    if not roots:
        raise EmptyIndexError("no documents given: pass files or folders to index")
    _tell(on_progress, 0.0, "reading documents")
    found, skipped = load_documents(roots, _files_read(on_progress))
    docs, skipped = _unique([d for d in found if sources.keeps(d)], skipped)
    if not docs:
        raise EmptyIndexError(f"no supported documents found in {', '.join(roots)}: an index needs at least one document")
    old = _previous(index_path)
    spec = _store(opts.store, index_path)
    emb = embedder or SentenceTransformerEmbedder(opts.model, opts.batch_size)
    settings = _settings(opts, emb)
    reusable = _reusable(old, settings, emb)
    counts = _diff({d.key: d.id for d in reusable.docs} if reusable else {}, {d.key: d.id for d in docs})
    if reusable is not None and _unchanged(old, settings, sources, counts) and stores.spec_of(old.manifest) == spec:  # type: ignore[union-attr]
        return _report(index_path, reusable, counts, started, skipped, changed=False)
    cache = VectorCache(
        index_path, {k: str(settings[k]) for k in ("model", "weights_sha256", "embedding", "max_sentence_tokens")}
    )
    parts = _parts(docs, reusable, emb, opts, _reporter(on_progress, opts.progress), cache)
    data = assemble(docs, parts, reusable, spec, _manifest(docs, emb, settings, sources, _dim(parts, emb)))
    if old is not None:
        data.manifest["previous"] = old.version
    _tell(on_progress, 0.97, "saving the new index version")
    commit.save(index_path, data)
    cache.clear()  # committed: the vectors are in the index now
    _tell(on_progress, 1.0, "done")
    return _report(index_path, data, counts, started, skipped, changed=True)


def _store(option: str, index_path: Path) -> stores.StoreSpec:
    """The store a write goes to: the option, or (``auto``) the one the index uses now."""
    if option != stores.AUTO:
        return stores.parse_store(option)
    try:
        return stores.spec_of(store.read_manifest(index_path, store.REUSABLE_FORMATS))
    except (IndexNotFoundError, IndexMismatchError, IndexCorruptError):
        return stores.StoreSpec()


def _unchanged(old: store.IndexData | None, settings: dict[str, Any], sources: Sources, counts: dict[str, int]) -> bool:
    """True when a build would write exactly what is there (nothing to do)."""
    return (
        old is not None
        and old.manifest.get("format_version") == FORMAT_VERSION
        and old.manifest.get("settings", {}) == settings
        and old.manifest.get("sources") == sources.to_json()
        and not any(counts[k] for k in ("added", "updated", "removed"))
    )


Progress = Callable[[float, str], None]
Reporter = Callable[..., None]
EMBED_SLICE = 32
"""Embedding windows per progress report (sorted by length first, so batches stay compact): one
batch of the model, so the UI's progress bar moves every few seconds on a large upload."""


def _files_read(on_progress: Progress | None) -> Callable[[int, int], None]:  # noqa: D103
    return lambda done, total: _tell(on_progress, 0.05 * (done / total), f"reading documents: {done} of {total} files")


def _tell(on_progress: Progress | None, fraction: float, message: str) -> None:
    if on_progress is not None:
        on_progress(fraction, message)


def _reporter(on_progress: Progress | None, bar: bool) -> Progress:
    """Embedding progress (``done/total`` as a fraction) to the callback and, on a terminal, a tqdm bar."""
    from tqdm import tqdm

    state: dict[str, Any] = {}

    def report(fraction: float, message: str, done: int = -1, total: int = 0) -> None:
        if bar and total and sys.stderr.isatty():  # passages embedded of total; tqdm's ETA from the rate so far
            state.setdefault("bar", tqdm(total=total, desc="Embedding passages", unit="passage", initial=max(done, 0)))
            state["bar"].update(done - state["bar"].n)
            if done >= total:
                state["bar"].close()
        _tell(on_progress, 0.05 + 0.85 * fraction, message)

    return report


def _unique(docs: list[Document], skipped: list[str]) -> tuple[list[Document], list[str]]:
    """Drop documents whose text repeats an earlier one (a note goes to ``skipped``)."""
    seen: dict[str, str] = {}
    out = []
    for doc in docs:
        body = doc.text[doc.body_start :].strip()
        if body in seen:
            skipped.append(f"{doc.key}: duplicate of {seen[body]}, skipped")
            continue
        seen[body] = doc.key
        out.append(doc)
    return out, skipped


def _previous(index_dir: Path) -> store.IndexData | None:
    try:
        return store.load(index_dir, store.REUSABLE_FORMATS)
    except (IndexNotFoundError, IndexMismatchError, IndexCorruptError):
        return None  # nothing reusable: a full build replaces it


def _reusable(old: store.IndexData | None, settings: dict[str, Any], emb: Embedder) -> store.IndexData | None:
    """The previous index when its vectors came from this model with these chunking settings
    (BM25 is rebuilt on every write anyway), else None: everything is embedded again."""
    if old is None or _embedding_settings(old.manifest.get("settings", {})) != _embedding_settings(settings):
        return None
    try:
        store.check_model(old.manifest, emb.name, emb.weights_sha256, old.version)
    except IndexMismatchError:
        return None  # a manifest whose model block disagrees with its settings
    return old


def _settings(opts: BuildOptions, emb: Embedder) -> dict[str, Any]:
    return {
        "model": emb.name,
        "weights_sha256": emb.weights_sha256,
        "token_encoding": "cl100k_base",
        "chunk_tokens": opts.chunk_tokens,
        "overlap_tokens": opts.overlap_tokens,
        "max_sentence_tokens": opts.max_sentence_tokens,
        "bm25_stemmer": BM25_STEMMER,
        "bm25_stopwords": QUESTION_WORDS_VERSION,
        "splitter": "blingfire-structure-v3",  # bump when sentence/chunk code changes: forces a rebuild
        "embedding": f"sentence-windows-{EMBED_WINDOW_TOKENS}-v1",
    }


def _embedding_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if not k.startswith("bm25_")}


def _diff(old: dict[str, str], new: dict[str, str]) -> dict[str, int]:
    return {
        "added": sum(k not in old for k in new),
        "updated": sum(k in old and old[k] != v for k, v in new.items()),
        "removed": sum(k not in new for k in old),
        "unchanged": sum(old.get(k) == v for k, v in new.items()),
    }


def _parts(
    docs: list[Document], old: store.IndexData | None, emb: Embedder, opts: BuildOptions, report: Reporter, cache: VectorCache
) -> dict[str, Parts]:
    """Every document's parts: unchanged ones from the previous version, the others split and embedded."""
    parts = _reused_parts(old, {d.id for d in docs}) if old else {}
    fresh = [d for d in docs if d.id not in parts]
    parts.update(_new_parts(fresh, emb, opts, report, cache))
    report(1.0, "building the keyword (BM25) indexes")
    return parts


def _dim(parts: dict[str, Parts], emb: Embedder) -> int:
    # From the vectors when there are any, so a build that only removes documents never loads the model.
    fresh = next((p.chunk_vectors for p in parts.values() if p.chunk_vectors is not None), None)
    return int(fresh.shape[1]) if fresh is not None else -1


def assemble(
    docs: list[Document], parts: dict[str, Parts], old: store.IndexData | None, spec: stores.StoreSpec, manifest: dict
) -> store.IndexData:
    """The new version's layout, and the write its store must make (run by :func:`rag.indexing.commit.save`).

    ``manifest``: its fields but the counts, filled in here (``model.dim`` -1: the previous version's).
    """
    sentences, chunks, rows = [], [], []
    n_sent = 0
    for row, doc in enumerate(docs):
        p = parts[doc.id]
        sentences.append(np.column_stack([np.full(len(p.sentences), row), p.sentences]))
        chunks.append(np.column_stack([np.full(len(p.chunks), row), p.chunks[:, :2] + n_sent, p.chunks[:, 2]]))
        rows.append(_rows(doc, p))
        n_sent += len(p.sentences)
    if manifest["model"]["dim"] < 0:
        manifest["model"]["dim"] = int(old.manifest["model"]["dim"]) if old is not None else 0
    manifest["counts"] = {"documents": len(docs), "sentences": n_sent, "chunks": sum(len(r.chunk_texts) for r in rows)}
    same = old is not None and stores.spec_of(old.manifest) == spec
    backend = stores.backend(spec.kind)(spec, old.manifest if same and old is not None else None)
    change = Change(
        rows, old.stores if old is not None else None, [d.id for d in old.docs] if old else [], same, manifest["model"]["dim"]
    )
    data = store.IndexData(manifest, docs, np.vstack(sentences), np.vstack(chunks))
    data.write = (backend, change)
    return data


def _rows(doc: Document, p: Parts) -> DocumentRows:
    """What ``doc`` puts in the store: its chunks' BM25 texts (as embedded: metadata and section
    title first) and its sentences, with their vectors."""
    chunk_texts = [chunk_text(doc, int(p.sentences[a][0]), int(p.sentences[b - 1][1])) for a, b, _ in p.chunks]
    sentence_texts = [doc.text[a:b] for a, b in p.sentences]
    return DocumentRows(
        doc.id, doc.source, doc.date[:10], chunk_texts, sentence_texts, p.chunk_vectors, p.sentence_vectors,
        p.old_chunks, p.old_sentences,
    )  # fmt: skip


def _manifest(docs: list[Document], emb: Embedder, settings: dict, sources: Sources, dim: int) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "model": {"name": emb.name, "weights_sha256": emb.weights_sha256, "dim": dim},
        "token_encoding": "cl100k_base",
        "settings": settings,
        "paths": list(sources.paths),
        "sources": sources.to_json(),
        "documents": {d.key: d.id for d in docs},
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _reused_parts(old: store.IndexData, wanted: set[str]) -> dict[str, Parts]:
    """The unchanged documents' rows in the previous index (their vectors stay in its store)."""
    s_start = np.searchsorted(old.sentences[:, 0], np.arange(len(old.docs) + 1))  # rows are in document order
    c_start = np.searchsorted(old.chunks[:, 0], np.arange(len(old.docs) + 1))
    out = {}
    for row, doc in enumerate(old.docs):
        if doc.id not in wanted:
            continue
        s, c = np.arange(s_start[row], s_start[row + 1]), np.arange(c_start[row], c_start[row + 1])
        local = old.chunks[c][:, 1:4].copy()
        local[:, :2] -= s[0]
        out[doc.id] = Parts(old.sentences[s][:, 1:3], local, None, None, c, s)
    return out


def _new_parts(
    docs: Sequence[Document], emb: Embedder, opts: BuildOptions, report: Reporter, cache: VectorCache
) -> dict[str, Parts]:
    """Split, chunk and embed new documents (one batched embedding pass over all of them).

    Sentences are embedded once each, in the context of a sentence-aligned window that the
    model reads whole; a chunk's vector is the length-weighted mean of its sentences' vectors.
    So chunks may be longer than the model's input, and overlaps cost no extra encoding.
    """
    report(0.0, f"splitting {len(docs)} new or changed documents into sentences")
    prepared = [(doc, *split_and_chunk(doc, emb, opts)) for doc in docs]
    texts, spans = [], []
    for doc, sents, _, windows in prepared:
        for w in windows:
            text = embedding_text(doc, w.text, section_at(doc, w.start))
            offset = len(text) - len(w.text)
            texts.append(text)
            spans.append([(s.start - w.start + offset, s.end - w.start + offset) for s in sents[w.first : w.last]])
    span_vecs = _embed_windows(emb, texts, spans, report, cache)
    out, i = {}, 0
    for doc, sents, chunks, windows in prepared:
        sent_vecs = np.vstack(span_vecs[i : i + len(windows)]) if windows else np.zeros((0, emb.dim), np.float32)
        i += len(windows)
        weights = np.array([s.end - s.start for s in sents], np.float32)
        chunk_vecs = np.array([weights[c.first : c.last] @ sent_vecs[c.first : c.last] for c in chunks], np.float32)
        out[doc.id] = Parts(
            np.array([(s.start, s.end) for s in sents], np.int32).reshape(-1, 2),
            np.array([(c.first, c.last, c.tokens) for c in chunks], np.int32).reshape(-1, 3),
            chunk_vecs.reshape(len(chunks), -1) / np.maximum(np.linalg.norm(chunk_vecs, axis=1, keepdims=True), 1e-12),
            sent_vecs,
        )
    return out


def _embed_windows(
    emb: Embedder, texts: list[str], spans: list[list[tuple[int, int]]], report: Reporter, cache: VectorCache
) -> list[np.ndarray]:
    """Sentence vectors of every window, embedded in slices so progress (with an ETA from the first
    slice) can be reported; windows an interrupted build already embedded come from ``cache``."""
    out: list[np.ndarray] = [np.zeros(0)] * len(texts)
    todo = []
    for i in range(len(texts)):
        kept = cache.get(texts[i], spans[i])
        if kept is None:
            todo.append(i)
        else:
            out[i] = kept
    order, total, reused = sorted(todo, key=lambda i: len(texts[i])), len(texts), len(texts) - len(todo)
    resumed = f" ({reused} kept from an interrupted build)" if reused else ""
    report(reused / max(total, 1), f"embedding passages: {reused} of {total}{resumed}", reused, total)
    started = time.perf_counter()
    try:
        for start in range(0, len(order), EMBED_SLICE):
            part = order[start : start + EMBED_SLICE]
            _, vecs = emb.embed_spans([texts[i] for i in part], [spans[i] for i in part])
            for i, v in zip(part, vecs):
                out[i] = v
                cache.put(texts[i], spans[i], v)
            done = min(start + EMBED_SLICE, len(order))
            left = (time.perf_counter() - started) / done * (len(order) - done)
            eta = f", about {_duration(left)} left" if done < len(order) else ""
            report((reused + done) / total, f"embedding passages: {reused + done} of {total}{eta}", reused + done, total)
    except KeyboardInterrupt:
        embedded = reused + sum(1 for i in order if len(out[i]))
        raise BuildInterrupted(
            f"the index is unchanged; {embedded} of {total} passages were embedded and are kept: the next build resumes from them"
        ) from None
    return out


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def split_and_chunk(doc: Document, emb: Embedder, opts: BuildOptions) -> tuple[list[Sentence], list[Chunk], list[Chunk]]:
    """Sentences, retrieval chunks, and the non-overlapping windows the model embeds them in."""
    sentences = split_sentences(doc, opts.max_sentence_tokens)
    # Sizes are checked under the longest section title of the document (a window's own may be shorter).
    section = max((section_at(doc, end) for _, end, _ in doc.headings), key=len, default="")
    header_chars = len(embedding_text(doc, "", section))
    long = [s for s in sentences if len(s.text) + header_chars > 200]
    if long and not all(emb.fits([embedding_text(doc, s.text, section) for s in long])):
        sentences = split_to_fit(sentences, doc.text, lambda t: emb.fits([embedding_text(doc, t, section)])[0])
    chunks = chunk_sentences(doc, sentences, opts.chunk_tokens, opts.overlap_tokens)
    windows = chunk_sentences(
        doc, sentences, EMBED_WINDOW_TOKENS, 0, fits=lambda ts: emb.fits([embedding_text(doc, t, section) for t in ts])
    )
    return sentences, chunks, windows


def _report(
    index_dir: Path, data: store.IndexData, counts: dict, started: float, skipped: list[str], changed: bool
) -> BuildReport:
    total = data.manifest["counts"]
    return BuildReport(
        index_dir=str(index_dir), documents=total["documents"], chunks=total["chunks"], sentences=total["sentences"],
        seconds=round(time.perf_counter() - started, 3), skipped=skipped, changed=changed, **counts,
    )  # fmt: skip
