"""The store contract: the same retrieval, answers, incremental builds and damage errors over
every store (the embedded files and Milvus Lite), plus what only one of them can break."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from rag import build_index
from rag.answering.answer import answer
from rag.answering.retrieve import retrieve
from rag.cli.evaluate import evaluate
from rag.errors import ConfigError, IndexCorruptError, StoreError
from rag.indexing import store
from rag.indexing.manage import add_sources, remove_document
from rag.indexing.search_index import open_index
from rag.indexing.stores import StoreSpec, parse_store
from rag.indexing.stores.embedded import EmbeddedBackend

from .conftest import ARTICLE, EVAL, FakeEmbedder
from .helpers import QUESTION, assert_one_line_error, run_cli

pytest.importorskip("milvus_lite")

STORES = ["embedded", "milvus-lite"]


def _spec(kind: str, folder: Path) -> str:
    return "embedded" if kind == "embedded" else f"milvus-lite:{folder / 'milvus.db'}"


@pytest.fixture(scope="module", params=STORES)
def article_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:
    """The bundled article indexed with the real model into each store."""
    folder = tmp_path_factory.mktemp(request.param)
    build_index([ARTICLE], folder / "index", embedder=real_embedder, progress=False, store=_spec(request.param, folder))
    return folder / "index"


@pytest.fixture(params=STORES)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def test_answers_cite_the_exact_sentence(article_store: Path) -> None:
    result = answer(QUESTION, index_dir=article_store)
    doc = ARTICLE.read_text("utf-8")
    first = result.citations[0]
    assert not result.abstained and "Vladimir Putin" in first.text and doc[first.start : first.end] in first.text
    assert answer("What is the boiling point of mercury?", index_dir=article_store).abstained


def test_article_dev_is_identical_across_stores(article_index: Path, article_store: Path) -> None:
    """The article's dev questions: the same metrics and the same cited sentences as the embedded store."""
    gold = EVAL / "article_dev.jsonl"
    assert evaluate(gold, article_store) == evaluate(gold, article_index)
    for line in gold.read_text("utf-8").splitlines()[:6]:
        q = json.loads(line)["q"]
        got, want = answer(q, index_dir=article_store), answer(q, index_dir=article_index)
        assert [(c.text, c.start, c.end) for c in got.citations] == [(c.text, c.start, c.end) for c in want.citations]
    dense = [retrieve(QUESTION, k=4, index_dir=i, mode="dense") for i in (article_store, article_index)]
    assert [h.chunk_id for h in dense[0]] == [h.chunk_id for h in dense[1]]  # the same vectors, the same ranking
    hybrid = [retrieve(QUESTION, k=4, index_dir=i) for i in (article_store, article_index)]
    assert [h.chunk_id for h in hybrid[0]] == [h.chunk_id for h in hybrid[1]]


def test_vectors_are_the_same_through_the_seam(article_index: Path, article_store: Path) -> None:
    """Whatever the store, a sentence's vector and a chunk's vector read back as the embedded store's."""
    a, b = open_index(article_store), open_index(article_index)
    ids = np.array([5, 0, 3])
    assert np.array_equal(a.sentence_vectors(ids), b.sentence_vectors(ids))
    assert np.allclose(a.chunk_vectors(ids[1:]), b.chunk_vectors(ids[1:]), atol=1e-6)
    assert a.documents_by_id([a.documents()[0].id]) == b.documents_by_id([b.documents()[0].id])


