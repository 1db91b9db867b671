"""Shared by the benchmarks: paths, machine description, figures with goals, result files.

A *figure* is one measured number beside its goal::

    {"name": ..., "value": 0.81, "unit": "", "goal": ">= 0.8", "pass": true, ...details}

``goal`` and ``pass`` are ``None`` for figures reported for information only.
"""

from __future__ import annotations

import argparse
import importlib
import operator
import os
import pkgutil
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
DEFAULT_OUT = BENCH / "results"
EVAL = ROOT.parent / "shared" / "eval"
ARTICLE_DEV = EVAL / "article_dev.jsonl"
MULTIHOP = EVAL / "multihop_rag"
MULTIHOP_CORPUS = MULTIHOP / "corpus.json"
MULTIHOP_QUERIES = MULTIHOP / "queries_dev.json"
BUNDLED_CORPUS = ROOT / "data"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
    ">": operator.gt,
    "==": operator.eq,
}


def figure(name: str, value: float, goal: tuple[str, float] | None = None, unit: str = "", **details: Any) -> dict[str, Any]:
    """One measured number with its goal (``(">=", 0.8)``) and whether it holds."""
    out: dict[str, Any] = {"name": name, "value": _round(value), "unit": unit, "goal": None, "pass": None}
    if goal is not None:
        op, target = goal
        out["goal"] = f"{op} {target:g}"
        out["pass"] = bool(_OPS[op](value, target))
    out.update({k: _round(v) for k, v in details.items()})
    return out


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def set_offline_env() -> None:
    """Nothing may download a model: make the Hugging Face libraries fail instead of trying."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def pin_rag_modules() -> None:
    """Import every ``rag`` module now: a run then uses one version of the library throughout,
    even if ``rag/`` is edited meanwhile (its lazy imports would otherwise mix old and new code)."""
    import rag

    for module in pkgutil.iter_modules(rag.__path__):
        importlib.import_module(f"rag.{module.name}")


def child_env() -> dict[str, str]:
    """Environment for child processes: offline, and able to import this checkout."""
    env = {**os.environ, **OFFLINE_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def parse_args(
    description: str, argv: list[str] | None, extra: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    """Options every benchmark takes: ``--smoke``, ``--out`` and ``--md``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="tiny version for CI (writes *_smoke.json)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--md", type=Path, help="Markdown report to regenerate (default benchmarks/RESULTS.md for full runs)")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    args.suffix = "_smoke" if args.smoke else ""
    if args.md is None:
        default = args.out == DEFAULT_OUT.resolve() and not args.smoke
        args.md = BENCH / "RESULTS.md" if default else args.out / f"RESULTS{args.suffix}.md"
    return args


def work_dir(args: argparse.Namespace, name: str) -> Path:
    """A scratch folder under ``<out>/tmp/`` (gitignored for the default results folder)."""
    path = args.out / "tmp" / f"{name}{args.suffix}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, Python and library versions, load, date and checkout state."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "sentence_transformers": _version("sentence-transformers"),
        "faiss": _version("faiss-cpu"),
        "bm25s": _version("bm25s"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "git": _git_state(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_state() -> dict[str, Any]:
    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, timeout=30)
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "rag")
    return {"commit": git("rev-parse", "--short", "HEAD"), "rag_modified": bool(changed)}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
