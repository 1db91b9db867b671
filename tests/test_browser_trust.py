"""End to end, what makes the chat trustworthy (issue "Chat UI that people trust"): live
citations, plain-text copy, abstentions that offer the closest passages, a conversation kept
across reloads, a phone layout, readable contrast, and a Documents tab that survives a
cancelled removal and a rejected file.

One ``rag serve`` for the module (each start loads the model); several steps per test. The
chat tests run first, the document changes last. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_browser import CHROMIUM, CHROMIUM_ARGS, ROOT, RUSSIA, TIMEOUT_MS, _free_port, _shot, _wait_until_up

pytestmark = pytest.mark.browser

TITLE = "Kim Jong Un orders military to annihilate South Korea and US"
DECLARED = "It is crucial to highlight that North Korea has declared itself an “irreversible” nuclear power"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
ZORBLAT_TEXT = "Zorblat lighthouse\nThe Zorblat lighthouse was built in 1887 on Kelp Island. Its keeper was Mara Quill.\n"
CONTRAST_JS = """
(selector) => {
  const el = document.querySelector(selector);
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let bg = null;
  for (let n = el; n && !bg; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) bg = c.slice(0, 3);
  }
  bg = bg || [255, 255, 255];
  const fg = rgb(getComputedStyle(el).color).slice(0, 3);
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}
"""


@pytest.fixture(scope="module")
def server(article_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``rag serve`` for the whole module over a private copy of the article index."""
    import os

    folder = tmp_path_factory.mktemp("trust")
    index = folder / "index"
    shutil.copytree(article_index, index)
    port = _free_port()
    log = folder / "server.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for name in ("RAG_UI_USER", "RAG_UI_PASSWORD", "RAG_UI_NO_AUTH"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "rag.cli", "serve", "--index", str(index), "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser, url: str, viewport: dict[str, int]):
    context = browser.new_context(viewport=viewport, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#question textarea", timeout=TIMEOUT_MS)
    return page


def _answers(page) -> int:
    return page.locator("#chat .bot .chat-answer, #chat .bot .chat-abstain, #chat .bot .chat-error").count()


def _ask(page, question: str) -> None:
    before = _answers(page)
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .bot .chat-answer, #chat .bot .chat-abstain, #chat .bot .chat-error').length > n",
        arg=before,
        timeout=TIMEOUT_MS,
    )
    page.wait_for_timeout(300)


def _in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    view = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 80) <= view["height"]


def _contrast(page, selector: str) -> float:
    return float(page.evaluate(CONTRAST_JS, selector))


def test_citations_copy_abstention_and_reload_on_a_desktop(server: str, browser) -> None:
    page = _page(browser, server, DESKTOP)
    _ask(page, "Who did Kim Jong Un meet in Russia?")
    _ask(page, "What has North Korea declared itself to be?")
    first = page.locator("#chat .bot .chat-answer").first
    assert page.locator("#sources .turn-sources.current").get_attribute("data-turn") == "1"

    # Hover, then focus, the first answer's [1]: a preview of its sentence and title.
    first.locator("a.cite-n").first.hover()
    preview = page.locator("#cite-preview")
    preview.wait_for(state="visible", timeout=5000)
    assert preview.inner_text().startswith(f"[1] {TITLE}") and RUSSIA in preview.inner_text()
    page.mouse.move(5, 5)
    assert not preview.is_visible()
    first.locator("a.cite-n").first.focus()
    assert preview.is_visible() and RUSSIA in preview.inner_text()

    # Click it: the panel shows the FIRST answer's sources, scrolled to the card, flashing.
    first.locator("a.cite-n").first.click()
    card = page.locator('#sources .turn-sources.current .src-card[data-cites~="1"]')
    assert page.locator("#sources .turn-sources.current").get_attribute("data-turn") == "0"
    assert RUSSIA in card.locator("mark.cited").inner_text()
    assert "flash" in (card.get_attribute("class") or "") and _in_viewport(page, card)
    _shot(page, "trust-desktop-1-cited-card")

    # Copy gives plain text: the answer with [1], then the numbered source.
    page.locator("#chat .bot").first.locator("a.copy-msg").click()
    page.wait_for_timeout(300)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{RUSSIA} [1]\n\nSources:\n[1] {TITLE} (2024-01-01): {RUSSIA}"
    labels = page.locator("#chat [data-testid='bot']").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert labels[0] == f"Answer: {RUSSIA}[1]\nSources (1) ↓" and all("<" not in x for x in labels)

    # An off-topic question says "not found" once, with no unrelated passages dressed as an answer.
    _ask(page, "What is the tallest mountain in Africa?")
    assert page.locator("#chat .bot .chat-abstain").inner_text().startswith("Not found in your documents.")
    assert page.locator("#chat .bot .chat-abstain a.cite-n").count() == 0
    _shot(page, "trust-desktop-2-abstention")

    # A reload, and the dark-mode switch, keep the conversation; New conversation starts afresh.
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 3", timeout=TIMEOUT_MS)
    assert page.locator("#chat .user").first.inner_text() == "Who did Kim Jong Un meet in Russia?"
    page.locator("#chat .bot .chat-answer").first.locator("a.cite-n").first.click()
    assert page.locator("#sources .turn-sources.current").get_attribute("data-turn") == "0"
    page.locator("#theme-toggle").click()
    assert page.evaluate("document.body.classList.contains('dark')") and page.locator("#chat .bot").count() == 3
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 3", timeout=TIMEOUT_MS)
    assert page.evaluate("document.body.classList.contains('dark')")
    _shot(page, "trust-desktop-3-dark-after-reload")
    page.locator("#theme-toggle").click()
    page.locator("#new-conversation").click()
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 0", timeout=TIMEOUT_MS)
    page.reload()
    page.wait_for_selector("#sources .sources-empty", timeout=TIMEOUT_MS)
    page.wait_for_timeout(1000)
    assert page.locator("#chat .bot").count() == 0
    page.context.close()


