"""Fold witnesses, one at a time and in any order, into an API model."""

import re
from dataclasses import dataclass, field
from typing import Any

from apimodel.auth import security_scheme
from apimodel.endpoint import EndpointStats
from apimodel.model_types import ApiModel
from apimodel.paths import ForcedTemplate, PathTrie, matches, parse_template

# health checks and static assets are noise in an API model unless asked for
_DEFAULT_HIDDEN_NAMES = frozenset(
    ["health", "healthz", "healthcheck", "livez", "readyz", "ping", "favicon.ico", "robots.txt"]
)
_DEFAULT_HIDDEN_EXTENSIONS = re.compile(
    r".*\.(css|js|mjs|map|png|jpe?g|gif|svg|webp|avif|ico|bmp|woff2?|ttf|otf|eot)", re.IGNORECASE
)


MAX_SEGMENTS = 48
# Bump when ModelBuilder's fields change: stored (pickled) builders of another version are not resumed.
STATE_VERSION = 3


@dataclass
class PathHints:
    """User corrections to path templating.

    `force`: templates that win over inference (`/users/{user_id}/avatar`); a `{…}`
    segment matches any one segment. `static`: paths whose segments stay static
    (`/users/me`). `hidden`: templates or prefixes of endpoints left out of the model.
    Health checks and static assets are hidden unless `show_default_hidden`.
    """

    force: list[str] = field(default_factory=list)
    static: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    show_default_hidden: bool = False


def is_default_hidden(segments: list[str]) -> bool:
    """Whether a path is a health check or a static asset."""
    last = segments[-1].lower() if segments else ""
    # the extension pattern needs a dot: most segments (ids, words) skip the regex
    return last in _DEFAULT_HIDDEN_NAMES or ("." in last and _DEFAULT_HIDDEN_EXTENSIONS.fullmatch(last) is not None)


class ModelBuilder:
    """Streams witnesses into an API model.

    Memory grows with the number of endpoints and the size of their schemas, not with
    the number of witnesses; the result does not depend on the order of `add` calls.
    """

    def __init__(self, hints: PathHints | None = None) -> None:
        self.hints = hints or PathHints()
        self.witness_count = 0
        self._forced = [ForcedTemplate.parse(t) for t in self.hints.force]
        self._static = [parse_template(t) for t in self.hints.static]
        self._hidden = [parse_template(t) for t in self.hints.hidden]
        self._tries: dict[str, PathTrie[EndpointStats]] = {}
        self._servers: set[str] = set()
        self._claims: dict[str, set[str]] = {}

    def add(self, witness: dict[str, Any]) -> None:
        """Fold one witness (from `witness_from_entry`) into the model."""
        self.witness_count += 1
        segments = witness["path"].split("/")[1:]
        if segments == [""]:
            segments = []
        if len(segments) > MAX_SEGMENTS:
            # keeps the trie (and the recursion over it) shallow on absurd paths
            segments = [*segments[: MAX_SEGMENTS - 1], "/".join(segments[MAX_SEGMENTS - 1 :])]
        if not self.hints.show_default_hidden and is_default_hidden(segments):
            return
        if self._hidden and any(matches(pattern, segments) for pattern in self._hidden):
            return
        host = witness["host"]
        trie = self._tries.get(host)
        if trie is None:
            trie = self._tries[host] = PathTrie(self._forced, self._static)
        node = trie.insert(segments, witness.get("path_echoes", ()))
        stats = node.endpoints.get(witness["method"])
        if stats is None:
            stats = node.endpoints[witness["method"]] = EndpointStats()
        stats.add(witness)
        self._servers.add(f"{witness['scheme']}://{host}")
        claims = witness["auth"].get("claims")
        if claims is not None:
            self._claims.setdefault(witness["auth"]["scheme"], set()).update(claims)

    def result(self) -> ApiModel:
        """The model so far (see `model_types.ApiModel`); more witnesses may follow."""
        endpoints = [
            stats.to_model(method, host, template, params)
            for host, trie in self._tries.items()
            for template, params, node in trie.templates()
            for method, stats in node.endpoints.items()
        ]
        endpoints.sort(key=lambda e: (e["host"], e["path"], e["method"]))
        schemes = sorted({name for e in endpoints for name in e["auth"] if name != "none"})
        return {
            "witness_count": self.witness_count,
            "servers": sorted(self._servers),
            "endpoints": endpoints,
            "security_schemes": {name: security_scheme(name, sorted(self._claims.get(name, ()))) for name in schemes},
        }
