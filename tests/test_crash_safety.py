"""Crash safety: ``build_index`` killed with SIGKILL at many random moments. After every kill the
index loads and answers, and it is exactly the old version or exactly the new one, never a mix.

The builds run in subprocesses with a cheap embedder slowed down a little (and slowed fsyncs),
so a build takes about a second with its steps spread out, and kills land everywhere: while
reading and embedding, while writing files, between the fsyncs, the rename and the manifest
swap, and during the clean-up of old versions. Half of the kills are aimed at the write phase.
(``tests/test_build.py`` kills real-model builds a few times; this is the thorough one.)
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from rag import build_index
from rag.answering.answer import answer
from rag.indexing.search_index import open_index
from rag.indexing.store import load

from .conftest import ROOT
from .helpers import CheapEmbedder, prose

KILLS = 18
SEED = 20240101

BUILD_SCRIPT = """
import os, sys, time
from rag import build_index
from rag.indexing import commit
from tests.helpers import SlowEmbedder

fsync = os.fsync
def slow_fsync(fd):
    time.sleep(0.01)
    fsync(fd)
os.fsync = slow_fsync
save = commit.save
def announced_save(index_dir, data):
    print("saving", flush=True)
    return save(index_dir, data)
commit.save = announced_save
print("start", flush=True)
build_index(sys.argv[1:-1], sys.argv[-1], embedder=SlowEmbedder(), progress=False, replace=True)
print("done", flush=True)
"""


def _corpora(tmp_path: Path) -> dict[str, list[str]]:
    """Two corpora sharing one document (so builds reuse its vectors), each with 3 of its own."""
    shared, a, b = (tmp_path / n for n in ("shared", "a", "b"))
    for i, folder in enumerate((shared, a, b)):
        folder.mkdir()
        for j in range(1 if folder == shared else 3):
            text = prose(2500, seed=10 * i + j) + f"\n\nThe lighthouse keeper number {i}{j} counts gulls."
            (folder / f"{folder.name}{j}.txt").write_text(text, "utf-8")
    return {"a": [str(a), str(shared)], "b": [str(b), str(shared)]}


def _keys(paths: list[str]) -> frozenset[str]:
    return frozenset(str(p.resolve()) for root in paths for p in Path(root).iterdir())


def _start(paths: list[str], idx: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", BUILD_SCRIPT, *paths, str(idx)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "start"
    return proc


def _timed_build(paths: list[str], idx: Path) -> tuple[float, float]:
    """Seconds from start to saving, and from saving to done, of one unkilled build."""
    proc = _start(paths, idx)
    t0 = time.perf_counter()
    assert proc.stdout is not None and proc.stdout.readline().strip() == "saving"
    t1 = time.perf_counter()
    assert proc.stdout.readline().strip() == "done" and proc.wait() == 0
    return t1 - t0, time.perf_counter() - t1


def _check(idx: Path, allowed: dict[frozenset[str], str]) -> frozenset[str]:
    """The index loads, is exactly one of the allowed versions, is self-consistent and answers."""
    data = load(idx)
    keys = frozenset(d.key for d in data.docs)
    assert keys in allowed, f"a mix of versions: {sorted(Path(k).name for k in keys)}"
    counts = data.manifest["counts"]
    assert (counts["documents"], counts["sentences"], counts["chunks"]) == (
        len(data.docs), len(data.sentences), len(data.chunks))  # fmt: skip
    assert data.faiss_index.ntotal == len(data.chunks) and len(data.sentence_vectors) == len(data.sentences)
    assert all(data.docs[r].text[a:b] == data.sentence_text(i) for i, (r, a, b) in enumerate(data.sentences[:50]))
    open_index(idx, embedder=CheapEmbedder())  # answer() then reuses the loaded index with this embedder
    result = answer("What does the lighthouse keeper count?", index_dir=idx)
    doc_ids = {d.id for d in data.docs}
    assert result.evidence and all(e.doc_id in doc_ids for e in result.evidence)
    return keys


def test_index_survives_sigkill_at_random_moments(tmp_path: Path) -> None:
    corpora = _corpora(tmp_path)
    idx = tmp_path / "idx"
    build_index(corpora["a"], idx, embedder=CheapEmbedder(), progress=False)
    to_save, saving = _timed_build(corpora["b"], idx)  # calibration: how long the phases take
    rnd = random.Random(SEED)
    state, outcomes = "b", {"old": 0, "new": 0}
    for kill in range(KILLS):
        target = "a" if state == "b" else "b"
        allowed = {_keys(corpora[state]): "old", _keys(corpora[target]): "new"}
        proc = _start(corpora[target], idx)
        assert proc.stdout is not None
        if kill % 2:  # aim at the write phase: after "saving", before, during or just after the swap
            proc.stdout.readline()
            time.sleep(rnd.uniform(0, saving * 1.2))
        else:
            time.sleep(rnd.uniform(0, (to_save + saving) * 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        outcome = allowed[_check(idx, allowed)]
        outcomes[outcome] += 1
        state = target if outcome == "new" else state
    assert outcomes["old"] >= 3 and outcomes["new"] >= 1, outcomes  # kills landed on both sides of the swap
    final = "a" if state == "b" else "b"
    build_index(corpora[final], idx, embedder=CheapEmbedder(), progress=False, replace=True)
    assert _check(idx, {_keys(corpora[final]): "new"}) == _keys(corpora[final])
    leftovers = [p.name for p in idx.iterdir() if p.name.startswith((".tmp-", ".manifest.json."))]
    assert leftovers == [] and len([p for p in idx.iterdir() if p.name.startswith("v-")]) <= 2
