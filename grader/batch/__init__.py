"""Grading a whole class: one task function (:mod:`grader.batch.task`) shared by the local pool and Dask."""
