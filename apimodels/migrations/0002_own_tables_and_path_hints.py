# The adopted tables get apimodels' names; a project's path hints move from a column of Project to their
# own table (projects 0002 drops the column once they are copied).

import django.db.models.deletion
from django.db import migrations, models

DEFAULT_HINTS = {"force": [], "static": [], "hidden": [], "show_default_hidden": False}


def path_hints_forwards(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    ProjectPathHints = apps.get_model("apimodels", "ProjectPathHints")
    ModelVersion = apps.get_model("apimodels", "ModelVersion")
    for project_id, hints in Project.objects.exclude(path_hints={}).values_list("pk", "path_hints").iterator():
        ProjectPathHints.objects.create(project_id=project_id, **{**DEFAULT_HINTS, **hints})
    # A build records the hints it used; "none saved" was {} and is now the defaults, spelled out.
    ModelVersion.objects.filter(path_hints={}).update(path_hints=DEFAULT_HINTS)


def path_hints_backwards(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    ProjectPathHints = apps.get_model("apimodels", "ProjectPathHints")
    for hints in ProjectPathHints.objects.iterator():
        fields = {name: getattr(hints, name) for name in DEFAULT_HINTS}
        Project.objects.filter(pk=hints.project_id).update(path_hints=fields)


class Migration(migrations.Migration):
    dependencies = [
        ("apimodels", "0001_initial"),
        ("traces", "0002_models_move_to_apimodels"),
        ("projects", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelTable(name="modelversion", table=None),
        migrations.AlterModelTable(name="modelendpoint", table=None),
        migrations.RenameField(model_name="modelendpoint", old_name="api_model", new_name="model_version"),
        migrations.CreateModel(
            name="ProjectPathHints",
            fields=[
                (
                    "project",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="path_hints",
                        serialize=False,
                        to="projects.project",
                    ),
                ),
                ("force", models.JSONField(default=list)),
                ("static", models.JSONField(default=list)),
                ("hidden", models.JSONField(default=list)),
                ("show_default_hidden", models.BooleanField(default=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RunPython(path_hints_forwards, path_hints_backwards),
    ]
