import datetime as dt
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from apimodel.timeline import MAX_BUCKETS, Timeline

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
requests = st.lists(st.tuples(st.integers(0, 10**7), st.booleans(), st.none() | st.floats(0, 60_000)), max_size=60)


def timeline_of(items: Sequence[tuple[int, bool, float | None]]) -> Timeline:
    timeline = Timeline()
    for seconds, error, time_ms in items:
        timeline.add(T0 + dt.timedelta(seconds=seconds), error, time_ms)
    return timeline


@given(requests, st.randoms())
def test_the_timeline_depends_on_the_requests_not_their_order(items, random) -> None:
    shuffled = list(items)
    random.shuffle(shuffled)
    assert timeline_of(shuffled).to_dict() == timeline_of(items).to_dict()


@given(requests, requests)
def test_merging_two_timelines_is_adding_both_requests(first, second) -> None:
    merged = timeline_of(first)
    merged.merge(timeline_of(second))
    assert merged.to_dict() == timeline_of(first + second).to_dict()


@given(requests)
def test_it_keeps_at_most_max_buckets_and_every_request(items) -> None:
    timeline = timeline_of(items)
    assert len(timeline.buckets) <= MAX_BUCKETS
    assert sum(n for histogram in timeline.buckets.values() for n in histogram.values()) == len(items)
    assert sum(timeline.errors.values()) == sum(error for _, error, _ in items)
    assert Timeline.from_dict(timeline.to_dict()) == timeline


def test_a_fifteen_minute_trace_gets_buckets_of_about_a_minute_with_requests_errors_and_p99() -> None:
    items = [(second, second % 100 == 0, 20.0 if second % 50 else 900.0) for second in range(0, 900, 5)]
    model = timeline_of(items).to_model()
    assert model["bucket_seconds"] == 64
    first = model["buckets"][0]
    assert first["start"] == "2026-03-02T08:59:44Z"  # aligned to the epoch, not to the first request
    assert sum(bucket["count"] for bucket in model["buckets"]) == 180
    assert sum(bucket["errors"] for bucket in model["buckets"]) == 9
    # within the histogram's ratio (1.25) above the slowest request of the bucket
    assert all(900 <= (bucket["p99_ms"] or 0) <= 1125 for bucket in model["buckets"] if bucket["errors"])
