"""Obfuscation of raw HAR entries into the witnesses the agent uploads, in a process of its own: it costs more CPU
than taking the entry over HTTP, and Python runs one thread at a time per process, so a second process lets the
agent use a second core.
"""

import json
import logging
import multiprocessing
import signal
from collections.abc import Mapping
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from agent.logs import log_event
from apimodel.witness import redact_entry, witness_from_entry
from apimodel.witness_form import check_witness, witness_json


def encode_entry(entry: Any, *, redacted: bool) -> bytes | str:
    """The witness of an entry obfuscated (unless the middleware did), as the control plane takes it (compact JSON,
    checked as the control plane checks it), or what is wrong with the entry."""
    if not isinstance(entry, Mapping):
        return "an entry must be a JSON object"
    try:
        # the same witness as from the raw entry, but obfuscated texts repeat, so their schemas are remembered
        uploaded = witness_json(witness_from_entry(entry if redacted else redact_entry(entry)))
        check_witness(json.loads(uploaded))  # one the control plane would refuse would lose its whole batch
        return uploaded
    except (ValueError, TypeError, AttributeError, RecursionError) as error:  # InvalidEntry is a ValueError
        return str(error) or repr(error)


def encode_calls(calls: list[tuple[bytes, bool]]) -> list[list[bytes | str]]:
    """The entries (`trace_events`) of each events body, with whether the middleware obfuscated them, encoded as
    witnesses.

    The bodies travel as the bytes they came in: pickled parsed entries would cost the server more CPU, and
    entries waiting here take as much memory as the budget counts for them.
    """
    return [[encode_entry(e, redacted=redacted) for e in json.loads(body)["trace_events"]] for body, redacted in calls]


def _serve(pipe: Connection) -> None:
    """The worker process: a list of calls in, their encoded entries out, until the agent closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group: the agent stops us itself
    while True:
        try:
            calls = pipe.recv()
        except EOFError:
            return
        pipe.send(encode_calls(calls))


class Redactor:
    """`encode_calls` in a worker process (started at the first call) over a pipe, or in the caller's with
    `in_worker=False`. One caller at a time (the listener's capture thread).

    If the worker fails (it died), the caller encodes that list itself and a new worker is started for the
    next one: entries are never lost on the way.
    """

    def __init__(self, *, in_worker: bool) -> None:
        self.in_worker = in_worker
        self._worker: tuple[BaseProcess, Connection] | None = None

    def __call__(self, calls: list[tuple[bytes, bool]]) -> list[list[bytes | str]]:
        if not self.in_worker or not calls:
            return encode_calls(calls)
        if self._worker is None:
            ours, theirs = multiprocessing.Pipe()
            process = multiprocessing.get_context("spawn").Process(  # the agent has threads: no fork
                target=_serve, args=(theirs,), name="agent-redact", daemon=True
            )
            process.start()
            theirs.close()
            self._worker = process, ours
        try:
            self._worker[1].send(calls)
            encoded: list[list[bytes | str]] = self._worker[1].recv()
            return encoded
        except (OSError, EOFError) as error:  # the worker died
            log_event(logging.ERROR, "redact_worker_failed", error=repr(error), calls=len(calls))
            self.close()
            return encode_calls(calls)

    def close(self) -> None:
        if self._worker is not None:
            process, pipe = self._worker
            self._worker = None
            pipe.close()  # the worker's recv ends
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
