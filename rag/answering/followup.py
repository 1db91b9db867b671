"""Follow-up questions: what "it", "he" or "there" refers to, taken from the previous question.

"Who designed it?" after "When did the Heron Bridge open?" is asked as "Who designed the
Heron Bridge?": only the previous question's noun phrases (its subject and the names it
mentions) are carried over, never its question words or main verb, so the earlier question
cannot outrank the new one. When the history holds the previous answer, its sentences are
known (:attr:`Turn.previous_answer`) so the answer can avoid citing them again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.answering.history import recent_turns
from rag.settings import AnswerOptions


def _wordset(words: str) -> frozenset[str]:
    """A set of words written as one space-separated string (easier to read than a list of strings)."""
    return frozenset(words.split())


_ANAPHOR = re.compile(
    r"\b(?:he|she|it|they|him|her|his|hers|its|their|theirs|them|then|the same|what about|how about)\b"
    r"|(?<!\bis )(?<!\bare )(?<!\bwas )(?<!\bwere )\bthere\b(?!\s+(?:is|are|was|were|be|been|has|have|had)\b|['’]s)",
    re.IGNORECASE,
)
_DEMONSTRATIVE = re.compile(r"\b(?:this|that|these|those)\b", re.IGNORECASE)
SHORT_FOLLOW_UP_WORDS = 3
"""A question this short leans on the previous one ("And the cost?")."""
SHORT_DEMONSTRATIVE_WORDS = 6
"""..., and so does a short one with "this" or "that" ("Why was that?"); in longer questions these
are usually relative pronouns or determiners ("the company that makes X")."""


@dataclass(frozen=True)
class Turn:
    """A question in its conversation: ``text`` is what retrieval reads (the question with what it
    refers to made explicit), ``context`` the phrases taken from the earlier question, and
    ``previous_answer`` the text of the previous answer when the history holds it."""

    text: str
    question: str
    context: tuple[str, ...] = ()
    previous_answer: str = ""


_PRONOUN = re.compile(r"\b(it|he|she|they|him|her|them|its|his|their|theirs)\b", re.IGNORECASE)
_POSSESSIVE = frozenset({"its", "his", "her", "their", "theirs"})
_PERSONAL = frozenset({"he", "she", "him", "her", "his", "hers"})
"""Pronouns that stand for a person: never resolved to a thing ("the Heron Bridge")."""
_WHO = re.compile(r"\s*(?:who|whom)\b", re.IGNORECASE)
_OWNER = re.compile(r"['’]s?$")
_DETERMINER = re.compile(r"^(?:the|a|an|this|that|these|those)\b", re.IGNORECASE)
_NAME_RUN = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'-]+(?:\s+(?:of\s+|de\s+|van\s+|von\s+)?[A-Z][\w’'-]+)+")
"""Two or more capitalised words, not at the start of a sentence: a name ("Ingrid Solberg")."""
_THERE = re.compile(r"\bthere\b(?=\s*[?.!]?\s*$)", re.IGNORECASE)
_ELLIPSIS = re.compile(r"^\W*(?:and|but|so)?\W*(?:what|how)\s+about\b|^\W*(?:and|but|so)\b", re.IGNORECASE)


def resolve(question: str, history: Sequence[Any] | None, max_chars: int = AnswerOptions.max_question_chars) -> Turn:
    """The question with its references to the previous question resolved.

    Only the previous question's noun phrases are carried over (its subject and named things, see
    :func:`phrases`), never its question words or main verb, so the new question's own words keep
    the lead: a pronoun becomes the previous subject, a final "there" the place it named, and an
    elliptical question ("And the cost?", "What about the designer?") gets the subject added.

    >>> resolve("Who designed it?", ["When did the Heron Bridge open?"]).text
    'Who designed the Heron Bridge?'
    >>> resolve("Who did he meet there?", ["Did Kim Jong Un visit Russia?"]).text
    'Who did Kim Jong Un meet in Russia?'
    >>> resolve("And who voted against it?", ["How much did the new library cost?"]).text
    'Who voted against the new library?'
    >>> resolve("What has North Korea declared itself to be?", ["Did Kim visit Russia?"]).text
    'What has North Korea declared itself to be?'
    """
    turns = recent_turns(history, max_chars)  # validated and bounded: ConfigError for a malformed history
    if not turns or not is_follow_up(question) or names_own_subject(question):
        return Turn(question, question)
    previous = ""  # earlier follow-ups are resolved in turn: "it" may already stand for the same thing
    for asked, _ in turns:
        previous = _resolve_one(asked, previous).text if previous and is_follow_up(asked) else asked
    return _resolve_one(question, previous, turns[-1][1])


_LINKING_WORD = re.compile(r"^\W*(?:and|but|so|also)\b[\s,]*(?=\w)", re.IGNORECASE)


def _standalone(question: str) -> str:
    """The question without the linking word that ties it to the previous turn ("And who voted
    against it?" -> "Who voted against it?"): once resolved it stands alone, and the word says
    nothing about what is asked."""
    rest = _LINKING_WORD.sub("", question, count=1)
    return rest[:1].upper() + rest[1:] if rest != question else question


def names_own_subject(question: str) -> bool:
    """True when the question names what its pronouns refer to before them ("What did Kim Jong Un
    order his military to do?"): it stands alone, whatever was asked before.

    >>> [names_own_subject(q) for q in ("What did Kim Jong Un order his military to do?", "Who designed it?")]
    [True, False]
    """
    pronoun = _PRONOUN.search(question)
    subject, _ = phrases(question)
    if not pronoun or not subject or _PRONOUN.search(subject):
        return False
    return question.find(subject) < pronoun.start()


def _resolve_one(question: str, previous: str, answer_text: str = "") -> Turn:
    subject, others = phrases(previous)
    if not subject and not others:
        return Turn(previous + " " + question, question, (), answer_text)
    asked = _standalone(question)
    pronoun = _PRONOUN.search(asked)
    if pronoun and pronoun.group(1).lower() in _PERSONAL:
        person = _person(subject, others, answer_text, asked_who=bool(_WHO.match(previous)))
        if not person:  # no person to stand for: searching "the bridge" for "she" would change the question
            return Turn(asked, question, (), answer_text)
        subject = person
    text = _substitute(asked, subject or others[0], others)
    used = tuple(p for p in (subject, *others) if p and p in text and p not in asked)
    missing = [p for p in (subject, *others) if p and p not in text]
    if not used and missing:  # nothing to substitute: add the context at the end
        text = f"{asked.rstrip(' ?.!')} ({', '.join(missing)})?"
        used = tuple(missing)
    return Turn(text, question, used, answer_text)


def _person(subject: str, others: Sequence[str], answer_text: str, asked_who: bool = True) -> str:
    """Who "he" or "she" stands for. After a "who" question, the person its answer gave (a name in
    the answer); otherwise the previous question's subject when that is a name, not a thing ("Did
    Kim Jong Un visit Russia?" then "Who did he meet there?": Kim Jong Un), else a name in the answer."""
    named = next((p for p in (subject, *others) if p[:1].isupper() and not _DETERMINER.match(p)), "")
    if named and not asked_who:
        return named
    for run in _NAME_RUN.findall(answer_text):
        name = _OWNER.sub("", run)  # "Kim Jong Un’s visit": the person is "Kim Jong Un"
        if name not in (subject, *others):
            return name
    return named


def is_follow_up(question: str) -> bool:
    """A question that leans on the previous one: a pronoun or back-reference ("he", "there", "then"),
    an elliptical opening ("And ...", "What about ..."), or a very short question.

    >>> [is_follow_up(q) for q in ("Who designed it?", "Why was that?", "And the cost?", "Is there a toll?")]
    [True, True, True, False]
    >>> is_follow_up("What is the name of the company that makes the iPhone?")
    False
    """
    words = len(question.split())
    short_demonstrative = words <= SHORT_DEMONSTRATIVE_WORDS and bool(_DEMONSTRATIVE.search(question))
    return bool(_ANAPHOR.search(question) or _ELLIPSIS.search(question)) or words <= SHORT_FOLLOW_UP_WORDS or short_demonstrative


def _substitute(question: str, subject: str, others: Sequence[str]) -> str:
    text = question
    match = _PRONOUN.search(text)
    if match:
        word = match.group(1).lower()
        replacement = f"{subject}’s" if word in _POSSESSIVE and word != "her" else subject
        text = text[: match.start()] + replacement + text[match.end() :]
    place = next((p for p in others if p != subject and p[:1].isupper()), "")
    if place and _THERE.search(text):
        text = _THERE.sub(f"in {place}", text)
    return text


_WORDS = re.compile(r"[\w’'-]+")
_WH = _wordset("what which who whom whose when where why how")
_WH_MODIFIERS = _wordset("much many long old far often big large")
_DO = _wordset("do does did will would can could should shall may might must")
_MODAL = _wordset("will would can could should shall may might must")
_BE = _wordset("is are was were has have had")
_IMPERATIVE = _wordset("tell show give list describe explain summarize summarise name find and but so please")
_BOUNDARY = _wordset(
    "in on at to from by with for about into onto over after before during against between under since than as "
    "and or but if because while who which that"
)
_FUNCTION = _BOUNDARY | _DO | _BE | _wordset("the a an this that these those his her its their my our your it him them me us")
_PARTICIPLE = re.compile(r"(?:ed|en|wn|ght|lt|ne|un|ung|id)$")


def phrases(question: str) -> tuple[str, tuple[str, ...]]:
    """``(subject, other names)`` of a question: the noun phrase it asks about, and the other
    capitalised names it mentions (exact text of the question; question words, auxiliaries and
    the main verb left out).

    >>> phrases("When did the Heron Bridge open?")
    ('the Heron Bridge', ())
    >>> phrases("Did Kim Jong Un visit Russia?")
    ('Kim Jong Un', ('Russia',))
    >>> phrases("How much did the new library cost?")
    ('the new library', ())
    >>> phrases("Who designed the Heron Bridge?")
    ('the Heron Bridge', ())
    """
    words = [(m.group(), m.start(), m.end()) for m in _WORDS.finditer(question)]
    i, aux = _skip_question_words([w for w, _, _ in words])
    run = _noun_run(words, i, aux)
    subject = question[words[run[0]][1] : words[run[1] - 1][2]] if run[1] > run[0] else ""
    subject = "" if _PRONOUN.fullmatch(subject) else subject
    names = []
    j = 1
    while j < len(words):
        if words[j][0][:1].isupper() and not (run[0] <= j < run[1]) and words[j][0].lower() not in _WH | _DO | _BE:
            k = j
            while k + 1 < len(words) and words[k + 1][0][:1].isupper():
                k += 1
            names.append(question[words[j][1] : words[k][2]])
            j = k
        j += 1
    return subject, tuple(n for n in names if n not in subject)


def _skip_question_words(words: list[str]) -> tuple[int, str]:
    """Where the asked-about phrase starts, and the auxiliary before it ("do", "be" or "")."""
    lower = [w.lower() for w in words]
    i = 0
    while i < len(lower) and lower[i] in _IMPERATIVE | {"me", "us", "about", "on", "of"}:
        i += 1
    if i < len(lower) and lower[i] in _WH:
        i += 1
        if i < len(lower) and lower[i] in _WH_MODIFIERS:
            i += 1
        if i + 1 < len(lower) and lower[i] not in _DO | _BE and lower[i + 1] in _DO | _BE:
            i += 1  # "What year did ...", "Which company was ..."
        if i < len(lower) and lower[i] not in _DO | _BE:
            # "Who designed X?" (a verb, then its object) or "Which company bought X?" (a noun, then the verb)
            after = words[i + 1] if i + 1 < len(words) else ""
            return (i + 1 if not after or after[:1].isupper() or after.lower() in _FUNCTION else i + 2), ""
    if i < len(lower) and lower[i] in _DO | _BE:
        verb = i + 1 < len(words) and lower[i] in _MODAL and words[i + 1][:1].islower() and lower[i + 1] not in _FUNCTION
        if verb and lower[0] in _WH:  # "Who will lead the payment integration?": the verb, then what it is about
            return i + 2, ""
        return i + 1, "do" if lower[i] in _DO else "be"
    return i, ""


def _noun_run(words: list[tuple[str, int, int]], i: int, aux: str) -> tuple[int, int]:
    """``[start, end)`` word positions of the noun phrase starting at ``i`` (its main verb cut off)."""
    if i >= len(words):
        return i, i
    if words[i][0][:1].isupper():  # a name: its capitalised words, joined by "of"
        j = i + 1
        while j < len(words) and (
            words[j][0][:1].isupper() or (words[j][0] == "of" and j + 1 < len(words) and words[j + 1][0][:1].isupper())
        ):
            j += 1
        return i, j
    j = i
    while j < len(words) and words[j][0].lower() not in _BOUNDARY:
        j += 1
    last = words[j - 1][0] if j > i else ""
    if j - i >= 2 and last[:1].islower() and (aux == "do" or (aux == "be" and _PARTICIPLE.search(last))):
        j -= 1  # "did the new library cost", "was the bridge opened": the last word is the verb
    return i, j


def with_history(question: str, history: Sequence[Any] | None, max_chars: int = AnswerOptions.max_question_chars) -> str:
    """The retrieval text of ``question`` in its conversation (:func:`resolve`).

    ``history`` must be a list (or tuple) of turns: strings, ``(question, answer)`` pairs or chat
    messages; only the last MAX_HISTORY_TURNS are looked at and each is bounded to ``max_chars``
    like a question. Raises ConfigError for anything else (a plain string included).

    >>> with_history("Who did he meet there?", ["Did Kim Jong Un visit Russia?"])
    'Who did Kim Jong Un meet in Russia?'
    """
    return resolve(question, history, max_chars).text
