import functools

from django.db.models import Q, QuerySet

from controlplane.errors import NotFound
from controlplane.rows import columns, fetch_one, instance, table, width
from projects.models import ApiKey, Membership, Project, User


def projects_for_user(*, user: User) -> QuerySet[Project]:
    return Project.objects.filter(Q(owner=user) | Q(memberships__user=user)).distinct().select_related("owner")


@functools.cache
def _project_sql(field: str) -> str:
    """The project of a `field` value that the user owns or is a member of (fixed SQL: `controlplane.rows`), with
    its owner. An owned project wins over a same-named project the user is a member of."""
    return (
        f"SELECT {columns(Project, 'p')}, {columns(User, 'o')} FROM {table(Project)} p"  # noqa: S608 - values bound
        f" JOIN {table(User)} o ON o.id = p.owner_id"
        f" WHERE p.{field} = %s AND (p.owner_id = %s OR EXISTS"
        f" (SELECT 1 FROM {table(Membership)} m WHERE m.project_id = p.id AND m.user_id = %s))"
        " ORDER BY CASE WHEN p.owner_id = %s THEN 0 ELSE 1 END, p.id LIMIT 1"
    )


def project_for_user(*, user: User, project_ref: str) -> Project:
    """A project by id or name, visible to its owner and members; NotFound otherwise (see projects.gate)."""
    field = "public_id" if project_ref.startswith("prj_") else "name"
    row = fetch_one(_project_sql(field), [project_ref, user.pk, user.pk, user.pk])
    if row is None:
        raise NotFound("No such project.")
    project = instance(Project, row)
    project.owner = instance(User, row, width(Project))
    return project


def project_members(*, project: Project) -> list[User]:
    return [membership.user for membership in project.memberships.select_related("user").order_by("user__username")]


def api_keys_for_user(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)