def test_incremental_add_and_remove_embed_only_what_changed(kind: str, tmp_path: Path, corpus: Path, fake_embedder) -> None:
    idx, spec = tmp_path / "index", _spec(kind, tmp_path)
    first = build_index([corpus], idx, embedder=fake_embedder, progress=False, store=spec)
    embedded = fake_embedder.texts
    extra = tmp_path / "more.txt"
    extra.write_text("Owls hunt at night. Their hearing is sharp enough to find mice under snow.", "utf-8")
    added = add_sources([extra], idx, embedder=fake_embedder, progress=False)
    assert (added.added, added.unchanged, added.documents) == (1, first.documents, first.documents + 1)
    alone = FakeEmbedder()
    build_index([extra], tmp_path / "alone", embedder=alone, progress=False)
    assert fake_embedder.texts - embedded == alone.texts  # only the new document was embedded
    open_index(idx, embedder=fake_embedder)
    assert "Owls hunt at night." in answer("When do owls hunt?", index_dir=idx, min_score=0.0).citations[0].text
    asked = fake_embedder.texts
    removed = remove_document(str(extra), idx, embedder=fake_embedder, progress=False)
    assert (removed.removed, removed.documents, fake_embedder.texts) == (1, first.documents, asked)  # nothing embedded
    loaded = open_index(idx, embedder=fake_embedder)
    assert all("Owls" not in h.text for h in retrieve("When do owls hunt?", k=20, index_dir=idx, mode="bm25"))
    if kind == "milvus-lite":  # the owl document's rows are gone from Milvus too, nothing else
        client, name = loaded.stores.native["client"], loaded.stores.native["collection"]
        assert (
            client.query(f"{name}_chunks", filter='doc_id != ""', output_fields=["doc_id"], limit=1000)
            and len(client.query(f"{name}_chunks", filter='doc_id != ""', output_fields=["doc_id"], limit=1000))
            == loaded.n_chunks
        )


def test_moving_an_index_to_milvus_reuses_its_vectors(tmp_path: Path, corpus: Path, fake_embedder) -> None:
    idx = tmp_path / "index"
    build_index([corpus], idx, embedder=fake_embedder, progress=False)
    open_index(idx, embedder=fake_embedder)
    before, embedded = retrieve(QUESTION, k=3, index_dir=idx, mode="dense"), fake_embedder.texts
    moved = build_index([], idx, embedder=fake_embedder, progress=False, store=_spec("milvus-lite", tmp_path))
    assert moved.changed and fake_embedder.texts == embedded  # nothing embedded again
    assert store.read_manifest(idx)["store"]["kind"] == "milvus-lite"
    open_index(idx, embedder=fake_embedder)
    assert [h.chunk_id for h in retrieve(QUESTION, k=3, index_dir=idx, mode="dense")] == [h.chunk_id for h in before]


def test_a_damaged_index_is_a_typed_error_in_every_store(kind: str, tmp_path: Path, corpus: Path, fake_embedder) -> None:
    idx = tmp_path / "index"
    build_index([corpus], idx, embedder=fake_embedder, progress=False, store=_spec(kind, tmp_path))
    version = idx / store.read_manifest(idx)["data_dir"]
    (version / "chunks.npy").write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match="missing or damaged: rebuild it with `rag build"):
        open_index(idx, embedder=fake_embedder)
    shutil.rmtree(version)
    with pytest.raises(IndexCorruptError, match="missing or a link"):
        open_index(idx, embedder=fake_embedder)
    rebuilt = build_index([corpus], idx, embedder=fake_embedder, progress=False)  # the same store, repaired
    assert rebuilt.changed and store.read_manifest(idx)["store"]["kind"] == kind


def test_a_dropped_milvus_collection_is_reported_as_damage(tmp_path: Path, corpus: Path, fake_embedder) -> None:
    idx = tmp_path / "index"
    build_index([corpus], idx, embedder=fake_embedder, progress=False, store=_spec("milvus-lite", tmp_path))
    loaded = open_index(idx, embedder=fake_embedder)
    name = loaded.stores.native["collection"]
    loaded.stores.native["client"].drop_collection(f"{name}_sentences")
    store.read_manifest(idx)  # the manifest is fine: only the store lost data
    with pytest.raises(IndexCorruptError, match=f"the Milvus collection {name}_sentences is missing from milvus-lite:"):
        store.load(idx)
    assert build_index([corpus], idx, embedder=fake_embedder, progress=False).changed  # a build repairs it
    open_index(idx, embedder=fake_embedder)
    assert not answer("How long do cats sleep?", index_dir=idx, min_score=0.0).abstained


