"""Answer-type cues: what kind of answer a question wants, and what kinds a sentence offers.

A "when" question wants a date, "how many" a number, "who" a name; a sentence that answers
it usually holds one. These cues are deliberately simple and well defined (regular
expressions over the surface text: years, month names, digits and number words, units,
capitalised words the question does not contain, causal connectives, a copula near the
start) and only feed the learned answer model (:mod:`rag.answering.triggering`), which weighs them
against similarity and term coverage.
"""

from __future__ import annotations

import re


def _wordset(words: str) -> frozenset[str]:
    """A set of words written as one space-separated string (easier to read than a list of strings)."""
    return frozenset(words.split())


QUESTION_TYPES = ("quantity", "date", "person", "place", "reason", "definition", "yesno", "how", "other")
"""Kinds of question, in the order they are tried (the first that matches wins)."""

_W = r"(?:\s+[\w'’.-]+)"
_QUESTION_PATTERNS = {
    "quantity": r"^\W*how\s+(?:many|much|long|tall|high|far|big|large|old|deep|wide|heavy|fast|often|hot|cold)\b"
    r"|\b(?:what|which)\s+(?:percentage|percent|number|amount|size|height|length|population|age|distance|weight)\b",
    "date": r"\bwhen\b|\b(?:what|which)\s+(?:year|date|day|month|century|decade|time|era|period)\b|\bhow\s+long\s+ago\b",
    "definition": rf"^\W*(?:what|who)\s+(?:is|are|was|were)(?:\s+(?:an?|the))?{_W}{{1,4}}\W*$",
    "person": r"\b(?:who|whom|whose)\b|\b(?:what|which)\s+(?:person|people|man|woman|president|king|queen|leader|company|team|band|group)\b",
    "place": r"\bwhere\b|\b(?:what|which)\s+(?:country|countries|city|cities|state|place|continent|county|region|town|island|river)\b",
    "reason": r"\bwhy\b|\bwhat\s+(?:caused|causes|led\s+to)\b",
    "yesno": r"^\W*(?:is|are|was|were|do|does|did|can|could|will|would|has|have|had|should|shall|may|might)\b",
    "how": r"\bhow\b",
}
_QUESTION_RES = {name: re.compile(p, re.IGNORECASE) for name, p in _QUESTION_PATTERNS.items()}

_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
_DATE = re.compile(
    rf"\b(?:1[0-9]\d\d|20\d\d)s?\b|\b{_MONTHS}\s+\d{{1,2}}\b|\b\d{{1,2}}\s+{_MONTHS}\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b"
    r"|\b(?:\d{1,2}(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    r"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-first)[\s-]+century\b"
    r"|\b(?:yesterday|today|tomorrow|(?:last|next|this)\s+(?:year|month|week))\b"
    # A "when" question is answered by a time of day or a weekday too ("The last boat leaves at 11 pm").
    r"|\b\d{1,2}(?:[:.]\d\d)?\s*(?i:am|pm|a\.m\.|p\.m\.)(?!\w)|\b(?:[01]?\d|2[0-3]):[0-5]\d\b|\b(?i:noon|midnight)\b"
    r"|\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)days?\b"
)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)teen|"
    r"(?:twen|thir|for|fif|six|seven|eigh|nine)ty|hundred|thousand|million|billion|trillion|dozens?|hundreds|"
    r"thousands|millions|billions|half|quarter|third"
)
_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_QUANTITY = re.compile(
    rf"[$€£¥]\s?\d|\d\s?%|\b(?:\d[\d,.]*|(?:{_NUMBER_WORDS})(?:[\s-](?:{_NUMBER_WORDS}))*)\s*(?:%|percent|per\s+cent|million|billion|trillion|thousand|hundred|"
    r"km|kilometres?|kilometers?|miles?|m|metres?|meters?|ft|feet|foot|inches|cm|mm|kg|kilograms?|g|grams?|lb|lbs|pounds?|"
    r"tons?|tonnes?|acres?|hectares?|square|cubic|years?|months?|weeks?|days?|hours?|minutes?|seconds?|people|dollars?|euros?|"
    r"degrees?|°)\b",
    re.IGNORECASE,
)
_REASON = re.compile(
    r"\b(?:because|due\s+to|owing\s+to|as\s+a\s+result|in\s+order\s+to|so\s+that|caused|causes|led\s+to|reasons?)\b", re.I
)
_COPULA = re.compile(r"^[^,;:]{0,80}?\b(?:is|was|are|were)\s+(?:a|an|the|one)\b", re.IGNORECASE)
_CAPITALISED = re.compile(r"(?<![\w'’])[A-Z][\w'’-]*")
_NOT_NAMES = _wordset(
    "january february march april may june july august september october november december monday tuesday wednesday "
    "thursday friday saturday sunday i"
)


