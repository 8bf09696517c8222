"""The single place the package version is written (read by pyproject and `storelens --version`)."""

__version__ = "0.1.0"
