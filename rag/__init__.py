"""Ask questions about your documents; get answers made of cited source sentences.

>>> import rag                                        # doctest: +SKIP
>>> rag.build_index(["data"])                         # doctest: +SKIP
>>> print(rag.answer("What did Kim Jong Un order?").text)  # doctest: +SKIP
"""

from .build import build_index
from .records import Answer, BuildReport, Citation, Document, Hit

__all__ = ["Answer", "BuildReport", "Citation", "Document", "Hit", "build_index"]
