"""The control plane dies in the middle of a trace and comes back: the agent's spool loses nothing.

`make run`'s stack (web, worker and beat on SQLite) is killed with SIGKILL while the demo shop keeps serving
traced requests, then started again on the same data. PAWPRINT_OUTAGE_SECONDS sets the outage (8 s here;
bench/RESULTS.md has a 2-minute run).
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from demo.traffic import ROUND, send_round
from tests.agent.fakes import eventually, free_port
from tests.agent.test_end_to_end import (
    ENDPOINTS,
    SHOP,
    agent_status,
    middleware_knows,
    middleware_knows_nothing_yet,
    process,
)

ROOT = Path(__file__).resolve().parents[2]
OUTAGE_SECONDS = float(os.environ.get("PAWPRINT_OUTAGE_SECONDS", "8"))


@contextmanager
def control_plane(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The embedded stack in a process group of its own, so that one signal reaches web, worker and beat."""

    def starts() -> int:
        return log.read_bytes().count(b"Pawprint is running") if log.exists() else 0

    before = starts()
    with log.open("ab") as output:
        stack = subprocess.Popen([sys.executable, "-m", "controlplane.embedded"], cwd=ROOT, env=env, stdout=output,
                                 stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        eventually(lambda: starts() > before or stack.poll() is not None, timeout=90)
        assert stack.poll() is None, log.read_text()
        yield stack
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGINT)
            stack.wait(timeout=60)


@pytest.mark.worker
def test_a_control_plane_outage_during_a_trace_loses_no_entry(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env |= {"PAWPRINT_VAR_DIR": str(tmp_path), "PORT": str(free_port()), "DJANGO_SUPERUSER_PASSWORD": "pw-12345678"}
    env["LONG_POLL_SECONDS"] = "2"

    def manage(*args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    manage("migrate", "--noinput")
    manage("createsuperuser", "--noinput", "--username", "erin", "--email", "erin@example.com")
    key_id, _, secret = manage("createapikey", "erin", "--scope", "full").partition(":")
    auth = (key_id, secret)
    ingest_key = manage("createapikey", "erin", "--scope", "ingest")
    url = f"http://127.0.0.1:{env['PORT']}"
    api = f"{url}/api/v1/projects/shop"
    stack_log = tmp_path / "stack.log"
    agent_port, shop_port = free_port(), free_port()
    agent = [sys.executable, "-m", "agent", "--url", url, "--key", ingest_key, "--project", "shop"]
    agent += ["--listen", f"127.0.0.1:{agent_port}", "--spool-dir", str(tmp_path / "spool"), "--batch-delay", "0.5"]
    shop_env = env | {"AKITA_DAEMON_HOST": f"127.0.0.1:{agent_port}", "AKITA_SERVICE_NAME": "shop"}
    shop_env |= {"DEMO_MIDDLEWARE": "pawprint", "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "shop.settings"}
    shop = [sys.executable, "-m", "uvicorn", "shop.asgi:application", "--port", str(shop_port)]
    sent = 0

    def traffic() -> None:
        nonlocal sent
        assert send_round(f"http://127.0.0.1:{shop_port}") == [200, 201, 200, 200, 200, 404, 200, 302]
        sent += len(ROUND)

    def get(path: str) -> Any:
        return requests.get(f"{api}{path}", auth=auth, timeout=30).json()

    with control_plane(env, stack_log) as stack:
        assert requests.post(f"{url}/api/v1/projects", json={"name": "shop"}, auth=auth, timeout=30).status_code == 201
        with (
            process(agent, tmp_path / "agent.log", cwd=ROOT),
            process(shop, tmp_path / "shop.log", cwd=SHOP, env=shop_env),
        ):
            eventually(lambda: middleware_knows_nothing_yet(agent_port, processes=1), timeout=60)
            trace = requests.post(f"{api}/traces", json={"duration_minutes": 15}, auth=auth, timeout=30).json()
            eventually(lambda: middleware_knows(agent_port, trace["id"], processes=1), timeout=30)
            traffic()
            eventually(lambda: get(f"/traces/{trace['id']}")["witness_count"] == sent, timeout=30)

            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
            back_at = time.monotonic() + OUTAGE_SECONDS
            while time.monotonic() < back_at:  # the shop keeps serving traced requests meanwhile
                traffic()
                time.sleep(min(2.0, max(0.0, back_at - time.monotonic())))
            eventually(lambda: agent_status(agent_port)["spool"]["batches"] > 0)
            status = agent_status(agent_port)
            assert status["control_plane"]["reachable"] is False
            assert status["projects"][0]["pending"] == sent - len(ROUND)

            with control_plane(env, stack_log):
                eventually(lambda: agent_status(agent_port)["spool"]["batches"] == 0, timeout=60)
                assert get(f"/traces/{trace['id']}")["witness_count"] == sent
                assert requests.post(f"{api}/traces/{trace['id']}/stop", auth=auth, timeout=30).status_code == 200
                eventually(lambda: (get(f"/traces/{trace['id']}")["model_build"] or {}).get("status") == "ready",
                           timeout=90)  # fmt: skip
                endpoints = get(f"/traces/{trace['id']}/model")["endpoints"]
                assert sorted([e["method"], e["path"]] for e in endpoints) == sorted(ENDPOINTS)
                assert sum(e["count"] for e in endpoints) == sent
                assert agent_status(agent_port)["projects"][0]["dropped"] == {}
                # the shutdown below must not be the agent's next contact: let its poll learn of the stop first
                eventually(lambda: "event=trace_deactivated" in (tmp_path / "agent.log").read_text(), timeout=30)
    log = (tmp_path / "agent.log").read_text().split("event=trace_deactivated")[0]  # not the shutdown's
    said = log.count("event=control_plane_unreachable")  # when the outage starts, then once a minute
    assert said == 1 if OUTAGE_SECONDS < 60 else 1 <= said <= 2 + OUTAGE_SECONDS // 60, log
    assert log.count("event=control_plane_reachable") == 1
