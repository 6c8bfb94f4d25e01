# The models used to live in traces (ApiModel, Endpoint). This adopts their tables as they are, in state only;
# 0002 renames the tables and the endpoint's foreign key, so existing data stays where it is.

import django.db.models.deletion
from django.db import migrations, models

import controlplane.ids


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("projects", "0001_initial"),
        ("traces", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ModelVersion",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("public_id", controlplane.ids.PublicIdField(editable=False, max_length=32, prefix="mdl", unique=True)),
                        ("version", models.PositiveIntegerField()),
                        ("status", models.CharField(choices=[("queued", "Queued"), ("building", "Building"), ("ready", "Ready"), ("failed", "Failed")], default="queued", max_length=10)),
                        ("processed", models.PositiveIntegerField(default=0)),
                        ("total", models.PositiveIntegerField(default=0)),
                        ("error", models.TextField(blank=True)),
                        ("path_hints", models.JSONField(blank=True, default=dict)),
                        ("incremental", models.BooleanField(default=False)),
                        ("builder_state", models.BinaryField(blank=True, null=True)),
                        ("folded_until", models.DateTimeField(blank=True, null=True)),
                        ("document", models.JSONField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("project", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="model_versions", to="projects.project")),
                        ("trace", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="model_versions", to="traces.trace")),
                    ],
                    options={
                        "db_table": "traces_apimodel",
                        "ordering": ["-version"],
                        "constraints": [
                            models.UniqueConstraint(condition=models.Q(("trace__isnull", False)), fields=("trace", "version"), name="model_version_unique"),
                            models.UniqueConstraint(condition=models.Q(("trace__isnull", True)), fields=("project", "version"), name="project_model_version_unique"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ModelEndpoint",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("public_id", controlplane.ids.PublicIdField(editable=False, max_length=32, prefix="ept", unique=True)),
                        ("method", models.CharField(max_length=16)),
                        ("host", models.CharField(max_length=255)),
                        ("path", models.CharField(max_length=2000)),
                        ("count", models.PositiveIntegerField()),
                        ("auth", models.CharField(max_length=500)),
                        ("status_codes", models.CharField(max_length=500)),
                        ("latency_p50_ms", models.FloatField(null=True)),
                        ("latency_p90_ms", models.FloatField(null=True)),
                        ("latency_p99_ms", models.FloatField(null=True)),
                        ("first_seen", models.DateTimeField(null=True)),
                        ("last_seen", models.DateTimeField(null=True)),
                        ("detail", models.JSONField()),
                        ("api_model", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="endpoints", to="apimodels.modelversion")),
                    ],
                    options={
                        "db_table": "traces_endpoint",
                        "ordering": ["host", "path", "method"],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
