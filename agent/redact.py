"""Obfuscation of raw HAR entries, in a process of its own: it costs more CPU than taking the entry over HTTP,
and Python runs one thread at a time per process, so a second process lets the agent use a second core.
"""

import json
import logging
import multiprocessing
import signal
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from agent.logs import log_event
from apimodel.witness import redact_entry


def encode_entry(entry: Any, *, redacted: bool) -> bytes | str:
    """An entry obfuscated (unless the middleware did) as compact JSON, or what is wrong with it."""
    if not isinstance(entry, Mapping):
        return "an entry must be a JSON object"
    try:
        return json.dumps(entry if redacted else redact_entry(entry), separators=(",", ":")).encode()
    except (ValueError, TypeError, AttributeError, RecursionError) as error:  # InvalidEntry is a ValueError
        return str(error) or repr(error)


def encode_calls(calls: list[tuple[bytes, bool]]) -> list[list[bytes | str]]:
    """The entries (`trace_events`) of each events body, with whether the middleware obfuscated them, encoded.

    The bodies travel as the bytes they came in: pickled parsed entries would cost the server more CPU, and
    entries waiting here take as much memory as the budget counts for them.
    """
    return [[encode_entry(e, redacted=redacted) for e in json.loads(body)["trace_events"]] for body, redacted in calls]


def _ignore_interrupts() -> None:
    """Ctrl-C reaches the whole process group: the agent stops its worker itself, after the last entries."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Redactor:
    """`encode_calls` in a worker process (started at the first call), or in the caller's with `processes=0`.

    If the worker fails (it died), the caller encodes that list itself and a new worker is started for the
    next one: entries are never lost on the way.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def __call__(self, calls: list[tuple[bytes, bool]]) -> list[list[bytes | str]]:
        if not self.processes or not calls:
            return encode_calls(calls)
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # the agent has threads: no fork
            self._pool = ProcessPoolExecutor(self.processes, mp_context=context, initializer=_ignore_interrupts)
        try:
            return self._pool.submit(encode_calls, calls).result()
        except Exception as error:  # BrokenProcessPool: the worker died
            log_event(logging.ERROR, "redact_worker_failed", error=repr(error), calls=len(calls))
            self.close()
            return encode_calls(calls)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
