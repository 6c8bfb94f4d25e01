from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from projects.auth import ApiRequest
from projects.gate import ProjectApiView
from projects.models import ApiKey, Project
from projects.selectors import api_keys_for_user, project_members, projects_for_user
from projects.services import api_key_create, api_key_revoke, membership_add, project_create, project_delete


class ProjectOutput(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    owner = serializers.CharField(source="owner.username")
    created_at = serializers.DateTimeField()


class ProjectListCreateApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=64)

    @extend_schema(responses=ProjectOutput(many=True), operation_id="projects_list")
    def get(self, request: ApiRequest) -> Response:
        projects: QuerySet[Project] = projects_for_user(user=request.user)
        return Response(ProjectOutput(projects, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: ProjectOutput}, operation_id="projects_create")
    def post(self, request: ApiRequest) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = project_create(owner=request.user, **serializer.validated_data)
        return Response(ProjectOutput(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(ProjectApiView):
    @extend_schema(responses=ProjectOutput, operation_id="projects_retrieve")
    def get(self, request: ApiRequest) -> Response:
        return Response(ProjectOutput(self.project).data)

    @extend_schema(responses={204: None}, operation_id="projects_delete")
    def delete(self, request: ApiRequest) -> Response:
        project_delete(project=self.project)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberOutput(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id")
    username = serializers.CharField()


class ProjectMembersApi(ProjectApiView):
    class InputSerializer(serializers.Serializer[Any]):
        username = serializers.CharField(max_length=150)

    @extend_schema(responses=MemberOutput(many=True), operation_id="project_members_list")
    def get(self, request: ApiRequest) -> Response:
        return Response(MemberOutput(project_members(project=self.project), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: MemberOutput}, operation_id="project_members_add")
    def post(self, request: ApiRequest) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = membership_add(project=self.project, **serializer.validated_data)
        return Response(MemberOutput(membership.user).data, status=status.HTTP_201_CREATED)


class ApiKeyOutput(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    scope = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class ApiKeyCreatedOutput(ApiKeyOutput):
    secret = serializers.CharField(help_text="Shown only in this reply.")
    credentials = serializers.CharField(help_text="KEY_ID:SECRET, for HTTP Basic auth.")


class ApiKeyListCreateApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        scope = serializers.ChoiceField(choices=ApiKey.Scope.values, default=ApiKey.Scope.INGEST)

    @extend_schema(responses=ApiKeyOutput(many=True), operation_id="api_keys_list")
    def get(self, request: ApiRequest) -> Response:
        return Response(ApiKeyOutput(api_keys_for_user(user=request.user), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: ApiKeyCreatedOutput}, operation_id="api_keys_create")
    def post(self, request: ApiRequest) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = api_key_create(user=request.user, **serializer.validated_data)
        data = {**ApiKeyOutput(key).data, "secret": secret, "credentials": f"{key.public_id}:{secret}"}
        return Response(data, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(APIView):
    @extend_schema(responses={204: None}, operation_id="api_keys_revoke")
    def delete(self, request: ApiRequest, key_id: str) -> Response:
        api_key_revoke(user=request.user, key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
