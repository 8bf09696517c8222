"""`storelens serve --config FILE`: the attribution API under Ray Serve (local Ray, or the
cluster at `$RAY_ADDRESS`), with webhook dispatch and retention; prints the base URL when it is
ready and runs until Ctrl-C or SIGTERM. `--emit-config FILE` writes the Serve config file that
deploys the same service on an existing Ray cluster (`serve run FILE`) instead, and exits."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer
from rich.console import Console

from storelens.cli._errors import user_errors

console = Console()


def serve(
    config: Path | None = typer.Option(
        None, "--config", help="a serve YAML (default: the shipped configs/serve/local.yaml)"
    ),
    port: int | None = typer.Option(None, min=1, max=65535, help="override the config's port"),
    emit_config: Path | None = typer.Option(
        None,
        "--emit-config",
        help="write the Serve config file for an existing Ray cluster (`serve run FILE`; "
        "`-`: stdout) and exit; the API secret is not in it ($STORELENS_API_SECRET on the nodes)",
    ),
) -> None:
    """Run the attribution API under Ray Serve and print its base URL when it is ready."""
    with user_errors():
        from storelens.config import load_config
        from storelens.configs import builtin_config
        from storelens.serving.config import ServeConfig
        from storelens.serving.deployment import start_service, stop_service
        from storelens.settings import settings

        path = config or builtin_config("serve", "local.yaml")
        cfg = load_config(path, ServeConfig, allow_empty=True)
        if port is not None:
            cfg = cfg.model_copy(update={"port": port})
        if emit_config is not None:
            _emit(cfg, emit_config, source=path)
            return
        secret = settings().api_secret
        if not secret:
            raise ValueError(
                "STORELENS_API_SECRET is not set: the service has no default key or secret. "
                "Make one with: export STORELENS_API_SECRET=$(python -c 'import secrets; "
                "print(secrets.token_hex(32))')"
            )
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        with console.status("starting Ray Serve…"):
            base = start_service(cfg, secret)
        try:
            console.print(f"storelens API at {base}/v1 (docs: {base}/docs)", highlight=False)
            typer.echo(f"READY {base}", err=True)
            stop.wait()
        finally:
            console.print("stopping…")
            stop_service()


def _emit(cfg, out: Path, *, source: Path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from storelens.serving.deployment import serve_config

    text = (
        f"# Serve config for storelens, made by `storelens serve --emit-config` from {source}.\n"
        "# Deploy on a running Ray cluster: RAY_ADDRESS=HEAD:PORT serve run --non-blocking FILE\n"
        "# (or serve deploy FILE where the dashboard runs). Not in this file: the API secret —\n"
        "# STORELENS_API_SECRET must be in the environment of `ray start` on every node.\n"
        + yaml.safe_dump(serve_config(cfg), sort_keys=False)
    )
    if str(out) == "-":
        typer.echo(text, nl=False)
        return
    out.write_text(text)
    console.print(f"wrote {out}: deploy it with `serve run --non-blocking {out}`", highlight=False)
