"""The benchmark suites of `storelens bench`, one module each, every row beside its peers."""
