"""The front doors beside the chat UI (``ui/``): the ``rag`` command (``commands``), its
terminal chat (``chat``), batch questions (``batch``) and evaluation against gold answers
(``evaluate``). They only call the stages below; nothing below imports them."""

from rag.cli.commands import main

__all__ = ["main"]
