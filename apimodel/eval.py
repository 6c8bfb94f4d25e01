"""Score Pawprint's inference on real third-party traffic, beside har-to-openapi's.

    python -m apimodel.eval [--eval-dir ../shared/eval] [--out var/eval] [--no-baseline]

For each `<eval-dir>/<dataset>/traffic.har`, build the model the way a HAR upload and its Celery
build do (HAR entries that are HTTP exchanges → witnesses → the stored JSON form → `ModelBuilder`
→ `to_openapi`), each dataset in a fresh process so its peak RSS is its own; write the OpenAPI
documents to `<out>/pawprint/`, run the pinned har-to-openapi (`bench/har-to-openapi`, installed
with `npm ci` when missing) into `<out>/har-to-openapi/`, and score both with the eval's own
`score.py`, run as is. The truth files are read by the scorer only.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from apimodel.builder import ModelBuilder
from apimodel.har import har_entries, is_http_exchange
from apimodel.openapi import to_openapi
from apimodel.witness import witness_from_entry

REPO = Path(__file__).resolve().parents[1]
BASELINE_DIR = REPO / "bench" / "har-to-openapi"
BASELINE = "har-to-openapi"
OURS = "pawprint"


@dataclass
class Run:
    """One tool's run on one dataset: seconds from the HAR file's text to OpenAPI, peak RSS of its process."""

    seconds: float
    peak_rss_mb: float


def build_openapi(har: bytes, title: str) -> dict[str, Any]:
    """The OpenAPI document Pawprint exports for a HAR file uploaded as a trace."""
    witnesses = [witness_from_entry(entry) for entry in har_entries(har) if is_http_exchange(entry)]
    # stored witnesses are JSON (`traces.models.witnesses_pack`): the build reads what survives it
    stored: list[dict[str, Any]] = orjson.loads(orjson.dumps(witnesses))
    builder = ModelBuilder()
    for witness in stored:
        builder.add(witness)
    return to_openapi(builder.result(), title=title)


def _build_dataset(har_path: str, out_path: str) -> Run:
    """Run in a fresh process: build one dataset's OpenAPI, write it, and measure."""
    har = Path(har_path).read_bytes()
    started = time.perf_counter()
    spec = build_openapi(har, title=Path(har_path).parent.name)
    seconds = time.perf_counter() - started
    Path(out_path).write_bytes(orjson.dumps(spec))
    return Run(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_pawprint(datasets: list[Path], out: Path) -> dict[str, Run]:
    """Build every dataset, one fresh process each."""
    out.mkdir(parents=True, exist_ok=True)
    runs = {}
    context = multiprocessing.get_context("spawn")
    for dataset in datasets:
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            har, spec = str(dataset / "traffic.har"), str(out / f"{dataset.name}.json")
            runs[dataset.name] = pool.submit(_build_dataset, har, spec).result()
    return runs


def run_baseline(datasets: list[Path], out: Path) -> dict[str, Run]:
    """Run har-to-openapi (library API, `attemptToParameterizeUrl`) on every dataset, one node process each."""
    if not (BASELINE_DIR / "node_modules" / "har-to-openapi").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BASELINE_DIR, check=True)  # noqa: S607
    out.mkdir(parents=True, exist_ok=True)
    runs = {}
    for dataset in datasets:
        har, spec = dataset / "traffic.har", out / f"{dataset.name}.json"
        command = ["node", "run.mjs", str(har), str(spec)]
        done = subprocess.run(command, cwd=BASELINE_DIR, check=True, capture_output=True, text=True)  # noqa: S603
        line = json.loads(done.stdout.splitlines()[-1])
        runs[dataset.name] = Run(line["seconds"], line["peak_rss_mb"])
    return runs


def score_all(eval_dir: Path, specs: Path) -> dict[str, Any]:
    """The scorer's JSON for every dataset of `eval_dir` against the documents in `specs`."""
    command = [sys.executable, str(eval_dir / "score.py"), "--all", str(eval_dir), "--specs", str(specs), "--json"]
    done = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    scores: dict[str, Any] = json.loads(done.stdout)
    return scores


def _row(name: str, score: dict[str, Any], run: Run | None) -> str:
    if "error" in score:
        return f"{name:<22} {score['error']}"
    timing = f"{run.seconds:>8.2f} {run.peak_rss_mb:>8.0f}" if run else f"{'':>8} {'':>8}"
    return (
        f"{name:<22} {score['precision']:>6.3f} {score['recall']:>6.3f} {score['f1']:>6.3f}"
        f" {score['request_accuracy']:>7.3f} {timing}"
    )


def table(tools: dict[str, tuple[dict[str, Any], dict[str, Run]]]) -> str:
    """One table: each dataset with a row per tool, then each tool's macro average."""
    head = f"{'dataset / tool':<22} {'prec':>6} {'recall':>6} {'f1':>6} {'req_acc':>7} {'build s':>8} {'peak MB':>8}"
    lines = [head, "-" * len(head)]
    first = next(iter(tools.values()))[0]
    for dataset in (row["dataset"] for row in first["datasets"]):
        lines.append(dataset)
        for tool, (scores, runs) in tools.items():
            score = next(row for row in scores["datasets"] if row["dataset"] == dataset)
            lines.append(_row(f"  {tool}", score, runs.get(dataset)))
    lines.append("macro average")
    for tool, (scores, _) in tools.items():
        lines.append(_row(f"  {tool}", scores["macro_average"], None))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: build, run the baseline, score, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dir", type=Path, default=REPO.parent / "shared" / "eval")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "eval", help="where the OpenAPI documents go")
    parser.add_argument("--no-baseline", action="store_true", help="skip har-to-openapi")
    args = parser.parse_args(argv)
    datasets = sorted(path.parent for path in args.eval_dir.glob("*/traffic.har"))
    if not datasets:
        parser.error(f"no <dataset>/traffic.har under {args.eval_dir}")
    runs = run_pawprint(datasets, args.out / OURS)
    tools = {OURS: (score_all(args.eval_dir, args.out / OURS), runs)}
    if not args.no_baseline:
        try:
            runs = run_baseline(datasets, args.out / BASELINE)
        except FileNotFoundError as error:
            parser.error(f"har-to-openapi needs node and npm ({error.filename} not found); --no-baseline skips it")
        tools[BASELINE] = (score_all(args.eval_dir, args.out / BASELINE), runs)
    print(table(tools))
    print(f"\nbuild s: from the HAR text to OpenAPI; peak MB: the process's peak RSS. Documents in {args.out}/<tool>/.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
