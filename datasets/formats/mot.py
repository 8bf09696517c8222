"""MOTChallenge text files: `gt/gt.txt`, `det/det.txt`, tracker results and `seqinfo.ini`.

Rows are `frame, id, bb_left, bb_top, bb_width, bb_height, conf, class, visibility` (1-based
frames, pixel boxes); detections and results carry `-1` ids and three `-1` world columns. Held
in memory as a struct of arrays, `MotTable`.

Reading validates: a file that is not what the format says raises `MotFormatError` (a
`ValueError`) naming the file, the line, the field and the value as written, e.g.
`det/det.txt line 17: bb_width must be > 0 (got -3)`. Checked: every row has the same number
of comma-separated columns (6 to 10), every cell is a finite number, frames are integers >= 1
(and <= seqLength when the caller passes `seq_length`: a row beyond the sequence is refused,
as TrackEval refuses it, rather than silently dropped), boxes have width and height > 0, and
ids (gt and results, where association depends on them) and gt classes are integers.
`seqinfo.ini` is checked the same way: a `[Sequence]` section with `name`, a positive
`frameRate` and positive integer `seqLength`, `imWidth`, `imHeight`.
"""

from __future__ import annotations

import configparser
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MOT_KINDS = ("gt", "det", "results")
MIN_COLUMNS, MAX_COLUMNS = 6, 10
_BASE_COLUMNS = ("frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf")


class InputFormatError(ValueError):
    """A file at the edge that breaks its format. The message names the file, the line, the
    field and the value; they are also attributes (None where they do not apply)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        value: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)
        self.line = line
        self.field = field
        self.value = value


class MotFormatError(InputFormatError):
    """A MOTChallenge file or `seqinfo.ini` that breaks the format."""


# an error class taking (message, *, path, line, field, value), like MotFormatError
ErrorType = Callable[..., ValueError]


@dataclass(frozen=True)
class MotTable:
    frame: np.ndarray  # (N,) int, 1-based
    track_id: np.ndarray  # (N,) int, -1 for detections
    tlwh: np.ndarray  # (N,4) float
    conf: np.ndarray  # (N,) float
    class_id: np.ndarray  # (N,) int
    visibility: np.ndarray  # (N,) float

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def empty(cls) -> MotTable:
        z = np.zeros(0)
        return cls(z.astype(int), z.astype(int), np.zeros((0, 4)), z, z.astype(int), z)

    @classmethod
    def concatenate(cls, parts: list[MotTable]) -> MotTable:
        if not parts:
            return cls.empty()
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__)
        )

    def select(self, mask: np.ndarray) -> MotTable:
        return MotTable(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))

    def sorted(self) -> MotTable:
        order = np.lexsort((self.track_id, self.frame))
        return self.select(order)


def write_mot(path: str | Path, table: MotTable, kind: str = "gt") -> Path:
    """Write `gt` rows (9 columns) or `det`/`results` rows (10 columns, world = -1)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = table.sorted()
    cols = [t.frame, t.track_id, t.tlwh[:, 0], t.tlwh[:, 1], t.tlwh[:, 2], t.tlwh[:, 3], t.conf]
    if kind == "gt":
        cols += [t.class_id, t.visibility]
        fmt = ["%d", "%d", "%.2f", "%.2f", "%.2f", "%.2f", "%d", "%d", "%.4f"]
    else:
        minus = -np.ones(len(t))
        cols += [minus, minus, minus]
        fmt = ["%d", "%d", "%.2f", "%.2f", "%.2f", "%.2f", "%.4f", "%d", "%d", "%d"]
    np.savetxt(
        path, np.column_stack(cols) if len(t) else np.zeros((0, len(fmt))), fmt=fmt, delimiter=","
    )
    return path


