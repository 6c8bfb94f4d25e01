"""Responses written a chunk at a time, on ASGI (production) as on WSGI."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

_DONE = object()


async def _in_request_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # thread-sensitive: each chunk is made in the thread (and with the database connection) the view ran in
    take = sync_to_async(next, thread_sensitive=True)
    while (chunk := await take(chunks, _DONE)) is not _DONE:  # type: ignore[call-arg]
        yield chunk


def streaming_response(request: HttpRequest, chunks: Iterator[bytes], **kwargs: Any) -> StreamingHttpResponse:
    """A response whose body goes out as `chunks` are made. Under ASGI Django would first collect a plain
    iterator whole, so there the chunks are handed over as an async iterator."""
    if isinstance(request, ASGIRequest):
        return StreamingHttpResponse(_in_request_thread(chunks), **kwargs)
    return StreamingHttpResponse(chunks, **kwargs)
