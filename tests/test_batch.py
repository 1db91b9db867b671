"""``rag ask --batch`` (issue 12, item 3): every usable line is answered, every bad line gets one
error record with its line number, and only a file that cannot be read at all stops the batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.answering.answer import ABSTAIN_TEXT
from rag.cli import main

from .helpers import QUESTION, assert_one_line_error

PUTIN = "Vladimir Putin"

LINES: list[bytes] = [
    json.dumps({"q": QUESTION}).encode(),  # 1
    b"[1, 2]",  # 2
    b'{"q": ["a", "b"]}',  # 3
    b'{"q": ""}',  # 4
    b"   ",  # 5: blank, skipped
    b'{"q": "unterminated',  # 6
    b'{"q": "caf\xe9?"}',  # 7: Latin-1, not UTF-8
    b'"Why?"',  # 8: a JSON string is a question
    b'{"question": "Who \\ud800 did Kim Jong Un meet in Russia?"}',  # 9: a lone surrogate, by JSON escape
    b"[" * 5000,  # 10
    b'{"title": "no question"}',  # 11
    b"9" * 5000,  # 12
    b'{"query": 5}',  # 13
    b"null",  # 14
    b'{"q": "   "}',  # 15
]

EXPECTED_ERRORS = {
    2: (None, 'line 2: expected {"q": ...} or a string, not a list'),
    3: (None, 'line 3: "q" must be a string, not a list'),
    4: ("", "line 4: the question is empty: ask something about your documents"),
    6: (None, "line 6: invalid JSON (Unterminated string starting at: column 7)"),
    7: (None, "line 7: not valid UTF-8 (byte 11)"),
    10: (None, "line 10: invalid JSON (nested too deeply)"),
    11: (None, 'line 11: no "q" field (or "question", "query")'),
    12: (None, "line 12: invalid JSON (Exceeds the limit (4300 digits) for integer string conversion)"),
    13: (None, 'line 13: "query" must be a string, not a number'),
    14: (None, 'line 14: expected {"q": ...} or a string, not null'),
    15: ("", "line 15: the question is empty: ask something about your documents"),
}


def _run(path: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict], str]:
    code = main(["ask", "--batch", str(path), "--index", str(index), "--json"])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_bad_lines_get_one_error_record_each_and_the_rest_is_answered(article_index, tmp_path: Path, capsys) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    code, records, err = _run(path, article_index, capsys)
    assert code == 1
    assert err == "rag: 11 of 14 questions not answered (see their error records)\n"
    assert [r["line"] for r in records] == [n for n in range(1, 16) if n != 5]
    by_line = {r["line"]: r for r in records}
    for n, (question, error) in EXPECTED_ERRORS.items():
        assert by_line[n] == {"line": n, "question": question, "error": error}
    assert PUTIN in by_line[1]["citations"][0]["text"] and by_line[1]["question"] == QUESTION
    assert by_line[8]["abstained"] and by_line[8]["text"] == ABSTAIN_TEXT and by_line[8]["question"] == "Why?"
    assert by_line[9]["question"] == "Who \ufffd did Kim Jong Un meet in Russia?" and PUTIN in by_line[9]["text"]


def test_all_answered_exits_0_and_a_json_list_is_read_item_by_item(article_index, tmp_path: Path, capsys) -> None:
    path = tmp_path / "good.jsonl"
    path.write_text(json.dumps({"q": QUESTION}) + "\n\n" + json.dumps("???") + "\n", "utf-8")
    code, records, err = _run(path, article_index, capsys)
    assert code == 0 and err == ""
    assert [r["line"] for r in records] == [1, 3] and records[1]["abstained"]
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([QUESTION, 1, {"query": "Who?"}]), "utf-8")
    code, records, err = _run(listed, article_index, capsys)
    assert code == 1
    assert records[1] == {"item": 2, "question": None, "error": 'item 2: expected {"q": ...} or a string, not a number'}
    assert [r["item"] for r in records] == [1, 2, 3] and PUTIN in records[0]["text"] and records[2]["abstained"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the questions file (No such file or directory)"),
        ("folder", "cannot read the questions file (Is a directory)"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe binary", "looks like a binary file, not JSON Lines questions"),
    ],
    ids=["missing", "folder", "binary"],
)
def test_a_file_that_cannot_be_read_at_all_is_one_line_and_exit_2(article_index, tmp_path, capsys, content, message) -> None:
    path = tmp_path / "questions.jsonl"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    code, records, err = _run(path, article_index, capsys)
    assert code == 2 and records == []
    assert_one_line_error(err, f"{path}: {message}")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe{}", "cannot read gold data ('utf-8' codec can't decode byte 0xff in position 0: invalid start byte)"),
        (b"[" * 100_000, "cannot read gold data (JSON nested too deeply)"),
        (b"[1, 2]", "cannot read gold data (record 1 is not a JSON object)"),
        (b'{"q": "a"}\n"b"\n', "cannot read gold data (record 2 is not a JSON object)"),
    ],
    ids=["binary", "deep", "numbers", "string-line"],
)
def test_eval_of_a_malformed_gold_file_is_one_line_and_exit_2(article_index, tmp_path, capsys, content, message) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_bytes(content)
    assert main(["eval", str(path), "--index", str(article_index)]) == 2
    assert_one_line_error(capsys.readouterr().err, f"{path}: {message}")