def column_names(n_columns: int) -> tuple[str, ...]:
    """Field names of a MOTChallenge row of `n_columns` (9: gt with class and visibility)."""
    extra = ("class", "visibility") if n_columns == 9 else ("x", "y", "z")
    return (_BASE_COLUMNS + extra)[:n_columns]


def read_text(path: Path, error: ErrorType = MotFormatError) -> str:
    """A text file's contents; a binary file raises `error` naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{path}: not a text file (byte {err.start} is not UTF-8)", path=path) from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, expected a file", path=path) from None


def parse_table(
    path: Path,
    text: str,
    columns: tuple[int, int],
    names: tuple[str, ...] | None = None,
    error: ErrorType = MotFormatError,
    first_line: int = 1,
) -> tuple[np.ndarray, Callable[[], list[tuple[int, str]]]]:
    """(N, C) floats from a text of comma-separated numbers, and a function giving each row's
    `(line number, text)` (worked out only when an error needs it).

    Every row must have as many cells as the first, between `columns` = (min, max); every cell
    must be a number. Errors (of type `error`) name the file, the line, the field (from `names`,
    else the MOTChallenge column names) and the cell as written. Non-finite numbers are left to
    the caller, which knows which fields they matter in. Blank lines are skipped; a text with
    none but blank lines gives a (0, 0) array. `first_line`: the number of the text's first line
    in its file.
    """
    lines = functools.cache(lambda: data_lines(text, first_line))
    if not text.strip():
        return np.zeros((0, 0)), lines
    try:  # the fast path: one C parser over the whole text
        data = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, comments=None)
        if columns[0] <= data.shape[1] <= columns[1]:
            return data, lines
    except ValueError:
        pass
    rows = lines()
    counts = [t.count(",") + 1 for _, t in rows]
    first_row, first_count = rows[0][0], counts[0]
    lo, hi = columns
    if not lo <= first_count <= hi:
        want = f"{lo} to {hi}" if lo != hi else str(lo)
        fields = f" ({', '.join(names)})" if names and lo == hi else ""
        what = f"expected {want} comma-separated columns{fields}, got {first_count}"
        raise _error(error, path, first_row, None, None, what)
    for (number, t), count in zip(rows, counts, strict=True):
        if count != first_count:
            what = (
                f"expected {first_count} comma-separated columns (as on line {first_row}), "
                f"got {count}: {_short(t)!r}"
            )
            raise _error(error, path, number, None, None, what)
    try:  # e.g. trailing commas, which `data_lines` dropped
        return np.loadtxt([t for _, t in rows], delimiter=",", ndmin=2, comments=None), lines
    except ValueError:
        pass
    names = names or column_names(first_count)
    for number, t in rows:
        for col, cell in enumerate(t.split(",")):
            try:
                float(cell)
            except ValueError:
                field = names[col] if col < len(names) else f"column {col + 1}"
                what = f"{field} is not a number (got {shown(cell.strip())})"
                raise _error(error, path, number, field, cell.strip(), what) from None
    raise error(f"{path}: not a table of comma-separated numbers", path=path)


def first_bad_row(
    path: Path,
    lines: Callable[[], list[tuple[int, str]]],
    checks: list[tuple[np.ndarray, int, str, str]],
    error: ErrorType = MotFormatError,
) -> None:
    """Raise `error` for the earliest row failing any of `checks`, each
    `(bad mask (N,), column index, field name, rule)`, with the cell as written and how many
    rows are bad in all; do nothing when every row passes."""
    bad = np.zeros(len(checks[0][0]) if checks else 0, bool)
    first: tuple[int, int, str, str] | None = None
    for mask, col, field, rule in checks:
        if not mask.any():
            continue
        bad |= mask
        row = int(np.argmax(mask))
        if first is None or row < first[0]:
            first = (row, col, field, rule)
    if first is None:
        return
    row, col, field, rule = first
    number, text = lines()[row]
    cell = text.split(",")[col].strip()
    more = int(bad.sum()) - 1
    tail = f"; {more} more bad row{'s' if more > 1 else ''}" if more else ""
    raise _error(error, path, number, field, cell, f"{field} {rule} (got {cell}){tail}")


def data_lines(text: str, first_line: int = 1) -> list[tuple[int, str]]:
    """(line number, text) of each non-blank line, the first being line `first_line`; one
    trailing comma (which TrackEval also tolerates) is dropped."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=first_line):
        line = raw.strip()
        if line:
            out.append((number, line[:-1] if line.endswith(",") else line))
    return out


