"""The service deployed from a generated Serve config file onto a Ray cluster that already runs,
as an operator does it: `ray start --head` (the API secret only in its environment),
`storelens serve --emit-config FILE`, `serve run --non-blocking FILE`. The file holds no
secret, the three applications come up and stay up after the Serve CLI exits, the API answers
with a key made under the cluster's secret, and stopping the cluster by its process group leaves
no process of it behind (never `ray stop`: that would end every Ray on the machine)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
import yaml
from typer.testing import CliRunner

from storelens.cli import app as cli
from storelens.serving.config import DetectorSettings, ServeConfig
from storelens.serving.deployment import (
    APP_NAME,
    DETECTOR_APP,
    MANAGER_APP,
    serve_config,
    wait_ready,
)

BIN = Path(sys.executable).parent
SECRET = secrets.token_hex(20)  # 40 characters, random: "not in the file" means something
STORE = "demo-store"
MARK = "STORELENS_TEST_RAY_CLUSTER"  # in the env of `ray start`: every process of it inherits it


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _base_env() -> dict[str, str]:
    drop = ("STORELENS_API_SECRET", "STORELENS_DATABASE_URL", "STORELENS_SERVE_CONFIG", MARK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_") and k not in drop}
    return {**env, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


class Cluster:
    """`ray start --head --block` in its own process group, on free ports and a temp dir of its
    own; leaving the block kills that group and whatever of it survives, by pid."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(4)
        self.temp_dir = Path(f"/tmp/rt-{self.token}")  # short: Ray's socket paths have a limit
        (self.port, *self.other_ports) = _free_ports(9)
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []
        self.forced: list[str] = []  # what outlived SIGTERM of the group and was killed

    def __enter__(self) -> Cluster:
        node, objects, client, dash, agent_grpc, agent_http, metrics, runtime_env = self.other_ports
        env = {**_base_env(), "STORELENS_API_SECRET": SECRET, MARK: self.token}
        env["RAY_worker_niceness"] = "0"
        self.proc = subprocess.Popen(
            [
                str(BIN / "ray"),
                "start",
                "--head",
                "--block",
                f"--port={self.port}",
                "--node-ip-address=127.0.0.1",
                "--num-cpus=2",
                "--num-gpus=0",
                "--include-dashboard=false",
                "--disable-usage-stats",
                f"--temp-dir={self.temp_dir}",
                "--object-store-memory=200000000",
                f"--node-manager-port={node}",
                f"--object-manager-port={objects}",
                f"--ray-client-server-port={client}",
                f"--dashboard-port={dash}",
                f"--dashboard-agent-grpc-port={agent_grpc}",
                f"--dashboard-agent-listen-port={agent_http}",
                f"--metrics-export-port={metrics}",
                f"--runtime-env-agent-port={runtime_env}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        started = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                if "Ray runtime started" in line:
                    started.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 60
        while not started.wait(0.5):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise AssertionError("ray start did not come up:\n" + "".join(self.output[-40:]))
        return self

    def processes(self) -> list[psutil.Process]:
        """Every live process of this cluster: it carries our mark in its environment, or (a
        raylet, the GCS) our port or temp dir on its command line."""
        found = []
        for p in psutil.process_iter():
            try:
                if p.pid == os.getpid() or p.status() == psutil.STATUS_ZOMBIE:
                    continue
                cmdline = " ".join(p.cmdline())
                ours = str(self.temp_dir) in cmdline or (
                    ("raylet" in cmdline or "gcs_server" in cmdline) and str(self.port) in cmdline
                )
                if ours or p.environ().get(MARK) == self.token:
                    found.append(p)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found

    def _wait_gone(self, timeout_s: float) -> list[psutil.Process]:
        deadline = time.monotonic() + timeout_s
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return left

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        for p in self._wait_gone(20):  # workers end once their raylet is gone; this is a net
            try:
                self.forced.append(" ".join(p.cmdline())[:120])
                p.kill()
            except psutil.NoSuchProcess:
                pass
        self._wait_gone(5)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _serve_status(address: str, timeout_s: float) -> dict[str, str]:
    """The applications' statuses, polled in a driver of its own (no dashboard: no `serve
    status`) until all are RUNNING or `timeout_s` passes."""
    script = f"""
import json, logging, time
import ray
from ray import serve
ray.init(address={address!r}, logging_level=logging.ERROR, log_to_driver=False)
deadline = time.monotonic() + {timeout_s}
while True:
    apps = {{n: str(a.status.value if hasattr(a.status, "value") else a.status)
             for n, a in serve.status().applications.items()}}
    if (apps and all(s == "RUNNING" for s in apps.values())) or time.monotonic() > deadline:
        break
    time.sleep(1)
print("STATUS " + json.dumps(apps))
"""
    env = {**_base_env(), "RAY_ADDRESS": address}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s + 60,
        start_new_session=True,
    )
    for line in done.stdout.splitlines():
        if line.startswith("STATUS "):
            return json.loads(line.removeprefix("STATUS "))
    raise AssertionError(f"serve status failed ({done.returncode}):\n{done.stderr[-3000:]}")


@pytest.mark.slow
def test_deployed_from_the_emitted_config_on_a_running_cluster(tmp_path):
    from storelens.storage import Database
    from storelens.storage.keys import create_key

    url = f"sqlite:///{tmp_path / 'storelens.db'}"
    (http_port,) = _free_ports(1)
    source = tmp_path / "serve.yaml"
    source.write_text(
        yaml.safe_dump({"database_url": url, "port": http_port, "detector": {"model": "shipped"}})
    )
    env = {**_base_env(), "STORELENS_API_SECRET": SECRET}  # as a user's shell would have it
    migrated = subprocess.run(
        [str(BIN / "storelens"), "db", "migrate", "--url", url], env=env, capture_output=True
    )
    assert migrated.returncode == 0, migrated.stderr
    out = tmp_path / "serve-deploy.yaml"
    emitted = subprocess.run(
        [str(BIN / "storelens"), "serve", "--config", str(source), "--emit-config", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert emitted.returncode == 0, emitted.stderr
    text = out.read_text()
    assert SECRET not in text and "STORELENS_API_SECRET:" not in text

    with Cluster() as cluster:
        serve_env = {**_base_env(), "RAY_ADDRESS": cluster.address}  # no secret here
        deployed = subprocess.run(
            [str(BIN / "serve"), "run", "--non-blocking", str(out)],
            env=serve_env,
            capture_output=True,
            text=True,
            timeout=90,
            start_new_session=True,
        )
        assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-3000:]
        base = f"http://127.0.0.1:{http_port}"
        try:  # the CLI has exited: the cluster serves on its own
            wait_ready(base, timeout_s=90)
        except TimeoutError as err:
            raise AssertionError(f"{err}\n" + "".join(cluster.output[-30:])) from None
        assert httpx.get(f"{base}/readyz", timeout=5).json()["status"] == "ready"

        db = Database(url)
        _, key = create_key(db, secret=SECRET, store_id=STORE)
        db.close()
        answer = httpx.get(
            f"{base}/v1/stores/{STORE}/sessions",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        refused = httpx.get(
            f"{base}/v1/stores/{STORE}/sessions",
            headers={"Authorization": "Bearer not-a-key"},
            timeout=10,
        )
        assert refused.status_code == 401

        statuses = _serve_status(cluster.address, timeout_s=60)
        assert statuses == {n: "RUNNING" for n in (APP_NAME, DETECTOR_APP, MANAGER_APP)}
        running = cluster.processes()  # the scan sees the cluster: its empty answer below counts
        assert len(running) > 5 and any("raylet" in " ".join(p.cmdline()) for p in running)

    assert cluster.processes() == [], "processes of the cluster outlived its stop"
    assert not cluster.forced, f"outlived SIGTERM of the group: {cluster.forced}"


def test_the_serve_config_is_a_valid_deploy_schema_without_the_secret(tmp_path, monkeypatch):
    from ray.serve.schema import ServeDeploySchema

    plain = serve_config(ServeConfig())
    assert [a["name"] for a in plain["applications"]] == [APP_NAME]
    config = ServeConfig(port=8123, detector=DetectorSettings())
    schema = ServeDeploySchema.model_validate(serve_config(config))
    assert (schema.http_options.host, schema.http_options.port) == ("127.0.0.1", 8123)
    apps = {a.name: a for a in schema.applications}
    assert {n: (a.route_prefix, a.import_path) for n, a in apps.items()} == {
        APP_NAME: ("/", "storelens.serving.serve_apps:api"),
        DETECTOR_APP: (None, "storelens.serving.serve_apps:detector"),
        MANAGER_APP: (None, "storelens.serving.serve_apps:manager"),
    }
    assert all(ServeConfig.model_validate(a.args["config"]) == config for a in apps.values())

    monkeypatch.setenv("STORELENS_API_SECRET", SECRET)
    result = CliRunner().invoke(cli, ["serve", "--emit-config", "-", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    emitted = ServeDeploySchema.model_validate(yaml.safe_load(result.output))
    assert [a.name for a in emitted.applications] == [APP_NAME, DETECTOR_APP, MANAGER_APP]
    assert emitted.http_options.port == 8123


def test_the_builders_make_the_applications_and_need_the_secret(monkeypatch):
    from ray.serve import Application

    from storelens.serving import serve_apps

    args = {"config": ServeConfig(detector=DetectorSettings()).model_dump(mode="json")}
    monkeypatch.delenv("STORELENS_API_SECRET", raising=False)
    for builder in (serve_apps.api, serve_apps.manager):
        with pytest.raises(RuntimeError, match="STORELENS_API_SECRET is not set"):
            builder(args)
    monkeypatch.setenv("STORELENS_API_SECRET", SECRET)
    for builder in (serve_apps.api, serve_apps.detector, serve_apps.manager):
        assert isinstance(builder(args), Application)
    with pytest.raises(ValueError, match="no `detector`"):
        serve_apps.detector({"config": {}})
