"""Everyday friction of the CLI (issue 27, item 6): unquoted questions, closest passages under an
abstention, a busy port, removing a document by its file name."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from rag import build_index
from rag.cli.commands import main
from rag.indexing.manage import list_documents, remove_document

from .conftest import FakeEmbedder


def test_an_unquoted_question_is_asked_whole(article_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Who", "did", "Kim", "Jong", "Un", "meet", "in", "Russia?", "--index", str(article_index)]) == 0
    out = capsys.readouterr().out
    assert "Putin" in out.splitlines()[0] and "[1]" in out


def test_an_abstention_prints_the_closest_passages(article_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "What is Kim Jong Un's favourite breakfast?", "--index", str(article_index)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "The indexed documents do not answer this question."
    assert lines[1] == "Closest passages (not an answer):"
    assert lines[2].startswith("  - Kim Jong Un orders military") and " · chars " in lines[2]
    assert lines[3].strip().startswith("“") and lines[3].strip().endswith("”")


def test_an_abstention_offers_no_passage_that_shares_no_word_with_the_question(
    article_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "What is the boiling point of mercury?", "--index", str(article_index)]) == 0
    assert capsys.readouterr().out == "The indexed documents do not answer this question.\n"


def test_a_busy_port_fails_at_once_and_says_rag_may_be_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        code = main(["serve", "--port", str(port), "--index", str(tmp_path / "index")])
        assert time.monotonic() - started < 2
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"rag: error: port {port} on 127.0.0.1 is already in use: rag may already be running there "
        f"(open http://127.0.0.1:{port}), or start this one with another --port"
    )


def test_remove_accepts_a_file_name(corpus: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    index = tmp_path / "index"
    build_index([corpus], index, embedder=fake_embedder, progress=False)
    report = remove_document("cats.md", index, embedder=fake_embedder, progress=False)
    assert report.removed == 1 and report.documents == 2
    assert not any(Path(d["key"]).name == "cats.md" for d in list_documents(index))
    with pytest.raises(Exception, match="matches no document"):
        remove_document("dogs.md", index, embedder=fake_embedder, progress=False)
