"""The REST channel's optional bearer token (REST_CHANNEL_TOKEN) and its client metadata."""

from dataclasses import replace
from types import SimpleNamespace

import channels.rest as rest
from settings import get_settings


def request(authorization=None, metadata=None, ip="203.0.113.7"):
    headers = {"authorization": authorization} if authorization else {}
    return SimpleNamespace(headers=headers, remote_addr="", ip=ip, json={"metadata": metadata})


def with_token(monkeypatch, token):
    monkeypatch.setattr(rest, "get_settings", lambda: replace(get_settings(), rest_channel_token=token))


def test_without_a_token_setting_rest_stays_open(monkeypatch):
    with_token(monkeypatch, None)
    assert rest.check_auth(request()) is None


def test_with_a_token_setting_rest_needs_the_bearer_token(monkeypatch):
    with_token(monkeypatch, "s3cret-token")
    assert rest.check_auth(request()).status == 401
    assert rest.check_auth(request("Bearer wrong")).status == 401
    assert rest.check_auth(request("Bearer s3cret-token")) is None


def test_callers_cannot_claim_a_hidden_secret_or_another_client(monkeypatch):
    channel = rest.GatedRestInput()
    metadata = channel.get_metadata(request(metadata={"secret_redacted": ["x"], "client": "ip-forged", "a": 1}))
    assert metadata["a"] == 1 and "secret_redacted" not in metadata
    assert metadata["client"].startswith("ip-") and metadata["client"] != "ip-forged" and "203.0.113.7" not in metadata["client"]
