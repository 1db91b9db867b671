"""A damaged manifest is a one-line typed error in every command (issue 25, item 6): nested too
deeply, a FIFO, a link to /dev/zero, too large, or fields of the wrong type or range. Nothing
hangs, no traceback, and nothing the index did not create is deleted."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.cli import main
from rag.indexing import schema
from rag.indexing.store import MANIFEST

from .helpers import assert_one_line_error, copy_index, edit_json, run_cli, tree


@pytest.fixture
def index(tmp_path: Path, article_index: Path) -> Path:
    return copy_index(article_index, tmp_path / "index")[0]


def _replace(make: Callable[[Path], object]) -> Callable[[Path], None]:
    def replace(path: Path) -> None:
        path.unlink()
        make(path)

    return replace


DAMAGE: dict[str, Callable[[Path], object]] = {
    "nested": lambda p: p.write_text("[" * 100_000 + "]" * 100_000, "utf-8"),
    "fifo": _replace(os.mkfifo),
    "dev-zero": _replace(lambda p: p.symlink_to("/dev/zero")),
    "folder": _replace(Path.mkdir),
    "dim-text": edit_json(lambda m: m["model"].update(dim="x")),
    "settings-text": edit_json(lambda m: m.update(settings="x")),
    "counts-negative": edit_json(lambda m: m["counts"].update(chunks=-1)),
    "documents-list": edit_json(lambda m: m.update(documents=[1, 2])),
    "store-text": edit_json(lambda m: m.update(store="milvus")),
}
COMMANDS = {
    "status": ["status"],
    "verify": ["status", "--verify"],
    "list": ["list"],
    "ask": ["ask", "Who did Kim Jong Un meet in Russia?"],
    "add": ["add", "{extra}"],
    "remove": ["remove", "foo"],
    "build": ["build"],
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_every_command_on_a_damaged_manifest_is_one_typed_line(index: Path, tmp_path: Path, capsys, damage: str) -> None:
    extra = tmp_path / "extra.txt"
    extra.write_text("Owls hunt at night.", "utf-8")
    DAMAGE[damage](index / MANIFEST)
    before = tree(index)
    for name, argv in COMMANDS.items():
        started = time.monotonic()
        code = main([a.format(extra=extra) for a in argv] + ["--index", str(index)])
        err = capsys.readouterr().err
        assert code == 3, (name, err)
        assert_one_line_error(err, str(index))
        assert time.monotonic() - started < 5, name
    assert tree(index) - {".lock"} == before - {".lock"}  # nothing deleted, nothing new


def test_a_fifo_manifest_does_not_hang_a_process(index: Path) -> None:
    DAMAGE["fifo"](index / MANIFEST)
    result = run_cli("status", "--index", str(index), timeout=60)  # today: blocks on open() for ever
    assert result.returncode == 3
    assert_one_line_error(result.stderr, "not a regular file")


def test_a_manifest_over_the_size_limit_is_refused_unread(index: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(schema, "MAX_MANIFEST_BYTES", 1000)
    assert main(["status", "--index", str(index)]) == 3
    assert_one_line_error(capsys.readouterr().err, "larger than")


def test_a_wrong_model_dim_is_damage_not_an_assertion(index: Path, capsys) -> None:
    edit_json(lambda m: m["model"].update(dim=10))(index / MANIFEST)
    for argv in (["status", "--verify"], ["list"], ["remove", "foo"]):
        assert main([*argv, "--index", str(index)]) == 3, argv
        assert_one_line_error(capsys.readouterr().err, "model.dim 10 differs")
