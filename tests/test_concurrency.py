"""Concurrency: answers running while a rebuild is swapped in, builds racing on one index, and a
reader outpaced by two builds. Every answer comes from exactly one index version."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from rag import build_index
from rag.answering.answer import answer
from rag.indexing import build, commit, store
from rag.indexing.store import load
from rag.records import Answer, BuildReport

from .conftest import ARTICLE, ROOT
from .helpers import QUESTION, SlowEmbedder, copy_index

ANSWERS = 50
AFTER_SWAP = 15
"""The last answers start only once the rebuild is in place: they must all see the new version."""
QUESTIONS = [QUESTION, "What colour is the Zorblat lighthouse painted?", "When was the Zorblat lighthouse built?"]
LIGHTHOUSE_V1 = "The Zorblat lighthouse is painted red. Its lamp burned whale oil until 1921."
LIGHTHOUSE_V2 = "The Zorblat lighthouse is painted green and white. Its lamp burned whale oil until 1921."
HISTORY = "The Zorblat lighthouse was built in 1887 on Kelp Island by the harbour board."


def _timed_answer(question: str, idx: Path, wait: threading.Event | None) -> tuple[float, float, Answer]:
    if wait is not None:
        assert wait.wait(60)
    start = time.perf_counter()
    result = answer(question, index_dir=idx)
    return start, time.perf_counter(), result


def test_answers_during_a_rebuild_each_come_from_one_version(
    tmp_path: Path, article_index: Path, real_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lighthouse.txt").write_text(LIGHTHOUSE_V1, "utf-8")
    idx, _ = copy_index(article_index, tmp_path / "idx")
    build_index([ARTICLE, docs], idx, embedder=real_embedder, progress=False, replace=True)
    old = load(idx)
    (docs / "lighthouse.txt").write_text(LIGHTHOUSE_V2, "utf-8")  # changed: a new document id
    (docs / "history.txt").write_text(HISTORY, "utf-8")  # added

    swapped_at: list[float] = []
    replace_manifest = commit._replace_manifest

    def recording(index_dir: Path, text: str) -> None:
        replace_manifest(index_dir, text)
        swapped_at.append(time.perf_counter())

    monkeypatch.setattr(commit, "_replace_manifest", recording)
    done, rebuilt = threading.Semaphore(0), threading.Event()

    def rebuild() -> None:
        for _ in range(10):  # let the first answers run on the old version
            done.acquire()
        build_index([ARTICLE, docs], idx, embedder=real_embedder, progress=False, replace=True)
        rebuilt.set()

    with ThreadPoolExecutor(max_workers=6) as pool:
        builder = threading.Thread(target=rebuild)
        builder.start()
        futures = []
        for i in range(ANSWERS):
            future = pool.submit(_timed_answer, QUESTIONS[i % 3], idx, rebuilt if i >= ANSWERS - AFTER_SWAP else None)
            future.add_done_callback(lambda _: done.release())
            futures.append(future)
        results = [f.result() for f in futures]  # all succeed
        builder.join(60)
    new = load(idx)
    assert len(swapped_at) == 1 and new.version != old.version
    _assert_one_version_each(results, old, new, swapped_at[0])


def _assert_one_version_each(results: list[tuple[float, float, Answer]], old: Any, new: Any, swap: float) -> None:
    """Each answer quotes one version; new-only documents appear only after the swap, and answers
    started after it see the new version (the changed lighthouse, the added history)."""
    versions = [{d.id: d for d in old.docs}, {d.id: d for d in new.docs}]
    old_only, new_only = set(versions[0]) - set(versions[1]), set(versions[1]) - set(versions[0])
    assert old_only and new_only
    for i, (start, end, result) in enumerate(results):
        ids = {e.doc_id for e in result.evidence}
        assert not (ids & old_only and ids & new_only), f"answer {i} mixes versions"
        docs = versions[1] if ids & new_only else versions[0]
        assert all(docs[e.doc_id].text[e.start : e.end] == e.text for e in result.evidence)
        if ids & new_only:
            assert end > swap, f"answer {i} quoted the new version before it was swapped in"
        if start > swap:
            assert not ids & old_only, f"answer {i} started after the swap but read the old version"
            if i % 3 == 1:
                assert "green and white" in result.citations[0].text
            if i % 3 == 2:
                assert result.citations[0].text == HISTORY
    assert sum(1 for start, _, _ in results if start < swap) >= 10
    assert sum(1 for start, _, _ in results if start > swap) >= AFTER_SWAP


# --- builds racing on one index --------------------------------------------------------------


def _instrument(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Count builds inside the locked section (from loading the old index to saving the new one)."""
    state: dict[str, Any] = {"inside": 0, "most": 0, "saved": []}
    guard = threading.Lock()
    previous, save = build._previous, commit.save

    def entering(index_dir: Path) -> Any:
        with guard:
            state["inside"] += 1
            state["most"] = max(state["most"], state["inside"])
        time.sleep(0.3)  # widen the window a second build would slip into
        return previous(index_dir)

    def leaving(index_dir: Path, data: Any) -> str:
        try:
            version = save(index_dir, data)
            state["saved"].append((version, len(data.docs)))
            return version
        finally:
            with guard:
                state["inside"] -= 1

    monkeypatch.setattr(build, "_previous", entering)
    monkeypatch.setattr(commit, "save", leaving)
    return state


