# Columns the endpoints table sorts, filters and groups on (5xx count and rate, path prefix, sensitive kinds) and
# the shape digest diffs compare,
# filled in from each stored endpoint's JSON, and an index per order the console pages endpoints by.

from django.db import migrations, models


def fill_columns(apps, schema_editor):
    from apimodels.models import ModelEndpoint as Current

    ModelEndpoint = apps.get_model("apimodels", "ModelEndpoint")
    rows = ModelEndpoint.objects.only("pk", "model_version_id", "detail").iterator(chunk_size=2000)
    fields = ["error_count", "error_rate", "path_prefix", "sensitive", "shape"]
    batch = []
    for row in rows:
        filled = Current.of(row.model_version_id, row.detail)
        for name in fields:
            setattr(row, name, getattr(filled, name))
        batch.append(row)
        if len(batch) == 2000:
            ModelEndpoint.objects.bulk_update(batch, fields)
            batch = []
    ModelEndpoint.objects.bulk_update(batch, fields)


class Migration(migrations.Migration):

    dependencies = [
        ('apimodels', '0005_endpoint_lists_unbounded'),
    ]

    operations = [
        migrations.AddField(
            model_name='modelendpoint',
            name='error_count',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='modelendpoint',
            name='error_rate',
            field=models.FloatField(default=0),
        ),
        migrations.AddField(
            model_name='modelendpoint',
            name='path_prefix',
            field=models.CharField(default='/', max_length=2000),
        ),
        migrations.AddField(
            model_name='modelendpoint',
            name='sensitive',
            field=models.CharField(default='', max_length=500),
        ),
        migrations.AddField(
            model_name='modelendpoint',
            name='shape',
            field=models.CharField(default='', max_length=32),
        ),
        migrations.RunPython(fill_columns, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='modelendpoint',
            index=models.Index(fields=['model_version', 'host', 'path', 'method'], name='endpoint_by_host_path'),
        ),
        migrations.AddIndex(
            model_name='modelendpoint',
            index=models.Index(fields=['model_version', 'path_prefix', 'path'], name='endpoint_by_prefix'),
        ),
        migrations.AddIndex(
            model_name='modelendpoint',
            index=models.Index(fields=['model_version', 'method'], name='endpoint_by_method'),
        ),
        migrations.AddIndex(
            model_name='modelendpoint',
            index=models.Index(fields=['model_version', 'shape', 'id'], name='endpoint_by_shape'),
        ),
        migrations.AddIndex(
            model_name='modelendpoint',
            index=models.Index(fields=['model_version', 'count'], name='endpoint_by_count'),
        ),
        migrations.AddIndex(
            model_name='modelendpoint',
            index=models.Index(fields=['model_version', 'error_rate'], name='endpoint_by_error_rate'),
        ),
        migrations.AddIndex(
            model_name='modelendpoint',
            index=models.Index(fields=['model_version', 'latency_p99_ms'], name='endpoint_by_p99'),
        ),
        migrations.AddIndex(
            model_name='modelendpoint',
            index=models.Index(fields=['model_version', 'last_seen'], name='endpoint_by_last_seen'),
        ),
    ]
