"""`make run`: the web server (ASGI), a Celery worker with beat on the filesystem broker, one Ctrl-C stops all."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import cast

from controlplane.celery import Queue

ROOT = Path(__file__).resolve().parent.parent


def wait_until_serving(url: str, web: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health/?format=json", timeout=2):  # noqa: S310 - our own URL
                return True
        except OSError:
            time.sleep(0.3)
    return False


def main() -> int:
    port = os.environ.get("PORT", "8000")
    url = f"http://127.0.0.1:{port}"
    # On a laptop: webhooks to local receivers are allowed, mail lands in var/mail/, links point here.
    env = {
        "ALERTS_ALLOW_PRIVATE_URLS": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "SITE_URL": url,
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "controlplane.settings",
    }
    python = sys.executable
    processes = [
        subprocess.Popen(
            [
                python,
                "-m",
                "uvicorn",
                "controlplane.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        ),
        subprocess.Popen(
            [
                python,
                "-m",
                "celery",
                "-A",
                "controlplane",
                "worker",
                "--beat",
                "-Q",
                ",".join(Queue),
                "--concurrency",
                "2",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
        ),
    ]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if wait_until_serving(url, processes[0]):
        print(f"\nPawprint is running: {url}  (sign up at {url}/signup/, API docs at {url}/api/docs/)")
        mail = Path(os.environ.get("PAWPRINT_VAR_DIR", ROOT / "var")) / "mail"
        print(f"Alert emails are written to {mail}/; webhooks may go to local addresses.")
        print("Press Ctrl-C to stop the web server, the worker and beat.\n", flush=True)
    while not stopping and all(process.poll() is None for process in processes):
        time.sleep(0.5)
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    failed = [
        cast(list[str], process.args)[2] for process in processes if process.returncode not in (0, -signal.SIGTERM)
    ]
    if failed and not stopping:
        print(f"stopped because {', '.join(map(str, failed))} exited", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
