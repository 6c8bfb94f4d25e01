from django.db import migrations
from django.db.models import Max


def start_the_scan_at_the_newest_model(apps, schema_editor):
    """Alerts are about what happens from now on: the scan of model versions starts past today's newest."""
    newest = apps.get_model("apimodels", "ModelVersion").objects.aggregate(newest=Max("pk"))["newest"] or 0
    apps.get_model("alerts", "ModelScan").objects.update_or_create(pk=1, defaults={"settled_through": newest})


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("apimodels", "0003_one_stored_model"),
    ]

    operations = [migrations.RunPython(start_the_scan_at_the_newest_model, migrations.RunPython.noop)]
