"""Work-state metrics for /metrics, read from the database (and the Redis broker) at scrape time.

Celery workers are other processes, so their work is measured where it is recorded: model builds by
status and duration, queue lengths, active traces and healthy daemons.
"""

from collections.abc import Iterator
from datetime import timedelta

import redis
from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controlplane.celery import Queue


class WorkCollector(Collector):
    def describe(self) -> Iterator[Metric]:
        # Without this, registering would call collect() and query the database at start-up.
        yield GaugeMetricFamily("pawprint_model_builds", "Model builds by status", labels=["status"])

    def collect(self) -> Iterator[Metric]:
        from apimodels.models import ModelVersion
        from daemons.models import HEALTHY_WITHIN, Daemon
        from traces.models import Trace

        now = timezone.now()
        builds = GaugeMetricFamily("pawprint_model_builds", "Model builds by status", labels=["status"])
        for status, count in ModelVersion.objects.values_list("status").annotate(count=Count("id")).order_by():
            builds.add_metric([status], count)
        yield builds

        finished = ModelVersion.objects.filter(status=ModelVersion.BuildStatus.READY, started_at__isnull=False)
        totals = finished.aggregate(
            seconds=Sum(ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())),
            witnesses=Sum("processed"),
        )
        seconds = CounterMetricFamily("pawprint_model_build_seconds", "Time spent in finished model builds")
        seconds.add_metric([], (totals["seconds"] or timedelta(0)).total_seconds())
        yield seconds
        witnesses = CounterMetricFamily("pawprint_model_build_witnesses", "Witnesses folded by finished builds")
        witnesses.add_metric([], totals["witnesses"] or 0)
        yield witnesses

        active = Trace.objects.filter(started_at__lte=now, ends_at__gt=now, stopped_at__isnull=True).count()
        yield GaugeMetricFamily("pawprint_active_traces", "Traces capturing now", value=active)
        healthy = Daemon.objects.filter(last_heartbeat_at__gt=now - HEALTHY_WITHIN).count()
        yield GaugeMetricFamily("pawprint_healthy_daemons", "Daemons heard from in the last minute", value=healthy)

        if settings.REDIS_URL:
            queued = GaugeMetricFamily("pawprint_celery_queue_length", "Tasks waiting per queue", labels=["queue"])
            client = redis.Redis.from_url(settings.REDIS_URL)
            try:
                for queue in Queue:
                    queued.add_metric([queue.value], client.llen(queue.value))
            except redis.RedisError:
                pass  # /health/ reports Redis; metrics stay available without it
            finally:
                client.close()
            yield queued
