from celery import shared_task

from daemons import services


@shared_task
def daemons_delete_expired() -> None:
    services.daemons_delete_expired()
