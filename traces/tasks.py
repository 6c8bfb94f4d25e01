from celery import shared_task

from traces import services


@shared_task
def traces_close_ended() -> None:
    services.traces_close_ended()


@shared_task
def witnesses_purge() -> None:
    services.witnesses_purge()
