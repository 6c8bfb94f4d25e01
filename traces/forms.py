"""Console forms for starting traces and uploading HAR files."""

from django import forms

from controlplane.forms import ConsoleForm
from traces.services import DURATION_PRESETS_MINUTES


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
