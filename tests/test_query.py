"""Query understanding: clauses, dates, windows and follow-ups (pure functions, no model)."""

from __future__ import annotations

import doctest

import rag.answering.query
from rag.answering.followup import with_history
from rag.answering.query import parse_query


def test_doctests_hold() -> None:
    assert doctest.testmod(rag.answering.query).failed == 0


def test_a_list_of_claims_is_split_into_one_clause_per_claim() -> None:
    q = parse_query(
        "Who is the individual that built a reputation as a reliable figure in the cryptocurrency sector, "
        "allegedly constructed a successful crypto exchange on deceptive practices, faced challenges in "
        "managing two major companies, and is accused by the prosecution of fraud for personal gain?"
    )
    assert q.clauses == (
        "Who is the individual that built a reputation as a reliable figure in the cryptocurrency sector",
        "allegedly constructed a successful crypto exchange on deceptive practices",
        "faced challenges in managing two major companies",
        "is accused by the prosecution of fraud for personal gain",
    )
    assert all(q.text[a:b] == c for (a, b), c in zip(q.clause_spans, q.clauses))


def test_numbers_short_fragments_and_short_questions_are_not_split() -> None:
    q = parse_query(
        "Which betting platform offers up to $1,000 in bonus bets for new customers in Vermont, "
        "per The Verge, and is expected to run the same promotion in Ohio next season?"
    )
    assert q.clauses == (
        "Which betting platform offers up to $1,000 in bonus bets for new customers in Vermont",
        "is expected to run the same promotion in Ohio next season",
    )  # "per The Verge" has fewer than 4 words
    assert parse_query("Did Kim Jong Un visit Russia, and whom did he meet?").clauses == ()


def test_dates_and_follow_ups() -> None:
    assert parse_query("What did TechCrunch report on September 5th, 2023 and on 2023-10-01?").dates == (
        "2023-09-05",
        "2023-10-01",
    )
    assert with_history("Who did he meet there?", ["Did Kim Jong Un visit Russia?"]) == "Who did Kim Jong Un meet in Russia?"
    assert with_history("What did the FTX jury decide?", ["Did Kim Jong Un visit Russia?"]) == "What did the FTX jury decide?"