def read_mot(
    path: str | Path, *, kind: str | None = None, seq_length: int | None = None
) -> MotTable:
    """Read any MOTChallenge text file (gt, det or results); missing columns get defaults.

    Args:
        kind: "gt", "det" or "results" when known: ids must be integers except in "det" files
            (whose ids are ignored). None checks them as for gt / results.
        seq_length: the sequence's `seqLength`, when known: a row with a larger frame is
            refused (TrackEval refuses it too; a tracker would silently drop it).

    Raises:
        FileNotFoundError: no such file.
        MotFormatError: the file breaks the format (see the module docstring).
    """
    path = Path(path)
    if kind is not None and kind not in MOT_KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {MOT_KINDS}")
    if path.is_dir():
        raise MotFormatError(f"{path}: is a folder, expected a MOTChallenge text file", path=path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such MOTChallenge file")
    data, lines = parse_table(path, read_text(path), (MIN_COLUMNS, MAX_COLUMNS))
    if not data.size:
        return MotTable.empty()
    names = column_names(data.shape[1])
    frame, ids = data[:, 0], data[:, 1]
    checks: list[tuple[np.ndarray, int, str, str]] = []
    finite = np.isfinite(data)
    for col in range(data.shape[1]):
        checks.append((~finite[:, col], col, names[col], "must be a finite number"))
    with np.errstate(invalid="ignore"):
        checks.append((finite[:, 0] & (frame != np.round(frame)), 0, "frame", "must be an integer"))
        checks.append((frame < 1, 0, "frame", "must be >= 1"))
        if seq_length is not None:
            rule = f"must be <= the sequence's seqLength {seq_length}"
            checks.append((frame > seq_length, 0, "frame", rule))
        if kind != "det":
            checks.append((finite[:, 1] & (ids != np.round(ids)), 1, "id", "must be an integer"))
        checks.append((data[:, 4] <= 0, 4, "bb_width", "must be > 0"))
        checks.append((data[:, 5] <= 0, 5, "bb_height", "must be > 0"))
        is_gt = data.shape[1] == 9
        if is_gt:
            cls = data[:, 7]
            checks.append((finite[:, 7] & (cls != np.round(cls)), 7, "class", "must be an integer"))
    first_bad_row(path, lines, checks, MotFormatError)
    n = len(data)
    conf = data[:, 6] if data.shape[1] > 6 else np.ones(n)
    class_id = data[:, 7].astype(int) if is_gt else np.ones(n, int)
    visibility = data[:, 8] if is_gt else np.ones(n)
    return MotTable(
        frame.astype(int),
        ids.astype(int),
        data[:, 2:6].astype(float),
        conf.astype(float),
        class_id,
        visibility.astype(float),
    )


@dataclass(frozen=True)
class SeqInfo:
    name: str
    frame_rate: float
    seq_length: int
    width: int
    height: int
    im_dir: str = "img1"
    im_ext: str = ".jpg"


def write_seqinfo(path: str | Path, info: SeqInfo) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[Sequence]\n"
        f"name={info.name}\nimDir={info.im_dir}\nframeRate={info.frame_rate:g}\n"
        f"seqLength={info.seq_length}\nimWidth={info.width}\nimHeight={info.height}\n"
        f"imExt={info.im_ext}\n"
    )
    return path


SEQUENCE = "Sequence"


