"""Stage 3, answering: a question (and its conversation) in, an :class:`rag.records.Answer` out.

``followup`` resolves a follow-up against the conversation, ``broad`` recognises overview
questions, ``query`` parses the question (clauses, dates, windows); ``signals`` encodes it and
computes what ``rankers/`` read (``fusion`` is the learned ranker's model) and ``retrieve``
ranks chunks with the mode's ranker; ``answer`` picks candidate sentences and ``triggering``
(with ``cues``) judges whether each answers, citing the best or abstaining.
"""
