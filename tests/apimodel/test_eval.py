import json
from pathlib import Path

from apimodel.eval import Run, build_openapi, table

SMALL_HAR = Path(__file__).resolve().parent.parent / "fixtures" / "small.har"


def test_it_exports_what_an_uploaded_har_builds() -> None:
    document = build_openapi(SMALL_HAR.read_bytes(), title="shop")
    operations = [[method.upper(), path] for path, item in document["paths"].items() for method in item]
    expected = json.loads(SMALL_HAR.with_suffix(".endpoints.json").read_text())
    assert sorted(operations) == sorted(expected)
    assert document["info"]["title"] == "shop"


def _scores(f1: float) -> dict[str, object]:
    row = {"precision": f1, "recall": f1, "f1": f1, "request_accuracy": f1}
    return {"datasets": [{"dataset": "shop", **row}, {"dataset": "pets", "error": "no spec"}], "macro_average": row}


def test_the_table_has_a_row_per_dataset_and_tool_then_the_macro_averages() -> None:
    runs = {"shop": Run(seconds=0.25, peak_rss_mb=31), "pets": Run(seconds=1, peak_rss_mb=40)}
    text = table({"pawprint": (_scores(0.9), runs), "other": (_scores(0.5), {})})
    lines = [line.split() for line in text.splitlines()[2:]]
    assert lines == [
        ["shop"],
        ["pawprint", "0.900", "0.900", "0.900", "0.900", "0.25", "31"],
        ["other", "0.500", "0.500", "0.500", "0.500"],
        ["pets"],
        ["pawprint", "no", "spec"],
        ["other", "no", "spec"],
        ["macro", "average"],
        ["pawprint", "0.900", "0.900", "0.900", "0.900"],
        ["other", "0.500", "0.500", "0.500", "0.500"],
    ]
