# Path hints now live in apimodels.ProjectPathHints, copied there by apimodels 0002.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0001_initial"),
        ("apimodels", "0002_own_tables_and_path_hints"),
    ]

    operations = [
        migrations.RemoveField(model_name="project", name="path_hints"),
    ]
