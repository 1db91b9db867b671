"""The HTTP API beside the UI (issue 27, item 4), over a real server on a free loopback port."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .ui_server import client_for, serving

PASSWORD = "correct horse battery"
QUESTION = "Who did Kim Jong Un meet in Russia?"


@pytest.fixture
def index(article_index: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(article_index, tmp_path / "index"))


@pytest.fixture(autouse=True)
def gradio_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "gradio-uploads"
    folder.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))
    return folder


def test_answer_retrieve_and_documents_as_json(index: Path) -> None:
    from rag.answering.answer import answer

    with serving(index) as url, client_for(url) as client:
        got = client.post("/api/answer", json={"question": QUESTION})
        assert got.status_code == 200, got.text
        body = got.json()
        assert body == {**answer(QUESTION, index_dir=index).to_dict(), "timings": body["timings"]}  # as `rag ask --json`
        assert set(body) == {"question", "text", "citations", "evidence", "abstained", "query", "timings", "notices", "confident"}
        assert not body["abstained"] and "Putin" in body["text"]
        cited = body["citations"][0]
        assert set(cited) == {"n", "text", "doc_id", "title", "source", "date", "start", "end", "score"} and cited["n"] == 1

        follow = client.post("/api/answer", json={"question": "Where did he meet him?", "history": [QUESTION]}).json()
        assert "Kim Jong Un" in follow["query"]  # the history resolved the pronoun

        hits = client.post("/api/retrieve", json={"question": QUESTION, "k": 2}).json()
        assert hits["question"] == QUESTION and len(hits["hits"]) == 2
        assert {"chunk_id", "doc_id", "title", "text", "score", "sentences"} <= set(hits["hits"][0])

        docs = client.get("/api/documents").json()
        assert [d["title"] for d in docs] == ["Kim Jong Un orders military to annihilate South Korea and US"]

        spec = client.get("/api/openapi.json").json()
        assert {"/api/answer", "/api/retrieve", "/api/documents"} <= set(spec["paths"])
        page = client.get("/api/docs")
        assert page.status_code == 200 and "/api/answer" in page.text and "<script" not in page.text


def test_errors_are_json_with_status_codes(index: Path, tmp_path: Path) -> None:
    with serving(index) as url, client_for(url) as client:
        cases = [
            ({"question": "   "}, 400, "EmptyQuestionError"),
            ({"question": QUESTION, "options": {"mode": "nope"}}, 400, "ConfigError"),
            ({"question": QUESTION, "options": {"store": "milvus://evil:1"}}, 400, "ConfigError"),
            ({"question": QUESTION, "colour": 1}, 400, "InputError"),
            ({}, 400, "InputError"),
        ]
        for body, status, kind in cases:
            got = client.post("/api/answer", json=body)
            assert (got.status_code, got.json()["error"]["type"]) == (status, kind), got.text
            assert "\n" not in got.json()["error"]["message"]
        bad = client.post("/api/answer", content=b"{not json", headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and bad.json()["error"]["type"] == "InputError"
        assert client.get("/api/nothing").status_code == 404 and client.get("/api/nothing").json()["error"]
        assert client.get("/api/answer").status_code == 405
        refused = client.get("/api/documents", headers={"Host": "attacker.example"})  # the UI's Host guard
        assert refused.status_code == 403

    with serving(tmp_path / "no-index") as url, client_for(url) as client:
        got = client.post("/api/answer", json={"question": QUESTION})
        assert got.status_code == 503 and got.json()["error"]["type"] == "IndexNotFoundError"
        assert client.get("/api/documents").status_code == 503


def test_the_api_needs_the_ui_login(index: Path) -> None:
    with serving(index, auth=("ann", PASSWORD)) as url, client_for(url) as client:
        refused = client.post("/api/answer", json={"question": QUESTION})
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "NotAuthenticated"
        assert client.get("/api/documents").status_code == 401
        assert client.post("/login", data={"username": "ann", "password": "wrong password!"}).status_code == 400
        assert client.get("/api/documents").status_code == 401
        assert client.post("/login", data={"username": "ann", "password": PASSWORD}).status_code == 200
        assert client.get("/api/documents").status_code == 200  # the session cookie of the UI's login
        assert client.post("/api/answer", json={"question": QUESTION}).json()["citations"]
