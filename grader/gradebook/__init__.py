"""The gradebook: a SQLite file of every grading of a class (see docs/BATCH.md)."""
