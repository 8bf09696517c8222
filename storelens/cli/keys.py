"""`storelens keys create` and `storelens api`: API keys (printed once, stored as an HMAC under
`$STORELENS_API_SECRET`) and the attribution API on one machine (uvicorn; the serving cluster
runs the same app behind Ray Serve)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from storelens.cli._errors import user_errors

keys_app = typer.Typer(help="API keys: create and revoke.", no_args_is_help=True)
console = Console()
URL = typer.Option(
    None, "--url", help="SQLAlchemy URL (default: $STORELENS_DATABASE_URL or runs/storelens.db)"
)


def _secret() -> str:
    from storelens.settings import settings

    secret = settings().api_secret
    if not secret:
        raise ValueError(
            "STORELENS_API_SECRET is not set: keys are stored as an HMAC under it. Make one "
            "with: export STORELENS_API_SECRET=$(python -c 'import secrets; "
            "print(secrets.token_hex(32))')"
        )
    return secret


@keys_app.command("create")
def create(
    store: str | None = typer.Option(None, "--store", help="the store the key may reach"),
    admin: bool = typer.Option(False, "--admin", help="a key for every store and for keys"),
    role: str | None = typer.Option(None, help="reader or reviewer (store keys; default reviewer)"),
    label: str = typer.Option("", help="who or what the key is for"),
    url: str | None = URL,
) -> None:
    """Print a new key once; only its HMAC is stored."""
    with user_errors():
        from storelens.storage import Database
        from storelens.storage.keys import create_key

        if admin == (store is not None):
            raise ValueError("give exactly one of --store STORE_ID or --admin")
        db = Database(url)
        db.migrate()
        record, key = create_key(db, secret=_secret(), store_id=store, role=role, label=label)
        scope = "every store" if record.store_id is None else f"store {record.store_id}"
        console.print(
            f"key {record.key_id} ({record.role.value}, {scope}); shown only now:", highlight=False
        )
        typer.echo(key)


@keys_app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="the key id `create` printed"), url: str | None = URL
) -> None:
    """Revoke a key at once."""
    with user_errors():
        from storelens.storage import Database
        from storelens.storage.keys import revoke_key

        revoke_key(Database(url), key_id)
        console.print(f"key {key_id} revoked")


def api(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535, help="port"),
    url: str | None = URL,
    schema: str | None = typer.Option(None, "--schema", help="PostgreSQL schema (default: public)"),
    rate_per_s: float = typer.Option(50.0, min=0.001, help="requests a second per key"),
    burst: int = typer.Option(100, min=1, help="requests at once per key"),
    openapi: Path | None = typer.Option(
        None, "--openapi", help="write the OpenAPI schema to this file and exit"
    ),
) -> None:
    """Run the attribution API on this machine and print its base URL."""
    with user_errors():
        import uvicorn

        from storelens.serving.api import create_app, openapi_schema
        from storelens.storage import Database

        if openapi is not None:
            openapi.parent.mkdir(parents=True, exist_ok=True)
            openapi.write_text(openapi_schema())
            console.print(f"OpenAPI schema written to {openapi}")
            return

        db = Database(url, schema=schema)
        db.migrate()
        app = create_app(db, _secret(), rate_per_s=rate_per_s, burst=burst)
        console.print(f"storelens API at http://{host}:{port}/v1 (docs: http://{host}:{port}/docs)")
        uvicorn.run(app, host=host, port=port, log_level="warning")
