from celery import shared_task

from traces import services, uploads


@shared_task
def traces_close_ended() -> None:
    services.traces_close_ended()


@shared_task
def witnesses_purge() -> None:
    services.witnesses_purge()


@shared_task
def har_import(trace_id: int) -> None:
    uploads.har_import(trace_id=trace_id)
