"""Wake long polls when a project's traces change, with no database work per poll.

Writers call `project_changed` after commit: one publish on Redis when REDIS_URL is set (several web processes),
else a direct call into this process's event loops (the single-process embedded mode). In each event loop (a web
worker has one), one Redis subscription feeds a `ProjectChanges`: a generation number per watched project, bumped
by each change, and the project's state read once per generation for all the polls of that loop (`Watch.read`).

Without a live subscription (Redis down or reconnecting), a change may go unheard: state read then is trusted for
`FALLBACK_SECONDS` only, and waits are cut to that, so polls fall back to reading the database periodically
(once per project and process, however many polls). A reconnect counts as a change of every project.
"""

import asyncio
import contextlib
import contextvars
import functools
import logging
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connection

T = TypeVar("T")
logger = logging.getLogger(__name__)
CHANNEL_PREFIX = "pawprint:project:"
# Without a live subscription, how stale a read may be (and how long a poll waits before reading again).
FALLBACK_SECONDS = 5.0
# A project no poll watched for this long is forgotten (its state is read again when a poll comes).
IDLE_SECONDS = 60.0
RECONNECT_SECONDS = 1.0


def listener_name() -> str:
    """The Redis client name of this process's subscriptions (one per event loop; a web worker has one)."""
    return f"pawprint-polls-{os.getpid()}"


_publisher: tuple[str, redis.Redis] | None = None
_publisher_lock = threading.Lock()


def _redis_publisher() -> redis.Redis:
    """One client (a connection pool) per process for publishing, made for the current REDIS_URL."""
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher[0] != settings.REDIS_URL:
            _publisher = (settings.REDIS_URL, redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2))
        return _publisher[1]


# Changes made while serving a request, told once its response is sent: a Start wakes thousands of polls that answer
# and re-poll at once, and the Start's own reply (in the same web process as half of them) must not queue behind them.
_in_request = threading.local()


def _hold_changes(**kwargs: Any) -> None:
    _in_request.changed = set()


def _tell_held_changes(**kwargs: Any) -> None:
    changed: set[int] = getattr(_in_request, "changed", None) or set()
    _in_request.changed = None
    for project_id in sorted(changed):
        _tell(project_id)


# Django sends both in the request's own thread (the view's, under ASGI too), request_finished after the response.
request_started.connect(_hold_changes, dispatch_uid="pawprint-hold-changes")
request_finished.connect(_tell_held_changes, dispatch_uid="pawprint-tell-held-changes")


def project_changed(project_id: int) -> None:
    """Tell every poller of the project to look again (call after the change is committed); during a request, once
    its response is sent."""
    held: set[int] | None = getattr(_in_request, "changed", None)
    if held is None:
        _tell(project_id)
    else:
        held.add(project_id)


def _tell(project_id: int) -> None:
    if not settings.REDIS_URL:
        with _by_loop_lock:
            loops = list(_by_loop.values())
        for changes in loops:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                changes.loop.call_soon_threadsafe(changes.changed, project_id)
        return
    try:
        _redis_publisher().publish(f"{CHANNEL_PREFIX}{project_id}", b"1")
    except redis.RedisError:
        logger.warning("could not publish a change of project %s; its polls learn it when they read again", project_id)


@dataclass
class _Project:
    generation: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    watchers: int = 0
    idle_since: float = 0.0
    # (generation read, loop time of the read, the read itself), shared by the polls of this loop
    read: tuple[int, float, "asyncio.Future[Any]"] | None = None


class ProjectChanges:
    """One event loop's view of project changes (an event loop serves all the polls of a web worker)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.projects: dict[int, _Project] = {}
        self.live = not settings.REDIS_URL  # the in-process notifier never misses a change
        self.listener: asyncio.Task[None] | None = None
        self.swept_at = loop.time()

    def changed(self, project_id: int) -> None:
        """A change of the project: wake its polls; their next read reads again."""
        project = self.projects.get(project_id)
        if project is not None:
            project.generation += 1
            event, project.changed = project.changed, asyncio.Event()
            event.set()

    def all_changed(self) -> None:
        for project_id in list(self.projects):
            self.changed(project_id)

    def forget_idle(self) -> None:
        now = self.loop.time()
        if now - self.swept_at < IDLE_SECONDS:
            return
        self.swept_at = now
        for project_id, project in list(self.projects.items()):
            if not project.watchers and now - project.idle_since > IDLE_SECONDS:
                del self.projects[project_id]

    async def listen(self) -> None:
        """Forward Redis project messages to this loop's polls, for ever; reconnects after errors."""
        logged = False
        while True:
            client = redis.asyncio.Redis.from_url(settings.REDIS_URL, client_name=listener_name())
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                    self.live = True
                    self.all_changed()  # whatever happened while not subscribed is read again
                    if logged:
                        logger.info("Redis listener subscribed again; polls are woken by changes again")
                        logged = False
                    while not task_cancelling():  # redis-py may swallow a cancellation while it reads
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if message is not None and message["type"] == "pmessage":
                            self.changed(int(message["channel"].decode().removeprefix(CHANNEL_PREFIX)))
                    raise asyncio.CancelledError
            except (redis.RedisError, OSError) as error:
                if task_cancelling():  # redis may turn a cancelled read into a connection error
                    raise asyncio.CancelledError from error
                if not logged:
                    logger.warning("Redis listener lost (%s); polls read the database periodically", error)
                    logged = True
            finally:
                if self.live:  # polls waiting for a message that may not come: their waits are cut short now
                    self.live = False
                    self.all_changed()
                with contextlib.suppress(redis.RedisError, OSError):
                    await client.aclose()
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # the loop is closing (redis-py may swallow the cancel)
                return
            await asyncio.sleep(RECONNECT_SECONDS)


