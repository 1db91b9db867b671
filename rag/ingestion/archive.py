"""Zip-based office files (.docx, .xlsx) checked before a parser opens them: a zip archive that
holds the part the format needs, and no decompression bomb (the parsers read whole parts into
memory: python-docx every part, openpyxl the shared strings)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from rag.errors import DocumentError

MAX_UNZIPPED_BYTES = 512 * 2**20
"""All parts of one archive together, uncompressed (Python's zipfile never inflates a part past the size it states)."""
MAX_RATIO = 100
"""A part larger than MIN_RATIO_BYTES that inflates more than this many times is taken for a bomb
(Apache POI's rule; XML that real office files hold inflates 5-30 times)."""
MIN_RATIO_BYTES = 2**20


def check_archive(path: Path, part: str, kind: str) -> None:
    """DocumentError naming ``path`` unless it is a zip archive holding ``part`` within the limits above."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile:
        raise DocumentError(f"{path}: unreadable {kind} (not a zip archive)") from None
    except (zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise DocumentError(f"{path}: unreadable {kind} ({type(err).__name__}: {err})") from None
    if part not in {entry.filename for entry in entries}:
        raise DocumentError(f"{path}: unreadable {kind} (the archive has no {part})")
    total = sum(entry.file_size for entry in entries)
    if total > MAX_UNZIPPED_BYTES:
        raise DocumentError(f"{path}: {kind} too large ({total:,} bytes once unzipped; at most {MAX_UNZIPPED_BYTES:,})")
    for entry in entries:
        if entry.file_size > MIN_RATIO_BYTES and entry.file_size > MAX_RATIO * max(entry.compress_size, 1):
            ratio = entry.file_size // max(entry.compress_size, 1)
            raise DocumentError(f"{path}: unreadable {kind} ({entry.filename} inflates {ratio:,} times: a zip bomb)")
