"""Readable trace names: adjective-color-animal-NNN, e.g. brisk-teal-heron-482."""

import secrets

ADJECTIVES = (
    "brisk bold calm clever eager gentle happy jolly keen lively lucky mellow nimble "
    "patient proud quick quiet rapid sharp shy steady swift tidy witty zesty"
).split()
COLORS = (
    "amber azure beige coral crimson cyan gold green indigo ivory jade lime magenta "
    "maroon navy olive orange pink plum ruby rust sage silver teal violet"
).split()
ANIMALS = (
    "badger bison crane dingo eagle falcon ferret gecko heron ibis jackal koala lemur "
    "lynx marmot newt otter panda quail raven salmon tapir viper walrus yak zebra"
).split()


def random_trace_name() -> str:
    choice = secrets.choice
    return f"{choice(ADJECTIVES)}-{choice(COLORS)}-{choice(ANIMALS)}-{secrets.randbelow(900) + 100}"
