import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from controlplane.errors import Invalid, NotFound
from projects.models import ApiKey, Membership, Project, User, slug_validator


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# Words of the console's URLs right after /projects/ (projects/new/), which a project name would shadow.
RESERVED_PROJECT_NAMES = frozenset({"new"})


def project_create(*, owner: User, name: str) -> Project:
    try:
        slug_validator(name)
    except ValidationError as error:
        raise Invalid(" ".join(error.messages), field="name") from error
    if name in RESERVED_PROJECT_NAMES:
        raise Invalid(f"{name!r} is reserved; choose another name.", field="name")
    if Project.objects.filter(owner=owner, name=name).exists():
        raise Invalid("You already have a project with this name.", field="name")
    try:
        with transaction.atomic():
            return Project.objects.create(owner=owner, name=name)
    except IntegrityError as error:  # a concurrent create with the same name
        raise Invalid("You already have a project with this name.", field="name") from error


# Who may delete a project or change its members is the gate's to say (owner-only routes in the URLconf).


def project_delete(*, project: Project) -> None:
    project.delete()


def membership_add(*, project: Project, username: str) -> Membership:
    member = User.objects.filter(username=username).first()
    if member is None:
        raise Invalid("No user with this username.", field="username")
    if member.pk == project.owner_id:
        raise Invalid("The owner is already in the project.", field="username")
    membership, _ = Membership.objects.get_or_create(project=project, user=member)
    return membership


def membership_remove(*, project: Project, username: str) -> None:
    Membership.objects.filter(project=project, user__username=username).delete()


def api_key_create(*, user: User, name: str = "", scope: str = ApiKey.Scope.INGEST) -> tuple[ApiKey, str]:
    """Create a key; returns it with its secret, which is never shown again."""
    if scope not in ApiKey.Scope.values:
        raise Invalid(f"Must be one of: {', '.join(ApiKey.Scope.values)}.", field="scope")
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(user=user, name=name, scope=scope, secret_hash=hash_secret(secret))
    return key, secret


def api_key_revoke(*, user: User, key_id: str) -> ApiKey:
    key = ApiKey.objects.filter(user=user, public_id=key_id, revoked_at__isnull=True).first()
    if key is None:
        raise NotFound("No such API key.")
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    return key
