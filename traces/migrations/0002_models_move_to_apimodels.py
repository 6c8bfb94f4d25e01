# ApiModel and Endpoint moved to apimodels (as ModelVersion and ModelEndpoint), which adopted their tables.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("traces", "0001_initial"),
        ("apimodels", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Endpoint"),
                migrations.DeleteModel(name="ApiModel"),
            ],
            database_operations=[],
        ),
    ]