def question_type(question: str) -> str:
    """The kind of answer ``question`` wants, one of :data:`QUESTION_TYPES`.

    >>> [question_type(q) for q in ("How many moons has Mars?", "When did it open?", "Who designed it?", "what is a tsunami?")]
    ['quantity', 'date', 'person', 'definition']
    >>> [question_type(q) for q in ("Did Kim visit Russia?", "Where is Pyongyang?", "Why did it fail?", "What did the US reject?")]
    ['yesno', 'place', 'reason', 'other']
    """
    for name, pattern in _QUESTION_RES.items():
        if pattern.search(question):
            return name
    return "other"


def sentence_cues(sentence: str, question_words: set[str]) -> tuple[float, float, float, float, float, float]:
    """``(date, number, quantity, new_names, reason, definition)`` cues of a sentence:
    whether it holds a date, a number, a measured quantity, how many capitalised words the
    question does not contain (not counting its first word; at most 3), a causal connective,
    and a copula near its start ("X is a ...").

    >>> sentence_cues("The bridge was designed by Mara Lind in 1994.", {"who", "designed", "it"})
    (1.0, 1.0, 0.0, 2.0, 0.0, 0.0)
    """
    known = question_words | _NOT_NAMES
    names = [w for w in _CAPITALISED.findall(sentence)[1:] if w.lower().strip("'’") not in known]
    return (
        float(bool(_DATE.search(sentence))),
        float(bool(_NUMBER.search(sentence))),
        float(bool(_QUANTITY.search(sentence))),
        float(min(len(names), 3)),
        float(bool(_REASON.search(sentence))),
        float(bool(_COPULA.search(sentence))),
    )


def type_match(kind: str, cues: tuple[float, ...]) -> float:
    """1 when the sentence offers what a question of this kind wants (0 for kinds with no cue).

    >>> type_match("date", sentence_cues("It opened on 12 May 1998.", set()))
    1.0
    >>> type_match("person", sentence_cues("It opened on 12 May 1998.", set()))
    0.0
    """
    date, number, quantity, names, reason, definition = cues
    wanted = {
        "quantity": max(quantity, number),
        "date": date,
        "person": float(names > 0),
        "place": float(names > 0),
        "reason": reason,
        "definition": definition,
    }
    return wanted.get(kind, 0.0)


_NAME_RUN = re.compile(r"(?<![\w'’])[A-Z][\w&.-]*(?:\s+(?:(?:of|de|du|van|von)\s+)?[A-Z][\w&.-]*)*")
_QUESTION_START = _wordset(
    "what which who whom whose when where why how is are was were do does did can could will would has have had "
    "should shall may might in on at for from according considering based given after before during the a an "
    "tell show give list describe explain summarize summarise name find and but so please if"
)


def names(question: str) -> list[str]:
    """The capitalised names a question mentions ("The New York Times" as "New York Times"), without
    the question's own first word(s) and without acronym-free single letters.

    >>> names("Did the New York Times report that Kim Jong Un met Putin in 2023?")
    ['New York Times', 'Kim Jong Un', 'Putin']
    >>> names("What is North Korea's GDP?")
    ['North Korea', 'GDP']
    """
    out = []
    for match in _NAME_RUN.finditer(question):
        parts = match.group().split()
        while parts and parts[0].lower() in _QUESTION_START:
            parts = parts[1:]
        name = re.sub(r"['’]s$", "", " ".join(parts)).strip(" .,'’")
        if len(name) > 1 and name not in out:
            out.append(name)
    return out


def words(text: str) -> set[str]:
    """Lower-cased words of a text (for "is this capitalised word already in the question")."""
    return {w.strip("'’") for w in re.findall(r"[\w'’-]+", text.lower())}
