"""The learned fusion: features from signals, the shipped model, and the fallback without it."""

from __future__ import annotations

import numpy as np
import pytest

from rag import retrieve
from rag.answering import fusion
from rag.answering.fusion import FEATURES, FusionModel, Signals, features, handtuned
from rag.errors import ConfigError, ModelError


def _signals() -> Signals:
    """Three pooled chunks (two from document 7, one from 9); a question with one clause."""
    return Signals(
        dense=np.array([[0.5, 0.2, 0.4], [0.1, 0.6, 0.3]], np.float32),
        lexical=np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]], np.float32),
        sentence_lexical=np.array([[0.8, 0.1, 0.2], [0.3, 0.9, 0.1]], np.float32),
        sentence_mix=np.array([[1.0, 0.3, 0.5], [0.2, 1.0, 0.4]], np.float32),
        sentence_cover=np.array([[0.9, 0.2, 1.0], [0.1, 1.0, 0.3]], np.float32),
        window_dense=np.array([[0.3, 0.3, 0.6]], np.float32),
        window_lexical=np.array([[0.5, 0.5, 1.0]], np.float32),
        window_sentence_lexical=np.array([[0.4, 0.2, 0.7]], np.float32),
        window_sentence_mix=np.array([[0.5, 0.6, 1.0]], np.float32),
        window_sentence_cover=np.array([[1.0, 0.6, 0.5]], np.float32),
        chunk_dense=np.array([0.45, 0.25, 0.35], np.float32),
        metadata=np.array([0.5, 0.0, 0.5], np.float32),
        position=np.array([0.0, 3.0, 1.0], np.float32),
        document=np.array([7, 9, 7]),
        source=np.array([0, 0, 0]),  # one outlet
    )


def test_handtuned_mix_is_dense_plus_bm25_plus_metadata_plus_best_clause() -> None:
    sig = _signals()
    clause = (sig.dense[1] + 0.8 * sig.lexical[1]) / (0.6 + 0.8)  # max-normalised over the pool
    expected = sig.dense[0] + 0.8 * sig.lexical[0] + sig.metadata + 2.0 * clause
    assert np.allclose(handtuned(sig), expected)


def test_feature_columns() -> None:
    sig = _signals()
    x = features(sig)
    assert x.shape == (3, len(FEATURES))
    col = {name: x[:, i] for i, name in enumerate(FEATURES)}
    assert np.allclose(col["dense"], sig.dense[0]) and np.allclose(col["sentence_bm25"], [0.8, 0.1, 0.2])
    assert np.allclose(col["clause_sentence_bm25"], [0.3, 0.9, 0.1])
    assert np.allclose(col["sentence_mix"], [1.0, 0.3, 0.5]) and np.allclose(col["clause_sentence_mix"], [0.2, 1.0, 0.4])
    assert np.allclose(col["window_sentence_mix"], [0.5, 0.6, 1.0])
    assert np.allclose(col["sentence_cover"], [0.9, 0.2, 1.0]) and np.allclose(col["clause_sentence_cover"], [0.1, 1.0, 0.3])
    assert np.allclose(col["window_sentence_cover"], [1.0, 0.6, 0.5])
    assert np.allclose(col["window"], (sig.window_dense[0] + 0.8 * sig.window_lexical[0]) / 1.4)
    tuned = handtuned(sig)
    assert np.allclose(col["handtuned"], tuned)
    assert list(col["handtuned_rank"]) == list(np.argsort(np.argsort(-tuned)))
    # chunks 0 and 2 share document 7: gaps to that document's best, and its pooled-chunk count
    assert np.allclose(col["doc_handtuned_gap"], [tuned[0] - max(tuned[0], tuned[2]), 0.0, tuned[2] - max(tuned[0], tuned[2])])
    assert list(col["doc_chunks"]) == [2, 1, 2] and np.allclose(col["doc_window"], [1.0, 0.7 / 1.4, 1.0])
    # one outlet: ranks within it are ranks in the pool; documents 7 (best chunk) then 9
    assert list(col["source_rank"]) == list(col["handtuned_rank"]) and list(col["source_window_rank"]) == [1, 2, 0]
    doc7_first = int(max(tuned[0], tuned[2]) < tuned[1])
    assert list(col["source_doc_rank"]) == [doc7_first, 1 - doc7_first, doc7_first]


def test_shipped_model_matches_the_feature_list_and_scores() -> None:
    model = fusion.default_model()
    assert model is not None and tuple(model.booster.feature_name()) == FEATURES
    info = fusion.model_info()
    assert (
        info["features"] == list(FEATURES)
        and info["cross_validation"]["learned"]["Hits@10"] > info["cross_validation"]["handtuned"]["Hits@10"]
    )
    scores = model.score(_signals())
    assert scores.shape == (3,) and np.isfinite(scores).all()


def test_no_model_file_falls_back_to_the_handtuned_mix(tmp_path) -> None:
    assert fusion.default_model(tmp_path / "missing.txt") is None


