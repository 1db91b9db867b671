"""Stage 2, indexing: documents in, an index folder on disk (or in Milvus) out, and read back.

``manage`` is the document lifecycle (public as :mod:`rag.manage`): it decides what the index
should hold (``sources``, ``uploads``) and calls ``build``, which embeds (``embedding``) and
tokenises (``lexical``) only what changed; ``store`` reads an index version and ``commit`` writes
one atomically; ``stores/`` holds where vectors and BM25 live (embedded files, Milvus).
``search_index`` is the seam the answering stage reads an opened index through.
"""
