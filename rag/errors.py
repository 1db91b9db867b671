"""Typed errors. Every failure a user can cause or meet is one of these.

The CLI and the UI turn a :class:`RagError` into a one-line message (``str(err)``);
anything else is a bug.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: a problem the user can understand and fix. ``str(err)`` is one line."""

    exit_code = 1


class InputError(RagError):
    """Bad input: an empty question, an unreadable or unsupported document, a bad option."""

    exit_code = 2


class EmptyQuestionError(InputError):
    """The question is empty or only whitespace."""


class DocumentError(InputError):
    """A document could not be read (missing, binary, not UTF-8, empty, unsupported type)."""


class EmptyIndexError(InputError):
    """A build or removal would leave the index without documents (an index needs one)."""


class ConfigError(InputError):
    """An unknown option or an option with an invalid value."""


class NotAnIndexError(InputError):
    """The index folder holds files rag did not create and no index marker: rag refuses to write there."""


class IndexNotFoundError(RagError):
    """No index exists at the given folder yet."""

    exit_code = 3


class IndexMismatchError(RagError):
    """The index was built with another model or format version: rebuild it."""

    exit_code = 3


class IndexCorruptError(RagError):
    """Index files are missing, truncated or inconsistent."""

    exit_code = 3


class ModelError(RagError):
    """The embedding model could not be loaded or failed its integrity check."""

    exit_code = 4


class BuildError(RagError):
    """A build failed (e.g. disk full, folder not writable); the previous index is untouched."""

    exit_code = 5


class StoreError(RagError):
    """The index's vector/BM25 store (a Milvus server) cannot be reached or refused an operation."""

    exit_code = 6


class BuildInterrupted(KeyboardInterrupt):
    """Ctrl-C during a build: ``str(err)`` says the index is unchanged and what was done (one line).

    A KeyboardInterrupt still, so whatever stops on Ctrl-C stops on it."""
