"""End to end, chat UI round 3 (issue 24): every message copies itself, whatever the turn.

One ``rag serve`` for the module (the fixtures of ``test_browser_trust``); Chromium through
playwright with clipboard permissions, so the real clipboard is read back.
"""

from __future__ import annotations

import re

import pytest

from .test_browser_trust import DESKTOP, RUSSIA, TITLE, _ask, _page, browser, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

QUESTIONS = [
    "Who did Kim Jong Un meet in Russia?",
    "What has North Korea declared itself to be?",
    'What did "R&D <weapons>" tests show?',
]
_ANSWER_TEXT_JS = """
(el) => { const c = el.cloneNode(true); c.querySelectorAll('.answer-foot, details').forEach((f) => f.remove());
  return c.innerText; }
"""


def _plain(text: str) -> str:
    """Text without ``[n]`` markers or spacing differences (the chat shows markers as links)."""
    return " ".join(re.sub(r"\[\d+\]", " ", text).split())


def test_each_message_of_a_three_turn_chat_copies_itself(server: str, browser) -> None:  # noqa: F811
    page = _page(browser, server, DESKTOP)
    page.locator("#new-conversation").click()
    for question in QUESTIONS:
        _ask(page, question)
    assert page.locator("#chat button[aria-label='Copy message']").count() == 0  # Gradio's own is gone
    users, bots = page.locator("#chat .user"), page.locator("#chat .bot")
    assert users.count() == bots.count() == 3
    copied: list[str] = []
    for turn in range(3):
        for message in (users.nth(turn), bots.nth(turn)):
            page.evaluate("navigator.clipboard.writeText('')")
            message.locator("a.copy-msg").click()
            page.wait_for_function("() => navigator.clipboard.readText().then((t) => t !== '')", timeout=5000)
            copied.append(page.evaluate("navigator.clipboard.readText()"))
    for turn, question in enumerate(QUESTIONS):
        assert copied[2 * turn] == question
        answer = copied[2 * turn + 1]
        shown = bots.nth(turn).locator(".chat-answer, .chat-abstain").evaluate(_ANSWER_TEXT_JS)
        if answer.startswith("Not found in your documents"):
            assert _plain(shown).startswith("Not found in your documents")
        else:
            assert _plain(answer.split("\n\n")[0]) == _plain(shown) and "\n\nSources:\n[1] " in answer
    assert copied[1] == f"{RUSSIA} [1]\n\nSources:\n[1] {TITLE} (2024-01-01): {RUSSIA}"
    assert len(set(copied)) == 6  # no message copies another
    page.context.close()


def test_an_abstention_says_not_found_once_and_hides_unrelated_passages(server: str, browser) -> None:  # noqa: F811
    page = _page(browser, server, DESKTOP)
    page.locator("#new-conversation").click()
    _ask(page, "What is the capital of Peru?")
    message = page.locator("#chat .bot .chat-abstain")
    assert message.inner_text().count("ot found") == 1 and "do not answer" not in message.inner_text()
    # Nothing shares a word with the question: no passages, no [n], in the chat or the panel.
    assert message.locator("a.cite-n").count() == 0 and message.locator("details").count() == 0
    panel = page.locator("#sources .turn-sources.current")
    assert panel.inner_text().count("ot found") == 1 and panel.locator(".src-card").count() == 0
    # A related miss offers the closest passages, collapsed and labelled as not an answer.
    _ask(page, "What is the population of North Korea?")
    message = page.locator("#chat .bot").last.locator(".chat-abstain")
    assert message.inner_text().count("ot found") == 1
    offer = message.locator("details.possible-answer")
    assert offer.locator("summary").inner_text() == "Closest passages (not an answer)"
    assert offer.get_attribute("open") is None and not offer.locator("a.cite-n").first.is_visible()
    folded = page.locator("#sources .turn-sources.current details.closest-passages")
    assert folded.get_attribute("open") is None and folded.locator("summary").inner_text() == "Closest passages (not an answer)"
    # Opened and followed, a passage's [n] opens the panel's folded cards at its card.
    offer.locator("summary").click()
    offer.locator("a.cite-n").first.click()
    assert folded.get_attribute("open") is not None and folded.locator('.src-card[data-cites~="1"]').is_visible()
    page.context.close()


