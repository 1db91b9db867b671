"""``pip install .`` from the checkout gives a working ``rag`` command (issue 27, item 2).

Offline and quick: a fresh venv without pip gets the project installed by this venv's pip
(``--no-deps --no-build-isolation``); its dependencies come from this venv's site-packages through a
``.pth`` line (after the fresh venv's own, so the installed ``rag`` is the one imported).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "data"


@pytest.mark.slow
def test_pip_install_from_the_checkout_gives_a_working_rag(tmp_path: Path) -> None:
    source = Path(
        shutil.copytree(
            ROOT, tmp_path / "src", ignore=shutil.ignore_patterns(".git", ".venv", "index", "build", "*.egg-info", "__pycache__")
        )
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "zz-project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", "utf-8")
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        str(source),
    ]
    subprocess.run(pip, check=True, cwd=tmp_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    rag = str(venv / "bin" / "rag")

    where = subprocess.run(
        [str(python), "-c", "import rag, ui; print(rag.__file__, ui.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    )
    assert all(p.startswith(str(site)) for p in where.stdout.split())  # the installed copy, not the checkout

    helped = subprocess.run([rag, "--help"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert helped.returncode == 0 and "ask" in helped.stdout and "serve" in helped.stdout

    article = next(ARTICLE.glob("*.txt"))
    built = subprocess.run(
        [rag, "build", str(article), "--index", "idx", "--json"], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert built.returncode == 0, built.stderr
    asked = subprocess.run(
        [rag, "ask", "Who", "did", "Kim", "Jong", "Un", "meet", "in", "Russia?", "--index", "idx"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert asked.returncode == 0, asked.stderr
    assert "Putin" in asked.stdout and "[1]" in asked.stdout


def test_the_readme_leads_with_what_it_is_and_the_commands() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    first = readme[: readme.index("## Set up")]
    assert len(first.splitlines()) < 40  # one screen: what it is, then the commands
    assert "bash scripts/start.sh" in first and ". .venv/bin/activate" in first
    assert "import rag\nrag.build_index" in first and "rag ask Who did" in first and "rag serve" in first
    assert "## How a question is answered" not in readme  # internals live in docs/
    assert "## How a question is answered" in (ROOT / "docs" / "ANSWERING.md").read_text("utf-8")
