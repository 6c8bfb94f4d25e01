from typing import Any

from celery import shared_task
from django.conf import settings

from apimodels import services


# acks_late + reject_on_worker_lost: a build whose worker dies comes back to the queue, and its claim lets the
# same task id start it over. A build past the time limit fails with that said (the soft limit raises in it).
@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.MODEL_BUILD_TIME_LIMIT - 60,
    time_limit=settings.MODEL_BUILD_TIME_LIMIT,
)
def model_build(self: Any, model_id: int) -> None:
    services.model_build(model_id=model_id, task_id=self.request.id)


@shared_task
def models_build_live() -> None:
    services.models_build_live()


@shared_task
def model_builds_requeue() -> None:
    services.model_builds_requeue()
