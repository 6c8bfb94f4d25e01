from celery import shared_task

from traces import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def model_build(model_id: int) -> None:
    services.model_build(model_id=model_id)


@shared_task
def traces_close_ended() -> None:
    services.traces_close_ended()


@shared_task
def traces_build_active() -> None:
    services.traces_build_active()


@shared_task
def witnesses_purge() -> None:
    services.witnesses_purge()
