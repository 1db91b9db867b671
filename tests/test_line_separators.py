"""JSON Lines are split at "\n" only (issue 25, item 3): every Unicode line separator and control
character in a document survives build -> load -> answer with exact offsets, and a raw U+2028
inside a string of a .jsonl input is valid JSON that keeps the following line numbers right."""

from __future__ import annotations

import json
from pathlib import Path

from rag import build_index
from rag.answering.answer import answer
from rag.indexing.store import load
from rag.ingestion.documents import read_file

SEPARATORS = "\u2028\u2029\u0085\x0b\x0c\x1c\x1d\x1e"
"""What ``str.splitlines`` splits at besides \\n and \\r."""
CONTROLS = "".join(chr(c) for c in range(32) if chr(c) not in "\n\r\t") + "\x7f"


def test_every_line_separator_and_control_character_round_trips(tmp_path: Path, real_embedder) -> None:
    odd = SEPARATORS + CONTROLS
    body = f"Intro{odd}line. The observatory on Mount Kilimanjaro{odd} recorded a comet in March. Final words here."
    doc = tmp_path / "docs" / "odd.json"  # JSON escapes the control characters a .txt reader calls binary
    doc.parent.mkdir()
    doc.write_text(json.dumps({"title": f"Odd{odd}title", "text": body}, ensure_ascii=False), "utf-8")
    (tmp_path / "docs" / "seps.txt").write_text(f"Plain{SEPARATORS[:3]}text about owls and their nests.", "utf-8")
    (tmp_path / "docs" / "plain.txt").write_text("Bananas grow in warm places near the coast.", "utf-8")
    idx = tmp_path / "idx"
    build_index([doc.parent], idx, embedder=real_embedder, progress=False)
    data = load(idx)  # today: a documents.jsonl line split at U+2028 -> IndexCorruptError
    expected = read_file(doc)[0].text
    assert odd[:3] in expected  # the reader keeps the separators
    seps = read_file(tmp_path / "docs" / "seps.txt")[0].text
    assert sorted(d.text for d in data.docs) == sorted([expected, seps, "Bananas grow in warm places near the coast."])
    result = answer("Which observatory recorded a comet?", index_dir=idx)
    assert not result.abstained
    cited = result.citations[0]
    text = next(d.text for d in data.docs if d.key.startswith(str(doc.resolve())))
    assert text[cited.start : cited.end] == cited.text and "comet" in cited.text


def test_raw_u2028_in_a_jsonl_string_is_valid_and_line_numbers_stay_right(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    first = json.dumps({"text": "One\u2028two\u2029three\x85four."}, ensure_ascii=False)
    assert "\u2028" in first  # raw, as json.dumps writes it
    path.write_text(first + "\n" + "{broken\n" + json.dumps({"text": "Last record."}) + "\n", "utf-8")
    from rag.ingestion.documents import load_documents

    docs, skipped = load_documents([str(path)])
    assert [d.text for d in docs] == ["One\u2028two\u2029three\x85four.", "Last record."]
    assert len(skipped) == 1 and "line 2:" in skipped[0], skipped
