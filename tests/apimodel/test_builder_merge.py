import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apimodel import ModelBuilder, PathHints, witness_from_entry
from apimodel.paths import MAX_STATIC_CHILDREN


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_merging_the_builders_of_any_split_gives_the_model_of_one_builder(data, random_traffic, model_json) -> None:
    hints, witnesses = data.draw(random_traffic)
    parts = data.draw(st.lists(st.integers(0, 3), min_size=len(witnesses), max_size=len(witnesses)))
    one, builders = ModelBuilder(hints), [ModelBuilder(hints) for _ in range(4)]
    for witness, part in zip(witnesses, parts, strict=True):
        one.add(witness)
        builders[part].add(witness)
    order = data.draw(st.permutations(builders))
    merged = order[0]
    for other in order[1:]:
        before = model_json(other)
        merged.merge(other)
        assert model_json(other) == before
    assert model_json(merged) == model_json(one)


def test_a_merged_builder_keeps_taking_witnesses(make_entry, model_json) -> None:
    left, right, one = ModelBuilder(), ModelBuilder(), ModelBuilder()
    entries = [make_entry(url=f"https://a.example/users/{i}", time=float(i)) for i in range(1, 7)]
    for i, entry in enumerate(entries):
        (left if i < 2 else right if i < 4 else one).add(witness_from_entry(entry))
    left.merge(right)
    for entry in entries[4:]:
        left.add(witness_from_entry(entry))
    for entry in entries[:4]:
        one.add(witness_from_entry(entry))
    assert model_json(left) == model_json(one)


def test_merging_folds_static_children_past_the_bound_as_one_builder_does(make_entry, model_json) -> None:
    # words of mixed methods under a version: only the bound on static children folds them
    words = [f"word{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(MAX_STATIC_CHILDREN + 20)]
    entries = [make_entry("GET" if i % 3 else "POST", f"https://a.example/v1/{w}") for i, w in enumerate(words)]
    left, right, one = ModelBuilder(), ModelBuilder(), ModelBuilder()
    for i, entry in enumerate(entries):
        (left if i % 2 else right).add(witness_from_entry(entry))
        one.add(witness_from_entry(entry))
    left.merge(right)
    assert {e["path"] for e in left.result()["endpoints"]} == {"/v1/{param}"}
    assert model_json(left) == model_json(one)


def test_it_refuses_builders_with_other_path_hints() -> None:
    with pytest.raises(ValueError, match="path hints"):
        ModelBuilder().merge(ModelBuilder(PathHints(static=["/users/me"])))
