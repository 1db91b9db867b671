"""Everyday CLI use (issue 27, item 6): unquoted questions, an abstention's closest passages, a busy port."""

from __future__ import annotations

import json
import socket
import time

from rag.answering.answer import ABSTAIN_TEXT
from rag.cli import main

from .helpers import assert_one_line_error, run_cli

VISIT = "This achievement follows Kim Jong Un’s visit to Russia"


def test_an_unquoted_question_is_one_question(article_index, capsys) -> None:
    words = ["Who", "did", "Kim", "Jong", "Un", "meet", "in", "Russia?"]
    assert main(["ask", *words, "--index", str(article_index), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["question"] == "Who did Kim Jong Un meet in Russia?"
    assert out["citations"][0]["text"].startswith(VISIT)


def test_an_abstention_prints_its_closest_passages_marked_as_not_an_answer(article_index, capsys) -> None:
    assert main(["ask", "What colour is Kim Jong Un's favourite car?", "--index", str(article_index)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ABSTAIN_TEXT and lines[1] == "Closest passages (not an answer):"
    assert lines[2].startswith("  - Kim Jong Un orders military to annihilate South Korea and US (2024-01-01) · ")
    assert lines[3].startswith(f"      “{VISIT}") and len(lines) == 6  # two passages, each a place and its sentence


def test_an_abstention_sharing_no_word_with_the_question_shows_nothing_else(article_index, capsys) -> None:
    assert main(["ask", "What is the capital of Peru?", "--index", str(article_index)]) == 0
    assert capsys.readouterr().out == ABSTAIN_TEXT + "\n"


def test_serve_on_a_busy_port_fails_at_once_with_one_line(article_index) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        out = run_cli("serve", "--port", str(port), "--index", str(article_index), timeout=60)
        seconds = time.monotonic() - started
    assert out.returncode == 2 and out.stdout == ""
    assert_one_line_error(out.stderr, f"port {port} on 127.0.0.1 is in use", "rag may already be running there")
    assert seconds < 8  # the import and the check, not Gradio's retries (11-13 s before)
