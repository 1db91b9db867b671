"""Child processes for the speed benchmark: wall time and peak RSS of each, via ``os.wait4``.

``resource.getrusage(RUSAGE_CHILDREN)`` only keeps the maximum over all children so far;
``wait4`` gives each child's own ``ru_maxrss`` (stdlib only, no psutil needed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .common import ROOT, child_env

TIMEOUT = 600
BARE_LOAD = """
import sys
from sentence_transformers import SentenceTransformer
SentenceTransformer(sys.argv[1], device="cpu")
"""


def run_child(cmd: list[str], timeout: float = TIMEOUT) -> dict[str, Any]:
    """Run ``cmd``; its wall time, exit code, peak RSS (bytes) and output. Raises on failure."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=child_env(), cwd=ROOT)
        timer = threading.Timer(timeout, os.kill, (proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}... exited with {proc.returncode}: {stderr.strip()[-2000:]}")
    return {"seconds": round(seconds, 3), "max_rss_bytes": usage.ru_maxrss * 1024, "stdout": stdout}


def rag_command() -> list[str]:
    """The ``rag`` console script beside this Python (``python -m rag.cli`` if not installed)."""
    script = Path(sys.executable).parent / "rag"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rag.cli"]


def bare_model_process() -> dict[str, Any]:
    """A fresh Python that imports sentence_transformers and loads the bundled model, nothing else."""
    from rag.embedding import resolve_model
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