def read_seqinfo(path: str | Path) -> SeqInfo:
    """`seqinfo.ini`, validated: FileNotFoundError when absent, else `MotFormatError` naming the
    file, the line and the value for a missing `[Sequence]` section or key, a `frameRate` that
    is not a positive number, or a `seqLength` / `imWidth` / `imHeight` that is not a positive
    integer."""
    path = Path(path)
    if path.is_dir():
        raise MotFormatError(f"{path}: is a folder, expected a seqinfo.ini file", path=path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such seqinfo.ini")
    text = read_text(path, MotFormatError)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as err:
        raise _ini_error(path, text.splitlines(), err) from None
    if not parser.has_section(SEQUENCE):
        found = ", ".join(f"[{s}]" for s in parser.sections()) or "none"
        raise MotFormatError(
            f"{path}: no [{SEQUENCE}] section (sections found: {found})", path=path
        )
    s = parser[SEQUENCE]
    lines = text.splitlines()

    def raw(key: str) -> str:
        if key not in s:
            raise MotFormatError(f"{path}: [{SEQUENCE}] lacks {key}", path=path, field=key)
        return s[key].strip()

    def bad(key: str, value: str, rule: str) -> MotFormatError:
        number = _ini_line(lines, key)
        where = f"{path} line {number}" if number else str(path)
        return MotFormatError(
            f"{where}: {key} {rule} (got {shown(value)})",
            path=path,
            line=number,
            field=key,
            value=value,
        )

    def positive_int(key: str) -> int:
        value = raw(key)
        try:
            number = int(value)
        except ValueError:
            raise bad(key, value, "must be a positive integer") from None
        if number <= 0:
            raise bad(key, value, "must be a positive integer")
        return number

    name = raw("name")
    if not name:
        raise bad("name", name, "must not be empty")
    rate_text = raw("frameRate")
    try:
        frame_rate = float(rate_text)
    except ValueError:
        raise bad("frameRate", rate_text, "must be a positive number") from None
    if not np.isfinite(frame_rate) or frame_rate <= 0:
        raise bad("frameRate", rate_text, "must be a positive number")
    return SeqInfo(
        name=name,
        frame_rate=frame_rate,
        seq_length=positive_int("seqLength"),
        width=positive_int("imWidth"),
        height=positive_int("imHeight"),
        im_dir=s.get("imDir", "img1"),
        im_ext=s.get("imExt", ".jpg"),
    )


def _ini_line(lines: list[str], key: str) -> int | None:
    pattern = re.compile(rf"\s*{re.escape(key)}\s*[=:]", re.IGNORECASE)
    for number, line in enumerate(lines, start=1):
        if pattern.match(line):
            return number
    return None


def _ini_error(path: Path, lines: list[str], err: configparser.Error) -> MotFormatError:
    number = getattr(err, "lineno", None)
    if isinstance(err, configparser.MissingSectionHeaderError):
        what = f"no [{SEQUENCE}] section header before {err.line.strip()!r}"
    elif isinstance(err, configparser.DuplicateOptionError):
        what = f"{err.option} is given twice (in [{err.section}])"
    elif isinstance(err, configparser.DuplicateSectionError):
        what = f"[{err.section}] is given twice"
    elif isinstance(err, configparser.ParsingError) and err.errors:
        number = err.errors[0][0]
        what = f"not `key=value` (got {lines[number - 1].strip()!r})"
    else:
        what = f"not an INI file ({str(err).splitlines()[0]})"
    where = f"{path} line {number}" if number else str(path)
    return MotFormatError(f"{where}: {what}", path=path, line=number)


def shown(value: str) -> str:
    """A value as an error message shows it: a number as written, anything else quoted."""
    try:
        float(value)
    except ValueError:
        return repr(value)
    return value


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error(
    error: ErrorType, path: Path, line: int, field: str | None, value: str | None, what: str
) -> ValueError:
    return error(f"{path} line {line}: {what}", path=path, line=line, field=field, value=value)