def test_a_rewritten_follow_up_says_what_was_searched_and_can_be_asked_as_typed(server: str, browser) -> None:  # noqa: F811
    page = _page(browser, server, DESKTOP)
    page.locator("#new-conversation").click()
    exact = page.locator("#ask-exact")
    _ask(page, "Did Kim Jong Un visit Russia?")
    bots = page.locator("#chat .bot")
    assert bots.nth(0).locator(".searched").count() == 0 and not exact.is_visible()  # asked alone: searched as typed
    _ask(page, "Who did he meet there?")
    searched = bots.nth(1).locator(".searched")
    assert searched.inner_text() == "Searched for: “Who did Kim Jong Un meet in Russia?”"
    exact.wait_for(state="visible", timeout=5000)
    exact.click()
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 3", timeout=60000)
    assert page.locator("#chat .user").nth(2).inner_text().strip() == "Who did he meet there?"
    assert bots.nth(2).locator(".searched").count() == 0  # answered without the conversation: searched as typed
    exact.wait_for(state="hidden", timeout=5000)
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 3", timeout=30000)
    assert page.locator("#chat .bot").nth(1).locator(".searched").count() == 1 and not exact.is_visible()
    page.context.close()


def test_example_chips_ask_questions_about_the_index_at_once(server: str, browser) -> None:  # noqa: F811
    from ui.examples import SAMPLE_QUESTIONS

    page = _page(browser, server, DESKTOP)
    page.locator("#new-conversation").click()
    chips = page.locator("#examples button.example-chip:visible")
    chips.first.wait_for(state="visible", timeout=30000)
    shown = [chips.nth(i).inner_text().strip() for i in range(chips.count())]
    assert shown[:3] == list(SAMPLE_QUESTIONS)  # this server indexes the sample article
    chips.nth(1).click()  # asks it: no need to press Ask
    page.wait_for_function("() => document.querySelectorAll('#chat .bot .chat-answer').length === 1", timeout=60000)
    assert page.locator("#chat .user").first.inner_text().strip() == SAMPLE_QUESTIONS[1]
    assert RUSSIA in page.locator("#chat .bot .chat-answer").first.inner_text()
    assert page.locator("#chat .chat-pending").count() == 0 and page.locator("#chat .bot").count() == 1  # replaced
    page.context.close()


def test_each_tab_keeps_its_own_conversation(server: str, browser) -> None:  # noqa: F811
    """Two tabs of one browser (shared localStorage): each asks, one starts a new conversation, and
    a reload of the other still shows its own turn; the new one stays empty after a reload."""
    first = _page(browser, server, DESKTOP)
    first.locator("#new-conversation").click()
    _ask(first, QUESTIONS[0])
    second = first.context.new_page()
    second.goto(server)
    second.wait_for_selector("#question textarea", timeout=30000)
    second.wait_for_timeout(1000)
    assert second.locator("#chat .bot").count() == 0  # a new tab starts its own conversation
    _ask(second, QUESTIONS[1])
    second.locator("#new-conversation").click()
    second.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 0", timeout=10000)
    first.reload()
    first.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 1", timeout=30000)
    assert [first.locator("#chat .user").nth(0).inner_text().strip()] == [QUESTIONS[0]]
    second.reload()
    second.wait_for_selector("#sources .sources-empty", timeout=30000)
    second.wait_for_timeout(1000)
    assert second.locator("#chat .bot").count() == 0
    _ask(second, QUESTIONS[2])
    first.reload()
    first.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 1", timeout=30000)
    assert first.locator("#chat .user").count() == 1  # the other tab's new turn is not in this one
    first.context.close()


