"""Everyday use from the shell: `rag chat` in a real pseudo-terminal, error hints that name the exact
command to run, help texts, model load reported apart from encoding, and `rag eval` warnings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from rag.answering.answer import answer
from rag.cli import main
from rag.cli.evaluate import evaluate
from rag.indexing.embedding import SentenceTransformerEmbedder
from rag.indexing.search_index import open_index
from rag.indexing.store import load

from .conftest import ARTICLE, EVAL, ROOT
from .helpers import QUESTION, copy_index

RUSSIA = (
    "This achievement follows Kim Jong Un’s visit to Russia, where he engaged in talks with President Vladimir Putin "
    "and toured Russian weapons factories, further indicating North Korea’s ongoing pursuit of military advancements."
)
ABSTAIN = "No answer: The indexed documents do not answer this question."
MULTIHOP_QUERIES = EVAL / "multihop_rag" / "queries_dev.json"


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TERM": "dumb"}
    env.pop("RAG_INDEX", None)
    return env


def _rag(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m rag.cli ARGS`` run from ``cwd`` (so relative index paths resolve there)."""
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300
    )


def _chat(index: Path) -> pexpect.spawn:
    """`rag chat --index INDEX` on a pseudo-terminal, past its greeting."""
    child = pexpect.spawn(
        sys.executable, ["-m", "rag.cli", "chat", "--index", str(index)], cwd=str(ROOT), env=_env(),
        encoding="utf-8", timeout=180, dimensions=(50, 1000),
    )  # fmt: skip
    child.expect_exact(f"rag chat: 1 document in {index} (ready in ")
    child.expect_exact("> ")
    return child


def _ask(child: pexpect.spawn, line: str) -> str:
    """Send one line; everything printed before the next prompt."""
    child.sendline(line)
    child.expect_exact(line)  # the terminal's echo of what was typed
    child.expect(r"\r\n> ")
    return str(child.before).replace("\r\n", "\n").strip()


# --- rag chat ---------------------------------------------------------------------------------


def test_chat_follow_ups_new_abstention_errors_and_ctrl_d(article_index: Path, tmp_path: Path) -> None:
    idx, _ = copy_index(article_index, tmp_path / "idx")
    doc = load(idx).docs[0]
    start = doc.text.index(RUSSIA)
    source = f"  [1] {doc.title} ({doc.date}) · {doc.source} · chars {start}-{start + len(RUSSIA)}\n      “{RUSSIA}”"
    child = _chat(idx)

    first = _ask(child, "Did Kim Jong Un visit Russia?")
    assert first == f"{RUSSIA} [1]\nSources:\n{source}"
    assert _ask(child, "Who did he meet there?") == first  # resolved from the question before
    assert _ask(child, "/new") == "New conversation: earlier questions are forgotten."
    assert _ask(child, "Who did he meet there?").startswith(ABSTAIN)  # nothing to resolve it from any more
    assert _ask(child, "What is the boiling point of tungsten?") == ABSTAIN  # shares no word with the article: no passage
    near = _ask(child, "What is Kim Jong Un's favourite breakfast?").split("\n")
    assert near[:2] == [ABSTAIN, "Closest passages (not an answer):"] and RUSSIA not in near[0]
    assert _ask(child, "/help").endswith("/quit  leave (also Ctrl-D or Ctrl-C)")
    assert _ask(child, "/what") == "Unknown command /what: /help lists the commands."

    manifest = (idx / "manifest.json").read_text("utf-8")
    (idx / "manifest.json").write_text("{not json", "utf-8")
    error = _ask(child, QUESTION)
    assert error.startswith(f"error: {idx}/manifest.json is unreadable") and "\n" not in error
    assert error.endswith(f"rebuild it with `rag build PATHS --index {idx}`")
    (idx / "manifest.json").write_text(manifest, "utf-8")
    assert _ask(child, QUESTION).startswith(RUSSIA)  # the chat went on

    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and "Traceback" not in str(child.before)


