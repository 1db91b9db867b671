"""The answer/abstain model: answer-type cues, candidate features, the shipped model and its card."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

import rag.answering.cues
from rag.answering import triggering
from rag.answering.answer import answer, candidates
from rag.answering.cues import question_type, sentence_cues, type_match
from rag.answering.query import parse_query
from rag.errors import ModelError
from rag.indexing.search_index import open_index
from rag.settings import AnswerOptions

DOCS = {
    "bridge.txt": "The Heron Bridge crosses the Marle estuary. It opened on 14 June 1998. "
    "It was designed by Ingrid Solberg. It cost 212 million euros.",
    "tea.txt": "Green tea comes from Camellia sinensis. It is steamed or pan-fired.",
}


@pytest.fixture
def tiny_index(tmp_path: Path, fake_embedder) -> Path:
    from rag import build_index

    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, "utf-8")
    build_index([folder], tmp_path / "index", embedder=fake_embedder, progress=False)
    open_index(tmp_path / "index", embedder=fake_embedder)
    return tmp_path / "index"


def test_cue_doctests_hold() -> None:
    assert doctest.testmod(rag.answering.cues).failed == 0


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("how many people live in Oslo?", "quantity"),
        ("How much did the bridge cost?", "quantity"),
        ("what year was the 8 track invented", "date"),
        ("When did the Heron Bridge open?", "date"),
        ("who owns the texas rangers", "person"),
        ("Which company bought Twitter?", "person"),
        ("where is the Rhine river located", "place"),
        ("what country is Oslo in", "place"),
        ("why is the sky blue", "reason"),
        ("what is a tsunami?", "definition"),
        ("who is Ingrid Solberg", "definition"),
        ("Is Pyongyang willing to give up its nukes?", "yesno"),
        ("how are glacier caves formed?", "how"),
        ("What did the US reject?", "other"),
    ],
)
def test_question_types(question: str, kind: str) -> None:
    assert question_type(question) == kind


def test_sentence_cues() -> None:
    date, number, quantity, names, reason, definition = sentence_cues("It cost 212 million euros in 1998.", {"what"})
    assert (date, number, quantity, names, reason, definition) == (1.0, 1.0, 1.0, 0.0, 0.0, 0.0)
    assert sentence_cues("Oslo is a city because of the fjord.", set())[4:] == (1.0, 1.0)
    assert sentence_cues("It was designed by Ingrid Solberg.", {"ingrid"})[3] == 1.0  # "Solberg" only: "Ingrid" is asked
    assert type_match("quantity", sentence_cues("About twelve ships.", set())) == 1.0
    assert type_match("other", sentence_cues("It opened in 1998.", set())) == 0.0


def test_candidate_features(tiny_index: Path) -> None:
    loaded = open_index(tiny_index)
    query = parse_query("When did the Heron Bridge open?")
    found = candidates(loaded, query, AnswerOptions())
    x = found.features
    assert x.shape == (len(found.pool.sentences), len(triggering.FEATURES))
    column = {name: x[:, j] for j, name in enumerate(triggering.FEATURES)}
    texts = [loaded.data.sentence_text(int(s)) for s in found.pool.sentences]
    opened = texts.index("It opened on 14 June 1998.")
    lead = texts.index("The Heron Bridge crosses the Marle estuary.")
    assert column["cue_date"][opened] == 1.0 and column["type_match"][opened] == 1.0
    assert column["position"][lead] == 0 and column["position"][opened] == 1
    assert column["wants_date"].tolist() == [1.0] * len(texts)
    assert column["cover"][lead] == pytest.approx(column["cover_title"][lead])  # "heron", "bridge"; no "open"
    assert column["cover_doc"][opened] == pytest.approx(1.0)  # every term is somewhere in the bridge document
    tea = texts.index("Green tea comes from Camellia sinensis.") if "Green tea comes from Camellia sinensis." in texts else None
    if tea is not None:
        assert column["missing_idf"][tea] > 0 and column["cover_doc"][tea] == 0.0
    isolated = column["isolated"]
    assert np.isfinite(isolated[: triggering.ISOLATED]).all() and np.isnan(isolated[triggering.ISOLATED :]).all()
    assert column["mix_rank"].tolist() == list(range(len(texts)))


def test_citation_scores_are_the_models_probabilities(article_index) -> None:
    a = answer("Who did Kim Jong Un meet in Russia?", index_dir=article_index)
    scores = [e.score for e in a.evidence]
    assert all(0.0 <= s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)
    assert a.citations[0].score >= AnswerOptions().min_score
    assert all(c.score >= AnswerOptions().min_score for c in a.citations)
    strict = answer("Who did Kim Jong Un meet in Russia?", index_dir=article_index, min_score=0.999)
    assert strict.abstained and [e.text for e in strict.evidence] == [e.text for e in a.evidence]


def test_shipped_model_and_its_card() -> None:
    card = triggering.model_info()
    assert card["features"] == list(triggering.FEATURES)
    assert card["min_score"] == AnswerOptions().min_score  # the default is the cross-validated choice
    cv = card["cross_validation"]
    assert cv["wikiqa_train"]["questions"] == 2118 and 0 < cv["wikiqa_train"]["F1"] < 1
    assert cv["multihop_dev"]["null_abstention"] >= 0.85
    assert cv["article_dev"]["false_abstentions"] == 0 and cv["article_dev"]["abstention"] == 1.0
    assert set(card["trained_on"]) == {"wikiqa_train", "multihop_dev", "article_dev"}  # never WikiQA dev


def test_a_model_for_other_features_is_refused(tmp_path: Path) -> None:
    text = triggering.MODEL_FILE.read_text("utf-8").replace("feature_names=dense ", "feature_names=other ", 1)
    (tmp_path / "model.txt").write_text(text, "utf-8")
    with pytest.raises(ModelError, match="trained on other features"):
        triggering.TriggerModel(tmp_path / "model.txt")
    with pytest.raises(ModelError, match="cannot load the answer model"):
        triggering.TriggerModel(tmp_path / "missing.txt")
