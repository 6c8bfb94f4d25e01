"""The endpoint page's timeline, laid out on the server for an inline SVG (no JavaScript)."""

import datetime as dt
from typing import Any

WIDTH, HEIGHT = 720, 160
LEFT, RIGHT, TOP, BOTTOM = 44, 56, 10, 24  # room for the axis labels


def timeline_chart(timeline: Any) -> dict[str, Any] | None:
    """Bars of requests (their 5xx part in red) per time bucket and a line of p99, positioned in an SVG of
    WIDTH by HEIGHT; None when the endpoint has no timeline (no timestamps seen, or an older model)."""
    if not isinstance(timeline, dict) or not timeline.get("buckets"):
        return None
    width, buckets = int(timeline["bucket_seconds"]), timeline["buckets"]
    starts = [dt.datetime.fromisoformat(bucket["start"]) for bucket in buckets]
    slots = int((starts[-1] - starts[0]).total_seconds()) // width + 1
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot_width = plot_width / slots
    peak = max(bucket["count"] for bucket in buckets)
    slowest = max((bucket["p99_ms"] or 0 for bucket in buckets), default=0)
    bars, line = [], []
    for start, bucket in zip(starts, buckets, strict=True):
        x = LEFT + int((start - starts[0]).total_seconds()) // width * slot_width
        height = plot_height * bucket["count"] / peak
        error_height = plot_height * bucket["errors"] / peak
        p99 = bucket["p99_ms"]
        bars.append(
            {
                "x": round(x + slot_width * 0.1, 1),
                "width": round(slot_width * 0.8, 1),
                "y": round(TOP + plot_height - height, 1),
                "height": round(height, 1),
                "error_y": round(TOP + plot_height - error_height, 1),
                "error_height": round(error_height, 1),
                "label": f"{start:%Y-%m-%d %H:%M:%S} UTC: {bucket['count']} requests, {bucket['errors']} 5xx"
                + (f", p99 {p99:g} ms" if p99 is not None else ""),
            }
        )
        if p99 is not None and slowest:
            line.append(f"{x + slot_width / 2:.1f},{TOP + plot_height * (1 - p99 / slowest):.1f}")
    end = starts[-1] + dt.timedelta(seconds=width)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "p99_points": " ".join(line),
        "peak": peak,
        "slowest": slowest,
        "bucket_seconds": width,
        "start": starts[0],
        "end": end,
        "axis": {"left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": HEIGHT - BOTTOM, "label_y": HEIGHT - 6},
        "requests": sum(bucket["count"] for bucket in buckets),
        "errors": sum(bucket["errors"] for bucket in buckets),
    }