def test_contrast_focus_settings_and_long_questions(server: str, browser) -> None:
    page = _page(browser, server, DESKTOP)
    for dark in (False, True):
        if dark:
            page.locator("#theme-toggle").click()
        for selector in ("#intro p", "#sources .sources-empty"):
            assert _contrast(page, selector) >= 4.5, (selector, dark)
    page.locator("#theme-toggle").click()
    # Keyboard focus on Ask draws a ring that stands out from the page.
    page.locator("#question textarea").focus()
    page.keyboard.press("Tab")
    page.wait_for_timeout(500)  # the button's colour transition
    ring = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); "
        "return [document.activeElement.id, s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor]; }"
    )
    assert ring[:3] == ["ask", "solid", 3] and ring[3] == "rgb(29, 78, 216)"
    # Gradio's developer Settings are not offered; the theme switch is.
    assert page.get_by_text("Settings", exact=True).count() == 0 and page.locator("#theme-toggle").is_visible()
    # The chat's copy icons never sit on another icon (the clear icon is gone).
    _ask(page, "Who did Kim Jong Un meet in Russia?")
    assert page.locator("#sources .src-meta").first.is_visible() and _contrast(page, "#sources .src-meta") >= 4.5
    boxes = [b for b in page.locator("#chat button").evaluate_all(
        "els => els.filter(e => e.offsetParent).map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
    ) if b[2] > b[0]]  # fmt: skip
    assert not any(
        a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3] for i, a in enumerate(boxes) for b in boxes[i + 1 :]
    )
    assert page.locator("#chat button[aria-label='Clear']").is_hidden()
    # A copied question is the question as typed, not its HTML.
    _ask(page, 'What did "R&D <weapons>" tests show?')
    page.locator("#chat .user").last.locator("a.copy-msg").click()
    page.wait_for_timeout(300)
    assert page.evaluate("navigator.clipboard.readText()") == 'What did "R&D <weapons>" tests show?'
    # A pasted question over 2000 characters is not cut silently: the user is told, and the cut one is shown.
    long = " ".join(["Who did Kim Jong Un meet in Russia and what did they discuss?"] * 40)
    page.locator("#question textarea").fill(long)
    assert len(page.locator("#question textarea").input_value()) == len(long)
    page.locator("#ask").click()
    page.get_by_text("only its first 2000 characters are asked").first.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 3", timeout=TIMEOUT_MS)
    assert len(page.locator("#chat .user").last.inner_text()) == 2000
    page.context.close()


def test_phone_layout_reaches_each_answers_sources(server: str, browser) -> None:
    page = _page(browser, server, PHONE)
    page.locator("#new-conversation").click()
    assert _in_viewport(page, page.locator("#question textarea"))  # the intro no longer pushes it down
    assert page.locator("#intro .intro-long").is_hidden() and page.locator("#intro .intro-short").is_visible()
    _shot(page, "trust-phone-0-start")
    _ask(page, "Who did Kim Jong Un meet in Russia?")
    _ask(page, "What has North Korea declared itself to be?")
    first = page.locator("#chat .bot .chat-answer").first
    first.locator("a.cite-n").first.click()
    card = page.locator('#sources .turn-sources.current .src-card[data-cites~="1"]')
    assert page.locator("#sources .turn-sources.current").get_attribute("data-turn") == "0"
    assert _in_viewport(page, card) and RUSSIA in card.inner_text()
    _shot(page, "trust-phone-1-first-answers-card")
    page.locator("#sources .turn-sources.current a.to-answer").click()
    assert _in_viewport(page, first)
    page.locator("#chat .bot .chat-answer").nth(1).locator("a.to-sources").click()
    section = page.locator("#sources .turn-sources.current")
    assert section.get_attribute("data-turn") == "1" and _in_viewport(page, section) and DECLARED in section.inner_text()
    # The documents list reads on a phone: no header cell or date wrapped into pieces.
    page.get_by_role("tab", name="Documents").click()
    page.locator("#documents-table tbody tr").first.wait_for(timeout=TIMEOUT_MS)
    row = page.locator("#documents-table tbody tr").first
    assert row.locator(".col-date").inner_text() == "2024-01-01"
    date_box = row.locator(".col-date").bounding_box()
    assert date_box is not None and date_box["height"] < 30  # one line
    assert row.locator("th").inner_text() == TITLE
    _shot(page, "trust-phone-2-documents")
    page.context.close()


