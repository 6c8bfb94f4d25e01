"""Entries lost on their way to the control plane, counted by reason (the agent's `dropped` maps: see
`agent.accounting` and the README, "Drop accounting"): how the API reads them and how the console says them."""

import re
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# The reasons the agent and pawprint_django report today; another well-formed name is stored as it comes (a newer
# agent's), and shown with its underscores as spaces.
DROP_REASONS = {
    "queue_full": "the middleware's in-process queue was full",
    "agent_unreachable": "the middleware could not deliver to the agent in time",
    "capture_failed": "the middleware could not make an entry of a request",
    "invalid_entry": "the agent could not read an entry as HAR 1.2",
    "sampled_out": "left out on purpose by the trace's sampling rate",
    "buffer_full": "the agent's memory cap was reached",
    "spool_full": "the agent's spool was full while the control plane was unreachable",
    "rate_limited": "the agent's spool was full while the control plane answered 429",
    "rejected": "the control plane refused a batch for good",
    "trace_closed": "the trace no longer took witnesses",
    "unknown_trace": "events for a trace the agent never learnt",
}
# For the API's help texts.
REASONS_HELP = "Reasons: " + "; ".join(f"`{name}`: {say}" for name, say in DROP_REASONS.items()) + "."
MAX_REASONS = 32
MAX_REASON_LENGTH = 40
REASON = re.compile(rf"[a-z0-9_]{{1,{MAX_REASON_LENGTH}}}")
MAX_COUNT = 2**53  # exact in every JSON reader


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
        "maxProperties": MAX_REASONS,
    }
)
class DropCountsField(serializers.DictField):
    """`{"queue_full": 3, ...}`: at most MAX_REASONS reasons of lower-case letters, digits and underscores, each a
    count from 0 to MAX_COUNT; a bad one is an error under its name (`dropped.queue_full`)."""

    child = serializers.IntegerField(min_value=0, max_value=MAX_COUNT)

    def to_internal_value(self, data: Any) -> dict[str, int]:
        if isinstance(data, dict):
            if len(data) > MAX_REASONS:
                raise serializers.ValidationError(f"At most {MAX_REASONS} reasons.")
            for reason in data:
                if not REASON.fullmatch(reason):
                    message = f"A reason is 1 to {MAX_REASON_LENGTH} lower-case letters, digits and underscores."
                    raise serializers.ValidationError({reason[:MAX_REASON_LENGTH]: [message]} if reason else message)
        counts: dict[str, int] = super().to_internal_value(data)
        return {reason: count for reason, count in sorted(counts.items()) if count}


def drops_text(dropped: Mapping[str, int]) -> str:
    """ "3 dropped: queue full", or "4 dropped: 3 queue full, 1 buffer full"; empty when nothing was dropped."""
    counts = {reason: count for reason, count in dropped.items() if count}
    if not counts:
        return ""
    if len(counts) == 1:
        ((reason, count),) = counts.items()
        return f"{count:,} dropped: {reason_name(reason)}"
    by_count = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    reasons = ", ".join(f"{count:,} {reason_name(reason)}" for reason, count in by_count)
    return f"{sum(counts.values()):,} dropped: {reasons}"


def reason_name(reason: str) -> str:
    return reason.replace("_", " ")


def drops_explained(dropped: Mapping[str, int]) -> str:
    """What each reason of a `dropped` map means ("queue full: the middleware's in-process queue was full"), for a
    tooltip."""
    return "; ".join(f"{reason_name(reason)}: {DROP_REASONS[reason]}" for reason in dropped if reason in DROP_REASONS)
