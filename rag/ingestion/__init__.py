"""Stage 1, ingestion: files in, :class:`rag.records.Document` and its sentences and chunks out.

``documents`` reads a file (text, Markdown, HTML, PDF, JSON/JSONL) into Documents, with
``metadata`` (front matter, headers, PDF info) and ``structure`` (headings, sections, list items);
``sentences`` splits a document's text into sentences with exact offsets and ``chunking`` packs
them into token-sized chunks. Nothing here knows about indexes or questions.
"""
