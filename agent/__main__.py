"""`pawprint-agent` (or `python -m agent`): the daemon beside your service; `--help` lists the flags."""

import argparse
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

from agent import __version__
from agent.client import ControlPlaneClient, parse_key
from agent.daemon import MIB, AgentConfig, Daemon
from agent.logs import configure_logging, log_event
from agent.spool import SpoolError


def parse_listen(value: str) -> tuple[str, int] | None:
    """`HOST:PORT` (`[::1]:50080` for IPv6) as a socket address; `off` for none."""
    if value == "off":
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT or off, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return number


def positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return number


def key_from_environment(environ: dict[str, str]) -> str | None:
    """`PAWPRINT_KEY` (KEY_ID:SECRET), else Akita's pair `AKITA_API_KEY_ID` and `AKITA_API_KEY_SECRET`."""
    if environ.get("PAWPRINT_KEY"):
        return environ["PAWPRINT_KEY"]
    key_id, secret = environ.get("AKITA_API_KEY_ID"), environ.get("AKITA_API_KEY_SECRET")
    return f"{key_id}:{secret}" if key_id and secret else None


def default_spool_dir(environ: dict[str, str], daemon_name: str) -> Path:
    cache = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "pawprint-agent" / daemon_name


def parse_args(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> argparse.Namespace:
    env = dict(os.environ if environ is None else environ)
    parser = argparse.ArgumentParser(
        prog="pawprint-agent",
        description="Pawprint's agent: serves the akita-django middleware protocol, learns when traces start, "
        "obfuscates the captured traffic and uploads it to the control plane.",
        epilog="Environment: PAWPRINT_URL, PAWPRINT_KEY (or AKITA_API_KEY_ID and AKITA_API_KEY_SECRET), "
        "PAWPRINT_PROJECT (comma-separated), PAWPRINT_SPOOL_DIR, LOG_LEVEL.",
    )
    parser.add_argument(
        "--url", default=env.get("PAWPRINT_URL"), help="the Pawprint server, e.g. https://pawprint.example"
    )
    parser.add_argument("--key", default=key_from_environment(env), help="the API key, KEY_ID:SECRET (scope ingest)")
    parser.add_argument(
        "--project",
        action="append",
        default=[p for p in env.get("PAWPRINT_PROJECT", "").split(",") if p],
        help="a project to serve from the start (repeatable); middleware service names add theirs",
    )
    parser.add_argument("--daemon-name", default=socket.gethostname(), help="default: this host's name")
    parser.add_argument(
        "--listen", type=parse_listen, default=("127.0.0.1", 50080), help="middleware address (127.0.0.1:50080), or off"
    )
    parser.add_argument("--har", type=Path, help="replay this HAR file's entries into every trace that starts")
    parser.add_argument("--spool-dir", type=Path, default=env.get("PAWPRINT_SPOOL_DIR"), help="default: "
                        "~/.cache/pawprint-agent/DAEMON_NAME")  # fmt: skip
    parser.add_argument("--spool-max-mb", type=positive_int, default=256, help="disk for batches not yet uploaded")
    parser.add_argument("--max-memory-mb", type=positive_int, default=64, help="memory for traffic not yet spooled")
    parser.add_argument("--batch-size", type=positive_int, default=200, help="entries per upload (default 200)")
    parser.add_argument("--batch-delay", type=positive_float, default=2.0, help="max seconds an entry waits (2)")
    parser.add_argument("--log-level", default=env.get("LOG_LEVEL", "INFO"), help="DEBUG, INFO, WARNING")
    parser.add_argument("--version", action="version", version=f"pawprint-agent {__version__}")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("--url is required (or set PAWPRINT_URL)")
    if not args.key:
        parser.error("--key KEY_ID:SECRET is required (or PAWPRINT_KEY, or AKITA_API_KEY_ID and AKITA_API_KEY_SECRET)")
    try:
        parse_key(args.key)
    except ValueError as error:
        parser.error(str(error))
    if args.spool_dir is None:
        args.spool_dir = default_spool_dir(env, args.daemon_name)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    config = AgentConfig(
        daemon_name=args.daemon_name,
        spool_dir=args.spool_dir,
        projects=list(dict.fromkeys(args.project)),
        listen=args.listen,
        har_file=args.har,
        spool_max_bytes=args.spool_max_mb * MIB,
        max_memory_bytes=args.max_memory_mb * MIB,
        batch_size=args.batch_size,
        batch_max_delay=args.batch_delay,
    )
    try:
        daemon = Daemon(config, ControlPlaneClient(args.url, args.key), url=args.url)
    except ValueError as error:
        log_event(logging.ERROR, "bad_config", error=error)
        return 2

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log_event(logging.INFO, "stopping", signal=signal.Signals(signum).name)
        daemon.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        daemon.run()
    except SpoolError as error:
        log_event(logging.ERROR, "cannot_start", error=error)
        return 2
    except OSError as error:  # e.g. the --listen port is taken
        log_event(logging.ERROR, "cannot_start", error=error, listen=args.listen)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
