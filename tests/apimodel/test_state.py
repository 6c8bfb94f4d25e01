import dataclasses
import hashlib
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apimodel import ModelBuilder, PathHints, witness_from_entry
from apimodel.builder import STATE_VERSION
from apimodel.endpoint import BodyStats, EndpointStats, FieldStats, StatusStats
from apimodel.latency import LatencySketch
from apimodel.paths import PathNode, PathTrie
from apimodel.state import StateFormatError, dump_builder, load_builder
from apimodel.timeline import Timeline

# The shape of the builder's state at each STATE_VERSION. When test_the_state_shape_is_that_of_its_version
# fails, the state changed: update state.py to carry it, bump STATE_VERSION, and record the new shape here.
RECORDED_SHAPES = {3: "f51ae84fb03bf4db", 4: "a2b157eb884460ad", 5: "4842ec3aa157c059"}

STATE_DATACLASSES = [PathHints, PathNode, EndpointStats, FieldStats, BodyStats, StatusStats, Timeline]
# plain classes of the state: their attributes are those of a fresh instance
STATE_INSTANCES = [ModelBuilder(), PathTrie([], []), LatencySketch()]
SAMPLE = ModelBuilder()
SAMPLE.add(
    witness_from_entry(
        {
            "request": {
                "method": "POST",
                "url": "https://a.example/users/7?q=1",
                "postData": {"mimeType": "application/json", "text": '{"email": "a@b.example"}'},
            },
            "response": {"status": 201},
            "time": 12.5,
        }
    )
)


def type_name(annotation: object) -> str:
    """`int`, `dict[str, apimodel.endpoint.FieldStats]`: classes by name, generic types in full."""
    return annotation.__name__ if type(annotation) is type else str(annotation)


def state_shape() -> str:
    """Every class the builder's state is made of, with its attributes and their types."""
    lines = [
        f"{cls.__module__}.{cls.__qualname__}: "
        + repr([(field.name, type_name(field.type)) for field in dataclasses.fields(cls)])
        for cls in STATE_DATACLASSES
    ]
    lines += [
        f"{type(instance).__module__}.{type(instance).__qualname__}: "
        + repr(sorted((name, type(value).__name__) for name, value in vars(instance).items()))
        for instance in STATE_INSTANCES
    ]
    return "\n".join(sorted(lines))


def test_the_state_shape_is_that_of_its_version() -> None:
    shape = state_shape()
    fingerprint = hashlib.sha256(shape.encode()).hexdigest()[:16]
    assert RECORDED_SHAPES.get(STATE_VERSION) == fingerprint, (
        f"The builder's state is now\n{shape}\nUpdate apimodel/state.py, bump STATE_VERSION and record "
        f"{{{STATE_VERSION + 1}: {fingerprint!r}}} in RECORDED_SHAPES (a new shape needs a new version)."
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_a_builder_resumed_from_its_state_gives_the_model_of_one_never_dumped(data, random_traffic, model_json) -> None:
    hints, witnesses = data.draw(random_traffic)
    cut = data.draw(st.integers(0, len(witnesses)))
    one, first = ModelBuilder(hints), ModelBuilder(hints)
    for witness in witnesses:
        one.add(witness)
    for witness in witnesses[:cut]:
        first.add(witness)
    state = dump_builder(first)
    resumed = load_builder(state)
    assert dump_builder(resumed) == state
    for witness in witnesses[cut:]:
        resumed.add(witness)
    assert model_json(resumed) == model_json(one)


def test_it_refuses_a_state_of_another_version() -> None:
    state = dump_builder(ModelBuilder())
    older = state.replace(b" %d\n" % STATE_VERSION, b" %d\n" % (STATE_VERSION - 1), 1)
    with pytest.raises(StateFormatError, match=f"version {STATE_VERSION - 1}, this code reads {STATE_VERSION}"):
        load_builder(older)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\x05\x95",  # a pickle
        b"pawprint-builder %d\nnot zlib" % STATE_VERSION,
        b"pawprint-builder %d\n" % STATE_VERSION + zlib.compress(b"[1, 2"),
        b"pawprint-builder %d\n" % STATE_VERSION + zlib.compress(b'{"hints": {}}'),
        b"pawprint-builder %d\n" % STATE_VERSION
        + zlib.compress(
            b'{"hints": {}, "witness_count": 1, "servers": [], "claims": {}, "hosts": {"a": {"static": []}}}'
        ),
    ],
)
def test_it_refuses_bytes_that_are_no_builder_state(data: bytes) -> None:
    with pytest.raises(StateFormatError):
        load_builder(data)


@given(st.binary(max_size=200), st.integers(0, 10_000))
def test_damaged_state_loads_or_raises_state_format_error(noise: bytes, at: int) -> None:
    state = dump_builder(SAMPLE)
    damaged = state[: at % (len(state) + 1)] + noise
    try:
        loaded = load_builder(damaged)
    except StateFormatError:
        return
    assert isinstance(loaded, ModelBuilder)
