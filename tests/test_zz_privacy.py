"""Runs last: no plaintext key, and no birth data, in Redis, its append-only file or any log."""

import re

import pytest
import redis

from conftest import ISSUED_KEYS, LOS_ANGELES_1990, bearer, http

pytestmark = pytest.mark.integration

KEY_PATTERN = re.compile(r"sk_(live|test)_[0-9A-Za-z]{38}")


def redis_contents(url: str) -> str:
    client = redis.Redis.from_url(url, decode_responses=True)
    parts = []
    for name in client.scan_iter(count=1000):
        kind = client.type(name)
        parts.append(name)
        if kind == "string":
            parts.append(client.get(name) or "")
        elif kind == "hash":
            parts.extend(f"{k}={v}" for k, v in client.hgetall(name).items())
        elif kind == "set":
            parts.extend(client.smembers(name))
    client.close()
    return "\n".join(parts)


def test_no_plaintext_key_in_redis(mesh):
    assert ISSUED_KEYS, "the suite issued keys before this test"
    contents = redis_contents(mesh.redis_url)

    assert not KEY_PATTERN.search(contents)
    assert not [k for k in ISSUED_KEYS if k in contents]


def test_no_plaintext_key_in_the_append_only_file(mesh):
    files = [p for p in (mesh.var / "redis").rglob("*") if p.is_file()]
    contents = b"".join(p.read_bytes() for p in files)

    assert files
    assert not [k for k in ISSUED_KEYS if k.encode() in contents]


def test_no_secrets_in_logs(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    http(mesh, "/v1/telemetry/vectors?" + LOS_ANGELES_1990 + f"&api_key={key}")
    logs = "\n".join(p.read_text() for p in mesh.logs.glob("*.log"))

    assert logs
    assert not KEY_PATTERN.search(logs)
    assert not [k for k in ISSUED_KEYS if k in logs]
    assert "1990-01-15" not in logs
    assert "-118.24" not in logs
