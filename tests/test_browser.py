"""End to end: the real server (``rag serve``) driven by Debian's Chromium through playwright.

Asks about the bundled article, uploads a new document and asks about it, then asks an
off-topic question; screenshots go to ``test-artifacts/``. The page must make no request to
any host but the local server.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RUSSIA = "This achievement follows Kim Jong Un’s visit to Russia, where he engaged in talks with President Vladimir Putin and toured Russian weapons factories, further indicating North Korea’s ongoing pursuit of military advancements."
ZORBLAT = "The Zorblat lighthouse was built in 1887 on Kelp Island."
ZORBLAT_DOC = (
    f"{ZORBLAT} Visitors find the words <script>alert(1)</script> scratched into its door.\n\n"
    "Its first keeper, Mara Quill, tended the lamp for forty years.\n"
)
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
TIMEOUT_MS = 90_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"server did not start: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture
def server(article_index: Path, tmp_path: Path) -> Iterator[str]:
    """``rag serve`` on a free loopback port over a private copy of the article index."""
    index = tmp_path / "index"
    shutil.copytree(article_index, index)
    port = _free_port()
    log = tmp_path / "server.log"
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


def _ask(page, question: str, answers_before: int) -> None:
    """Type a question, press Ask, wait until the new answer is in the chat."""
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .bot .chat-answer, #chat .bot .chat-abstain, #chat .bot .chat-error').length > n",
        arg=answers_before,
        timeout=TIMEOUT_MS,
    )
    page.wait_for_timeout(300)  # let the sources panel paint


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _step_answer_about_the_article(page) -> None:
    """The answer cites the Russia sentence, highlighted inside its paragraph."""
    _ask(page, "Who did Kim Jong Un meet in Russia?", 0)
    assert RUSSIA in page.locator("#sources .turn-sources.current mark.cited").all_inner_texts()
    assert "[" in page.locator("#chat .bot").last.inner_text()
    assert "The successful launch of North Korea’s spy satellite" in page.locator("#sources").inner_text()
    _shot(page, "1-answer-with-sources")


def _step_upload_then_ask(page, upload: Path) -> None:
    """Upload a document, wait for the rebuild, and get an answer cited from it (its text escaped)."""
    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(upload))
    page.wait_for_function(
        "() => document.querySelector('#documents-table').innerText.includes('Zorblat lighthouse')", timeout=TIMEOUT_MS
    )
    page.get_by_text("Indexed zorblat_lighthouse.txt").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_timeout(300)
    assert "2</b> documents" in page.locator("#index-status").inner_html()
    _shot(page, "2-document-uploaded")
    page.get_by_role("tab", name="Chat").click()
    _ask(page, "When was the Zorblat lighthouse built?", 1)
    assert page.locator("#sources .turn-sources.current mark.cited").first.inner_text() == ZORBLAT
    sources = page.locator("#sources")
    assert "Zorblat lighthouse" in sources.inner_text()
    assert "<script>alert(1)</script>" in sources.inner_text()  # shown literally ...
    assert sources.locator("script").count() == 0  # ... never as markup
    _shot(page, "3-answer-from-upload")


def _step_off_topic_question(page) -> None:
    """An off-topic question gets a visible "not found" notice and closest passages only."""
    _ask(page, "What is the tallest mountain in Africa?", 2)
    assert page.locator("#sources .abstain-box").inner_text().startswith("Not found in your documents")
    assert page.locator("#sources .turn-sources.current mark.cited").count() == 0
    assert page.locator("#chat .bot .chat-abstain").count() == 1
    _shot(page, "4-abstention")


def test_chat_upload_and_abstain_in_chromium(server: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    upload = tmp_path / "zorblat_lighthouse.txt"
    upload.write_text(ZORBLAT_DOC, "utf-8")
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(server)
            page.wait_for_selector("#question textarea", timeout=TIMEOUT_MS)
            _step_answer_about_the_article(page)
            _step_upload_then_ask(page, upload)
            _step_off_topic_question(page)
        finally:
            browser.close()
    assert dialogs == []
    foreign = sorted(
        {urlsplit(u).hostname or u for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")} - LOCAL_HOSTS
    )
    assert foreign == [], f"requests to other hosts: {foreign}"


def test_upload_refused_and_waiting_states_in_chromium(server: str, tmp_path: Path) -> None:
    """A refused upload leaves a note under the index status; an upload made while another
    process changes the index says it waits, then is indexed once that change is done."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium)")
    import fcntl

    from playwright.sync_api import sync_playwright

    empty, upload = tmp_path / "empty.txt", tmp_path / "zorblat_lighthouse.txt"
    empty.write_text("", "utf-8")
    upload.write_text(ZORBLAT_DOC, "utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server)
            page.get_by_role("tab", name="Documents").click()
            page.locator("#upload input[type=file]").set_input_files(str(empty))
            refused = page.locator("#index-status .index-refused")
            refused.wait_for(timeout=TIMEOUT_MS)
            assert refused.inner_text().startswith("Not indexed. empty.txt: ") and "/tmp" not in refused.inner_text()
            assert "empty.txt" not in page.locator("#upload").inner_text()  # taken: not sent again with the next upload
            _shot(page, "5-upload-refused")
            with open(tmp_path / "index" / ".lock", "a+") as lock:  # as `rag build` in a shell would
                fcntl.flock(lock, fcntl.LOCK_EX)
                page.locator("#upload input[type=file]").set_input_files(str(upload))
                page.locator("#index-status .index-waiting").wait_for(timeout=TIMEOUT_MS)
                page.wait_for_function(  # the progress bar (on the status line only) says so too
                    "() => [...document.querySelectorAll('#index-status [data-testid=status-tracker]')]"
                    ".some(t => t.innerText.includes('Waiting for another change to the index to finish'))",
                    timeout=TIMEOUT_MS,
                )
                _shot(page, "6-upload-waiting")
                fcntl.flock(lock, fcntl.LOCK_UN)
            page.get_by_text("Indexed zorblat_lighthouse.txt").wait_for(timeout=TIMEOUT_MS)
            assert "Zorblat lighthouse" in page.locator("#documents-table").inner_text()
        finally:
            browser.close()
