"""Check the validation corpus: every gold substring must occur in the text the project reads.

Run from the repository root:

    .venv/bin/python benchmarks/validation/check.py           # gold substrings vs. document text (fails on error)
    .venv/bin/python benchmarks/validation/check.py --strict  # also fail when a gold is not inside exactly one sentence

Each document in ``docs/`` is read with the project's own reader (``rag.ingestion.documents.read_file``), so
HTML and PDF golds are checked against the extracted text, not the raw file. As a second, informative check the
text is split with the project's sentence splitter and each gold is looked up sentence by sentence: a citation
counts as correct only when one cited sentence contains a gold, so a gold that falls across a sentence boundary
can never be matched, and one found in several sentences is ambiguous. Those cases are printed as warnings (they
depend on the splitter, which may change) and fail the run only with ``--strict``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from rag.ingestion.documents import read_file  # noqa: E402

DOCS = HERE / "docs"
QUESTIONS = HERE / "questions.jsonl"
KINDS = {"factoid", "paraphrase", "pronoun", "howmany", "when", "where", "who", "why", "yesno", "unanswerable"}
MIN_PER_DOC = 16
MIN_UNANSWERABLE = 14
MIN_ANSWERABLE = 72


def load_texts() -> dict[str, list[str]]:
    """Document text per file name (several texts if a file yields several documents)."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # font-encoding warnings of the W-9 PDF are harmless
    texts = {}
    for path in sorted(DOCS.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            texts[path.name] = [d.text for d in read_file(path)]
    return texts


def sentence_texts(name: str) -> list[str]:
    from rag.ingestion.sentences import split_sentences

    return [s.text for d in read_file(DOCS / name) for s in split_sentences(d)]


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    texts = load_texts()
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    errors: list[str] = []
    warnings: list[str] = []
    sentences: dict[str, list[str]] = {}
    try:
        sentences = {name: sentence_texts(name) for name in texts}
    except Exception as err:  # the splitter is optional for the main check
        warnings.append(f"sentence check skipped: {type(err).__name__}: {err}")

    seen_q: set[str] = set()
    for n, row in enumerate(rows, 1):
        where = f"line {n}"
        missing = {"q", "gold", "doc", "kind"} - row.keys()
        if missing:
            errors.append(f"{where}: missing fields {sorted(missing)}")
            continue
        q, gold, doc, kind = row["q"], row["gold"], row["doc"], row["kind"]
        if q in seen_q:
            errors.append(f"{where}: duplicate question {q!r}")
        seen_q.add(q)
        if kind not in KINDS:
            errors.append(f"{where}: unknown kind {kind!r}")
        if kind == "unanswerable" or not gold:
            if gold or doc or kind != "unanswerable":
                errors.append(f"{where}: unanswerable rows need gold [], doc '' and kind 'unanswerable'")
            continue
        if doc not in texts:
            errors.append(f"{where}: unknown doc {doc!r}")
            continue
        if not 1 <= len(gold) <= 2:
            errors.append(f"{where}: expected 1-2 gold substrings, got {len(gold)}")
        body = "\n\n".join(texts[doc])
        for g in gold:
            if not 5 <= len(g) <= 60:
                errors.append(f"{where}: gold {g!r} is {len(g)} characters (want 5-60)")
            if g not in body:
                errors.append(f"{where}: gold {g!r} not found in {doc}")
                continue
            if doc in sentences:
                hits = sum(g in s for s in sentences[doc])
                if hits != 1:
                    problem = "crosses a sentence boundary" if hits == 0 else f"occurs in {hits} sentences"
                    warnings.append(f"{where} ({doc}): gold {g!r} {problem}")

    answerable = [r for r in rows if r.get("gold")]
    per_doc = Counter(r["doc"] for r in answerable)
    per_kind = Counter(r.get("kind", "?") for r in rows)
    unanswerable = len(rows) - len(answerable)
    for name in texts:
        if per_doc[name] < MIN_PER_DOC:
            errors.append(f"{name}: {per_doc[name]} answerable questions (want at least {MIN_PER_DOC})")
    if len(answerable) < MIN_ANSWERABLE:
        errors.append(f"{len(answerable)} answerable questions (want at least {MIN_ANSWERABLE})")
    if unanswerable < MIN_UNANSWERABLE:
        errors.append(f"{unanswerable} unanswerable questions (want at least {MIN_UNANSWERABLE})")

    print(f"{len(rows)} questions: {len(answerable)} answerable, {unanswerable} unanswerable")
    print("per document:")
    for name in sorted(texts):
        chars = sum(len(t) for t in texts[name])
        print(f"  {name:28s} {per_doc[name]:3d} questions  ({(DOCS / name).stat().st_size} bytes, {chars} chars read)")
    print("per kind:")
    for kind, count in sorted(per_kind.items()):
        print(f"  {kind:14s} {count:3d}")
    for w in warnings:
        print(f"WARNING: {w}")
    for e in errors:
        print(f"ERROR: {e}")
    failed = bool(errors) or (strict and bool(warnings))
    print("FAILED" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
