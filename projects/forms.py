"""Console forms. They validate shape; services enforce the rules and raise ValidationError naming the field."""

import re
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError

from projects.models import ApiKey, User
from traces.services import DURATION_PRESETS_MINUTES


def add_service_errors(form: forms.Form, error: ValidationError, default_field: str | None = None) -> None:
    """Show a service's ValidationError next to the field it names ("file.log.entries[3]" → `file`)."""
    if not hasattr(error, "error_dict"):
        form.add_error(default_field, error)
        return
    for name, errors in error.error_dict.items():
        field = re.split(r"[.\[]", name, maxsplit=1)[0]
        messages = [message for item in errors for message in item.messages]
        if field in form.fields:
            prefix = "" if field == name else f"{name[len(field) :].lstrip('.')}: "
            form.add_error(field, [prefix + message for message in messages])
        else:
            form.add_error(default_field, [f"{name}: {message}" for message in messages])


class NoLabelColon:
    """Labels without Django's trailing colon."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class ConsoleForm(NoLabelColon, forms.Form):
    pass


class LoginForm(NoLabelColon, AuthenticationForm):
    pass


class SignUpForm(NoLabelColon, UserCreationForm):  # type: ignore[type-arg]
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)


class ProjectForm(ConsoleForm):
    name = forms.CharField(
        max_length=64,
        help_text="A slug, e.g. shop-api: what the daemon's --project and AKITA_SERVICE_NAME carry.",
        widget=forms.TextInput(attrs={"placeholder": "shop-api", "autocomplete": "off"}),
    )


class MemberForm(ConsoleForm):
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "off"}))


class ApiKeyForm(ConsoleForm):
    name = forms.CharField(
        max_length=100, required=False, widget=forms.TextInput(attrs={"placeholder": "e.g. prod daemon"})
    )
    scope = forms.ChoiceField(choices=ApiKey.Scope.choices, initial=ApiKey.Scope.INGEST)


def duration_label(minutes: int) -> str:
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h"


class TraceStartForm(ConsoleForm):
    duration_minutes = forms.TypedChoiceField(
        label="Duration",
        coerce=int,
        choices=[(minutes, duration_label(minutes)) for minutes in DURATION_PRESETS_MINUTES],
        initial=60,
    )
    name = forms.RegexField(
        regex=r"^[a-z0-9][a-z0-9-]{0,98}[a-z0-9]$",
        required=False,
        error_messages={"invalid": "Use 2 to 100 lowercase letters, digits and dashes."},
        widget=forms.TextInput(attrs={"placeholder": "optional, e.g. checkout-flow", "autocomplete": "off"}),
    )


class HarUploadForm(ConsoleForm):
    file = forms.FileField(label="HAR file", widget=forms.ClearableFileInput(attrs={"accept": ".har,.json"}))


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
    def initial_from(cls, hints: Any) -> dict[str, Any]:
        return {
            **{name: "\n".join(getattr(hints, name)) for name in cls.LISTS},
            "show_default_hidden": hints.show_default_hidden,
        }

    def templates(self) -> dict[str, Any]:
        """The cleaned data as the service takes it: lists of templates and the checkbox."""
        data: dict[str, Any] = {
            name: [template for _, template in _template_lines(self.cleaned_data[name])] for name in self.LISTS
        }
        return {**data, "show_default_hidden": self.cleaned_data["show_default_hidden"]}

    def add_service_errors(self, error: ValidationError) -> None:
        """`force[2]` from the service becomes an error under Force naming the textarea's line."""
        # read before add_error, which drops the field from cleaned_data
        lines = {name: _template_lines(self.cleaned_data.get(name, "")) for name in self.LISTS}
        for name, errors in error.message_dict.items():
            match = re.fullmatch(r"(\w+)\[(\d+)\]", name)
            field = match.group(1) if match else name
            if field not in self.LISTS:
                self.add_error(None, [f"{name}: {message}" for message in errors])
                continue
            prefix = ""
            if match:
                number, template = lines[field][int(match.group(2))]
                prefix = f"Line {number} ({template}): "
            self.add_error(field, [prefix + message for message in errors])
