# A model was stored twice: whole in ModelVersion.document and endpoint by endpoint in ModelEndpoint.detail.
# The endpoint rows stay the storage; the version keeps only the model-level parts, copied from the document.

from django.db import migrations, models


def document_to_parts(apps, schema_editor):
    ModelVersion = apps.get_model("apimodels", "ModelVersion")
    for version in ModelVersion.objects.exclude(document=None).only("pk", "document").iterator(chunk_size=10):
        document = version.document
        ModelVersion.objects.filter(pk=version.pk).update(
            witness_count=document.get("witness_count", 0),
            servers=document.get("servers", []),
            security_schemes=document.get("security_schemes", {}),
        )


def parts_to_document(apps, schema_editor):
    ModelVersion = apps.get_model("apimodels", "ModelVersion")
    ModelEndpoint = apps.get_model("apimodels", "ModelEndpoint")
    for version in ModelVersion.objects.filter(status="ready").iterator(chunk_size=10):
        endpoints = ModelEndpoint.objects.filter(model_version=version).order_by("pk")
        version.document = {
            "witness_count": version.witness_count,
            "servers": version.servers,
            "endpoints": list(endpoints.values_list("detail", flat=True)),
            "security_schemes": version.security_schemes,
        }
        version.save(update_fields=["document"])


class Migration(migrations.Migration):
    dependencies = [("apimodels", "0002_own_tables_and_path_hints")]

    operations = [
        migrations.AddField(
            model_name="modelversion", name="witness_count", field=models.PositiveIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="modelversion", name="servers", field=models.JSONField(blank=True, default=list)
        ),
        migrations.AddField(
            model_name="modelversion", name="security_schemes", field=models.JSONField(blank=True, default=dict)
        ),
        migrations.RunPython(document_to_parts, parts_to_document),
        migrations.RemoveField(model_name="modelversion", name="document"),
    ]