def test_store_options_are_checked_and_errors_are_one_line(tmp_path: Path) -> None:
    assert parse_store("embedded") == StoreSpec()
    assert parse_store("milvus://localhost:19530") == StoreSpec("milvus", "http://localhost:19530")
    for bad, fragment in [
        ("milvus-lite:x.txt", "ending in .db"),
        ("milvus://host", "milvus://HOST:PORT"),
        ("redis://x", "unknown store"),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            build_index([ARTICLE], tmp_path / "i", store=bad)
    assert not (tmp_path / "i").exists()  # refused before anything was written
    done = run_cli("build", str(ARTICLE), "--index", str(tmp_path / "i"), "--store", "milvus://127.0.0.1:0")
    assert done.returncode == 2 and assert_one_line_error(done.stderr, "a Milvus server is milvus://HOST:PORT")


def test_an_unreachable_milvus_server_is_a_store_error(tmp_path: Path, fake_embedder) -> None:
    with socket.socket() as sock:  # a free local port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreError, match=f"Milvus store at http://127.0.0.1:{port}"):
        build_index([ARTICLE], tmp_path / "index", embedder=fake_embedder, progress=False, store=f"milvus://127.0.0.1:{port}")
    assert not (tmp_path / "index" / "manifest.json").exists()


def _peers() -> list[str]:
    """Remote addresses of this process's TCP sockets (from /proc: every socket, whoever opened it)."""
    import os

    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            mine.add(target[8:-1])
    peers = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in mine:
                peers.append(fields[2].split(":")[0])
    return peers


def _loopback(hex_address: str) -> bool:
    if len(hex_address) == 8:  # IPv4, little-endian: 127.x.x.x ends in 7F
        return hex_address.endswith("7F") or hex_address == "00000000"
    return hex_address in ("00000000000000000000000001000000", "0" * 32) or (
        hex_address.startswith("0000000000000000FFFF0000") and hex_address.endswith("7F")
    )


def test_milvus_lite_stays_on_this_machine(tmp_path: Path, corpus: Path, fake_embedder) -> None:
    """Milvus Lite is embedded: while it builds and answers, every TCP socket of this process
    (its gRPC server and the client's connection to it) is on the loopback address."""
    idx = tmp_path / "index"
    build_index([corpus], idx, embedder=fake_embedder, progress=False, store=_spec("milvus-lite", tmp_path / "fresh"))
    open_index(idx, embedder=fake_embedder)
    answer("How long do cats sleep?", index_dir=idx)
    peers = _peers()
    assert peers and all(_loopback(p) for p in peers), peers


def test_the_cli_builds_into_milvus_lite_and_answers_from_it(tmp_path: Path) -> None:
    idx, db = tmp_path / "index", tmp_path / "vectors" / "milvus.db"
    built = run_cli("build", str(ARTICLE), "--index", str(idx), "--store", f"milvus-lite:{db}", "--json")
    assert built.returncode == 0, built.stderr
    status = json.loads(run_cli("status", "--index", str(idx), "--json").stdout)
    assert status["store"] == f"milvus-lite:{db}" and status["chunks"] == json.loads(built.stdout)["chunks"]
    asked = run_cli("ask", QUESTION, "--index", str(idx), "--json")
    assert asked.returncode == 0 and "Vladimir Putin" in json.loads(asked.stdout)["citations"][0]["text"]
    wrong = run_cli("ask", QUESTION, "--index", str(idx), "--store", "embedded")
    assert wrong.returncode == 2 and assert_one_line_error(
        wrong.stderr, "keeps its vectors in the milvus-lite:", "leave out the store option"
    )


def test_the_embedded_store_memory_maps_vectors_and_bm25(article_index: Path) -> None:
    """Serving does not load vectors whole: a question reads the rows it pools from the page cache."""
    data = open_index(article_index).data
    assert isinstance(data.sentence_vectors, np.memmap) and data.sentence_vectors.dtype == np.float16
    assert all(isinstance(b.scores["data"], np.memmap) for b in (data.bm25, data.sentence_bm25))


class PlainBackend(EmbeddedBackend):
    """An example store (one class + one registry line): the embedded files under another name."""

    def write(self, folder: Path, change) -> dict:
        return {**super().write(folder, change), "kind": "plain", "uri": self.spec.uri}


def test_a_new_store_is_one_class_and_one_registry_line(tmp_path: Path, corpus: Path, fake_embedder, monkeypatch) -> None:
    from rag.indexing import stores

    monkeypatch.setitem(stores.STORES, "plain", "tests.test_stores:PlainBackend")
    idx = tmp_path / "index"
    build_index([corpus], idx, embedder=fake_embedder, progress=False, store="plain:anything")
    assert store.read_manifest(idx)["store"] == {"kind": "plain", "uri": "anything"}
    open_index(idx, embedder=fake_embedder)
    assert (
        "Green tea comes from Camellia sinensis." in answer("Where does green tea come from?", index_dir=idx, min_score=0.0).text
    )
