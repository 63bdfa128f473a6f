"""Storage: the database, its tables, the guarded writes and the reads."""
