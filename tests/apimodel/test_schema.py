import itertools

from apimodel.schema import DYNAMIC_KEYS_MIN, MAX_DEPTH, MAX_PROPERTIES, infer_schema, meld, redact_json, text_schema


def meld_values(*values: object) -> dict:
    schemas = [infer_schema(v) for v in values]
    result = schemas[0]
    for schema in schemas[1:]:
        result = meld(result, schema)
    return result


def test_it_infers_structure_types_and_formats() -> None:
    schema = infer_schema({"id": 7, "email": "ada@example.org", "tags": ["x"], "score": 1.5, "ok": True})
    assert schema == {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email"},
            "id": {"type": "integer"},
            "ok": {"type": "boolean"},
            "score": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["email", "id", "ok", "score", "tags"],
    }


def test_it_requires_only_properties_present_every_time() -> None:
    schema = meld_values({"a": 1, "b": 2}, {"a": 3})
    assert schema["required"] == ["a"]
    assert set(schema["properties"]) == {"a", "b"}


def test_it_marks_nullable_values() -> None:
    assert meld_values({"a": "x"}, {"a": None})["properties"]["a"] == {"type": ["string", "null"]}


def test_it_widens_integer_to_number() -> None:
    assert meld_values(1, 2.5) == {"type": "number"}


def test_it_merges_mixed_array_items() -> None:
    assert infer_schema([1, "a", None]) == {"type": "array", "items": {"type": ["string", "integer", "null"]}}


def test_it_keeps_object_items_of_an_array_melded() -> None:
    items = infer_schema([{"a": 1}, {"a": 2, "b": "x"}])["items"]
    assert items["required"] == ["a"]


def test_it_keeps_a_format_only_when_all_values_agree() -> None:
    assert meld_values("ada@example.org", "bob@example.org") == {"type": "string", "format": "email"}
    assert meld_values("ada@example.org", "plain") == {"type": "string"}


def test_it_turns_objects_keyed_by_ids_into_maps() -> None:
    schema = infer_schema(
        {"3f2b8c1e-9d4a-4b6c-8e7f-1a2b3c4d5e6f": {"n": 1}, "1a2b3c4d-9d4a-4b6c-8e7f-1a2b3c4d5e6f": {"n": 2}}
    )
    assert "properties" not in schema
    assert schema["additionalProperties"]["properties"] == {"n": {"type": "integer"}}


def test_it_turns_objects_with_too_many_keys_into_maps() -> None:
    halves = [{f"key{i}": i for i in range(start, start + MAX_PROPERTIES // 2 + 1)} for start in (0, 1000)]
    schema = meld_values(*halves)
    assert schema == {"type": "object", "additionalProperties": {"type": "integer"}}


def test_it_bounds_depth() -> None:
    value: object = 1
    for _ in range(MAX_DEPTH + 5):
        value = {"a": value}
    text = str(infer_schema(value))
    assert text.count("properties") == MAX_DEPTH


def test_it_melds_in_any_order() -> None:
    values = [{"a": 1}, {"a": None, "b": "ada@example.org"}, {"a": 2.5, "b": "x", "c": [1]}, [1], "s"]
    results = {repr(meld_values(*order)) for order in itertools.permutations(values)}
    assert len(results) == 1


def test_it_reads_text_values() -> None:
    assert text_schema("42") == {"type": "integer"}
    assert text_schema("4.2") == {"type": "number"}
    assert text_schema("true") == {"type": "boolean"}
    assert text_schema("007") == {"type": "string"}
    assert text_schema("2024-01-31") == {"type": "string", "format": "date"}


def test_redacted_json_keeps_its_schema_and_loses_its_values() -> None:
    value = {"name": "Ada", "email": "ada@example.org", "n": 3, "x": 1.5, "ids": {"17": "a", "18": "b"}}
    redacted = redact_json(value)
    assert infer_schema(redacted) == infer_schema(value)
    assert "Ada" not in str(redacted) and "ada@" not in str(redacted) and "17" not in str(redacted)


def test_it_turns_objects_with_many_optional_keys_into_maps() -> None:
    schema = meld_values(*[{f"name{i}": {"n": i}} for i in range(DYNAMIC_KEYS_MIN)])
    assert schema == {
        "type": "object",
        "additionalProperties": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    }


def test_it_keeps_records_whose_keys_are_always_present() -> None:
    record = {f"field{i}": i for i in range(DYNAMIC_KEYS_MIN + 5)}
    assert len(meld_values(record, {**record, "extra": 1})["properties"]) == DYNAMIC_KEYS_MIN + 6
