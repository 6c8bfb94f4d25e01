"""Console forms for accounts, projects, members and API keys."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from controlplane.forms import ConsoleForm, LowercaseField, NoLabelColon
from projects.models import ApiKey, User


class LoginForm(NoLabelColon, AuthenticationForm):
    pass


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
