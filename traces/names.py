"""Readable trace names (adjective-color-animal-NNN, e.g. brisk-teal-heron-482) and durations (1 h 30 min)."""

import re
import secrets
from collections.abc import Iterator
from pathlib import PurePath

ADJECTIVES = [
    "brisk",
    "bold",
    "calm",
    "clever",
    "eager",
    "gentle",
    "happy",
    "jolly",
    "keen",
    "lively",
    "lucky",
    "mellow",
    "nimble",
    "patient",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "sharp",
    "shy",
    "steady",
    "swift",
    "tidy",
    "witty",
    "zesty",
]
COLORS = [
    "amber",
    "azure",
    "beige",
    "coral",
    "crimson",
    "cyan",
    "gold",
    "green",
    "indigo",
    "ivory",
    "jade",
    "lime",
    "magenta",
    "maroon",
    "navy",
    "olive",
    "orange",
    "pink",
    "plum",
    "ruby",
    "rust",
    "sage",
    "silver",
    "teal",
    "violet",
]
ANIMALS = [
    "badger",
    "bison",
    "crane",
    "dingo",
    "eagle",
    "falcon",
    "ferret",
    "gecko",
    "heron",
    "ibis",
    "jackal",
    "koala",
    "lemur",
    "lynx",
    "marmot",
    "newt",
    "otter",
    "panda",
    "quail",
    "raven",
    "salmon",
    "tapir",
    "viper",
    "walrus",
    "yak",
    "zebra",
]


def random_trace_name() -> str:
    choice = secrets.choice
    return f"{choice(ADJECTIVES)}-{choice(COLORS)}-{choice(ANIMALS)}-{secrets.randbelow(900) + 100}"


def trace_names_from_file(file_name: str, tries: int = 20) -> Iterator[str]:
    """Names for a trace uploaded as `file_name`, best first: `Checkout Flow.har` → checkout-flow,
    checkout-flow-2, …; random names when the file's name has no letters or digits."""
    stem = re.sub(r"[^a-z0-9]+", "-", PurePath(file_name).stem.lower())[:90].strip("-")
    if len(stem) >= 2:
        yield stem
        yield from (f"{stem}-{number}" for number in range(2, tries))
    yield from (random_trace_name() for _ in range(tries))


def duration_label(minutes: int) -> str:
    """15 min, 2 h, 1 h 30 min: how the Start form and the trace list name a duration."""
    if minutes < 1:
        return "< 1 min"
    hours, rest = divmod(minutes, 60)
    return " ".join(part for part in (f"{hours} h" if hours else "", f"{rest} min" if rest else "") if part)
