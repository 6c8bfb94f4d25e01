"""What every console form shares. Forms validate shape; services enforce the rules and raise `Invalid`."""

import re
from typing import Any

from django import forms

from controlplane.errors import Invalid


def add_invalid(form: forms.Form, error: Invalid, default_field: str | None = None) -> None:
    """Show a service's `Invalid` next to the field it names ("file.log.entries[3]" → under `file`)."""
    name = error.field or ""
    field = re.split(r"[.\[]", name, maxsplit=1)[0]
    if field in form.fields:
        prefix = "" if field == name else f"{name[len(field) :].lstrip('.')}: "
        form.add_error(field, prefix + error.message)
    else:
        form.add_error(default_field, f"{name}: {error.message}" if name else error.message)


class NoLabelColon:
    """Labels without Django's trailing colon."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class ConsoleForm(NoLabelColon, forms.Form):
    pass


class LowercaseField(forms.CharField):
    """A name that is lowercase by rule: `Shop-API` is taken as `shop-api` rather than refused."""

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).lower()
