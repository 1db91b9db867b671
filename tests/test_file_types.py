"""File types people have (issue 27, item 3): Word documents, CSV/TSV and Excel tables,
reStructuredText, and text in other encodings than UTF-8.

Every file is written here by the libraries themselves (python-docx, openpyxl, csv, str.encode)
into tmp_path. Each type is read into exact text, title, headings and sections, never cites a
heading, refuses a damaged file with a one-line DocumentError naming it, and is indexed end to
end with the fake embedder (offsets exact: ``doc.text[start:end] == sentence``).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest

import rag
from rag import build_index
from rag.errors import DocumentError
from rag.indexing.search_index import open_index
from rag.indexing.store import load
from rag.ingestion import tables
from rag.ingestion.documents import SUPPORTED, load_documents, read_file
from rag.ingestion.sentences import split_sentences
from rag.ingestion.structure import heading_title, section_at
from rag.records import Document

from .conftest import FakeEmbedder


def sentences(doc: Document) -> list[str]:
    """The document's sentences (offsets checked), none of them a heading or overlapping one."""
    found = split_sentences(doc)
    for s in found:
        assert doc.text[s.start : s.end] == s.text
        assert not any(a < s.end and s.start < b for a, b, _ in doc.headings), s.text
        assert not any(a < s.end and s.start < b for a, b in doc.markers), s.text
    return [s.text for s in found]


def headings(doc: Document) -> list[tuple[str, int]]:
    return [(heading_title(doc.text[a:b]), level) for a, b, level in doc.headings]


def sections(doc: Document) -> dict[str, str]:
    """Each sentence and the section it lies in."""
    return {s.text: section_at(doc, s.start) for s in split_sentences(doc)}


def indexed(tmp_path: Path, path: Path, embedder: FakeEmbedder, question: str, expected: str) -> rag.Hit:
    """Index ``path`` alone (chunks of about one sentence); the hit of ``question`` that holds ``expected``.

    The index holds ``expected`` as a sentence whose offsets give back its text in the document.
    """
    idx = tmp_path / "index"
    report = build_index(
        [path], idx, embedder=embedder, progress=False, chunk_tokens=16, overlap_tokens=0, max_sentence_tokens=16
    )
    assert report.skipped == [] and report.documents == 1
    data = load(idx)
    held = [(data.docs[row], start, end) for row, start, end in data.sentences]
    assert expected in [doc.text[start:end] for doc, start, end in held]
    open_index(idx, embedder=embedder)
    hits = rag.retrieve(question, k=3, index_dir=idx)
    hit = next(h for h in hits if any(s.text == expected for s in h.sentences))
    sentence = next(s for s in hit.sentences if s.text == expected)
    assert data.docs[0].text[sentence.start : sentence.end] == expected
    return hit


def test_every_new_type_is_supported_everywhere(capsys) -> None:
    from rag.cli import main
    from ui.app import FILE_TYPES

    assert {".docx", ".csv", ".tsv", ".xlsx", ".rst"} <= SUPPORTED
    assert set(FILE_TYPES) == SUPPORTED  # the UI's upload accepts them
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    build_help = capsys.readouterr().out
    assert all(suffix in build_help for suffix in (".docx", ".csv", ".tsv", ".xlsx", ".rst"))
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    assert all(f"`{suffix}`" in readme for suffix in (".docx", ".csv", ".tsv", ".xlsx", ".rst"))


# --- Word -------------------------------------------------------------------------------------


