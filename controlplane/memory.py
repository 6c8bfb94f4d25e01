"""Memory helpers shared by the apps."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large acyclic structure (decoded witnesses, a model's JSON)
    is made: reference counting frees it, and rescanning its many objects over and over would cost a quarter
    of a build's time and most of an export's."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
