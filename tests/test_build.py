import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag import build_index
from rag.errors import ConfigError, IndexMismatchError, IndexNotFoundError, InputError
from rag.indexing.search_index import open_index
from rag.indexing.store import load, read_manifest

from .conftest import ROOT, FakeEmbedder


def test_build_reports_counts_and_writes_manifest(tmp_path, corpus, fake_embedder):
    report = build_index([corpus], tmp_path / "idx", embedder=fake_embedder)
    assert (report.added, report.updated, report.removed, report.unchanged) == (3, 0, 0, 0)
    assert report.documents == 3 and report.sentences == 22 + 2 + 2  # the markdown heading is no sentence
    manifest = read_manifest(tmp_path / "idx")
    assert manifest["format_version"] == 2
    assert manifest["model"] == {"name": "fake-hashing-embedder", "weights_sha256": "0" * 64, "dim": 64}
    assert manifest["token_encoding"] == "cl100k_base"
    assert manifest["settings"]["chunk_tokens"] == 256 and manifest["settings"]["overlap_tokens"] == 40
    assert len(manifest["documents"]) == 3 and manifest["built_at"]
    data = load(tmp_path / "idx")
    assert data.faiss_index.ntotal == report.chunks == len(data.chunks)
    assert data.sentence_vectors.shape == (26, 64)
    for row, start, end in data.sentences:  # offsets map back exactly
        assert data.docs[row].text[start:end] == data.sentence_text(
            int(np.flatnonzero((data.sentences == (row, start, end)).all(1))[0])
        )


def test_incremental_add_change_delete(tmp_path, corpus, fake_embedder):
    idx = tmp_path / "idx"
    build_index([corpus], idx, embedder=fake_embedder)
    embedded_before = fake_embedder.texts

    t0 = time.perf_counter()
    same = build_index([corpus], idx, embedder=fake_embedder)
    assert time.perf_counter() - t0 < 1.0
    assert (same.added, same.updated, same.removed, same.unchanged, same.changed) == (0, 0, 0, 3, False)
    assert fake_embedder.texts == embedded_before

    (corpus / "new.txt").write_text("Penguins cannot fly. They swim well.", "utf-8")
    added = build_index([corpus], idx, embedder=fake_embedder)
    assert (added.added, added.updated, added.removed, added.unchanged) == (1, 0, 0, 3)
    assert fake_embedder.texts - embedded_before == 3  # only the new document: 1 chunk + its 2 sentences

    (corpus / "tea.txt").write_text("Black tea is fully oxidised.", "utf-8")
    changed = build_index([corpus], idx, embedder=fake_embedder)
    assert (changed.added, changed.updated, changed.removed, changed.unchanged) == (0, 1, 0, 3)

    (corpus / "cats.md").unlink()
    removed = build_index([corpus], idx, embedder=fake_embedder)
    assert (removed.added, removed.updated, removed.removed, removed.unchanged) == (0, 0, 1, 3)
    data = load(idx)
    assert sorted(Path(d.key).name for d in data.docs) == ["article.txt", "new.txt", "tea.txt"]
    assert any(data.sentence_text(i) == "Black tea is fully oxidised." for i in range(len(data.sentences)))
    assert len([p for p in idx.iterdir() if p.name.startswith("v-")]) <= 2  # old versions collected


def test_incremental_vectors_equal_full_build(tmp_path, corpus, fake_embedder):
    build_index([corpus / "article.txt"], tmp_path / "a", embedder=fake_embedder)
    build_index([corpus], tmp_path / "a", embedder=fake_embedder, replace=True)
    build_index([corpus], tmp_path / "b", embedder=FakeEmbedder())
    a, b = load(tmp_path / "a"), load(tmp_path / "b")
    assert [d.id for d in a.docs] == [d.id for d in b.docs]
    assert np.array_equal(a.sentences, b.sentences) and np.array_equal(a.chunks, b.chunks)
    assert np.allclose(a.faiss_index.reconstruct_n(0, a.faiss_index.ntotal), b.faiss_index.reconstruct_n(0, b.faiss_index.ntotal))


