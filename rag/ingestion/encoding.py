"""The text of a file's bytes: UTF-8, a byte-order mark's encoding, or one charset-normalizer identifies.

In order: a byte-order mark (UTF-8, UTF-16, UTF-32) decides and is dropped; then valid UTF-8;
then charset-normalizer's candidates. Western Windows code pages win ties among candidates that
read the bytes equally well (charset-normalizer often ranks cp1250 first for French or German
Latin-1 text, turning "à" into "ŕ"). UTF-16/32 without a mark is taken only for bytes with NULs
(as UTF-16 text of Latin letters has), and other bytes with NULs are refused as binary. The
returned string is ``Document.text``: every offset is into it, never into the bytes.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from rag.errors import DocumentError

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose mark it starts with
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
PREFERRED = ("cp1252", "cp1251", "cp1250", "cp1253", "cp1254", "cp1257", "iso8859_15", "latin_1")
"""Chosen first, in this order, among the candidates that read the bytes with the least chaos."""
MAX_CHAOS_GAP = 0.01
"""Candidates this close to the least chaos (charset-normalizer's measure of odd characters) tie."""
WIDE = ("utf_16", "utf_32")


def decode(data: bytes, path: Path | str) -> str:
    """The text of ``data``; DocumentError (naming ``path``) for binary data or an unknown encoding.

    >>> decode("Caf\\u00e9 au lait.".encode("latin-1"), "a.txt"), decode(codecs.BOM_UTF8 + b"Tea.", "b.txt")
    ('Café au lait.', 'Tea.')
    """
    for mark, codec in BOMS:
        if data.startswith(mark):
            return _checked(_strict(data, codec, path), path)
    try:
        return _checked(data.decode("utf-8"), path)
    except UnicodeDecodeError:
        pass
    return _checked(_guessed(data, path), path)


def _strict(data: bytes, codec: str, path: Path | str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as err:
        name = codec.removesuffix("-sig").upper()
        raise DocumentError(f"{path}: not valid {name} text (byte {err.start}) though it starts with a {name} mark") from None


def _checked(text: str, path: Path | str) -> str:
    if "\x00" in text:
        raise DocumentError(f"{path}: looks like a binary file, not text")
    return text


def _guessed(data: bytes, path: Path | str) -> str:
    """The first candidate encoding (see :func:`candidates`) that decodes all of ``data``."""
    for codec in candidates(data):
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    if b"\x00" in data:
        raise DocumentError(f"{path}: looks like a binary file, not text (or UTF-16 without a byte-order mark)")
    raise DocumentError(f"{path}: not valid UTF-8 text and its encoding could not be identified; save it as UTF-8")


def candidates(data: bytes) -> list[str]:
    """charset-normalizer's encodings for ``data``, best first, Western ones first among equals.

    >>> candidates("Le caf\\u00e9 ouvre \\u00e0 sept heures.".encode("latin-1"))[0]
    'cp1252'
    """
    from charset_normalizer import from_bytes

    wide = b"\x00" in data  # NULs: only UTF-16/32 can make text of them
    matches = [m for m in from_bytes(data) if m.encoding.startswith(WIDE) == wide]
    if not matches:
        return []
    least = min(m.chaos for m in matches)
    tied = {c for m in matches if m.chaos <= least + MAX_CHAOS_GAP for c in (m.encoding, *m.could_be_from_charset)}
    return [*(c for c in PREFERRED if c in tied), *(m.encoding for m in matches)]
