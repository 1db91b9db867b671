"""Ask questions about your documents; get answers made of cited source sentences.

>>> import rag                                                # doctest: +SKIP
>>> rag.build_index(["data"])                                 # doctest: +SKIP
>>> print(rag.answer("Who did Kim Jong Un meet in Russia?").text)  # doctest: +SKIP
"""

import sys

from rag.answering.answer import answer
from rag.answering.retrieve import retrieve
from rag.indexing import manage
from rag.indexing.manage import build_index
from rag.records import Answer, BuildReport, Citation, Document, Hit

# The document lifecycle is public as ``rag.manage`` (``from rag.manage import add_documents`` too),
# wherever its code lives in the indexing stage.
sys.modules.setdefault("rag.manage", manage)

__all__ = ["Answer", "BuildReport", "Citation", "Document", "Hit", "answer", "build_index", "manage", "retrieve"]
