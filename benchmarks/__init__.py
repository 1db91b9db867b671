"""Benchmarks: ``python -m benchmarks.quality`` and ``python -m benchmarks.speed`` (``--smoke`` for CI).

Results go to ``benchmarks/results/{quality,speed}[_smoke].json`` and ``benchmarks/RESULTS.md``.
"""
