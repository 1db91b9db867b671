from rag.indexing.build import split_and_chunk
from rag.ingestion.chunking import chunk_sentences, embedding_text, pack
from rag.ingestion.documents import make_document, read_file
from rag.ingestion.sentences import count_tokens, split_sentences
from rag.settings import BuildOptions

from .conftest import ARTICLE


def test_pack_respects_budget_and_overlap():
    assert pack([5, 5, 5, 5], budget=10, overlap=5) == [(0, 2), (1, 3), (2, 4)]
    assert pack([5, 5, 5, 5], budget=10, overlap=0) == [(0, 2), (2, 4)]
    assert pack([50, 1, 1], budget=10, overlap=0) == [(0, 1), (1, 3)]
    assert pack([], budget=10, overlap=0) == []


def test_article_chunks_are_sentence_aligned_and_within_token_bounds(real_embedder):
    (doc,) = read_file(ARTICLE)
    sentences = split_sentences(doc)
    chunks = chunk_sentences(doc, sentences, 160, 32, fits=lambda ts: real_embedder.fits([embedding_text(doc, t) for t in ts]))
    assert len(chunks) >= 4
    assert chunks[0].first == 0 and chunks[-1].last == 22
    covered = set()
    for ch in chunks:
        assert ch.text == doc.text[sentences[ch.first].start : sentences[ch.last - 1].end]
        assert count_tokens(ch.text) <= 160
        assert all(real_embedder.fits([embedding_text(doc, ch.text)]))
        covered.update(range(ch.first, ch.last))
    assert covered == set(range(22))
    shared = [range(b.first, a.last) for a, b in zip(chunks, chunks[1:])]
    assert all(sum(count_tokens(sentences[i].text) + 1 for i in r) <= 32 for r in shared)  # overlap bound
    assert sum(len(r) > 0 for r in shared) >= 2  # whole sentences repeated where they fit


def test_embedding_windows_never_exceed_model_limit(real_embedder):
    # Token-dense text: many more model tokens than cl100k tokens.
    text = " ".join("ßẞ" * 3 + f"{i}" for i in range(600)) + "."
    doc = make_document("dense.txt", text)
    sentences, chunks, windows = split_and_chunk(doc, real_embedder, BuildOptions())
    limit = real_embedder.max_tokens
    tok = real_embedder.model.tokenizer
    assert all(len(tok(embedding_text(doc, w.text))["input_ids"]) <= limit for w in windows)
    # every sentence is embedded exactly once, in order; chunks keep their cl100k budget
    assert [i for w in windows for i in range(w.first, w.last)] == list(range(len(sentences)))
    assert all(count_tokens(ch.text) <= 256 for ch in chunks if ch.last - ch.first > 1)
    assert "".join(s.text for s in sentences).replace(" ", "") == text.replace(" ", "")


def test_article_chunks_are_longer_than_the_model_input_but_fully_embedded(real_embedder):
    (doc,) = read_file(ARTICLE)
    sentences, chunks, windows = split_and_chunk(doc, real_embedder, BuildOptions())
    assert [(c.first, c.last) for c in chunks] == [(0, 6), (6, 13), (12, 19), (18, 22)]
    assert not all(real_embedder.fits([embedding_text(doc, c.text) for c in chunks]))  # the 256-token chunks don't fit
    assert all(real_embedder.fits([embedding_text(doc, w.text) for w in windows]))  # their embedding windows do
