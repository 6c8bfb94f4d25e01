"""Console forms for alert channels and monitors; the services check the rules and raise `Invalid`."""

from django import forms

from alerts.models import AlertChannel, Monitor
from controlplane.forms import ConsoleForm


class ChannelForm(ConsoleForm):
    kind = forms.ChoiceField(choices=AlertChannel.Kind.choices, initial=AlertChannel.Kind.WEBHOOK)
    name = forms.CharField(
        max_length=100, required=False, widget=forms.TextInput(attrs={"placeholder": "e.g. on-call"})
    )
    url = forms.CharField(
        label="URL",
        max_length=2000,
        required=False,
        help_text="Webhook or Slack incoming-webhook URL.",
        widget=forms.TextInput(attrs={"placeholder": "https://hooks.example.com/pawprint", "autocomplete": "off"}),
    )
    email = forms.CharField(max_length=254, required=False, help_text="Email channels.")


class MonitorForm(ConsoleForm):
    kind = forms.ChoiceField(
        choices=[(Monitor.Kind.ERRORS, "5xx error rate (%)"), (Monitor.Kind.LATENCY, "p99 latency (ms)")]
    )
    threshold = forms.FloatField(help_text="Alert above this: percent, or milliseconds.")
    min_requests = forms.IntegerField(label="Min requests", initial=20, min_value=1)
    endpoint = forms.CharField(
        max_length=2100,
        required=False,
        help_text="Blank for every endpoint, or one: GET /v1/users/{id}",
        widget=forms.TextInput(attrs={"placeholder": "every endpoint", "autocomplete": "off"}),
    )