def test_chat_answers_are_wrapped_at_word_boundaries_to_the_terminal(article_index: Path) -> None:
    from rag.cli.chat import format_answer

    result = answer("Did Kim Jong Un visit Russia?", index_dir=article_index)
    plain, wrapped = format_answer(result), format_answer(result, width=60)
    assert plain.split("\n")[0] == f"{RUSSIA} [1]"
    assert max(len(line) for line in wrapped.split("\n")) <= 59 and wrapped.split() == plain.split()
    start = load(article_index).docs[0].text.index(RUSSIA)
    assert f"{start}-{start + len(RUSSIA)}" in wrapped.split()  # offsets are never cut at their hyphen


def test_chat_ctrl_c_at_the_prompt_leaves_cleanly(article_index: Path) -> None:
    child = _chat(article_index)
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and child.signalstatus is None
    assert "Traceback" not in str(child.before) and "interrupted" not in str(child.before)


def test_chat_without_an_index_is_one_line_naming_the_command(tmp_path: Path) -> None:
    out = _rag("chat", "--index", "none", cwd=tmp_path)
    where = tmp_path.resolve() / "none"
    assert (out.returncode, out.stdout) == (3, "")
    assert out.stderr == f"rag: error: no index at {where}: build one with `rag build PATHS --index {where}`\n"


# --- error hints ------------------------------------------------------------------------------


def test_missing_index_hint_names_the_absolute_folder_and_the_command(tmp_path: Path) -> None:
    empty = tmp_path.resolve() / "emptyidx"
    out = _rag("ask", QUESTION, "--index", str(empty), cwd=ROOT)
    assert out.returncode == 3
    assert out.stderr == f"rag: error: no index at {empty}: build one with `rag build PATHS --index {empty}`\n"


def test_missing_default_index_from_another_folder_names_that_folder(tmp_path: Path) -> None:
    out = _rag("status", cwd=tmp_path)  # the default index is ./index of the folder it runs in
    assert out.returncode == 3
    expected = tmp_path.resolve() / "index"
    assert out.stderr == f"rag: error: no index at {expected}: build one with `rag build PATHS --index {expected}`\n"


def test_rebuild_hints_name_the_sources_and_the_absolute_index(article_index: Path, tmp_path: Path) -> None:
    idx, _ = copy_index(article_index, tmp_path.resolve() / "idx")
    manifest = json.loads((idx / "manifest.json").read_text("utf-8"))
    (idx / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}), "utf-8")
    out = _rag("ask", QUESTION, "--index", "idx", cwd=tmp_path)  # a relative --index
    quoted = "'" + str(ARTICLE) + "'"  # the article's name has spaces: quoted for the shell
    assert out.returncode == 3 and out.stderr.endswith(f"rebuild it with `rag build {quoted} --index {idx}`\n")
    (idx / "manifest.json").write_text("{not json", "utf-8")  # no sources to name
    out = _rag("status", "--index", "idx", cwd=tmp_path)
    assert out.returncode == 3 and out.stderr.endswith(f"rebuild it with `rag build PATHS --index {idx}`\n")


def test_serve_without_an_index_names_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import gradio as gr

    from ui import app

    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: None)
    monkeypatch.setattr(app.handlers, "warm_up", lambda index_dir: None)
    monkeypatch.chdir(tmp_path)
    app.serve(index_dir="index", port=7999)
    out, err = capsys.readouterr()
    where = tmp_path.resolve() / "index"
    assert f"note: no index at {where} yet: add documents in the Documents tab, or run `rag build PATHS --index {where}`" in err
    assert out == "Serving on http://127.0.0.1:7999\n"


# --- help -------------------------------------------------------------------------------------


