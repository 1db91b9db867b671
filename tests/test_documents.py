import json
from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.ingestion.documents import load_documents, make_document, read_file

from .conftest import ARTICLE


def test_bundled_article_date_header_and_title():
    (doc,) = read_file(ARTICLE)
    assert doc.date == "2024-01-01"
    assert doc.text == ARTICLE.read_text("utf-8")
    assert doc.text[doc.body_start :].startswith("In a recent display of escalating hostility")
    assert "date" not in doc.text[doc.body_start :][:20]
    assert doc.title == "Kim Jong Un orders military to annihilate South Korea and US"
    assert len(doc.id) == 16 and doc.id == read_file(ARTICLE)[0].id


def test_markdown_title_and_html_main_text(tmp_path: Path):
    md = tmp_path / "notes.md"
    md.write_text("# Field notes\n\nOwls hunt at night.\n", "utf-8")
    assert read_file(md)[0].title == "Field notes"
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Owl facts</title></head><body><nav>Home | About | Login</nav>"
        "<article><p>Barn owls swallow their prey whole and later cough up pellets of bone and fur.</p>"
        "<p>Their hearing is so precise that they can catch mice in complete darkness.</p></article>"
        "<footer>Copyright 2024</footer></body></html>",
        "utf-8",
    )
    (doc,) = read_file(page)
    assert doc.title == "Owl facts"
    assert "Barn owls swallow their prey whole" in doc.text
    assert "Login" not in doc.text


def _minimal_pdf(text: str) -> bytes:
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
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


def test_pdf_text(tmp_path: Path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(_minimal_pdf("Quarterly revenue grew by nine percent."))
    (doc,) = read_file(pdf)
    assert doc.text == "Quarterly revenue grew by nine percent."


def test_json_and_jsonl_records(tmp_path: Path):
    records = [
        {
            "title": "A",
            "body": "First body.",
            "published_at": "2023-10-01T12:00:00+00:00",
            "source": "TechCrunch",
            "url": "https://x/a",
        },
        {"title": "B", "text": "Second body.", "date": "2023-11-02", "author": "Ann"},
        {"title": "no text"},
    ]
    (tmp_path / "a.json").write_text(json.dumps(records), "utf-8")
    docs = read_file(tmp_path / "a.json")
    assert [d.title for d in docs] == ["A", "B"]
    assert docs[0].date == "2023-10-01" and docs[0].source == "TechCrunch" and docs[0].url == "https://x/a"
    assert docs[1].author == "Ann" and docs[1].key.endswith("a.json#1")
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in records[:2]), "utf-8")
    assert [d.text for d in read_file(tmp_path / "b.jsonl")] == ["First body.", "Second body."]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bin.txt", b"\x00\x01\x02binary", "binary"),
        ("broken-utf16.txt", b"\xff\xfeO\x00w", "not valid UTF-16"),  # Latin-1 and the like are decoded (test_file_types)
        ("empty.txt", b"   \n", "empty"),
        ("only-header.txt", b"date 2024-01-01 ", "empty"),
        ("image.png", b"\x89PNG", "unsupported file type"),
        ("broken.json", b"{not json", "invalid JSON"),
    ],
)
def test_bad_files_raise_typed_errors(tmp_path: Path, name: str, content: bytes, message: str):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=message):
        read_file(path)
    docs, skipped = load_documents([tmp_path])  # walking a folder skips them with a reason instead
    assert docs == [] and len(skipped) == 1 and message in skipped[0]


def test_missing_path():
    with pytest.raises(DocumentError, match="no such file"):
        load_documents(["/nonexistent/file.txt"])


def test_folders_walked_recursively_hidden_skipped(tmp_path: Path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.txt").write_text("Deep text.", "utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.txt").write_text("Hidden.", "utf-8")
    docs, skipped = load_documents([tmp_path])
    assert [Path(d.key).name for d in docs] == ["deep.txt"] and skipped == []


def test_content_hash_changes_with_text():
    assert make_document("k", "One.").id != make_document("k", "Two.").id
    assert make_document("k", "One.").id == make_document("other", "One.", title="K").id


def test_plain_text_is_titled_from_its_headline(tmp_path: Path):
    headline = tmp_path / "zorblat_notes.txt"
    headline.write_text("Zorblat lighthouse\nThe Zorblat lighthouse was built in 1887 on Kelp Island.\n", "utf-8")
    sentence = tmp_path / "kelp_notes.txt"
    sentence.write_text("The lighthouse was built in 1887.\nIt stands on Kelp Island.\n", "utf-8")
    one_line = tmp_path / "gull_notes.txt"
    one_line.write_text("Gulls nest on the roof", "utf-8")
    assert [read_file(p)[0].title for p in (headline, sentence, one_line)] == [
        "Zorblat lighthouse",
        "Kelp notes",  # a first line that is a sentence is no title: the file name is
        "Gull notes",  # nothing follows the line: it is the text, not its title
    ]
