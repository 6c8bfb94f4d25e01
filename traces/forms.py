"""Console forms for starting, renaming and uploading traces."""

from django import forms
from django.core.validators import RegexValidator
from django.forms.utils import ErrorDict

from controlplane.forms import ConsoleForm, LowercaseField
from traces.names import duration_label
from traces.services import DURATION_PRESETS_MINUTES, TRACE_NAME_PATTERN


def trace_name_field(*, required: bool, placeholder: str) -> LowercaseField:
    return LowercaseField(
        required=required,
        max_length=100,
        validators=[RegexValidator(TRACE_NAME_PATTERN, "Use 2 to 100 lowercase letters, digits and dashes.")],
        widget=forms.TextInput(attrs={"placeholder": placeholder, "autocomplete": "off"}),
    )


class TraceStartForm(ConsoleForm):
    duration_minutes = forms.TypedChoiceField(
        label="Duration",
        coerce=int,
        choices=[(minutes, duration_label(minutes)) for minutes in DURATION_PRESETS_MINUTES],
        initial=60,
    )
    name = trace_name_field(required=False, placeholder="optional, e.g. checkout-flow")


class TraceRenameForm(ConsoleForm):
    name = trace_name_field(required=True, placeholder="e.g. checkout-flow")


class HarUploadForm(ConsoleForm):
    file = forms.FileField(label="HAR file", widget=forms.ClearableFileInput(attrs={"accept": ".har,.json"}))

    @classmethod
    def failed(cls, errors: list[str]) -> "HarUploadForm":
        """An empty form showing why the last upload failed: the upload redirected back (POST/redirect/GET),
        so a reload does not send the file again."""
        form = cls()
        form._errors = ErrorDict({"file": form.error_class(errors)})  # type: ignore[attr-defined]
        return form
