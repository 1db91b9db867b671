"""End to end, the document lifecycle in the UI: uploads whose names differ only in punctuation are
both kept, shown under the names the user gave them, and the CLI sees exactly what the UI shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import run_cli
from .test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, server  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser

NAMES = ["R&D plan.txt", "R+D plan.txt"]


def test_uploads_with_colliding_names_are_both_kept_and_listed(server: str, tmp_path: Path) -> None:  # noqa: F811
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    files = []
    for i, name in enumerate(NAMES):
        folder = tmp_path / f"up{i}"
        folder.mkdir()
        (folder / name).write_text(f"The {name[:3]} plan budget is {i + 7} million crowns.", "utf-8")
        files.append(str(folder / name))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server)
            page.get_by_role("tab", name="Documents").click()
            page.locator("#upload input[type=file]").set_input_files(files)
            for name in NAMES:
                page.wait_for_function(
                    "n => document.querySelector('#documents-table').innerText.includes('upload: ' + n)",
                    arg=name,
                    timeout=TIMEOUT_MS,
                )
            assert "3</b> documents" in page.locator("#index-status").inner_html()
        finally:
            browser.close()
    listed = run_cli("list", "--index", str(tmp_path / "index"), "--json")  # the server fixture's index
    assert listed.returncode == 0, listed.stderr
    origins = sorted(r["origin"] for r in json.loads(listed.stdout))
    assert origins[1:] == [f"upload: {n}" for n in sorted(NAMES)]