def test_documents_rejected_file_mixed_batch_progress_and_cancelled_removal(server: str, browser, tmp_path: Path) -> None:
    page = _page(browser, server, DESKTOP)
    page.get_by_role("tab", name="Documents").click()
    page.locator("#documents-table tbody tr").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#remove").is_disabled()  # nothing chosen yet
    upload = page.locator("#upload input[type=file]")
    binary, good, other = tmp_path / "binary_notes.txt", tmp_path / "zorblat.txt", tmp_path / "heron.md"
    binary.write_bytes(b"\x00\x01binary")
    good.write_text(ZORBLAT_TEXT, "utf-8")
    other.write_text("# Heron bridge\n\nThe Heron bridge opened in 1998 over the Wend river.\n", "utf-8")

    # A rejected file, then a good one: the good one is indexed (titled from its first line).
    upload.set_input_files(str(binary))
    refused = page.locator("#index-status .index-refused")
    refused.wait_for(timeout=TIMEOUT_MS)
    assert refused.inner_text() == "Not indexed. binary_notes.txt: looks like a binary file, not text."
    upload.set_input_files(str(good))
    page.get_by_text("Indexed zorblat.txt").wait_for(timeout=TIMEOUT_MS)
    assert "Zorblat lighthouse" in page.locator("#documents-table tbody").inner_text()
    assert page.locator("#index-status .index-refused").count() == 0

    # A mixed batch: the good file is indexed, the bad one reported in one line by its name.
    upload.set_input_files([str(binary), str(other)])
    page.get_by_text("Indexed heron.md").wait_for(timeout=TIMEOUT_MS)
    assert "Heron bridge" in page.locator("#documents-table tbody").inner_text()
    assert refused.inner_text() == "Not indexed. binary_notes.txt: looks like a binary file, not text."
    toasts = page.locator("[data-testid='toast-body']").all_inner_texts()
    assert any("binary_notes.txt: looks like a binary file" in t for t in toasts) and not any("/" in t for t in toasts)

    # A large upload: one progress bar (on the status line) moving with the embedding; the table stays.
    big = tmp_path / "big_report.txt"
    big.write_text(
        "\n\n".join(f"Section {i} of the report says that plant number {i} made {i * 7} tonnes of steel." for i in range(900)),
        "utf-8",
    )
    page.evaluate(_WATCH_PROGRESS)
    upload.set_input_files(str(big))
    page.get_by_text("Indexed big_report.txt").wait_for(timeout=TIMEOUT_MS)
    seen = page.evaluate("window.__progress")
    assert seen["elsewhere"] == 0 and seen["tableHidden"] == 0, seen
    embedding = sorted({t for t in seen["texts"] if "Embedding passages" in t})
    assert len(embedding) >= 3, seen["texts"]
    _shot(page, "trust-desktop-4-documents")

    # Cancel a removal: nothing breaks; then confirm it: the document is gone.
    page.locator("#remove-choice input").click()
    page.get_by_role("option", name="Heron bridge").click()
    page.wait_for_function("() => !document.querySelector('#remove').disabled", timeout=10_000)
    page.once("dialog", lambda d: d.dismiss())
    page.locator("#remove").click()
    page.wait_for_timeout(1500)
    assert "Error" not in page.locator("body").inner_text()
    assert page.locator("#remove-choice input").input_value().startswith("Heron bridge")
    assert "Heron bridge" in page.locator("#documents-table").inner_text()
    page.once("dialog", lambda d: d.accept())
    page.locator("#remove").click()
    page.get_by_text("Document removed.").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_timeout(300)
    assert "Heron bridge" not in page.locator("#documents-table").inner_text()
    page.wait_for_function("() => document.querySelector('#remove').disabled", timeout=10_000)
    page.context.close()


_WATCH_PROGRESS = """
() => {
  const seen = { texts: [], elsewhere: 0, tableHidden: 0 };
  window.__progress = seen;
  const look = () => {
    document.querySelectorAll('[data-testid="status-tracker"]').forEach((t) => {
      const shown = t.offsetParent !== null && !t.classList.contains("hide") && t.innerText.trim() !== "";
      if (!shown) return;
      if (!t.closest("#index-status")) seen.elsewhere += 1;
      else if (!seen.texts.includes(t.innerText)) seen.texts.push(t.innerText);
    });
    const table = document.querySelector("#documents-table table");
    if (!table || table.offsetParent === null) seen.tableHidden += 1;
  };
  new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true });
}
"""