def test_build_reports_progress_and_slicing_changes_no_vector(tmp_path, corpus, fake_embedder, monkeypatch):
    import rag.indexing.build

    build_index([corpus], tmp_path / "whole", embedder=fake_embedder)
    monkeypatch.setattr(rag.indexing.build, "EMBED_SLICE", 2)  # a progress report every 2 embedding windows
    seen: list[tuple[float, str]] = []
    build_index([corpus], tmp_path / "sliced", embedder=fake_embedder, on_progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and seen[0] == (0.0, "reading documents") and seen[-1] == (1.0, "done")
    embedding = [m.split(",")[0] for _, m in seen if m.startswith("embedding passages")]  # without the ETA
    total = int(embedding[-1].rsplit(" ", 1)[1])
    # "0 of N" as soon as splitting is over (the bar must not sit on "splitting" while embedding runs)
    assert embedding == [f"embedding passages: {min(n, total)} of {total}" for n in range(0, total + 2, 2)]
    assert [m for _, m in seen if not m.startswith("embedding")] == [
        "reading documents", *(f"reading documents: {n} of 3 files" for n in (1, 2, 3)), "splitting 3 new or changed documents into sentences",
        "building the keyword (BM25) indexes", "saving the new index version", "done",
    ]  # fmt: skip
    a, b = load(tmp_path / "whole"), load(tmp_path / "sliced")
    assert np.array_equal(a.sentence_vectors, b.sentence_vectors)
    unchanged: list[tuple[float, str]] = []
    build_index([corpus], tmp_path / "sliced", embedder=fake_embedder, on_progress=lambda f, m: unchanged.append((f, m)))
    reading = ["reading documents", *(f"reading documents: {n} of 3 files" for n in (1, 2, 3))]
    assert [m for _, m in unchanged] == reading  # nothing to do: returns once the files are read


def test_format_1_index_is_upgraded_without_embedding_again(tmp_path, corpus, fake_embedder):
    idx = tmp_path / "idx"
    build_index([corpus], idx, embedder=fake_embedder)
    before = load(idx)
    manifest = json.loads((idx / "manifest.json").read_text())
    manifest["format_version"] = 1  # format 1 had no sentence-level BM25
    manifest["files"] = {k: v for k, v in manifest["files"].items() if not k.startswith("bm25_sentences/")}
    (idx / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format version 1, this rag reads 2"):
        load(idx)
    embedded = fake_embedder.texts
    report = build_index([corpus], idx, embedder=fake_embedder)
    assert report.changed and (report.unchanged, report.added) == (3, 0)
    assert fake_embedder.texts == embedded  # vectors reused, only the BM25 indexes were made
    after = load(idx)
    assert after.sentence_bm25 is not None and int(after.sentence_bm25.scores["num_docs"]) == len(after.sentences)
    assert np.array_equal(after.sentence_vectors, before.sentence_vectors)


def test_duplicates_are_skipped_with_a_note(tmp_path, corpus, fake_embedder):
    shutil.copy(corpus / "tea.txt", corpus / "tea-copy.txt")
    report = build_index([corpus], tmp_path / "idx", embedder=fake_embedder)
    assert report.documents == 3
    assert any("duplicate of" in s and "tea" in s for s in report.skipped)


def test_manifest_mismatch_says_rebuild(tmp_path, corpus, fake_embedder, real_embedder):
    idx = tmp_path / "idx"
    build_index([corpus], idx, embedder=fake_embedder)
    with pytest.raises(IndexMismatchError, match="rebuild"):
        open_index(idx, embedder=real_embedder)
    manifest = json.loads((idx / "manifest.json").read_text())
    manifest["format_version"] = 99
    (idx / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format version 99.*rebuild"):
        load(idx)


def test_errors_are_typed(tmp_path, corpus, fake_embedder):
    with pytest.raises(IndexNotFoundError, match="rag build"):
        load(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="unknown option"):
        build_index([corpus], tmp_path / "idx", embedder=fake_embedder, chunk_size=3)
    with pytest.raises(ConfigError):
        build_index([corpus], tmp_path / "idx", embedder=fake_embedder, overlap_tokens=500)
    with pytest.raises(InputError):
        build_index([], tmp_path / "idx", embedder=fake_embedder)


KILL_SCRIPT = """
import sys, rag
rag.build_index([sys.argv[1]], sys.argv[2], replace=True, progress=False)
print("done", flush=True)
"""


def test_index_survives_kill_9_during_build(tmp_path, corpus, article_index, real_embedder):
    """Kill `build_index` at several moments; the previous index must always load and answer."""
    idx = tmp_path / "idx"
    shutil.copytree(article_index, idx)
    before = load(idx).version
    for i in range(4):
        (corpus / f"extra{i}.txt").write_text(f"Extra document number {i} talks about volcanoes. " * 30, "utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    killed = 0
    for delay in (0.5, 2.0, 4.0, 6.0, 8.0):
        proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(corpus), str(idx)], env=env, stdout=subprocess.PIPE)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        data = load(idx)  # never a half-written index
        assert data.version == before or len(data.docs) == 7
        if data.version != before:
            break
    assert killed >= 1
    final = build_index([corpus], idx, embedder=real_embedder, progress=False, replace=True)
    assert final.documents == 7
    assert not [p for p in idx.iterdir() if p.name.startswith(".tmp-")]
