"""Malformed and hostile documents (issue 12, item 4): each is a DocumentError naming the file, or
skipped with that reason inside a folder build; a JSON Lines file with bad lines keeps its good ones
and names the bad lines. Every input is generated here (no fixtures on disk); FakeEmbedder builds."""

from __future__ import annotations

import json
import logging
import random
import zlib
from pathlib import Path

import pytest

from rag import build_index
from rag.errors import DocumentError
from rag.ingestion.documents import load_documents, read_file, read_file_report


def _pdf(content: bytes, filters: bytes = b"") -> bytes:
    """A one-page PDF whose page content stream is ``content`` (already encoded by ``filters``)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d %s >>\nstream\n" % (len(content), filters) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


TEXT = b"BT /F1 12 Tf 72 720 Td (Owls hunt at night.) Tj ET"


def _pdf_bomb() -> bytes:
    """About 80 KB of FlateDecode stream that inflates to 80 MB of spaces (pypdf stops at 75 MB)."""
    packer = zlib.compressobj(9)
    block = b" " * (1 << 20)
    return _pdf(b"".join(packer.compress(block) for _ in range(80)) + packer.flush(), b"/Filter /FlateDecode")


MALFORMED = {
    "brackets.json": (lambda: b"[" * 100_000, "invalid JSON (nested too deeply)"),
    "big-number.json": (
        lambda: b'{"body": "Owls.", "views": ' + b"7" * 4_301 + b"}",
        "invalid JSON (Exceeds the limit (4300 digits) for integer string conversion)",
    ),
    "bomb.pdf": (_pdf_bomb, "unreadable PDF (LimitReachedError: Limit reached while decompressing"),
    "unknown-filter.pdf": (
        lambda: _pdf(zlib.compress(TEXT), b"/Filter /FooDecode"),
        "unreadable PDF (NotImplementedError: Unsupported filter /FooDecode)",
    ),
    "broken-flate.pdf": (
        lambda: _pdf(zlib.compress(TEXT)[:-9] + b"garbage!!", b"/Filter /FlateDecode"),
        "document is empty",  # pypdf recovers what it can: nothing, so an empty document
    ),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_file_is_a_document_error_naming_it_and_skipped_in_a_folder(tmp_path: Path, fake_embedder, name: str) -> None:
    make, message = MALFORMED[name]
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("Owls hunt at night. They swallow mice whole.", "utf-8")
    bad = folder / name
    bad.write_bytes(make())
    with pytest.raises(DocumentError) as err:
        read_file(bad)
    assert str(err.value).startswith(f"{bad}: {message}")
    report = build_index([folder], tmp_path / "index", embedder=fake_embedder, progress=False)
    assert report.documents == 1 and len(report.skipped) == 1
    assert report.skipped[0].startswith(f"{bad}: {message}")


def test_byte_flipped_pdfs_are_read_or_refused_with_a_document_error(tmp_path: Path) -> None:
    """300 PDFs with 1-8 random bytes changed: pypdf raises a dozen kinds of errors on them."""
    rng = random.Random(12)
    sources = [_pdf(TEXT), _pdf(zlib.compress(TEXT), b"/Filter /FlateDecode")]
    outcomes: dict[str, int] = {}
    path = tmp_path / "flipped.pdf"
    logging.disable(logging.WARNING)  # pypdf logs every repair it tries
    try:
        for n in range(300):
            data = bytearray(sources[n % 2])
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            path.write_bytes(bytes(data))
            try:
                (doc,) = read_file(path)
                assert doc.text  # a document read is a document with text
                kind = "read"
            except DocumentError as err:
                assert str(err).startswith(f"{path}: ")
                kind = str(err).split("(")[1].split(":")[0] if "unreadable PDF" in str(err) else "empty"
            outcomes[kind] = outcomes.get(kind, 0) + 1
    finally:
        logging.disable(logging.NOTSET)
    assert outcomes["read"] > 0 and outcomes["empty"] > 0 and outcomes["PdfReadError"] > 0
    assert len(outcomes) >= 5, outcomes  # other error types than pypdf's own were met too


def test_a_folder_nested_1500_deep_is_walked(tmp_path: Path, fake_embedder) -> None:
    levels = [tmp_path / "docs"]
    for _ in range(1500):  # os.makedirs itself recurses: one level at a time
        levels.append(levels[-1] / "d")
    bottom = levels[-1] / "bottom.txt"
    try:
        for level in levels:
            level.mkdir()
        bottom.write_text("Deep down here, owls nest.", "utf-8")
        (levels[0] / "top.txt").write_text("Owls hunt at night.", "utf-8")
        docs, skipped = load_documents([levels[0]])
        assert [d.text for d in docs] == ["Deep down here, owls nest.", "Owls hunt at night."] and skipped == []
        report = build_index([levels[0]], tmp_path / "index", embedder=fake_embedder, progress=False)
        assert report.documents == 2 and report.skipped == []
    finally:  # removed here, bottom up: shutil.rmtree (pytest's clean-up of old temp folders) recurses and would fail
        bottom.unlink(missing_ok=True)
        for level in reversed(levels[1:]):
            if level.exists():
                level.rmdir()


def test_jsonl_with_bad_lines_keeps_the_good_ones_and_names_the_bad_lines(tmp_path: Path, fake_embedder) -> None:
    path = tmp_path / "news.jsonl"
    lines = [
        json.dumps({"title": "One", "body": "Owls hunt at night."}),
        json.dumps({"title": "Two", "body": "Bats sleep by day."}),
        '{"title": "Three", "body": "unterminated',
        "",
        json.dumps({"title": "no body"}),
        json.dumps(["a", "list"]),
        json.dumps({"title": "blank", "text": "  "}),
        "[" * 3000,
        json.dumps({"title": "Nine", "content": "Moles dig tunnels."}),
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    docs, skipped = read_file_report(path)
    assert [(d.key, d.title) for d in docs] == [(f"{path}#0", "One"), (f"{path}#1", "Two"), (f"{path}#7", "Nine")]
    assert skipped == [
        f"{path} line 3: invalid JSON (Unterminated string starting at: column 28)",
        f"{path} line 5: no body/text/content field",
        f"{path} line 6: not a JSON object but a list",
        f"{path} line 7: its body/text/content field is empty or not text",
        f"{path} line 8: invalid JSON (nested too deeply)",
    ]
    report = build_index([path], tmp_path / "index", embedder=fake_embedder, progress=False)
    assert report.documents == 3 and report.skipped == skipped


def test_json_records_without_a_body_are_reported_with_their_number(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps([{"body": "Owls."}, {"title": "nothing"}, 7, {"body": "date 2024-01-01 "}]), "utf-8")
    docs, skipped = load_documents([tmp_path])
    assert [d.key for d in docs] == [f"{path}#0"]
    assert skipped == [
        f"{path} record 2: no body/text/content field",
        f"{path} record 3: not a JSON object but a number",
        f"{path} record 4: document is empty",
    ]


def test_records_file_without_any_usable_record_says_why(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"title": "x"}\nnot json\n', "utf-8")
    with pytest.raises(DocumentError) as err:
        read_file(path)
    assert str(err.value) == (
        f"{path}: no records with a body/text/content field could be read (line 1: no body/text/content field; and 1 more)"
    )
