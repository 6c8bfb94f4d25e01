from django.db.models import Q, QuerySet
from django.http import Http404

from projects.models import ApiKey, Project, User


def projects_for_user(*, user: User) -> QuerySet[Project]:
    return Project.objects.filter(Q(owner=user) | Q(memberships__user=user)).distinct().select_related("owner")


def project_for_user(*, user: User, project_ref: str) -> Project:
    """The one gate for project-scoped URLs: by id or name, visible to owner and members; 404 otherwise."""
    projects = projects_for_user(user=user)
    field = "public_id" if project_ref.startswith("prj_") else "name"
    matches = projects.filter(**{field: project_ref})
    # An owned project wins over a same-named project the user is a member of.
    project = matches.filter(owner=user).first() or matches.order_by("id").first()
    if project is None:
        raise Http404("No such project.")
    return project


def project_members(*, project: Project) -> list[User]:
    return [membership.user for membership in project.memberships.select_related("user").order_by("user__username")]


def api_keys_for_user(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)
