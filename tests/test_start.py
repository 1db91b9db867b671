"""scripts/install.sh and scripts/start.sh, run for real on a copy of the project whose .venv is a
stand-in: its ``pip`` and ``rag`` only record how they were called (its ``python`` is this one), so the
scripts' decisions (skip, torch source, arguments) are checked without installing anything.
Also `rag serve` for real: one line of ours, none of Gradio's."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import ROOT

TORCH = "torch==2.13.0"


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!/usr/bin/env bash\n{body}\n", "utf-8")
    path.chmod(0o755)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """pyproject.toml and scripts/ copied into a folder with a stand-in .venv."""
    proj = tmp_path / "proj"
    (proj / "scripts").mkdir(parents=True)
    for name in ("pyproject.toml", "scripts/install.sh", "scripts/start.sh"):
        shutil.copy(ROOT / name, proj / name)
    bin_dir = proj / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    _script(bin_dir / "python", f'exec {sys.executable} "$@"')
    _script(bin_dir / "pip", f'echo "pip $*" >> {proj / "calls.log"}')
    _script(bin_dir / "rag", f'echo "rag $*" >> {proj / "calls.log"}')
    (bin_dir / "activate").write_text(f'export PATH="{bin_dir}:$PATH"\n', "utf-8")
    (tmp_path / "no-torch").mkdir()
    (tmp_path / "no-torch" / "torch.py").write_text("raise ImportError('no torch here')\n", "utf-8")
    return proj


def _run(project: Path, script: str, *args: str, torch: bool = False, cpu_index: str = "http://127.0.0.1:1/whl/cpu") -> str:
    """Run a script of the copy; its stdout. Torch is unimportable unless ``torch`` (importing it takes seconds)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAG_INDEX", "PYTHONPATH")}
    env["RAG_TORCH_INDEX"] = cpu_index
    if not torch:
        env["PYTHONPATH"] = str(project.parent / "no-torch")
    out = subprocess.run(["bash", f"scripts/{script}", *args], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _calls(project: Path) -> list[str]:
    log = project / "calls.log"
    return log.read_text("utf-8").splitlines() if log.exists() else []


def test_a_second_install_with_nothing_changed_installs_nothing(project: Path) -> None:
    first = _run(project, "install.sh")
    assert "installing rag and its dependencies into .venv (the first run takes ~2-3 minutes)" in first
    assert _calls(project) == ["pip install -q --upgrade pip", f"pip install {TORCH}", "pip install -e ."]  # no -q there
    stamp = (project / ".venv" / ".install-stamp").read_text("utf-8")
    assert re.fullmatch(r"[0-9a-f]{64} app\n", stamp)

    second = _run(project, "install.sh")
    assert second == "dependencies up to date (.venv/.install-stamp): nothing to install\n"
    assert len(_calls(project)) == 3

    (project / ".venv" / ".install-stamp").write_text(stamp.replace(" app", " test"), "utf-8")
    assert "nothing to install" in _run(project, "install.sh")  # the test extras include the app's
    with open(project / "pyproject.toml", "a", encoding="utf-8") as fh:
        fh.write("\n# a dependency changed\n")
    assert "installing rag" in _run(project, "install.sh")
    assert _calls(project)[3:] == ["pip install -q --upgrade pip", f"pip install {TORCH}", "pip install -e ."]


def test_a_failed_install_stops_the_script_and_leaves_no_stamp(project: Path) -> None:
    pip = project / ".venv" / "bin" / "pip"
    _script(pip, f'echo "pip $*" >> {project / "calls.log"}; [ "$2" != "-e" ] || exit 1')  # `pip install -e .` fails
    env = {k: v for k, v in os.environ.items() if k not in ("RAG_INDEX", "PYTHONPATH")}
    env.update(RAG_TORCH_INDEX="http://127.0.0.1:1/whl/cpu", PYTHONPATH=str(project.parent / "no-torch"))
    out = subprocess.run(["bash", "scripts/start.sh"], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and not (project / ".venv" / ".install-stamp").exists()
    assert not any(call.startswith("rag") for call in _calls(project))  # nothing served on a broken install
    _script(pip, f'echo "pip $*" >> {project / "calls.log"}')
    assert "installing rag" in _run(project, "install.sh")  # tried again next time


def test_an_importable_torch_is_kept(project: Path) -> None:
    out = _run(project, "install.sh", torch=True)
    assert re.search(r"^torch \S+ is already installed: keeping it$", out, re.M)
    assert not any("torch" in call for call in _calls(project))


@pytest.fixture
def cpu_index() -> Iterator[str]:
    """A local stand-in for the PyTorch CPU wheel index (answers every request)."""

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html></html>")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/whl/cpu"
    server.shutdown()


def test_without_torch_the_cpu_wheel_index_is_used_when_it_answers(project: Path, cpu_index: str) -> None:
    out = _run(project, "install.sh", cpu_index=cpu_index)
    assert f"installing CPU-only torch 2.13.0 from {cpu_index}" in out
    assert f"pip install --index-url {cpu_index} {TORCH}" in _calls(project)


def test_without_torch_and_no_cpu_index_the_configured_index_is_used_quickly(project: Path) -> None:
    started = time.monotonic()
    out = _run(project, "install.sh")  # nothing listens on port 1: refused at once
    assert "http://127.0.0.1:1/whl/cpu does not answer: installing torch==2.13.0 from the configured package index" in out
    assert f"pip install {TORCH}" in _calls(project) and time.monotonic() - started < 10


def test_a_cpu_index_that_never_answers_times_out_in_seconds(project: Path) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        _run(project, "install.sh", cpu_index=f"http://127.0.0.1:{silent.getsockname()[1]}/whl/cpu")
        assert f"pip install {TORCH}" in _calls(project) and time.monotonic() - started < 15


def test_start_passes_its_arguments_to_rag_serve_and_builds_only_a_missing_index(project: Path) -> None:
    _run(project, "install.sh")
    out = _run(project, "start.sh", "--port", "8123", "--host", "127.0.0.2")
    assert "nothing to install" in out and "building the index at index (the bundled article" in out
    assert _calls(project)[-2:] == ["rag build --index index", "rag serve --port 8123 --host 127.0.0.2"]
    (project / "index").mkdir()
    (project / "index" / "manifest.json").write_text("{}", "utf-8")
    _run(project, "start.sh")
    assert _calls(project)[-1:] == ["rag serve"] and _calls(project).count("rag build --index index") == 1


@pytest.mark.parametrize("args", [["--index", "mine", "--port", "8123"], ["--index=mine"]])
def test_start_builds_the_index_serve_will_open(project: Path, args: list[str]) -> None:
    """`--index` names the index to build when it is missing, not the default one."""
    _run(project, "install.sh")
    out = _run(project, "start.sh", *args)
    assert "building the index at mine" in out
    assert _calls(project)[-2:] == ["rag build --index mine", f"rag serve {' '.join(args)}"]


def test_editable_install_prints_no_build_backend_warning(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")  # the build backend, taken from this environment (no download)
    src = tmp_path / "src"
    for name in ("rag", "ui"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(src),
         "--target", str(tmp_path / "site")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    printed = out.stdout + out.stderr
    assert "BuildBackendWarning" not in printed and "!!" not in printed and "Editable installation" not in printed
    [pth] = (tmp_path / "site").glob("__editable__.*.pth")  # a plain path entry, not an import finder
    assert pth.read_text().strip() == str(src)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_prints_our_line_and_no_share_hint(tmp_path: Path) -> None:
    port = _free_port()
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    with open(out, "w") as fo, open(err, "w") as fe:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--index", str(tmp_path / "none"), "--port", str(port)],
            cwd=ROOT, env=env, stdout=fo, stderr=fe,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "Serving on" not in out.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    printed = out.read_text() + err.read_text()
    assert out.read_text().splitlines()[0] == f"Serving on http://127.0.0.1:{port}"
    assert "share" not in printed and "Running on local URL" not in printed and "Traceback" not in printed
    assert code == 0