def task_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ProjectChanges] = weakref.WeakKeyDictionary()
_by_loop_lock = threading.Lock()  # writers notify from other threads


def _changes() -> ProjectChanges:
    loop = asyncio.get_running_loop()
    with _by_loop_lock:
        changes = _by_loop.get(loop)
        if changes is None:
            changes = _by_loop[loop] = ProjectChanges(loop)
    if settings.REDIS_URL and (changes.listener is None or changes.listener.done()):
        changes.listener = loop.create_task(changes.listen())
    return changes


def connection_release() -> None:
    """Give this thread's database connection back to the pool (or close it): a waiting poll holds none.
    Inside a transaction (a test's), it stays."""
    if not connection.in_atomic_block:
        connection.close()


# True for a request served on the event loop (`controlplane.handlers`), and for the tasks it starts.
on_the_event_loop: contextvars.ContextVar[bool] = contextvars.ContextVar("on_the_event_loop", default=False)


async def run_sync(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`work(*args, **kwargs)` (sync: the database, the cache) from a poll; the database connection goes back to
    the pool after it, so a waiting poll holds none. Served on the event loop, a poll has no thread of its own:
    this runs in the loop's shared executor (a few threads for the whole process), where a fleet re-polling after a
    Start queues rather than becoming hundreds of threads fighting over the GIL and the pool ahead of every other
    request of the process (the Start's own reply). Under another handler (WSGI, Django's test clients) it runs in
    the request's thread, as Django's async ORM does."""
    if not on_the_event_loop.get():
        return await sync_to_async(_released, thread_sensitive=True)(work, *args, **kwargs)
    # Straight to the executor, in a copy of this context: asgiref's `sync_to_async` wraps the same call in a shield,
    # a thread handler and a restoring of the context, which cost a re-poll storm 12 % of its GIL time (two hops a
    # poll). A cancelled caller cancels the work if it has not started, as with asgiref.
    call = functools.partial(contextvars.copy_context().run, _released, work, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, call)


def _released(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return work(*args, **kwargs)
    finally:
        connection_release()


class Watch:
    """A poll's view of one project: its state, read once per change for the whole event loop, and a wait."""

    def __init__(self, changes: ProjectChanges, project_id: int, project: _Project) -> None:
        self._changes, self._project_id, self._project = changes, project_id, project

    async def read(self, load: Callable[[int], Any]) -> Any:
        """`load(project_id)` (sync, it may use the database) as of the latest change this loop heard of."""
        project, loop = self._project, self._changes.loop
        read = project.read
        if (
            read is None
            or read[0] != project.generation
            or (not self._changes.live and loop.time() - read[1] > FALLBACK_SECONDS)
        ):
            future = asyncio.ensure_future(run_sync(load, self._project_id))
            future.add_done_callback(lambda done: self._forget_failed(done))
            read = project.read = (project.generation, loop.time(), future)
        return await asyncio.shield(read[2])

    def _forget_failed(self, future: "asyncio.Future[Any]") -> None:
        """A read that failed (the database away) is not kept: the next poll reads again."""
        read = self._project.read
        if read is not None and read[2] is future and (future.cancelled() or future.exception() is not None):
            self._project.read = None

    async def wait(self, timeout: float) -> None:
        """Until the project changes or `timeout` seconds pass (less when changes may go unheard)."""
        if not self._changes.live:
            timeout = min(timeout, FALLBACK_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._project.changed.wait(), timeout=max(timeout, 0))


@contextlib.asynccontextmanager
async def project_watch(project_id: int) -> AsyncIterator[Watch]:
    """Watch a project's changes from a long poll; read its state through the watch, after entering it."""
    changes = _changes()
    changes.forget_idle()
    project = changes.projects.get(project_id)
    if project is None:
        project = changes.projects[project_id] = _Project()
    project.watchers += 1
    try:
        yield Watch(changes, project_id, project)
    finally:
        project.watchers -= 1
        project.idle_since = changes.loop.time()