def test_a_question_typed_while_an_answer_is_pending_stays_in_the_box(server: str, browser) -> None:  # noqa: F811
    """Enter on a second question while the first is still searched: the second is neither lost nor
    mixed into the first answer's turn; it is back in the box with a "Still answering" notice, and
    Enter once the answer is in asks it. What is typed right after Enter is never erased."""
    page = _page(browser, server, DESKTOP)
    page.locator("#new-conversation").click()
    box = page.locator("#question textarea")
    box.fill(QUESTIONS[0])
    box.press("Enter")
    box.fill(QUESTIONS[1])
    box.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#chat .bot .chat-answer').length >= 1", timeout=60000)
    page.wait_for_timeout(1500)
    users = [u.strip() for u in page.locator("#chat .user").all_inner_texts()]
    # Whichever reached the server first is answered; the other is back in the box, never lost.
    assert len(users) == page.locator("#chat .bot").count() == 1 and sorted([*users, box.input_value()]) == sorted(QUESTIONS[:2])
    assert "Still answering" in page.locator(".toast-body").first.inner_text()
    box.press("Enter")
    page.wait_for_function("() => document.querySelector('#question textarea').value === ''", timeout=5000)
    box.type("Wh")  # typed while the question is shown and answered: kept
    page.wait_for_function("() => document.querySelectorAll('#chat .bot .chat-answer').length === 2", timeout=60000)
    page.wait_for_timeout(1000)
    assert sorted(u.strip() for u in page.locator("#chat .user").all_inner_texts()) == sorted(QUESTIONS[:2])
    assert box.input_value() == "Wh" and page.locator("#chat .bot").count() == 2
    page.context.close()


def test_kept_conversations_can_be_switched_renamed_exported_and_deleted(server: str, browser) -> None:  # noqa: F811
    page = _page(browser, server, DESKTOP)
    page.locator("#new-conversation").click()
    _ask(page, QUESTIONS[0])
    page.locator("#new-conversation").click()
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 0", timeout=10000)
    _ask(page, QUESTIONS[1])
    page.locator("#conversations button").first.click()  # open the accordion
    listed = page.locator("#conversation-list input")
    listed.click()
    options = page.locator("#conversation-list [role=option]")
    options.first.wait_for(state="visible", timeout=5000)
    labels = [x.replace("✓", "").strip() for x in options.all_inner_texts()]
    assert labels[0].startswith(QUESTIONS[1]) and any(x.startswith(QUESTIONS[0]) for x in labels)
    options.filter(has_text=QUESTIONS[0]).first.click()
    page.wait_for_function(
        "q => [...document.querySelectorAll('#chat .user')].map(e => e.innerText.trim()).join('|') === q",
        arg=QUESTIONS[0],
        timeout=10000,
    )
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 1", timeout=10000)
    page.wait_for_function("q => document.querySelector('#conversation-name input').value === q", arg=QUESTIONS[0], timeout=10000)
    page.locator("#conversation-name input").fill("Kim in Russia")
    page.locator("#conversation-rename").click()
    page.wait_for_function(
        "() => (document.querySelector('#conversation-list input').value || '').startsWith('Kim in Russia')", timeout=10000
    )
    page.reload()  # this tab now shows the conversation it switched to
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 1", timeout=30000)
    assert page.locator("#chat .user").first.inner_text().strip() == QUESTIONS[0]
    page.locator("#conversations button").first.click()
    with page.expect_download(timeout=10000) as download:
        page.locator("#conversation-export").click()
    exported = open(download.value.path(), encoding="utf-8").read()
    assert exported.startswith("# Kim in Russia\n\n## Who did Kim Jong Un meet in Russia?\n\n")
    assert f"{RUSSIA} [1]" in exported and f"- [1] **{TITLE}** (2024-01-01): {RUSSIA}" in exported
    page.once("dialog", lambda d: d.accept())
    page.locator("#conversation-delete").click()
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 0", timeout=10000)
    page.locator("#conversation-list input").click()
    options.first.wait_for(state="visible", timeout=5000)
    assert not any("Kim in Russia" in x for x in options.all_inner_texts())
    page.context.close()