def test_a_damaged_model_file_is_a_model_error(tmp_path) -> None:
    bad = tmp_path / "fusion_model.txt"
    bad.write_text("tree\nnot a model", "utf-8")
    with pytest.raises(ModelError, match="fusion model"):
        FusionModel(bad)


def test_the_model_card_records_the_signal_constants_and_a_drift_is_refused(tmp_path, monkeypatch) -> None:
    """SOURCE_BOOST, POOL_PER_SIGNAL... define the features: the shipped card records them, and a model whose
    card disagrees with the code (a constant changed without retraining) is a ModelError naming the constant."""
    import json
    import shutil

    from rag.answering.signals import FEATURE_CONSTANTS

    assert fusion.model_info()["constants"] == FEATURE_CONSTANTS
    FusionModel(fusion.MODEL_FILE, constants=FEATURE_CONSTANTS)  # the shipped pair loads
    model = tmp_path / "fusion_model.txt"
    shutil.copy(fusion.MODEL_FILE, model)
    card = {**fusion.model_info(), "constants": {**FEATURE_CONSTANTS, "SOURCE_BOOST": 0.7}}
    (tmp_path / "fusion_model.json").write_text(json.dumps(card), "utf-8")
    with pytest.raises(ModelError, match=r"other signal constants: SOURCE_BOOST 0.7 \(now 0.5\); retrain"):
        FusionModel(model, constants=FEATURE_CONSTANTS)
    (tmp_path / "fusion_model.json").write_text(json.dumps({k: v for k, v in card.items() if k != "constants"}), "utf-8")
    with pytest.raises(ModelError, match="records no signal constants"):
        FusionModel(model, constants=FEATURE_CONSTANTS)


class TitleFirst:
    """An example ranker (one class + one registry line): BM25 chunks, those of the first document first."""

    def rank(self, index, query, encoded, candidates):
        from rag.answering import rankers

        ids, scores = rankers.get("bm25").rank(index, query, encoded, candidates)
        order = np.argsort(index.chunk_documents(ids), kind="stable")
        return ids[order], scores[order]


def test_a_new_ranker_is_one_class_and_one_registry_line(article_index, monkeypatch) -> None:
    from rag.answering import rankers
    from rag.answering.answer import answer

    monkeypatch.setitem(rankers.RANKERS, "title-first", "tests.test_fusion:TitleFirst")
    hits = retrieve("Who did Kim Jong Un meet in Russia?", k=3, index_dir=article_index, mode="title-first")
    assert len(hits) == 3 and {h.title for h in hits} == {"Kim Jong Un orders military to annihilate South Korea and US"}
    assert "Vladimir Putin" in answer("Who did Kim Jong Un meet in Russia?", index_dir=article_index, mode="title-first").text


def test_modes_come_from_the_ranker_registry() -> None:
    from rag.answering import rankers
    from rag.settings import MODES

    assert MODES == tuple(rankers.RANKERS) == ("hybrid", "handtuned", "dense", "bm25")
    assert all(hasattr(rankers.get(m), "rank") for m in MODES)
    with pytest.raises(ConfigError, match="unknown retrieval mode 'fancy'; known: hybrid, handtuned, dense, bm25"):
        rankers.get("fancy")


def test_hybrid_scores_are_probabilities_best_first(article_index) -> None:
    hits = retrieve("Who did Kim Jong Un meet in Russia?", k=4, index_dir=article_index)
    scores = [h.score for h in hits]
    assert all(0 < s < 1 for s in scores) and scores == sorted(scores, reverse=True)
    assert "Putin" in hits[0].text
    tuned = retrieve("Who did Kim Jong Un meet in Russia?", k=4, index_dir=article_index, mode="handtuned")
    assert "Putin" in tuned[0].text and tuned[0].score > 1  # the raw mix, not a probability
    with pytest.raises(ConfigError, match="unknown retrieval mode"):
        retrieve("Who met Putin?", index_dir=article_index, mode="fancy")


def test_sentence_cover_is_the_idf_weighted_share_of_question_terms(article_index) -> None:
    from rag.answering.signals import query_tokens
    from rag.indexing.search_index import open_index

    loaded = open_index(article_index)
    idf = loaded.stores.sentence_lexical.idf
    question = "Who did Kim Jong Un meet in Russia?"
    rows = np.arange(loaded.n_sentences)
    cover = loaded.sentence_coverage([query_tokens(question)], rows)[0]
    asked = {t for t in query_tokens(question) if t in idf}
    total = sum(idf[t] for t in asked)
    expected = [sum(idf[t] for t in asked & set(query_tokens(loaded.sentence_text(r)))) / total for r in rows]
    assert np.allclose(cover, expected) and 0 < cover.max() <= 1.0
    assert np.allclose(
        loaded.sentence_coverage([query_tokens(question)], rows[::-1])[0], cover[::-1]
    )  # follows the rows it is given
