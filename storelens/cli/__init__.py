"""The `storelens` command: the one face that reaches every subpackage.

Each command imports what it needs inside its body, so `storelens --help` stays fast and the
core stays importable without torch, Ray or MLflow. Errors a user can fix (a bad store file, a
missing path) are printed as one clear message and exit code 2, never as a traceback.
"""

from __future__ import annotations

import typer

from storelens._version import __version__
from storelens.cli import (
    bench,
    db,
    demo,
    keys,
    products,
    serve,
    simulate,
    store,
    stream,
    tracking,
    training,
)

app = typer.Typer(
    name="storelens",
    help="Which shopper took which product, and did they pay for it?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(store.app, name="store")
app.add_typer(simulate.dataset_app, name="dataset")
app.command("simulate")(simulate.simulate)
app.command("run")(tracking.run)
app.add_typer(tracking.track_app, name="track")
app.add_typer(tracking.eval_app, name="eval")
tracking.eval_app.command("detector")(training.eval_detector)
tracking.eval_app.command("pose")(training.eval_pose)
tracking.eval_app.command("products")(products.eval_products)
training.train_app.command("products")(products.train_products)
app.add_typer(training.train_app, name="train")
app.add_typer(training.models_app, name="models")
app.add_typer(training.export_app, name="export")
app.command("demo")(demo.demo)
app.command("bench")(bench.bench)
app.add_typer(db.app, name="db")
app.add_typer(keys.keys_app, name="keys")
app.command("api")(keys.api)
app.command("serve")(serve.serve)
app.command("stream")(stream.stream)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"storelens {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """storelens: computer vision for physical stores."""


def main() -> None:
    app()
