"""dl-grader: grade deep-learning exercises with precise, diagnostic feedback.

The public Python API lives in :mod:`grader.api` (``grade``), results in :mod:`grader.results`.
"""

__version__ = "0.1.0"
