"""Turning errors a user can fix into one readable message and exit code 2.

`user_errors` catches what the readers raise for bad input (`ConfigError`, `ValueError` and its
typed subclasses such as `MotFormatError` and `RecordingError`, `KeyError`,
`FileNotFoundError`) and the file-system errors a wrong path gives (a folder where a file is
expected or the other way round, a file in the way of a folder, no permission): each names the
path. `check_output_file` / `check_output_dir` refuse such an output path before any work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from storelens.config import ConfigError

err_console = Console(stderr=True)

PATH_ERRORS = (FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


def _message(err: BaseException) -> str:
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except (ConfigError, FileNotFoundError, KeyError, ValueError, *PATH_ERRORS) as err:
        err_console.print(f"[bold red]error:[/] {_message(err)}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def _check_parents(path: Path, option: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(
                    f"{option} {path}: {parent} is a file, so nothing can be written under it"
                )
            return


def check_output_file(path: Path, option: str = "--out") -> None:
    """Refuse an output *file* path that is a folder or lies under a file."""
    if path.is_dir():
        raise IsADirectoryError(f"{option} {path}: is a folder; give the path of a file to write")
    _check_parents(path, option)


def check_output_dir(path: Path, option: str = "--out") -> None:
    """Refuse an output *folder* path that is a file or lies under a file."""
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"{option} {path}: is a file; give a folder (new or existing) to write into"
        )
    _check_parents(path, option)


@contextmanager
def service_errors(what: str) -> Iterator[None]:
    """The live service, a stream or a server failing at run time (a timeout, a refused
    connection, an HTTP error, a server that would not start): one `error:` line naming `what`,
    exit code 1, no traceback. Bad input stays `user_errors`' (exit code 2)."""
    import httpx

    try:
        yield
    except (TimeoutError, RuntimeError, ConnectionError, httpx.HTTPError) as err:
        from storelens.storage.cameras import redact_text

        text = redact_text(f"{type(err).__name__}: {err}")
        err_console.print(f"[bold red]error:[/] {what}: {text}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
