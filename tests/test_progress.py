"""Build progress, Ctrl-C and resume (issue 27, item 5)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag import build_index
from rag.errors import BuildInterrupted
from rag.indexing import store
from rag.indexing.resume import FOLDER

from .conftest import FakeEmbedder


class Interrupting(FakeEmbedder):
    """Ctrl-C on the ``stop_at``-th embedding slice."""

    def __init__(self, stop_at: int) -> None:
        super().__init__()
        self.slices, self.stop_at, self.windows = 0, stop_at, 0

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Any]) -> tuple[np.ndarray, list[np.ndarray]]:
        self.slices += 1
        if self.slices == self.stop_at:
            raise KeyboardInterrupt
        self.windows += len(texts)
        return super().embed_spans(texts, spans)


@pytest.fixture
def many(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(90):
        (folder / f"note{n:02d}.txt").write_text(f"Note {n} is about topic number {n}. It has a second sentence {n}.\n", "utf-8")
    return folder


def test_progress_counts_passages_with_an_eta(many: Path, tmp_path: Path) -> None:
    seen: list[str] = []
    build_index([many], tmp_path / "index", embedder=FakeEmbedder(), progress=False, on_progress=lambda f, m: seen.append(m))
    assert [m for m in seen if m.startswith("reading documents: ")][-1] == "reading documents: 90 of 90 files"
    embedding = [m for m in seen if m.startswith("embedding passages")]
    assert embedding[0] == "embedding passages: 0 of 90"
    assert embedding[1].startswith("embedding passages: 32 of 90, about ") and embedding[1].endswith(" left")
    assert "embedding passages: 90 of 90" in embedding


def test_durations_read_well() -> None:
    from rag.indexing.build import _duration

    assert [_duration(s) for s in (44.6, 190, 3900)] == ["45 s", "3 min", "1 h 05 min"]


def test_ctrl_c_keeps_the_index_and_the_next_build_resumes(many: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index([many / "note00.txt"], index, embedder=FakeEmbedder(), progress=False)
    before = store.read_manifest(index)

    stopped = Interrupting(stop_at=3)  # two slices of 32 embedded, then Ctrl-C
    with pytest.raises(BuildInterrupted) as err:
        build_index([many], index, embedder=stopped, progress=False, replace=True)
    assert str(err.value) == (
        "the index is unchanged; 64 of 89 passages were embedded and are kept: the next build resumes from them"
    )  # note00 is in the index already: 89 to embed, 2 slices of 32 done
    assert store.read_manifest(index) == before
    assert (index / FOLDER).is_dir()

    again = Interrupting(stop_at=0)
    report = build_index([many], index, embedder=again, progress=False, replace=True)
    assert report.documents == 90
    assert again.windows == 89 - 64  # only what was not embedded yet
    assert not (index / FOLDER).exists()  # committed: the cache is gone

    fresh = tmp_path / "fresh"
    build_index([many], fresh, embedder=FakeEmbedder(), progress=False)
    from rag.indexing.search_index import open_index

    a, b = open_index(index), open_index(fresh)
    ids = np.arange(10)
    assert np.allclose(a.sentence_vectors(ids), b.sentence_vectors(ids))


def test_the_cli_says_what_an_interrupted_build_did(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.cli import commands

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise BuildInterrupted("the index is unchanged; 3 of 9 passages were embedded and are kept: the next build resumes")

    monkeypatch.setattr("rag.indexing.manage.build_index", interrupted)
    assert commands.main(["build", "x.txt", "--index", "nowhere"]) == 130
    assert capsys.readouterr().err.strip() == (
        "rag: interrupted: the index is unchanged; 3 of 9 passages were embedded and are kept: the next build resumes"
    )
