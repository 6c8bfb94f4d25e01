"""The Celery app: queues and periodic tasks are declared here, in one place."""

import os
from enum import StrEnum

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")


class Queue(StrEnum):
    INGEST = "ingest"
    MODELS = "models"
    ALERTS = "alerts"


app = Celery("pawprint")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_queue = Queue.INGEST
app.conf.task_routes = {
    "apimodels.tasks.model_build": {"queue": Queue.MODELS},
    "alerts.tasks.delivery_send": {"queue": Queue.ALERTS},
}
app.conf.beat_schedule = {
    "close-ended-traces": {
        "task": "traces.tasks.traces_close_ended",
        "schedule": 15.0,
        "options": {"expires": 15.0},
    },
    "build-active-traces": {
        "task": "apimodels.tasks.models_build_live",
        "schedule": 30.0,
        "options": {"expires": 30.0},
    },
    # Builds whose worker died, and builds queued while the broker was down or waiting for a trace's grace period.
    "requeue-model-builds": {
        "task": "apimodels.tasks.model_builds_requeue",
        "schedule": 30.0,
        "options": {"expires": 30.0},
    },
    # Daemon status transitions are notified within 30 s: beat reads them every 10 s.
    "watch-daemons": {
        "task": "alerts.tasks.daemons_watch",
        "schedule": 10.0,
        "options": {"expires": 10.0},
    },
    "watch-models": {
        "task": "alerts.tasks.models_watch",
        "schedule": 10.0,
        "options": {"expires": 10.0},
    },
    "delete-expired-daemons": {
        "task": "daemons.tasks.daemons_delete_expired",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    "purge-old-witnesses": {
        "task": "traces.tasks.witnesses_purge",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}
app.autodiscover_tasks()
