"""The fixed-window counter every throttle counts with."""

import time
from types import SimpleNamespace

import pytest
from django.core.cache import cache

import controlplane.cache
from controlplane.cache import count_in_window


def test_it_counts_per_key_in_fixed_windows_and_says_when_the_window_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    cache.clear()
    now = [120.0]
    monkeypatch.setattr(controlplane.cache, "time", SimpleNamespace(time=lambda: now[0], monotonic=time.monotonic))

    def count(key: str, at: float) -> tuple[int, float]:
        now[0] = at
        return count_in_window(key, 60)

    assert count("daemon", 120.0) == (1, 60.0)
    assert count("daemon", 121.0) == (2, 59.0)
    assert count("other", 130.0) == (1, 50.0)
    assert count("daemon", 179.5) == (3, 0.5)
    assert count("daemon", 180.0) == (1, 60.0)  # the next window starts from one
