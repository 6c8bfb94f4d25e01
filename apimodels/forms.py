"""The path hints form: one template per line in three textareas."""

import re
from typing import Any

from django import forms

from apimodel.builder import PathHints
from apimodels.services import path_template_problem
from controlplane.errors import Invalid
from controlplane.forms import ConsoleForm


def _template_lines(text: str) -> list[tuple[int, str]]:
    """(line number, template) of the non-blank lines of a textarea."""
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


HINTS_TEXTAREA = forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "autocomplete": "off"})


class PathHintsForm(ConsoleForm):
    """The project's path hints, one template per line; the service checks each template."""

    LISTS = ("force", "static", "hidden")

    force = forms.CharField(
        label="Force templates",
        required=False,
        widget=HINTS_TEXTAREA,
        help_text="Templates that win over inference; a {name} segment matches any one segment. "
        "E.g. /files/{path} or /users/{user_id}/avatar",
    )
    static = forms.CharField(
        label="Keep static",
        required=False,
        widget=HINTS_TEXTAREA,
        help_text="Paths whose segments are words, never parameters. E.g. /users/me or /v1/search/recent",
    )
    hidden = forms.CharField(
        label="Hide",
        required=False,
        widget=HINTS_TEXTAREA,
        help_text="Templates or prefixes left out of the model. E.g. /internal or /admin/{page}",
    )
    show_default_hidden = forms.BooleanField(
        label="Show health checks and static assets (hidden by default)",
        required=False,
        help_text="Paths like /health, /ping, /favicon.ico or *.css and *.js.",
    )

    @classmethod
    def initial_from(cls, hints: PathHints) -> dict[str, Any]:
        return {
            **{name: "\n".join(getattr(hints, name)) for name in cls.LISTS},
            "show_default_hidden": hints.show_default_hidden,
        }

    def clean(self) -> dict[str, Any]:
        """Every malformed line of every list, each under its textarea (the service would stop at the first)."""
        cleaned = super().clean() or {}
        for name in self.LISTS:
            for number, template in _template_lines(cleaned.get(name, "")):
                if problem := path_template_problem(template):
                    self.add_error(name, f"Line {number} ({template}): {problem}")
        return cleaned

    def templates(self) -> dict[str, Any]:
        """The cleaned data as the service takes it: lists of templates and the checkbox."""
        data: dict[str, Any] = {
            name: [template for _, template in _template_lines(self.cleaned_data[name])] for name in self.LISTS
        }
        return {**data, "show_default_hidden": self.cleaned_data["show_default_hidden"]}

    def add_invalid(self, error: Invalid) -> None:
        """`force[2]` from the service becomes an error under Force naming the textarea's line."""
        name = error.field or ""
        match = re.fullmatch(r"(\w+)\[(\d+)\]", name)
        field = match.group(1) if match else name
        if field not in self.LISTS:
            self.add_error(None, f"{name}: {error.message}" if name else error.message)
            return
        prefix = ""
        if match:
            number, template = _template_lines(self.cleaned_data.get(field, ""))[int(match.group(2))]
            prefix = f"Line {number} ({template}): "
        self.add_error(field, prefix + error.message)