def _help(*args: str, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        main([*args, "--help"])
    assert stop.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_help_texts(capsys) -> None:
    top = _help(capsys=capsys)
    assert "chat a conversation in the terminal" in top
    build = " ".join(_help("build", capsys=capsys).split())
    assert "With no PATHS: re-sync the sources the index remembers" in build and "use `rag add`, or --replace" in build
    serve = _help("serve", capsys=capsys)
    assert "--json" not in serve
    assert (
        "--host HOST address to listen on (default 127.0.0.1" in serve
        and "--port PORT port to listen on, 1-65535 (default 7860" in serve
    )
    ev = _help("eval", capsys=capsys)
    assert "shared/eval" not in ev and '{"q": QUESTION, "gold": [SUBSTRING, ...]}' in ev and "evidence_list" in ev
    assert "--json" not in _help("chat", capsys=capsys)
    with pytest.raises(SystemExit):
        main(["serve", "--json"])
    assert "unrecognized arguments: --json" in capsys.readouterr().err


# --- timings ----------------------------------------------------------------------------------


def test_model_load_is_reported_apart_from_encoding(article_index: Path, tmp_path: Path) -> None:
    idx, _ = copy_index(article_index, tmp_path / "idx")
    open_index(idx, embedder=SentenceTransformerEmbedder())  # a model not loaded yet, as in a fresh `rag ask`
    first = answer(QUESTION, index_dir=idx).timings
    assert set(first) == {"load", "model_load", "embed", "retrieve", "compose", "total"}
    assert first["total"] >= first["model_load"] + first["embed"]
    second = answer(QUESTION, index_dir=idx).timings
    assert "model_load" not in second and set(second) == {"load", "embed", "retrieve", "compose", "total"}


# --- rag eval warnings ------------------------------------------------------------------------


@pytest.mark.skipif(not MULTIHOP_QUERIES.exists(), reason="needs ../shared/eval beside the checkout")
def test_eval_warns_when_the_index_holds_none_of_the_gold_documents(article_index: Path, capsys) -> None:
    assert main(["eval", str(MULTIHOP_QUERIES), "--index", str(article_index), "--limit", "4"]) == 0
    out, err = capsys.readouterr()
    metrics = json.loads(out)
    documents = {e["url"] for q in json.loads(MULTIHOP_QUERIES.read_text("utf-8"))[:4] for e in q["evidence_list"]}
    warning = (
        f"the index at {article_index} holds none of the {len(documents)} documents the gold evidence comes from, so "
        "every score will be 0: build an index of their corpus (`rag build CORPUS --index DIR`) and pass --index DIR"
    )
    assert metrics["warnings"] == [warning] and err == f"rag: warning: {warning}\n"
    assert metrics["Hits@10"] == metrics["Hits@4"] == metrics["MRR@10"] == 0.0


def test_eval_does_not_warn_when_gold_documents_are_indexed(tmp_path: Path, fake_embedder, article_index: Path) -> None:
    from rag import build_index

    record = {"title": "Owls", "url": "https://example.org/owls", "source": "Example", "body": "Owls hunt at night."}
    (tmp_path / "corpus.json").write_text(json.dumps([record]), "utf-8")
    build_index([tmp_path / "corpus.json"], tmp_path / "idx", embedder=fake_embedder, progress=False)
    open_index(tmp_path / "idx", embedder=fake_embedder)
    evidence = [{"fact": "Owls hunt at night.", "url": record["url"], "title": "Owls"}]
    (tmp_path / "q.json").write_text(json.dumps([{"query": "When do owls hunt?", "evidence_list": evidence}]), "utf-8")
    metrics = evaluate(tmp_path / "q.json", tmp_path / "idx", mode="bm25")
    assert metrics["warnings"] == [] and metrics["Hits@10"] == 1.0

    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"q": "Who won?", "gold": ["The Zorblat team won."]}) + "\n", "utf-8")
    seen: list[str] = []
    metrics = evaluate(gold, article_index, on_warning=seen.append)
    assert metrics["warnings"] == seen and seen[0].startswith(f"the index at {article_index} holds none of the 1 gold passages")
    shutil.copy(EVAL / "article_dev.jsonl", tmp_path / "dev.jsonl")
    assert evaluate(tmp_path / "dev.jsonl", article_index, limit=2)["warnings"] == []
