"""`make demo`: the control plane, the agent, the demo shop with the unmodified akita-django, and traffic.

Everything runs on 127.0.0.1 with its data under var/demo. The console shows a healthy daemon with its
middleware client and an active trace; stop the trace (in the console, or Enter here) and its model, the
shop's endpoints, follows seconds later. Ctrl-C stops every process.

Environment: PORT (console, 8000), DEMO_AGENT_PORT (50080), DEMO_SHOP_PORT (8001), and DEMO_MIDDLEWARE=pawprint
to run the shop with pawprint_django (under uvicorn) instead of akita-django.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

from demo.akita_venv import akita_venv
from demo.traffic import send_round

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "demo"
USER, PASSWORD, PROJECT = "demo", "demo-pawprint", "demo-shop"


def wait_for(what: str, predicate: Callable[[], object], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(requests.RequestException, KeyError, IndexError):
            if predicate():
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: gave up waiting for {what}; the logs are in {VAR}")
        time.sleep(0.3)


@contextlib.contextmanager
def started(name: str, command: list[str], **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A child in a process group of its own (its log in var/demo/NAME.log), stopped by SIGINT on the way out."""
    with (VAR / f"{name}.log").open("ab") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **popen)
    try:
        yield child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGINT)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def manage(env: dict[str, str], *args: str, check: bool = True) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"demo: manage.py {args[0]} failed:\n{done.stderr}")
    return done.stdout.strip()


def _stop_on_enter(stop: threading.Event) -> None:
    """Enter stops the trace. Without a terminal (stdin at its end at once: `make demo &`, nohup) it would stop before
    any traffic, so then only the console's Stop or the trace's end do."""
    if sys.stdin.readline():
        stop.set()


def _quit(signum: int, frame: object) -> None:
    """SIGTERM or SIGHUP (the terminal closed) unwinds like Ctrl-C: every child is stopped on the way out."""
    raise SystemExit(f"demo: stopped by {signal.Signals(signum).name}")


def main() -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _quit)
    VAR.mkdir(parents=True, exist_ok=True)
    port, agent_port = os.environ.get("PORT", "8000"), os.environ.get("DEMO_AGENT_PORT", "50080")
    shop_port, middleware = os.environ.get("DEMO_SHOP_PORT", "8001"), os.environ.get("DEMO_MIDDLEWARE", "akita")
    url, shop_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{shop_port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {"PAWPRINT_VAR_DIR": str(VAR), "PORT": port, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    print("demo: preparing the control plane (var/demo) and the akita-django venv ...", flush=True)
    manage(env, "migrate", "--noinput")
    manage(env, "createsuperuser", "--noinput", "--username", USER, "--email", "demo@example.com", check=False)
    key_id, _, secret = manage(env, "createapikey", USER, "--scope", "full", "--name", "make demo").partition(":")
    auth = (key_id, secret)
    ingest_key = manage(env, "createapikey", USER, "--scope", "ingest", "--name", "make demo agent")
    shop_env = env | {"AKITA_DAEMON_HOST": f"127.0.0.1:{agent_port}", "AKITA_SERVICE_NAME": PROJECT}
    shop_env |= {"DEMO_MIDDLEWARE": middleware, "DJANGO_SETTINGS_MODULE": "shop.settings", "PYTHONPATH": str(ROOT)}
    if middleware == "akita":
        shop = [str(akita_venv() / "bin" / "python"), "manage.py", "runserver", f"127.0.0.1:{shop_port}", "--noreload"]
    else:
        shop = [sys.executable, "-m", "uvicorn", "shop.asgi:application", "--port", shop_port]
    agent = [sys.executable, "-m", "agent", "--url", url, "--key", ingest_key, "--project", PROJECT]
    agent += ["--listen", f"127.0.0.1:{agent_port}", "--spool-dir", str(VAR / "spool"), "--daemon-name", "demo-agent"]

    def api(method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{url}/api/v1{path}", auth=auth, timeout=30, **kwargs)

    def agent_status() -> dict[str, Any]:
        status: dict[str, Any] = requests.get(f"http://127.0.0.1:{agent_port}/v1/status", timeout=5).json()
        return status

    with started("control-plane", [sys.executable, "-m", "controlplane.embedded"], cwd=ROOT, env=env):
        wait_for("the control plane", lambda: requests.get(f"{url}/health/?format=json", timeout=5).ok)
        api("POST", "/projects", json={"name": PROJECT})  # 400 when it exists already: fine
        with started("agent", agent, cwd=ROOT), started("shop", shop, cwd=ROOT / "demo" / "app", env=shop_env):
            wait_for("the shop's middleware to poll the agent",
                     lambda: agent_status()["projects"][0]["middleware_clients"][0]["polls_held"])  # fmt: skip
            trace = api("POST", f"/projects/{PROJECT}/traces", json={"duration_minutes": 15}).json()
            stop = threading.Event()
            threading.Thread(target=send_traffic, args=(shop_url, stop), daemon=True).start()
            console = f"{url}/projects/{PROJECT}"
            print(f"""
Pawprint demo is running. Log in at {url}/login/ as {USER} / {PASSWORD}, then look at:
  {console}/daemons/                 the agent "demo-agent", healthy, with its middleware client "demo-django"
  {console}/traces/{trace["name"]}/  the active trace, its witness count growing (8 requests a second)
The shop ({middleware}) runs at {shop_url}; logs are in var/demo/.
Stop the trace in the console, or press Enter here; its model follows seconds later. Ctrl-C quits.
""", flush=True)  # fmt: skip
            threading.Thread(target=_stop_on_enter, args=(stop,), daemon=True).start()
            wait_for("the trace to stop", lambda: stop.is_set() or trace_status(api, trace) != "active", 15 * 60)
            stop.set()
            api("POST", f"/projects/{PROJECT}/traces/{trace['id']}/stop")
            wait_for("the model", lambda: trace_build(api, trace) == "ready")
            endpoints = api("GET", f"/projects/{PROJECT}/traces/{trace['id']}/model").json()["endpoints"]
            print(f"The model of {trace['name']}: {console}/traces/{trace['name']}/")
            for endpoint in endpoints:
                print(f"  {endpoint['method']:6} {endpoint['path']:28} {', '.join(endpoint['status_codes'])}")
            print("Ctrl-C stops everything.", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()


def send_traffic(shop_url: str, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        with contextlib.suppress(OSError):
            send_round(shop_url)


def trace_status(api: Callable[..., requests.Response], trace: dict[str, Any]) -> str:
    return str(api("GET", f"/projects/{PROJECT}/traces/{trace['id']}").json()["status"])


def trace_build(api: Callable[..., requests.Response], trace: dict[str, Any]) -> str:
    build = api("GET", f"/projects/{PROJECT}/traces/{trace['id']}").json()["model_build"]
    return str(build["status"]) if build else "none"


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
