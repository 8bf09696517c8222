"""`storelens db migrate | load | analytics | retention` on a simulated run: loading twice
stores once."""

from __future__ import annotations

from typer.testing import CliRunner

from storelens.cli import app

runner = CliRunner()


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args], terminal_width=200)


def test_load_twice_then_analytics(store_run, tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert _invoke("db", "migrate", "--url", url).exit_code == 0
    first = _invoke(
        "db",
        "load",
        store_run.run_dir,
        "--attribution",
        store_run.run_dir / "attribution",
        "--url",
        url,
    )
    assert first.exit_code == 0, first.output
    pos_row = next(line for line in first.output.splitlines() if "│ pos" in line)
    assert pos_row.split("│")[2].strip() == str(len(store_run.pos))
    from storelens.storage import Database
    from storelens.storage.queries import late_inputs

    with Database(url).read() as conn:  # a replay: nothing arrives late
        assert late_inputs(conn, "demo-store") == {"pos": [], "rfid": []}
    again = _invoke(
        "db",
        "load",
        store_run.run_dir,
        "--attribution",
        store_run.run_dir / "attribution",
        "--url",
        url,
    )
    pos_row = next(line for line in again.output.splitlines() if "│ pos" in line)
    assert [c.strip() for c in pos_row.split("│")[2:4]] == ["0", str(len(store_run.pos))]
    out = _invoke("db", "analytics", "--store", "demo-store", "--url", url)
    assert out.exit_code == 0 and "picks to purchases per SKU" in out.output
    paths_row = next(line for line in first.output.splitlines() if "floor path" in line)
    assert int(paths_row.split("│")[2]) > 0
    for days, deleted in ((36500, 0), (1, len(store_run.sessions))):  # the run: 2026-11-25
        out = _invoke("db", "retention", "--days", days, "--url", url)
        sessions_row = next(line for line in out.output.splitlines() if "│ sessions " in line)
        assert out.exit_code == 0 and sessions_row.split("│")[2].strip() == str(deleted)


def test_bad_inputs_exit_2_with_the_reason(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    missing = _invoke("db", "load", tmp_path, "--url", url)
    assert missing.exit_code == 2 and "no pos.jsonl here" in missing.output
    empty = _invoke("db", "analytics", "--store", "nope", "--url", url)
    assert empty.exit_code == 2 and "no sessions stored" in empty.output
    bad = _invoke("db", "migrate", "--url", "mysql://u@h/db")
    assert bad.exit_code == 2 and "stores to sqlite or postgresql" in bad.output


def test_load_attributes_a_run_that_has_no_baskets_yet(store_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(store_run.run_dir, run, ignore=shutil.ignore_patterns("attribution"))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    out = _invoke("db", "load", run, "--url", url)
    assert out.exit_code == 0, out.output
    basket_row = next(line for line in out.output.splitlines() if "│ Basket" in line)
    assert int(basket_row.split("│")[2]) == len(store_run.baskets)
    assert (run / "attribution" / "baskets.jsonl").is_file()
