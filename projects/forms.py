"""Console forms for accounts, projects, members and API keys."""

import hashlib
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

from controlplane.forms import ConsoleForm, LowercaseField, NoLabelColon
from projects.models import ApiKey, User


class LoginForm(NoLabelColon, AuthenticationForm):
    """Sign-in, refused for a while after LOGIN_MAX_FAILURES wrong passwords for a username from one address."""

    def clean(self) -> dict[str, Any]:
        username = str(self.data.get("username", ""))
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        key = "login-failures:" + hashlib.sha256(f"{username}\n{address}".encode()).hexdigest()
        if cache.get(key, 0) >= settings.LOGIN_MAX_FAILURES:
            minutes = int(settings.LOGIN_LOCKOUT.total_seconds() // 60)
            raise ValidationError(
                f"Too many failed sign-ins for this username from your address; try again in {minutes} minutes.",
                code="throttled",
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            cache.add(key, 0, settings.LOGIN_LOCKOUT.total_seconds())
            cache.incr(key)
            raise
        cache.delete(key)
        return cleaned


class SignUpForm(NoLabelColon, UserCreationForm):  # type: ignore[type-arg]
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)


class ProjectForm(ConsoleForm):
    name = LowercaseField(
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
