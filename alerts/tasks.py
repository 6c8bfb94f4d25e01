from celery import shared_task

from alerts import events, services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def delivery_send(delivery_id: int) -> None:
    """Send one delivery; after a failed attempt, queue the next one after an exponential backoff."""
    retry_in = services.delivery_attempt(delivery_id=delivery_id)
    if retry_in is not None:
        delivery_send.apply_async((delivery_id,), countdown=retry_in)


@shared_task
def daemons_watch() -> None:
    events.daemons_watch()


@shared_task
def models_watch() -> None:
    events.models_watch()
