"""Where storelens finds things on this machine: every environment variable it reads, in one
place (`Settings`, pydantic-settings).

`settings()` reads the environment afresh each time it is called (nothing is cached, so a test
that monkeypatches a variable sees its value at once). An empty variable counts as unset. A bad
value fails with `ConfigError` naming the variable and the value.

`../shared/data` exists on the project's machines and in CI, never on a user's machine: code
reaches it only through `shared_data_dir()`, which returns None when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storelens.config import ConfigError

SHARED_DATA_ENV = "STORELENS_SHARED_DATA"
RUNS_DIR_ENV = "STORELENS_RUNS_DIR"
BOXMOT_PYTHON_ENV = "STORELENS_BOXMOT_PYTHON"
MLFLOW_TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
DATABASE_URL_ENV = "STORELENS_DATABASE_URL"
API_SECRET_ENV = "STORELENS_API_SECRET"
ULTRALYTICS_DIR_ENV = "STORELENS_ULTRALYTICS_DIR"
YOLO_CONFIG_DIR_ENV = "YOLO_CONFIG_DIR"
XDG_CACHE_HOME_ENV = "XDG_CACHE_HOME"
# set by `storelens.inference.ultralytics_offline.ensure_offline` (or the user) in the driver;
# a worker process that trains with ultralytics (a Ray Tune trial) needs the same values
WORKER_ENV = (
    YOLO_CONFIG_DIR_ENV,
    "YOLO_OFFLINE",
    "YOLO_AUTOINSTALL",
    ULTRALYTICS_DIR_ENV,
    "MLFLOW_DISABLE_TELEMETRY",
)
_REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_tracking_uri() -> str:
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}"


class Settings(BaseSettings):
    """The environment storelens reads. Each field names its variable; all are optional."""

    model_config = SettingsConfigDict(
        extra="ignore",
        case_sensitive=True,
        env_ignore_empty=True,
        populate_by_name=True,
        frozen=True,
    )

    shared_data: Path | None = Field(
        None,
        validation_alias=SHARED_DATA_ENV,
        description="the shared data folder (GroceryStoreDataset, MOT15 ...); unset: "
        "`../shared/data` beside the checkout or the cwd (see `shared_data_dir()`)",
    )
    runs_dir: Path = Field(
        Path("runs"),
        validation_alias=RUNS_DIR_ENV,
        description="where generated data goes (simulations, training runs, benchmarks)",
    )
    boxmot_python: Path | None = Field(
        None,
        validation_alias=BOXMOT_PYTHON_ENV,
        description="the interpreter of boxmot's own environment (a benchmark peer); unset: "
        "`.venv-boxmot/bin/python` in the checkout or the cwd (see `boxmot_python()`)",
    )
    mlflow_tracking_uri: str = Field(
        default_factory=_default_tracking_uri,
        validation_alias=MLFLOW_TRACKING_URI_ENV,
        description="MLflow's tracking store (a server URL or a database URI); unset: the "
        "embedded SQLite store `mlflow.db` in the working directory",
    )
    database_url: str | None = Field(
        None,
        validation_alias=DATABASE_URL_ENV,
        description="storelens' SQL storage (an SQLAlchemy URL, e.g. "
        "`postgresql+psycopg://user@host:5432/db`); unset: the SQLite file `storelens.db` "
        "in the runs folder (see `database_url()`)",
    )
    api_secret: str | None = Field(
        None,
        validation_alias=API_SECRET_ENV,
        repr=False,
        description="the API's secret: keys are stored as HMAC-SHA256 under it; unset, "
        "neither `storelens keys` nor the API starts",
    )
    ultralytics_dir: Path | None = Field(
        None,
        validation_alias=ULTRALYTICS_DIR_ENV,
        description="storelens' config folder for ultralytics (fonts, settings.json); unset: "
        "`$XDG_CACHE_HOME/storelens/ultralytics` (see `default_ultralytics_dir`)",
    )
    yolo_config_dir: Path | None = Field(
        None,
        validation_alias=YOLO_CONFIG_DIR_ENV,
        description="ultralytics' own config folder variable; when set it wins over "
        "`ultralytics_dir` (see `ultralytics_config_dir`)",
    )
    xdg_cache_home: Path | None = Field(
        None,
        validation_alias=XDG_CACHE_HOME_ENV,
        description="the user's cache folder (XDG); unset: `~/.cache`",
    )

    @field_validator(
        "shared_data",
        "runs_dir",
        "boxmot_python",
        "ultralytics_dir",
        "yolo_config_dir",
        "xdg_cache_home",
    )
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("runs_dir", "ultralytics_dir")
    @classmethod
    def _folder_if_it_exists(cls, value: Path | None) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file, not a folder")
        return value

    @property
    def default_ultralytics_dir(self) -> Path:
        """`$STORELENS_ULTRALYTICS_DIR`, else `$XDG_CACHE_HOME/storelens/ultralytics`."""
        if self.ultralytics_dir is not None:
            return self.ultralytics_dir
        return (self.xdg_cache_home or Path.home() / ".cache") / "storelens" / "ultralytics"

    @property
    def ultralytics_config_dir(self) -> Path:
        """The folder ultralytics is given: `$YOLO_CONFIG_DIR`, else `default_ultralytics_dir`."""
        return self.yolo_config_dir or self.default_ultralytics_dir


def _env_name(field: str) -> str:
    alias = (
        Settings.model_fields[field].validation_alias if field in Settings.model_fields else None
    )
    return str(alias or field)


def settings() -> Settings:
    """The environment as it is now (read afresh on every call)."""
    try:
        return Settings()
    except ValidationError as err:
        lines = [f"environment: {err.error_count()} invalid variable(s)"]
        for e in err.errors():
            name = _env_name(str(e["loc"][0])) if e["loc"] else "<environment>"
            msg = e["msg"].removeprefix("Value error, ")
            lines.append(f"  {name}={os.environ.get(name, e.get('input'))!r}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def shared_data_dir() -> Path | None:
    """`$STORELENS_SHARED_DATA`, else `../shared/data` beside the checkout or the cwd, else None."""
    explicit = settings().shared_data
    if explicit is not None:
        return explicit if explicit.is_dir() else None
    for base in (_REPO_ROOT, Path.cwd()):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def runs_dir() -> Path:
    """Where generated data goes (git-ignored): `$STORELENS_RUNS_DIR` or `./runs`."""
    return settings().runs_dir


def database_url() -> str:
    """Storage's SQLAlchemy URL: `$STORELENS_DATABASE_URL`, else SQLite `<runs>/storelens.db`."""
    s = settings()
    if s.database_url is not None:
        return s.database_url
    return f"sqlite:///{(s.runs_dir / 'storelens.db').resolve()}"


def boxmot_python() -> Path | None:
    """The interpreter of boxmot's own environment (a benchmark peer; `make peers` builds it):
    `$STORELENS_BOXMOT_PYTHON`, else `.venv-boxmot/bin/python` in the checkout or the cwd."""
    explicit = settings().boxmot_python
    candidates = [explicit] if explicit is not None else []
    candidates += [base / ".venv-boxmot" / "bin" / "python" for base in (_REPO_ROOT, Path.cwd())]
    return next((c for c in candidates if c.is_file()), None)


def worker_env() -> dict[str, str]:
    """The variables of `WORKER_ENV` set in this process, to hand to a worker process."""
    return {k: os.environ[k] for k in WORKER_ENV if k in os.environ}
