from django.db.models import Case, Q, QuerySet, Value, When

from controlplane.errors import NotFound
from projects.models import ApiKey, Project, User


def projects_for_user(*, user: User) -> QuerySet[Project]:
    return Project.objects.filter(Q(owner=user) | Q(memberships__user=user)).distinct().select_related("owner")


def project_for_user(*, user: User, project_ref: str) -> Project:
    """A project by id or name, visible to its owner and members; NotFound otherwise (see projects.gate)."""
    field = "public_id" if project_ref.startswith("prj_") else "name"
    matches = projects_for_user(user=user).filter(**{field: project_ref})
    # An owned project wins over a same-named project the user is a member of.
    owned_first = Case(When(owner=user, then=Value(0)), default=Value(1))
    project = matches.annotate(owned_first=owned_first).order_by("owned_first", "id").first()
    if project is None:
        raise NotFound("No such project.")
    return project


def project_members(*, project: Project) -> list[User]:
    return [membership.user for membership in project.memberships.select_related("user").order_by("user__username")]


def api_keys_for_user(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)
