"""The UI's helpers: highlighting at exact offsets, escaping, abstentions, errors as notices,
document management through the handlers, and the launch safety rules. No browser here."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answering.answer import answer
from rag.errors import ConfigError
from rag.ingestion.documents import make_document
from rag.records import Answer, Citation, Document
from ui import asking, conversation, handlers, render
from ui.app import build_app, is_loopback, launch_auth

ROOT = Path(__file__).resolve().parent.parent
RUSSIA = "This achievement follows Kim Jong Un’s visit to Russia"
RUSSIA_PARAGRAPH = "The successful launch of North Korea’s spy satellite demonstrates"
SCRIPT_DOC = (
    "date 2024-02-03 The Zorblat lighthouse was built in 1887 on Kelp Island.\n\n"
    "Its keeper scratched <script>alert(1)</script> & <b>bold</b> into the door. "
    "The lamp burned whale oil until 1921.\n\nGulls nest on the roof every spring.\n"
)


def _titles(table_html: str) -> list[str]:
    """The titles of a documents table, in order."""
    return [html.unescape(t) for t in re.findall(r'<th scope="row" class="col-title">(.*?)</th>', table_html)]


def _cite(doc: Document, sentence: str, n: int = 1) -> Citation:
    start = doc.text.index(sentence)
    return Citation(n, sentence, doc.id, doc.title, doc.source, doc.date, start, start + len(sentence), 0.9)


@pytest.fixture
def script_doc() -> Document:
    return make_document("/docs/zorblat.txt", SCRIPT_DOC, title="Zorblat <lighthouse>", source="/docs/zorblat.txt")


# --- paragraphs and highlighting -------------------------------------------------------------


def test_paragraph_bounds_are_the_text_between_blank_lines(script_doc: Document) -> None:
    text = script_doc.text
    c = _cite(script_doc, "The lamp burned whale oil until 1921.")
    a, b = render.paragraph_bounds(text, c.start, c.end, script_doc.body_start)
    assert (
        text[a:b]
        == "Its keeper scratched <script>alert(1)</script> & <b>bold</b> into the door. The lamp burned whale oil until 1921."
    )


def test_first_paragraph_starts_after_the_date_header(script_doc: Document) -> None:
    c = _cite(script_doc, "The Zorblat lighthouse was built in 1887 on Kelp Island.")
    a, b = render.paragraph_bounds(script_doc.text, c.start, c.end, script_doc.body_start)
    assert script_doc.text[a:b] == "The Zorblat lighthouse was built in 1887 on Kelp Island."


def test_highlight_marks_exact_span_and_escapes_everything(script_doc: Document) -> None:
    c = _cite(script_doc, "The lamp burned whale oil until 1921.", n=2)
    html = render.passage_html(render.group_passages([c], {script_doc.id: script_doc})[0], {script_doc.id: script_doc})
    assert '<mark class="cited">The lamp burned whale oil until 1921.</mark><sup class="cite-n">[2]</sup>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "Zorblat &lt;lighthouse&gt;" in html and "2024-02-03" in html
    assert "<script>" not in html and "<b>bold" not in html


def test_citations_in_one_paragraph_share_a_card(script_doc: Document) -> None:
    docs = {script_doc.id: script_doc}
    first = _cite(script_doc, "Its keeper scratched <script>alert(1)</script> & <b>bold</b> into the door.", n=1)
    second = _cite(script_doc, "The lamp burned whale oil until 1921.", n=2)
    passages = render.group_passages([first, second], docs)
    assert len(passages) == 1
    html = render.passage_html(passages[0], docs)
    assert html.count("<mark") == 2 and "<span class=src-n>[1] [2]</span>" in html


def test_long_paragraph_is_cut_around_the_sentence() -> None:
    filler = " ".join(f"Word{i} filler sentence number {i}." for i in range(200))
    text = f"{filler} The needle is here. {filler}"
    doc = make_document("/docs/long.txt", text)
    html = render.passage_html(render.group_passages([_cite(doc, "The needle is here.")], {doc.id: doc})[0], {doc.id: doc})
    assert '<mark class="cited">The needle is here.</mark>' in html
    assert html.count("…") == 2 and len(html) < 2 * render.CONTEXT_CHARS + 800


def test_citation_of_a_removed_document_shows_the_sentence_alone(script_doc: Document) -> None:
    c = _cite(script_doc, "Gulls nest on the roof every spring.")
    html = render.passage_html(render.group_passages([c], {})[0], {})
    assert '<p class="src-para"><mark class="cited">Gulls nest on the roof every spring.</mark>' in html


def test_sources_link_only_web_addresses() -> None:
    assert render.source_html("https://example.org/a?b=1").startswith('<a href="https://example.org/a?b=1"')
    assert render.source_html("javascript:alert(1)") == "javascript:alert(1)"
    assert render.source_html('/tmp/"x".txt') == "&quot;x&quot;.txt"


def test_server_folders_are_not_shown(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    assert render.display_source(str(tmp_path / "index" / "uploads" / "a.txt")) == "index/uploads/a.txt"
    assert render.display_source("/srv/private/reports/q3.pdf") == "q3.pdf"
    assert render.display_source("data/article.txt") == "data/article.txt"
    assert render.display_source("https://example.org/a.html") == "https://example.org/a.html"


# --- real answers from the article index -----------------------------------------------------


def test_answer_sources_highlight_the_cited_sentence_in_its_paragraph(article_index: Path) -> None:
    result = answer("Who did Kim Jong Un meet in Russia?", index_dir=article_index)
    cited = next(c for c in result.citations if c.text.startswith(RUSSIA))
    docs = handlers.documents_by_id(article_index, {cited.doc_id})
    html = conversation.sources_html(result, docs)
    doc = docs[cited.doc_id]
    a, b = render.paragraph_bounds(doc.text, cited.start, cited.end, doc.body_start)
    assert doc.text[a:b].startswith(RUSSIA_PARAGRAPH)
    assert (
        f'<mark class="cited">{render.esc(doc.text[cited.start : cited.end])}</mark><sup class="cite-n">[{cited.n}]</sup>' in html
    )
    assert html.count('<span class="src-title">') == 1  # cards are grouped under their document
    assert "2024-01-01" in html
    chat = conversation.chat_answer_html(result, turn=3)
    assert f'{render.esc(cited.text)}<a class="cite-n" href="#src-3-{cited.n}">[{cited.n}]</a>' in chat
    assert '<a class="to-sources" href="#sources-3">' in chat and "chat-abstain" not in chat


def test_abstention_looks_different_and_shows_closest_passages(article_index: Path) -> None:
    result = answer("What is the population of North Korea?", index_dir=article_index)
    assert result.abstained
    docs = handlers.documents_by_id(article_index, {e.doc_id for e in result.evidence})
    html = conversation.sources_html(result, docs)
    assert "Not found in your documents" in html and "<summary>Closest passages (not an answer)</summary>" in html
    assert 'class="cited"' not in html and html.count('<mark class="closest">') == 3
    cites = [set(c.split()) for c in re.findall(r'data-cites="([^"]*)"', html)]
    assert set().union(*cites) == {"1", "2", "3"}  # each closest passage has a card its [n] can reach
    chat = conversation.chat_answer_html(result, turn=0)
    assert '<div class="chat-abstain turn-0"' in chat and "<summary>Closest passages (not an answer)</summary>" in chat
    assert all(f'href="#src-0-{n}">[{n}]</a>' in chat for n in (1, 2, 3))
    assert render.esc(result.evidence[0].text) in chat.split("<details", 1)[1]


def test_follow_up_uses_the_earlier_question_as_history(article_index: Path) -> None:
    chat, sources, turns = asking.respond("Did Kim Jong Un visit Russia?", [], [], article_index)
    _, pending = asking.queue_question("Who did he meet there?", chat)[1:]
    chat, sources, turns = asking.respond(pending, chat, turns, article_index)
    assert [t["question"] for t in turns] == ["Did Kim Jong Un visit Russia?", "Who did he meet there?"]
    assert "Vladimir Putin" in chat[-1]["content"] and "Vladimir Putin" in sources
    # each answer keeps its own sources: two sections, the last one shown
    assert sources.count('<section class="turn-sources') == 2 and '<section class="turn-sources current" data-turn="1"' in sources


# --- errors become one-line notices ----------------------------------------------------------


def test_a_question_shows_searching_until_its_answer_replaces_it(article_index: Path) -> None:
    _, chat, pending = asking.queue_question("Who did Kim Jong Un meet in Russia?", [])
    assert [m["role"] for m in chat] == ["user", "assistant"] and "Searching your documents…" in chat[-1]["content"]
    chat, _, _ = asking.respond(pending, chat, [], article_index)
    assert [m["role"] for m in chat] == ["user", "assistant"] and "Vladimir Putin" in chat[-1]["content"]
    assert "Searching" not in str(chat)
    _, chat, pending = asking.queue_question("Who did he meet there?", chat)
    chat, _, _ = asking.respond(pending, chat, [], article_index.parent / "missing")  # an error replaces it too
    assert "Searching" not in str(chat) and "No index at" in chat[-1]["content"]


def test_blank_question_is_a_notice_and_nothing_is_asked() -> None:
    with pytest.warns(UserWarning, match="Type a question first"):
        box, chat, pending = asking.queue_question("   ", [])
    assert pending == "" and chat == [] and box == {"__type__": "update"}
    assert asking.respond("", [], [], "unused") == ({"__type__": "update"},) * 3


def test_missing_index_is_a_one_line_notice_in_the_chat(tmp_path: Path) -> None:
    with pytest.warns(UserWarning) as caught:
        chat, _, turns = asking.respond("What happened?", [{"role": "user", "content": "What happened?"}], [], tmp_path / "none")
    message = str(caught[0].message)
    assert message.startswith("No index at") and "\n" not in message and "Traceback" not in message
    assert chat[-1]["role"] == "assistant" and 'class="chat-error"' in chat[-1]["content"]
    assert turns == {"__type__": "update"}  # the stored conversation is left as it was


def test_notice_escapes_html_for_the_toast() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert handlers.warn("bad file '<img src=x>.txt':\n unsupported") == "Bad file '<img src=x>.txt': unsupported"
    assert str(caught[0].message) == "Bad file &#x27;&lt;img src=x&gt;.txt&#x27;: unsupported"


def test_documents_view_lists_documents_and_explains_a_missing_index(article_index: Path, tmp_path: Path) -> None:
    status, table, dropdown = handlers.documents_view(article_index)
    assert "<b>1</b> document ·" in status and "all-MiniLM-L6-v2" in status
    assert (
        '<th scope="row" class="col-title">Kim Jong Un orders military to annihilate South Korea and US</th>'
        '<td class="col-date">2024-01-01</td>' in table
    )
    assert dropdown.choices[0][0].startswith("Kim Jong Un orders military")
    status, table, _ = handlers.documents_view(tmp_path / "none")
    assert "No index yet" in status and "No documents yet." in table


def test_upload_then_ask_then_remove(article_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(article_index, index)
    upload = tmp_path / "zorblat.txt"
    upload.write_text(SCRIPT_DOC, "utf-8")
    steps: list[tuple[float | None, str]] = []
    box, status, table, _ = handlers.upload([str(upload)], index, lambda f, desc: steps.append((f, desc)))
    assert box is None and "<b>2</b> documents" in status and _titles(table)[1] == "Zorblat"
    assert ("Embedding passages: 1 of 1" in [d for _, d in steps]) and steps[-1] == (1.0, "Done")
    fractions = [f for f, _ in steps if f is not None]
    assert fractions == sorted(fractions)  # the bar only moves forward
    result = answer("When was the Zorblat lighthouse built?", index_dir=index)
    assert result.citations[0].text == "The Zorblat lighthouse was built in 1887 on Kelp Island."
    html = conversation.sources_html(result, handlers.documents_by_id(index, {result.citations[0].doc_id}))
    assert '<mark class="cited">The Zorblat lighthouse was built in 1887 on Kelp Island.</mark>' in html
    doc_id = next(c[1] for c in handlers.documents_view(index)[2].choices if c[0].startswith("Zorblat"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cancelled removal says nothing
        assert handlers.remove(None, index) == ({"__type__": "update"},) * 3
    status, table, _ = handlers.remove(doc_id, index)
    assert "<b>1</b> document ·" in status and _titles(table) == ["Kim Jong Un orders military to annihilate South Korea and US"]


def test_the_last_document_cannot_be_removed(article_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(article_index, index)
    doc_id = handlers.documents_view(index)[2].choices[0][1]
    with pytest.warns(UserWarning, match="only document"):
        assert handlers.remove(doc_id, index) == ({"__type__": "update"},) * 3
    assert len(_titles(handlers.documents_view(index)[1])) == 1


def test_first_upload_creates_the_index(tmp_path: Path) -> None:
    upload = tmp_path / "zorblat.txt"
    upload.write_text(SCRIPT_DOC, "utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        box, status, table, _ = handlers.upload([str(upload)], tmp_path / "index")
    assert box is None and _titles(table) == ["Zorblat"]


def test_unsupported_upload_is_a_notice(article_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(article_index, index)
    bad = tmp_path / "notes.exe"
    bad.write_bytes(b"MZ")
    with pytest.warns(UserWarning, match="unsupported upload"):
        box, status, table, _ = handlers.upload([str(bad)], index)
    assert box is None and len(_titles(table)) == 1
    assert "Not indexed. &#x27;notes.exe&#x27;: unsupported upload; use .csv, .docx, .htm" in status


# --- app and launch rules --------------------------------------------------------------------


def test_build_app_does_not_launch_and_renders_chat_as_escaped_text(tmp_path: Path) -> None:
    import gradio as gr

    demo = build_app(tmp_path / "no-index-yet")
    assert isinstance(demo, gr.Blocks)
    chatbot = next(b for b in demo.blocks.values() if isinstance(b, gr.Chatbot))
    assert chatbot.render_markdown is False and chatbot.sanitize_html is True and chatbot.latex_delimiters == []


def test_importing_the_app_loads_no_model() -> None:
    code = "import sys, ui.app; print(sorted(m for m in ('torch', 'sentence_transformers', 'faiss') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_loopback_needs_no_password_other_hosts_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert launch_auth("127.0.0.1", {}) is None and launch_auth("localhost", {}) is None and is_loopback("::1")
    assert launch_auth("0.0.0.0", {"RAG_UI_USER": "ann", "RAG_UI_PASSWORD": "pw-long-enough"}) == ("ann", "pw-long-enough")
    with pytest.raises(ConfigError, match="needs a password") as err:
        launch_auth("0.0.0.0", {})
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="both"):
        launch_auth("192.168.1.5", {"RAG_UI_USER": "ann"})
    assert launch_auth("0.0.0.0", {"RAG_UI_NO_AUTH": "1"}) is None
    assert "without a password" in capsys.readouterr().err


def test_serve_refuses_an_open_host_without_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ui.app import serve

    for name in ("RAG_UI_USER", "RAG_UI_PASSWORD", "RAG_UI_NO_AUTH"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError):
        serve(index_dir=tmp_path, host="0.0.0.0", port=1)


# --- the conversation kept in the browser, copy text, long questions, mixed uploads ----------


def test_a_stored_conversation_comes_back_and_bad_storage_is_ignored(article_index: Path) -> None:
    chat, sources, turns = [], "", []
    for question in ("Who did Kim Jong Un meet in Russia?", "What is the tallest mountain in Africa?"):
        _, chat, pending = asking.queue_question(question, chat)
        chat, sources, turns = asking.respond(pending, chat, turns, article_index)
    stored = json.loads(json.dumps(turns))  # as the browser keeps it
    again, panel, kept = asking.restore(stored, article_index)
    assert again == chat and panel == sources and kept == turns
    broken = [{"question": "x"}, 5, {**stored[0], "citations": [{"n": "<b>"}]}, stored[1]]
    again, panel, kept = asking.restore(broken, article_index)
    assert kept == [stored[1]] and [m["content"] for m in again][0] == conversation.question_html(
        "What is the tallest mountain in Africa?"
    )
    assert asking.restore("not a list", article_index) == ([], conversation.empty_sources_html(), [])


def test_copy_text_is_plain_with_markers_and_numbered_sources(script_doc: Document) -> None:
    c = _cite(script_doc, "The lamp burned whale oil until 1921.")
    result = Answer("When?", f"{c.text} [1]", [c], [c], False, "When?")
    assert conversation.copy_text(result) == (
        "The lamp burned whale oil until 1921. [1]\n\nSources:\n[1] Zorblat <lighthouse> (2024-02-03): "
        "The lamp burned whale oil until 1921."
    )
    chat = conversation.chat_answer_html(result)
    assert 'data-copy="The lamp burned whale oil until 1921. [1]&#10;' not in chat  # newlines kept as is
    assert f'data-copy="{render.esc(conversation.copy_text(result))}"' in chat
    abstained = Answer("What lamp?", "The indexed documents do not answer this question.", [], [replace(c, n=0)], True, "")
    assert conversation.copy_text(abstained) == (
        "Not found in your documents.\n\n"
        "Closest passages (not an answer):\n[1] Zorblat <lighthouse> (2024-02-03): The lamp burned whale oil until 1921."
    )
    unrelated = replace(abstained, question="Who?")  # no content word shared: no passages offered
    assert conversation.copy_text(unrelated) == "Not found in your documents." and not conversation.closest(unrelated)


def test_a_long_question_is_cut_with_a_notice_and_only_the_cut_one_is_kept() -> None:
    huge = "word " * 1_000_000  # 5 MB pasted
    with pytest.warns(UserWarning, match="only its first 2000 characters are asked"):
        box, chat, pending = asking.queue_question(huge, [])
    assert (
        len(pending) == 1999 and pending == ("word " * 400)[:1999] and chat[-2]["content"] == conversation.question_html(pending)
    )


def test_a_mixed_upload_indexes_the_good_files_and_reports_each_bad_one(article_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(article_index, index)
    (folder := tmp_path / "up").mkdir()
    (folder / "binary_notes.txt").write_bytes(b"\x00\x01")
    (folder / "empty.md").write_text("", "utf-8")
    (folder / "zorblat.txt").write_text(SCRIPT_DOC, "utf-8")
    paths = [str(folder / n) for n in ("binary_notes.txt", "zorblat.txt", "empty.md")]
    with pytest.warns(UserWarning) as caught:
        box, status, table, _ = handlers.upload(paths, index)
    assert [str(w.message) for w in caught] == [
        "binary_notes.txt: looks like a binary file, not text",
        "empty.md: document is empty",
    ]
    assert _titles(table)[1] == "Zorblat" and box is None
    assert "Not indexed. binary_notes.txt: looks like a binary file, not text. empty.md: document is empty." in status
    assert str(folder) not in status


def test_the_documents_table_escapes_and_lists_every_column() -> None:
    table = render.documents_table_html([["<b>R&D</b>", "2024-01-01", 3, 9, "upload: r&d.txt"]])
    assert "<caption>Indexed documents (1)</caption>" in table
    assert '<th scope="row" class="col-title">&lt;b&gt;R&amp;D&lt;/b&gt;</th>' in table
    assert '<td class="col-chunks" data-label="chunks">3</td>' in table and "upload: r&amp;d.txt" in table


def test_a_long_question_is_shortened_above_its_sources_and_whole_in_its_title() -> None:
    question = "How " + "very " * 60 + "long is it?"
    result = Answer(question, "Not found.", [], [], abstained=True, query=question)
    head = re.search(r'<div class="turn-question" title="([^"]*)">“([^”]*)”</div>', conversation.turn_html(result, {}, 0))
    assert head is not None and html.unescape(head.group(1)) == question
    shown = html.unescape(head.group(2))
    assert len(shown) <= conversation.QUESTION_ECHO and shown.endswith("very…") and question.startswith(shown[:-1])


def test_chat_store_keeps_each_conversation_under_its_own_id(tmp_path: Path) -> None:
    """Saved turns come back by id; an id the server did not make is neither read nor written;
    a damaged file reads as a fresh conversation; saving no turns deletes the file."""
    from ui.chats import ChatStore, default_folder, new_id

    store = ChatStore(tmp_path / "chats")
    a, b = new_id(), new_id()
    assert store.save(a, [{"question": "Q1"}]) and store.save(b, [{"question": "Q2"}])
    assert store.load(a) == [{"question": "Q1"}] and store.load(b) == [{"question": "Q2"}]
    assert sorted(p.name for p in (tmp_path / "chats").iterdir()) == sorted([f"{a}.json", f"{b}.json"])
    for bad in ("../../etc/passwd", "", None, 7, a.upper(), a + "0"):
        assert store.load(bad) == [] and store.save(bad, [{"question": "x"}]) is False
    (tmp_path / "chats" / f"{b}.json").write_text("{not json", "utf-8")
    assert store.load(b) == []
    assert store.save(a, []) and not (tmp_path / "chats" / f"{a}.json").exists() and store.load(a) == []
    assert default_folder(tmp_path / "idx", {}) == tmp_path / "idx.conversations"
    assert default_folder("idx", {"RAG_CONVERSATIONS_DIR": str(tmp_path / "c")}) == tmp_path / "c"


def test_a_question_asked_while_the_previous_answer_is_pending_is_put_back_not_dropped() -> None:
    """While a question is being answered, the next one goes back into the box with a notice and
    nothing is queued; once answered (nothing pending) it is asked. The server never empties the box
    (the browser does, at once, so what is typed after Enter stays)."""
    from ui import asking

    box, chat, pending = asking.queue_question("Who did Kim Jong Un meet?", [])
    assert box == {"__type__": "update"} and chat[-1] == asking.SEARCHING and pending == "Who did Kim Jong Un meet?"
    with pytest.warns(UserWarning, match="Still answering"):
        assert asking.queue_question("And in Russia?", chat, pending) == ("And in Russia?", *({"__type__": "update"},) * 2)
    with pytest.warns(UserWarning, match="Still answering"):
        assert asking.ask_exactly(chat, [], pending) == ({"__type__": "update"},) * 2
    assert asking.queue_question("And in Russia?", chat, "")[2] == "And in Russia?"


def test_kept_conversations_are_listed_named_and_survive_a_new_store(tmp_path: Path) -> None:
    """The list (newest first, named by the first question until renamed), a rename kept across
    later saves, and a second store over the same folder (a restarted server) sees the same."""
    import time

    from ui.chats import ChatStore, new_id

    store = ChatStore(tmp_path)
    a, b = new_id(), new_id()
    store.save(a, [{"question": "Who did   Kim meet?"}])
    time.sleep(0.01)
    store.save(b, [{"question": "What happened in 2023?"}, {"question": "And then?"}])
    assert [(c.id, c.title, c.turns) for c in store.conversations()] == [
        (b, "What happened in 2023?", 2),
        (a, "Who did Kim meet?", 1),
    ]
    assert store.rename(a, "  Kim in\nRussia ") and store.save(a, [{"question": "Who did Kim meet?"}, {"question": "Where?"}])
    again = ChatStore(tmp_path)
    assert [(c.id, c.title, c.turns) for c in again.conversations()] == [
        (a, "Kim in Russia", 2),
        (b, "What happened in 2023?", 2),
    ]
    assert again.rename(new_id(), "nothing to name") is False and again.delete(b) and [c.id for c in again.conversations()] == [a]
