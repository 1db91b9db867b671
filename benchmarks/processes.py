"""Child processes for the speed benchmark: wall time and peak RSS of each.

Peak RSS comes from ``os.wait4`` (stdlib only, no psutil). On Linux a child's ``ru_maxrss``
starts from the RSS of the process it was forked from (the old address space counts at
``exec``), so children are started by a small launcher process, never by this large one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .common import ROOT, child_env

TIMEOUT = 600
BARE_LOAD = """
import sys
from sentence_transformers import SentenceTransformer
SentenceTransformer(sys.argv[1], device="cpu")
"""
LAUNCHER = """
import json, os, subprocess, sys, time
result, out, err, *cmd = sys.argv[1:]
with open(out, "wb") as o, open(err, "wb") as e:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=e)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
proc.returncode = os.waitstatus_to_exitcode(status)
with open(result, "w") as fh:
    json.dump({"seconds": seconds, "returncode": proc.returncode, "max_rss_bytes": usage.ru_maxrss * 1024}, fh)
"""


def run_child(cmd: list[str], timeout: float = TIMEOUT) -> dict[str, Any]:
    """Run ``cmd`` via the launcher; its wall time, peak RSS (bytes) and stdout. Raises on failure."""
    with tempfile.TemporaryDirectory() as tmp:
        result, out, err = (os.path.join(tmp, name) for name in ("result.json", "out", "err"))
        launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, result, out, err, *cmd], env=child_env(), cwd=ROOT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        try:
            launcher.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
        stdout, stderr = (Path(p).read_text("utf-8", "replace") if os.path.exists(p) else "" for p in (out, err))
        measured = json.loads(Path(result).read_text("utf-8")) if os.path.exists(result) else {"returncode": "timeout"}
    if measured["returncode"] != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}... exited with {measured['returncode']}: {stderr.strip()[-2000:]}")
    return {"seconds": round(measured["seconds"], 3), "max_rss_bytes": measured["max_rss_bytes"], "stdout": stdout}


def rag_command() -> list[str]:
    """The ``rag`` console script beside this Python (``python -m rag.cli`` if not installed)."""
    script = Path(sys.executable).parent / "rag"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rag.cli"]


def bare_model_process() -> dict[str, Any]:
    """A fresh Python that imports sentence_transformers and loads the bundled model, nothing else."""
    from rag.indexing.embedding import resolve_model
    from rag.settings import BUNDLED_MODEL

    result = run_child([sys.executable, "-c", BARE_LOAD, resolve_model(BUNDLED_MODEL)[0]])
    result.pop("stdout")
    return result


def cold_ask(index_dir: Path, question: str) -> dict[str, Any]:
    """A fresh ``rag ask QUESTION --index DIR --json``."""
    result = run_child([*rag_command(), "ask", question, "--index", str(index_dir), "--json"])
    answer = json.loads(result.pop("stdout"))
    result["timings"] = answer.get("timings", {})
    return result


def peak_rss_answering(index_dir: Path, questions: list[str], work: Path) -> dict[str, Any]:
    """Peak RSS of ``rag ask --batch`` answering every question in one process."""
    batch = work / "questions.jsonl"
    batch.write_text("".join(json.dumps({"q": q}) + "\n" for q in questions), "utf-8")
    result = run_child([*rag_command(), "ask", "--batch", str(batch), "--index", str(index_dir), "--json"])
    answers = [json.loads(line) for line in result.pop("stdout").splitlines() if line.strip()]
    return {**result, "questions": len(questions), "answers": len(answers)}


def index_bytes(index_dir: Path, current: bool = False) -> int:
    """Disk usage (``du``: allocated blocks) of the index folder, or of its current version only."""
    folder = index_dir
    if current:
        manifest = json.loads((index_dir / "manifest.json").read_text("utf-8"))
        folder = index_dir / manifest["data_dir"]
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())
