"""Ask questions about your documents; get answers made of cited source sentences.

>>> import rag                                                # doctest: +SKIP
>>> rag.build_index(["data"])                                 # doctest: +SKIP
>>> print(rag.answer("Who did Kim Jong Un meet in Russia?").text)  # doctest: +SKIP
"""

from .answer import answer
from .manage import build_index
from .records import Answer, BuildReport, Citation, Document, Hit
from .retrieve import retrieve

__all__ = ["Answer", "BuildReport", "Citation", "Document", "Hit", "answer", "build_index", "retrieve"]
