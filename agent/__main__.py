"""`python -m agent --url URL --key KEY_ID:SECRET --project NAME [--har FILE] [--listen HOST:PORT]`."""

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
from agent.daemon import AgentConfig, Daemon
from agent.logs import configure_logging, log_event


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:50080` for IPv6) as a socket address."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m agent",
        description="Pawprint's reference daemon: learns when traces start, captures traffic, uploads it obfuscated.",
    )
    parser.add_argument("--url", required=True, help="the Pawprint server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--key", default=os.environ.get("PAWPRINT_KEY"), help="KEY_ID:SECRET (or env PAWPRINT_KEY)")
    parser.add_argument("--project", required=True, help="the project's name (or prj_ id)")
    parser.add_argument("--daemon-name", default=socket.gethostname(), help="default: this host's name")
    parser.add_argument("--har", type=Path, help="replay this HAR file's entries into every trace that starts")
    parser.add_argument("--listen", type=parse_listen, help="serve POST /v1/entries for middleware (127.0.0.1:50080)")
    parser.add_argument("--batch-size", type=positive_int, default=200, help="entries per upload (default 200)")
    parser.add_argument("--batch-delay", type=positive_float, default=2.0, help="max seconds an entry waits (2)")
    parser.add_argument("--max-buffered", type=positive_int, default=20_000, help="pending entries before dropping")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"), help="DEBUG, INFO, WARNING")
    parser.add_argument("--version", action="version", version=f"pawprint-agent {__version__}")
    args = parser.parse_args(argv)
    if not args.key:
        parser.error("--key KEY_ID:SECRET is required (or set PAWPRINT_KEY)")
    try:
        parse_key(args.key)
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    config = AgentConfig(
        project=args.project,
        daemon_name=args.daemon_name,
        har_file=args.har,
        listen=args.listen,
        batch_size=args.batch_size,
        batch_max_delay=args.batch_delay,
        max_buffered_entries=args.max_buffered,
    )
    try:
        daemon = Daemon(config, ControlPlaneClient(args.url, args.key))
    except ValueError as error:
        log_event(logging.ERROR, "bad_config", error=error)
        return 2
    if not args.har and not args.listen:
        log_event(logging.WARNING, "no_capture_source", hint="pass --har FILE or --listen HOST:PORT")

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log_event(logging.INFO, "stopping", signal=signal.Signals(signum).name)
        daemon.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        daemon.run()
    except OSError as error:  # e.g. the --listen port is taken
        log_event(logging.ERROR, "cannot_start", error=error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
