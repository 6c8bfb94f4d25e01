from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from projects.models import ApiKey, User
from projects.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a user; the last line printed is KEY_ID:SECRET (shown only now)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--scope", choices=ApiKey.Scope.values, default=ApiKey.Scope.INGEST)
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, username: str, scope: str, name: str, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}; create one with createsuperuser or sign up first.")
        key, secret = api_key_create(user=user, name=name, scope=scope)
        self.stderr.write(f"Created {scope} key {key.public_id} for {username}. The secret is shown only once:")
        self.stdout.write(f"{key.public_id}:{secret}")
