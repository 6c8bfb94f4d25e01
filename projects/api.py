from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.schema import errors
from projects.auth import ApiRequest
from projects.gate import ProjectApiView
from projects.models import ApiKey
from projects.selectors import api_keys_for_user, project_members, projects_for_user
from projects.services import api_key_create, api_key_revoke, membership_add, project_create, project_delete


class ProjectSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id", help_text="prj_…")
    name = serializers.CharField()
    owner = serializers.CharField(source="owner.username", help_text="The owner's username.")
    created_at = serializers.DateTimeField()


class ProjectCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(
        max_length=64, help_text="A slug, unique among your projects: what a daemon's `--project` carries."
    )


@extend_schema(tags=["projects"])
class ProjectListCreateApi(APIView):
    @extend_schema(
        operation_id="projects_list",
        summary="List your projects",
        description="The projects you own or are a member of.",
        responses={200: ProjectSerializer(many=True), **errors(401, 403)},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(ProjectSerializer(projects_for_user(user=request.user), many=True).data)

    @extend_schema(
        operation_id="projects_create",
        summary="Create a project",
        description="Create a project you own; its name must be new among your projects.",
        request=ProjectCreateSerializer,
        responses={201: ProjectSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: ApiRequest) -> Response:
        serializer = ProjectCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = project_create(owner=request.user, **serializer.validated_data)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["projects"])
class ProjectDetailApi(ProjectApiView):
    @extend_schema(
        operation_id="projects_retrieve",
        summary="Read a project",
        description="A project you own or are a member of, by id or name.",
        responses={200: ProjectSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(ProjectSerializer(self.project).data)

    @extend_schema(
        operation_id="projects_delete",
        summary="Delete a project",
        description="Delete the project with its traces, stored witnesses, models and daemons. Owner only.",
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request: ApiRequest) -> Response:
        project_delete(project=self.project)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id", help_text="usr_…")
    username = serializers.CharField()


class MemberAddSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150, help_text="The username of the user to add.")


@extend_schema(tags=["projects"])
class ProjectMembersApi(ProjectApiView):
    @extend_schema(
        operation_id="project_members_list",
        summary="List a project's members",
        description="The users other than the owner who may use the project.",
        responses={200: MemberSerializer(many=True), **errors(401, 403, 404)},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(MemberSerializer(project_members(project=self.project), many=True).data)

    @extend_schema(
        operation_id="project_members_add",
        summary="Add a member",
        description="Let another user see and use the project (adding a member twice changes nothing). Owner only.",
        request=MemberAddSerializer,
        responses={201: MemberSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request: ApiRequest) -> Response:
        serializer = MemberAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = membership_add(project=self.project, **serializer.validated_data)
        return Response(MemberSerializer(membership.user).data, status=status.HTTP_201_CREATED)


class ApiKeySerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id", help_text="apk_…: the KEY_ID of the credentials.")
    name = serializers.CharField()
    scope = serializers.ChoiceField(choices=ApiKey.Scope.values)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="Written at most once a minute.")


class ApiKeyCreatedSerializer(ApiKeySerializer):
    secret = serializers.CharField(help_text="Shown only in this reply.")
    credentials = serializers.CharField(help_text="KEY_ID:SECRET, for HTTP Basic auth.")


class ApiKeyCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    scope = serializers.ChoiceField(
        choices=ApiKey.Scope.values,
        default=ApiKey.Scope.INGEST,
        help_text="`ingest`: heartbeat, long poll and witness upload (what a daemon needs); `full`: everything.",
    )


@extend_schema(tags=["api keys"])
class ApiKeyListCreateApi(APIView):
    @extend_schema(
        operation_id="api_keys_list",
        summary="List your API keys",
        description="Your keys that are not revoked, newest first. Secrets are never shown again.",
        responses={200: ApiKeySerializer(many=True), **errors(401, 403)},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(ApiKeySerializer(api_keys_for_user(user=request.user), many=True).data)

    @extend_schema(
        operation_id="api_keys_create",
        summary="Create an API key",
        description="A new key of yours; its secret is in this reply only (only a hash of it is stored).",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: ApiRequest) -> Response:
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = api_key_create(user=request.user, **serializer.validated_data)
        data = {**ApiKeySerializer(key).data, "secret": secret, "credentials": f"{key.public_id}:{secret}"}
        return Response(data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["api keys"])
class ApiKeyRevokeApi(APIView):
    @extend_schema(
        operation_id="api_keys_revoke",
        summary="Revoke an API key",
        description="Revoke one of your keys; requests with it fail from the next one on.",
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request: ApiRequest, key_id: str) -> Response:
        api_key_revoke(user=request.user, key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