def _race(corpus: Path, tmp_path: Path, idx: Path) -> list[Any]:
    """Build ``corpus`` and ``corpus`` + one more document into ``idx`` from two threads at once."""
    other = tmp_path / "other"
    other.mkdir(exist_ok=True)
    (other / "penguins.txt").write_text("Penguins cannot fly. They swim very well.", "utf-8")
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [
            pool.submit(build_index, paths, idx, embedder=SlowEmbedder(), replace=True) for paths in ([corpus], [corpus, other])
        ]
        return [j.exception() or j.result() for j in jobs]


def test_concurrent_builds_of_one_index_take_turns(tmp_path: Path, corpus: Path, monkeypatch) -> None:
    idx = tmp_path / "idx"
    state = _instrument(monkeypatch)
    reports = _race(corpus, tmp_path, idx)
    assert all(isinstance(r, BuildReport) for r in reports), reports
    assert state["most"] == 1 and state["inside"] == 0
    (first, _), (second, documents) = state["saved"]
    data = load(idx)
    assert data.version == second and len(data.docs) == documents and data.manifest["previous"] == first
    assert sorted(r.documents for r in reports) == [3, 4]
    assert max(r.unchanged for r in reports) == 3  # the second build started from the first one's result


def test_without_the_lock_the_race_is_detected(tmp_path: Path, corpus: Path, monkeypatch) -> None:
    """Negative control: the instrumentation above does see two builds interleave when unlocked."""
    monkeypatch.setattr(commit, "build_lock", lambda *_, **__: contextlib.nullcontext())
    state = _instrument(monkeypatch)
    _race(corpus, tmp_path, tmp_path / "idx")  # may fail: one build can collect the other's files
    assert state["most"] == 2


RACE_SCRIPT = """
import sys
from rag import build_index
from tests.helpers import SlowEmbedder
print(build_index(sys.argv[1:-1], sys.argv[-1], embedder=SlowEmbedder(), progress=False, replace=True).documents)
"""


def test_concurrent_build_processes_leave_a_consistent_index(tmp_path: Path, corpus: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "penguins.txt").write_text("Penguins cannot fly. They swim very well.", "utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    idx = tmp_path / "idx"
    procs = [
        subprocess.Popen([sys.executable, "-c", RACE_SCRIPT, *paths, str(idx)], env=env, stdout=subprocess.PIPE, text=True)
        for paths in ([str(corpus)], [str(corpus), str(other)])
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0] and sorted(outputs) == ["3", "4"]
    data = load(idx)
    assert len(data.docs) in (3, 4) and data.manifest["counts"]["sentences"] == len(data.sentences)
    assert not [p for p in idx.iterdir() if p.name.startswith(".tmp-")]


def test_a_reader_outpaced_by_two_builds_loads_the_newest_version(tmp_path: Path, corpus: Path, monkeypatch) -> None:
    idx = tmp_path / "idx"
    build_index([corpus], idx, embedder=SlowEmbedder())
    first = load(idx).version
    verify = store._verify_files
    calls = {"n": 0}

    def two_builds_meanwhile(folder: Path, manifest: dict, index_dir: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # the reader has read the manifest; two builds now finish
            for name in ("one.txt", "two.txt"):
                (corpus / name).write_text(f"Document {name} is about owls.", "utf-8")
                build_index([corpus], idx, embedder=SlowEmbedder())
            assert not folder.exists()  # the version being read was collected
        verify(folder, manifest, index_dir)

    monkeypatch.setattr(store, "_verify_files", two_builds_meanwhile)
    data = load(idx)
    assert data.version != first and len(data.docs) == 5
