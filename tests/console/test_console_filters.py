from datetime import UTC, datetime, timedelta

import time_machine
from django.template import engines

T0 = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)


def rendered(when: datetime) -> str:
    return engines["django"].from_string("{% load console %}{{ when|ago }}").render({"when": when})


def test_ago_is_a_time_element_relative_in_words_and_exact_in_its_title() -> None:
    with time_machine.travel(T0, tick=False):
        assert rendered(T0 - timedelta(hours=2, minutes=5)) == (
            '<time datetime="2026-01-05T09:55:00+00:00" title="2026-01-05 09:55:00 UTC">'
            "2\xa0hours, 5\xa0minutes ago</time>"
        )
        assert rendered(T0 - timedelta(seconds=30)).endswith(">just now</time>")


def test_select_options_escape_and_mark_the_selected_choice() -> None:
    template = engines["django"].from_string("{% load endpoints %}{% select_options choices selected %}")
    html = template.render({"choices": [("project", "Project model"), ('a"b', "<x> & y")], "selected": 'a"b'})
    assert html == (
        '<option value="project">Project model</option><option value="a&quot;b" selected>&lt;x&gt; &amp; y</option>'
    )


def test_change_mark_says_breaking_or_compatible_and_why() -> None:
    template = engines["django"].from_string("{% load endpoints %}{{ change|change_mark }}")
    assert template.render({"change": {"breaking": False}}) == '<span class="badge compatible">compatible</span>'
    assert template.render({"change": {"breaking": True, "reason": "a <required> field"}}) == (
        '<span class="badge breaking">breaking</span> <span class="muted small reason">a &lt;required&gt; field</span>'
    )
