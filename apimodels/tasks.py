from celery import shared_task

from apimodels import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def model_build(model_id: int) -> None:
    services.model_build(model_id=model_id)


@shared_task
def models_build_live() -> None:
    services.models_build_live()