def make_docx(path: Path, title: str = "Heron Bridge report", created: dt.datetime | None = dt.datetime(2024, 5, 1, 9)) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    if created:
        d.core_properties.created = created
    d.add_heading("The Heron Bridge", 0)  # the Title style
    d.add_paragraph("The Heron Bridge crosses the river Ouse at Fenwick.")
    d.add_heading("History", 1)
    d.add_paragraph("It opened on 12 March 1998. Building it cost 14 million pounds.")
    d.add_paragraph("The timber deck was replaced in 2015", style="List Bullet")
    d.add_paragraph("The cables were replaced in 2020", style="List Bullet")
    d.add_heading("Inspections", 2)
    d.add_paragraph("Engineers check the cables", style="List Number")
    d.add_paragraph("Divers check the piers", style="List Number")
    d.add_paragraph("Inspections take place every spring.\nThe report is public.")  # a line break inside
    d.add_paragraph("")
    d.add_heading("Costs", 1)
    table = d.add_table(rows=4, cols=3)
    rows = [("Year", "Work", "Cost"), ("1998", "Building", "14 million pounds"), ("2015", "New deck", "2 million pounds")]
    for r, row in enumerate([*rows, ("2022", "Repainting", "")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(3, 1).merge(table.cell(3, 2))  # one cell across two columns: read once
    d.add_paragraph("The bridge is repainted every seven years.")
    d.save(str(path))
    return path


DOCX_TEXT = """The Heron Bridge

The Heron Bridge crosses the river Ouse at Fenwick.

History

It opened on 12 March 1998. Building it cost 14 million pounds.

- The timber deck was replaced in 2015
- The cables were replaced in 2020

Inspections

1. Engineers check the cables
2. Divers check the piers

Inspections take place every spring.
The report is public.

Costs

Year: 1998; Work: Building; Cost: 14 million pounds

Year: 2015; Work: New deck; Cost: 2 million pounds

Year: 2022; Work: Repainting

The bridge is repainted every seven years."""


def test_docx_paragraphs_headings_lists_and_tables(tmp_path: Path) -> None:
    (doc,) = read_file(make_docx(tmp_path / "heron.docx"))
    assert doc.text == DOCX_TEXT
    assert (doc.title, doc.date) == ("Heron Bridge report", "2024-05-01")  # core properties: title, created
    assert headings(doc) == [("The Heron Bridge", 1), ("History", 1), ("Inspections", 2), ("Costs", 1)]
    assert [doc.text[a:b] for a, b in doc.markers] == ["-", "-", "1.", "2."]
    assert sections(doc) == {
        "The Heron Bridge crosses the river Ouse at Fenwick.": "The Heron Bridge",
        "It opened on 12 March 1998.": "History",
        "Building it cost 14 million pounds.": "History",
        "The timber deck was replaced in 2015": "History",
        "The cables were replaced in 2020": "History",
        "Engineers check the cables": "History > Inspections",
        "Divers check the piers": "History > Inspections",
        "Inspections take place every spring.": "History > Inspections",
        "The report is public.": "History > Inspections",
        "Year: 1998; Work: Building; Cost: 14 million pounds": "Costs",
        "Year: 2015; Work: New deck; Cost: 2 million pounds": "Costs",
        "Year: 2022; Work: Repainting": "Costs",
        "The bridge is repainted every seven years.": "Costs",
    }
    assert len(sentences(doc)) == 13


@pytest.mark.parametrize(
    ("title", "created", "expected"),
    [
        ("", dt.datetime(2023, 9, 15, 8), ("The Heron Bridge", "2023-09-15")),  # no title: the first heading
        ("heron.docx", None, ("The Heron Bridge", "")),  # a file name is no title; python-docx's template date is no date
    ],
)
def test_docx_title_falls_back_to_the_first_heading(tmp_path: Path, title: str, created, expected) -> None:
    (doc,) = read_file(make_docx(tmp_path / "heron.docx", title, created))
    assert (doc.title, doc.date) == expected


def test_docx_without_headings_is_titled_by_its_file_name(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph("Owls hunt at night.")
    d.add_table(rows=1, cols=2).rows[0].cells[0].text = "A lone row"
    d.save(str(tmp_path / "owl_notes.docx"))
    (doc,) = read_file(tmp_path / "owl_notes.docx")
    assert (doc.text, doc.title, doc.headings) == ("Owls hunt at night.\n\nA lone row", "Owl notes", ())


def test_docx_end_to_end(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    hit = indexed(
        tmp_path, make_docx(tmp_path / "heron.docx"), fake_embedder, "When was the timber deck replaced?",
        "The timber deck was replaced in 2015",
    )  # fmt: skip
    assert (hit.title, hit.date, hit.section) == ("Heron Bridge report", "2024-05-01", "History")


# --- CSV, TSV and Excel -------------------------------------------------------------------------


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter).writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


BRIDGES = [
    ["Name", "Opened", "Designer", "Note"],
    ["Heron Bridge", "1998", "Mara Lindqvist", "Cable-stayed; crosses the Ouse"],
    ["", "", "", ""],  # an empty row: skipped
    ["Kelp Bridge", "2001", "", 'Called "the Kelp"\nby locals'],  # an empty cell, quotes, a line break
]
BRIDGES_TEXT = (
    "Name: Heron Bridge; Opened: 1998; Designer: Mara Lindqvist; Note: Cable-stayed; crosses the Ouse\n\n"
    'Name: Kelp Bridge; Opened: 2001; Note: Called "the Kelp" by locals'
)


@pytest.mark.parametrize(("name", "delimiter"), [("bridges.csv", ","), ("semicolons.csv", ";"), ("bridges.tsv", "\t")])
def test_csv_and_tsv_rows_keep_their_header(tmp_path: Path, name: str, delimiter: str) -> None:
    (doc,) = read_file(write_csv(tmp_path / name, BRIDGES, delimiter))
    assert doc.text == BRIDGES_TEXT
    assert (doc.title, doc.headings, doc.markers) == (Path(name).stem.capitalize(), (), ())
    assert sentences(doc) == [
        "Name: Heron Bridge; Opened: 1998; Designer: Mara Lindqvist; Note: Cable-stayed; crosses the Ouse",
        'Name: Kelp Bridge; Opened: 2001; Note: Called "the Kelp" by locals',
    ]


def test_csv_in_latin_1_and_rows_wider_than_the_header(tmp_path: Path) -> None:
    rows = [["Ville", "Café"], ["Fenwick", "Le Héron", "ouvert à 7 h"]]
    (doc,) = read_file(write_csv(tmp_path / "cafés.csv", rows, encoding="latin-1"))
    assert doc.text == "Ville: Fenwick; Café: Le Héron; Column 3: ouvert à 7 h"


def test_csv_end_to_end(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    rows = [["Name", "Opened"], *([f"Bridge {n}", str(1900 + n)] for n in range(20)), ["Heron Bridge", "1998"]]
    hit = indexed(
        tmp_path,
        write_csv(tmp_path / "bridges.csv", rows),
        fake_embedder,
        "Heron Bridge opened",
        "Name: Heron Bridge; Opened: 1998",
    )
    assert hit.title == "Bridges"


def make_xlsx(path: Path, sheets: dict[str, list[list]], title: str | None = None) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.properties.title = title
    book.save(str(path))
    return path


WORKBOOK = {
    "Bridges": [
        ["Name", "Opened", "Length (m)", "Toll"],
        ["Heron Bridge", dt.datetime(1998, 3, 12), 120.5, False],
        [],  # an empty row: skipped
        ["Kelp Bridge", 2001, 80.0, None],
        [None, None, "=B2+1", None],  # a formula never computed by Excel: no value, an empty row
    ],
    "Empty": [],
    "Notes": [["Note"], ["The Heron Bridge is repainted every seven years."]],
}


def test_xlsx_sheets_are_sections_and_rows_keep_their_header(tmp_path: Path) -> None:
    (doc,) = read_file(make_xlsx(tmp_path / "bridges.xlsx", WORKBOOK, "Fenwick bridges"))
    assert doc.text == (
        "Bridges\n\n"
        "Name: Heron Bridge; Opened: 1998-03-12; Length (m): 120.5; Toll: FALSE\n\n"
        "Name: Kelp Bridge; Opened: 2001; Length (m): 80\n\n"
        "Notes\n\n"
        "Note: The Heron Bridge is repainted every seven years."
    )
    assert (doc.title, headings(doc)) == ("Fenwick bridges", [("Bridges", 1), ("Notes", 1)])  # no heading for an empty sheet
    assert sections(doc) == {
        "Name: Heron Bridge; Opened: 1998-03-12; Length (m): 120.5; Toll: FALSE": "Bridges",
        "Name: Kelp Bridge; Opened: 2001; Length (m): 80": "Bridges",
        "Note: The Heron Bridge is repainted every seven years.": "Notes",
    }
    assert len(sentences(doc)) == 3


def test_a_one_sheet_workbook_has_no_heading(tmp_path: Path) -> None:
    (doc,) = read_file(make_xlsx(tmp_path / "tolls.xlsx", {"Sheet1": [["Bridge", "Toll"], ["Heron", 2]]}))
    assert (doc.text, doc.title, doc.headings) == ("Bridge: Heron; Toll: 2", "Tolls", ())


def test_xlsx_end_to_end(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    hit = indexed(
        tmp_path, make_xlsx(tmp_path / "bridges.xlsx", WORKBOOK), fake_embedder, "When is the Heron Bridge repainted?",
        "Note: The Heron Bridge is repainted every seven years.",
    )  # fmt: skip
    assert (hit.title, hit.section) == ("Bridges", "Notes")


@pytest.mark.parametrize(
    ("limit", "value", "message"),
    [
        ("MAX_TABLE_CHARS", 100, "more than 100 characters of rows as text; split it"),
        ("MAX_TABLE_ROWS", 5, "more than 5 rows; split it"),
        ("MAX_TABLE_CELLS", 9, "more than 9 cells; split it"),
    ],
)
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_table_past_the_limits_is_refused(
    tmp_path: Path, monkeypatch, limit: str, value: int, message: str, suffix: str
) -> None:
    monkeypatch.setattr(tables, limit, value)
    rows = [["Name", "Opened"], *([f"Bridge number {n}", str(1900 + n)] for n in range(10))]
    path = write_csv(tmp_path / "big.csv", rows) if suffix == ".csv" else make_xlsx(tmp_path / "big.xlsx", {"S": rows})
    with pytest.raises(DocumentError) as err:
        read_file(path)
    assert str(err.value) == f"{path}: {message}"


def test_a_csv_field_past_the_csv_modules_limit_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "wide.csv", [["Note"], ["x" * 200_000]])
    with pytest.raises(DocumentError) as err:
        read_file(path)
    assert str(err.value) == f"{path}: unreadable CSV (line 2: field larger than field limit (131072))"


# --- reStructuredText ------------------------------------------------------------------------

RST = """=================
 The Heron Bridge
=================

The Heron Bridge crosses the river Ouse at Fenwick.

History
=======

It opened on 12 March 1998.

- It cost 14 million pounds.
- It was designed by Mara
  Lindqvist.
* Its deck is timber

Inspections
-----------
#. Engineers check the cables.
#. Divers check the piers.

Short
--

Fares
=====

A ticket costs two pounds.
"""


def test_rst_section_titles_and_bullets(tmp_path: Path) -> None:
    path = tmp_path / "heron.rst"
    path.write_text(RST, "utf-8")
    (doc,) = read_file(path)
    assert doc.text == RST
    assert doc.title == "The Heron Bridge"  # the overlined title that opens the document
    assert headings(doc) == [("The Heron Bridge", 1), ("History", 2), ("Inspections", 3), ("Fares", 2)]
    assert doc.text[doc.headings[0][0] : doc.headings[0][1]] == "=================\n The Heron Bridge\n================="
    assert [doc.text[a:b] for a, b in doc.markers] == ["-", "-", "*", "#.", "#."]
    assert sections(doc) == {
        "The Heron Bridge crosses the river Ouse at Fenwick.": "",  # the document's title is no section
        "It opened on 12 March 1998.": "History",
        "It cost 14 million pounds.": "History",
        "It was designed by Mara\n  Lindqvist.": "History",
        "Its deck is timber": "History",
        "Engineers check the cables.": "History > Inspections",
        "Divers check the piers.": "History > Inspections",
        "Short\n--": "History > Inspections",  # an underline shorter than its title and than 4: no title (as docutils)
        "A ticket costs two pounds.": "Fares",
    }
    assert len(sentences(doc)) == 9


def test_rst_end_to_end(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    path = tmp_path / "heron.rst"
    path.write_text(RST, "utf-8")
    hit = indexed(tmp_path, path, fake_embedder, "How much does a ticket cost?", "A ticket costs two pounds.")
    assert (hit.title, hit.section) == ("The Heron Bridge", "Fares")


# --- encodings -------------------------------------------------------------------------------

FRENCH = "Le café de la gare ouvre à sept heures.\nLes élèves déjeunent à midi, dit l’été « Noël »."
GERMAN = "Die Brücke über die Ouse wurde 1998 eröffnet.\nSie kostete vierzehn Millionen Pfund."


@pytest.mark.parametrize(
    ("name", "data", "text"),
    [
        ("latin-1.txt", GERMAN.encode("latin-1"), GERMAN),
        ("cp1252.md", FRENCH.encode("cp1252"), FRENCH),  # ’ « » are cp1252-only
        ("utf-16-le-bom.txt", codecs.BOM_UTF16_LE + FRENCH.encode("utf-16-le"), FRENCH),
        ("utf-16-be-bom.rst", codecs.BOM_UTF16_BE + GERMAN.encode("utf-16-be"), GERMAN),
        ("utf-8-bom.txt", codecs.BOM_UTF8 + FRENCH.encode("utf-8"), FRENCH),  # the mark is dropped
        ("utf-16-no-bom.txt", GERMAN.encode("utf-16-le"), GERMAN),  # identified by charset-normalizer
        ("cp1251.txt", "Мост открыт в 1998 году. Он стоил много.".encode("cp1251"), "Мост открыт в 1998 году. Он стоил много."),
    ],
)
def test_text_in_other_encodings_is_decoded(tmp_path: Path, name: str, data: bytes, text: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    (doc,) = read_file(path)
    assert doc.text == text
    first = sentences(doc)[0]  # its offsets are checked against the decoded text
    assert text.startswith(first)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            codecs.BOM_UTF16_LE + "Owls.".encode("utf-16-le")[:-1],
            "not valid UTF-16 text (byte 10) though it starts with a UTF-16 mark",
        ),
        (b"\x00\x01\x02binary", "looks like a binary file, not text"),  # valid UTF-8, but NULs
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", "looks like a binary file, not text (or UTF-16 without a byte-order mark)"),
        (codecs.BOM_UTF16_LE + "Owls\x00.".encode("utf-16-le"), "looks like a binary file, not text"),
    ],
    ids=["truncated-utf-16", "binary", "binary-not-utf-8", "utf-16-with-nul"],
)
def test_undecodable_text_is_refused_in_one_line(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(data)
    with pytest.raises(DocumentError) as err:
        read_file(path)
    assert str(err.value) == f"{path}: {message}"


def test_latin_1_text_end_to_end(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    path = tmp_path / "bruecke.txt"
    path.write_bytes(GERMAN.encode("latin-1"))
    indexed(tmp_path, path, fake_embedder, "Wann wurde die Brücke eröffnet?", "Die Brücke über die Ouse wurde 1998 eröffnet.")


# --- damaged files ---------------------------------------------------------------------------


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def _replaced(path: Path, part: str, data: bytes) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return _zip({info.filename: data if info.filename == part else archive.read(info) for info in archive.infolist()})


DAMAGED = {
    "text.docx": (lambda good: b"Owls hunt at night.", "unreadable Word document (not a zip archive)"),
    "truncated.docx": (lambda good: good.read_bytes()[:2000], "unreadable Word document (not a zip archive)"),
    "other.docx": (lambda good: _zip({"notes.txt": b"Owls."}), "unreadable Word document (the archive has no word/document.xml)"),
    "broken-xml.docx": (
        lambda good: _replaced(good, "word/document.xml", b"<w:document><w:body"),
        "unreadable Word document (XMLSyntaxError: Namespace prefix w on document is not defined",
    ),
    "garbage.xlsx": (lambda good: b"\x89garbage" * 50, "unreadable Excel workbook (not a zip archive)"),
    "broken-sheet.xlsx": (
        lambda good: _replaced(good, "xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row"),
        "unreadable Excel workbook (ParseError: unclosed token",
    ),
    "bomb.xlsx": (
        lambda good: _replaced(good, "xl/worksheets/sheet1.xml", b"<worksheet>" + b" " * (20 * 2**20) + b"</worksheet>"),
        "unreadable Excel workbook (xl/worksheets/sheet1.xml inflates",
    ),
}


@pytest.mark.parametrize("name", list(DAMAGED))
def test_a_damaged_office_file_is_a_document_error_naming_it(tmp_path: Path, fake_embedder: FakeEmbedder, name: str) -> None:
    make, message = DAMAGED[name]
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("Owls hunt at night. They swallow mice whole.", "utf-8")
    good = make_docx(tmp_path / "good.docx") if name.endswith(".docx") else make_xlsx(tmp_path / "good.xlsx", WORKBOOK)
    bad = folder / name
    bad.write_bytes(make(good))
    with pytest.raises(DocumentError) as err:
        read_file(bad)
    assert str(err.value).startswith(f"{bad}: {message}") and "\n" not in str(err.value)
    docs, skipped = load_documents([folder])  # in a folder: skipped with the same reason
    assert [Path(d.key).name for d in docs] == ["good.txt"] and skipped == [str(err.value)]


def test_a_sheet_that_claims_to_be_huge_is_read_as_the_cells_it_has(tmp_path: Path) -> None:
    """A worksheet's ``<dimension>`` may say A1:XFD1048576 (16,384 columns, a million rows): rows are
    read as wide as their cells, not padded to the size the file claims (400 rows of 16,384 cells
    would pass MAX_TABLE_CELLS)."""
    rows = [["Bridge", "Toll"], *([f"Bridge {n}", n] for n in range(400))]
    good = make_xlsx(tmp_path / "good.xlsx", {"Sheet1": rows})
    with zipfile.ZipFile(good) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    assert b'<dimension ref="A1:B401"/>' in sheet
    claimed = tmp_path / "claimed.xlsx"
    claimed.write_bytes(_replaced(good, "xl/worksheets/sheet1.xml", sheet.replace(b"A1:B401", b"A1:XFD1048576")))
    (doc,) = read_file(claimed)
    assert doc.text == "\n\n".join(f"Bridge: Bridge {n}; Toll: {n}" for n in range(400))


def test_uploads_take_the_new_types(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    from rag.manage import add_documents

    idx = tmp_path / "index"
    (tmp_path / "owls.txt").write_text("Owls hunt at night.", "utf-8")
    build_index([tmp_path / "owls.txt"], idx, embedder=fake_embedder, progress=False)
    rst = tmp_path / "heron.rst"
    rst.write_text(RST, "utf-8")
    files = [
        make_docx(tmp_path / "heron.docx"),
        make_xlsx(tmp_path / "bridges.xlsx", WORKBOOK),
        write_csv(tmp_path / "bridges.tsv", BRIDGES, "\t"),
        rst,
    ]
    report = add_documents(files, idx, embedder=fake_embedder, progress=False)
    assert (report.added, report.documents, report.skipped) == (4, 5, [])
    titles = {Path(d.key).suffix: d.title for d in load(idx).docs}
    assert titles == {
        ".txt": "Owls",
        ".docx": "Heron Bridge report",
        ".xlsx": "Bridges",
        ".tsv": "Bridges",
        ".rst": "The Heron Bridge",
    }
