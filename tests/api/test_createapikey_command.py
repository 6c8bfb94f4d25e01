import base64
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from projects.models import ApiKey


def test_it_prints_a_working_key_on_its_last_line(alice) -> None:
    out = StringIO()
    call_command("createapikey", "alice", "--scope", "full", "--name", "ci", stdout=out, stderr=StringIO())
    credentials = out.getvalue().strip().splitlines()[-1]
    key_id, _secret = credentials.split(":")
    key = ApiKey.objects.get(public_id=key_id)
    assert (key.scope, key.name, key.user) == ("full", "ci", alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(credentials.encode()).decode())
    assert client.get("/api/v1/projects").status_code == 200


def test_it_defaults_to_the_ingest_scope(alice) -> None:
    out = StringIO()
    call_command("createapikey", "alice", stdout=out, stderr=StringIO())
    assert ApiKey.objects.get().scope == "ingest"


def test_it_refuses_an_unknown_user(db) -> None:
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("createapikey", "nobody", stdout=StringIO(), stderr=StringIO())
