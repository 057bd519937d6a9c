"""The admin API and the defrag command, against the real gateway and Redis."""

import os
import pathlib
import subprocess
import sys
import time

import grpc
import pytest

from conftest import ISSUED_KEYS, LOS_ANGELES_1990, bearer, http
from defrag.keys.v1 import admin_pb2, admin_pb2_grpc
from redis_cluster import on_single_and_cluster

pytestmark = pytest.mark.integration

# Every test runs on one Redis server, then on a three-primary Redis Cluster.
redis_kind, mesh, admin, public_channel = on_single_and_cluster()

VECTORS = "/v1/telemetry/vectors?" + LOS_ANGELES_1990
# The metering script reads revocations and tier changes on every request,
# so they apply on the next request. The documented bound is 1 s.
PROPAGATION_BOUND_SECONDS = 1.0


def defrag_command(mesh, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DEFRAG_ADMIN_ADDR=mesh.admin_address, DEFRAG_ADMIN_TOKEN=mesh.admin_token)
    executable = pathlib.Path(sys.executable).parent / "defrag"
    return subprocess.run([str(executable), *args], capture_output=True, text=True, env=env, timeout=60)


def test_admin_api_refuses_a_wrong_token(mesh):
    with grpc.insecure_channel(mesh.admin_address) as channel:
        stub = admin_pb2_grpc.KeyAdminServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListTiers(admin_pb2.ListTiersRequest(), metadata=[("authorization", "Bearer wrong")], timeout=10)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_admin_api_not_on_public_listener(mesh, admin, public_channel):
    stub = admin_pb2_grpc.KeyAdminServiceStub(public_channel)

    with pytest.raises(grpc.RpcError) as raised:
        stub.ListTiers(admin_pb2.ListTiersRequest(), metadata=admin.metadata, timeout=10)

    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_account_validation_names_the_field(admin):
    with pytest.raises(grpc.RpcError) as bad_id:
        admin.CreateAccount(admin_pb2.CreateAccountRequest(account_id="no spaces", tier="pro"))
    with pytest.raises(grpc.RpcError) as bad_tier:
        admin.CreateAccount(admin_pb2.CreateAccountRequest(account_id="ok_id", tier="platinum"))

    assert bad_id.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "account_id" in bad_id.value.details()
    assert bad_tier.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "platinum" in bad_tier.value.details()


def test_duplicate_account_is_already_exists(admin):
    account_id = admin.new_account("free")

    with pytest.raises(grpc.RpcError) as raised:
        admin.CreateAccount(admin_pb2.CreateAccountRequest(account_id=account_id, tier="pro"))

    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_test_mode_accounts_get_test_keys(admin):
    account_id = admin.new_account("pro", mode="test")

    _, key = admin.new_key(account_id)

    assert key.startswith("sk_test_")


def test_list_keys_shows_no_secrets(admin):
    account_id = admin.new_account("pro")
    _, key = admin.new_key(account_id, name="ci")

    listed = admin.ListKeys(admin_pb2.ListKeysRequest(account_id=account_id))

    assert len(listed.keys) == 1
    assert listed.keys[0].name == "ci"
    assert listed.keys[0].prefix == key[:12]
    assert key not in str(listed)


def test_last_used_is_recorded(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    http(mesh, VECTORS, bearer(key))

    listed = admin.ListKeys(admin_pb2.ListKeysRequest(account_id=account_id))
    assert listed.keys[0].last_used_at.endswith("Z")


def test_rolled_key_keeps_working_during_the_grace_period(mesh, admin):
    _, key_id, key = admin.account_with_key("pro")

    rolled = admin.RollKey(admin_pb2.RollKeyRequest(key_id=key_id, grace_seconds=3600))
    ISSUED_KEYS.append(rolled.plaintext)

    assert http(mesh, VECTORS, bearer(key)).status == 200
    assert http(mesh, VECTORS, bearer(rolled.plaintext)).status == 200
    assert rolled.old_key.expires_at
    assert rolled.new_key.status == "active"


def test_revocation_reaches_every_gateway_within_the_bound(mesh, admin):
    _, key_id, key = admin.account_with_key("pro")
    assert http(mesh, VECTORS, bearer(key)).status == 200

    admin.RevokeKey(admin_pb2.RevokeKeyRequest(key_id=key_id))
    deadline = time.monotonic() + PROPAGATION_BOUND_SECONDS
    statuses = []
    while time.monotonic() < deadline or not statuses:
        statuses.append(http(mesh, VECTORS, bearer(key)).status)

    # Envoy spreads calls over both gateway processes; each must refuse.
    assert len(statuses) >= 4
    assert set(statuses[-4:]) == {401}


def test_tier_change_reaches_every_gateway_within_the_bound(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    assert http(mesh, VECTORS, bearer(key)).status == 200

    admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=account_id, tier="usage_only"))
    time.sleep(PROPAGATION_BOUND_SECONDS)

    assert {http(mesh, VECTORS, bearer(key)).status for _ in range(4)} == {403}


def test_older_billing_change_is_ignored(admin):
    account_id = admin.new_account("free")
    newer = admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=account_id, tier="pro", source_event_time=2_000_000_000))

    older = admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=account_id, tier="free", source_event_time=1_999_999_999))

    assert newer.applied
    assert not older.applied
    assert older.account.tier == "pro"


def test_first_billing_event_applies_whatever_its_time(admin):
    account_id = admin.new_account("free")

    first = admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=account_id, tier="pro", source_event_time=int(time.time()) - 3600))

    assert first.applied
    assert first.account.tier == "pro"


def test_operator_change_stands_until_a_newer_billing_event(admin):
    account_id = admin.new_account("free")
    billing = admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=account_id, tier="pro", source_event_time=int(time.time()) - 60))
    admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=account_id, tier="enterprise"))
    assert billing.applied

    stale = admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=account_id, tier="free", source_event_time=int(time.time()) - 30))
    fresh = admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=account_id, tier="free", source_event_time=int(time.time()) + 60))

    assert not stale.applied
    assert fresh.applied
    assert fresh.account.tier == "free"


def test_update_creates_a_missing_account_in_one_step(admin):
    account_id = f"cus_Admin{int(time.time() * 1000)}"
    request = admin_pb2.UpdateAccountRequest(account_id=account_id, tier="pro", status="active", source_event_time=100,
                                             create_mode="test", period_start="2027-01-31T10:00:00Z",
                                             period_end="2027-02-28T10:00:00Z")

    first = admin.UpdateAccount(request)
    again = admin.UpdateAccount(request)

    assert first.created
    assert first.applied
    assert (first.account.tier, first.account.mode, first.account.version) == ("pro", "test", 100)
    assert first.account.period_start == "2027-01-31T10:00:00Z"
    assert not again.created
    assert again.applied


def test_update_without_create_mode_needs_the_account(admin):
    with pytest.raises(grpc.RpcError) as raised:
        admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id="cus_NeverCreated", tier="pro"))

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("event_time", [-1, 253402300800, 2**63 - 1])
def test_update_rejects_an_event_time_out_of_range(admin, event_time):
    account_id = admin.new_account("free")

    with pytest.raises(grpc.RpcError) as raised:
        admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=account_id, tier="pro", source_event_time=event_time))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "source_event_time" in raised.value.details()
    assert admin.GetAccount(admin_pb2.GetAccountRequest(account_id=account_id)).tier == "free"


def test_update_rejects_an_unknown_create_mode(admin):
    with pytest.raises(grpc.RpcError) as raised:
        admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id="cus_Whatever", create_mode="sandbox"))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "create_mode" in raised.value.details()


def test_update_revokes_keys_with_the_change(mesh, admin):
    account_id = admin.new_account("pro")
    first_id, first_key = admin.new_key(account_id)
    second_id, _ = admin.new_key(account_id)
    admin.RevokeKey(admin_pb2.RevokeKeyRequest(key_id=second_id))

    update = admin.UpdateAccount(admin_pb2.UpdateAccountRequest(
        account_id=account_id, status="canceled", revoke_keys=True, source_event_time=int(time.time())))

    assert update.revoked_keys == 1
    assert update.account.status == "canceled"
    keys = {k.key_id: k.status for k in admin.ListKeys(admin_pb2.ListKeysRequest(account_id=account_id)).keys}
    assert keys == {first_id: "revoked", second_id: "revoked"}
    assert http(mesh, "/v1/usage", bearer(first_key)).status == 401


def test_ignored_update_revokes_nothing(admin):
    account_id = admin.new_account("pro")
    key_id, _ = admin.new_key(account_id)
    admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=account_id, tier="pro", source_event_time=2_000_000_000))

    older = admin.UpdateAccount(admin_pb2.UpdateAccountRequest(
        account_id=account_id, status="canceled", revoke_keys=True, source_event_time=1_999_999_000))

    assert not older.applied
    assert older.revoked_keys == 0
    assert admin.ListKeys(admin_pb2.ListKeysRequest(account_id=account_id)).keys[0].status == "active"


def test_canceled_account_is_403_but_reads_usage(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=account_id, status="canceled"))
    reply = http(mesh, VECTORS, bearer(key))
    usage = http(mesh, "/v1/usage", bearer(key))

    assert reply.status == 403
    assert reply.reason() == "ACCOUNT_CANCELED"
    assert usage.status == 200
    assert usage.json()["status"] == "canceled"


def test_period_end_before_start_is_400(admin):
    account_id = admin.new_account("pro")

    with pytest.raises(grpc.RpcError) as raised:
        admin.UpdateAccount(admin_pb2.UpdateAccountRequest(
            account_id=account_id, period_start="2027-02-01T00:00:00Z", period_end="2027-01-01T00:00:00Z",
        ))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "period_end" in raised.value.details()


def test_cli_creates_a_key_that_works(mesh, admin):
    result = defrag_command(mesh, "keys", "create", "--account", "acct_cli_demo", "--tier", "pro", "--name", "laptop")

    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    ISSUED_KEYS.append(key)
    assert key.startswith("sk_live_")
    assert http(mesh, VECTORS, bearer(key)).status == 200


def test_cli_lists_revokes_rolls_and_shows_usage(mesh, admin):
    created = defrag_command(mesh, "keys", "create", "--account", "acct_cli_ops", "--tier", "tiny", "--test")
    key = created.stdout.strip().splitlines()[-1]
    ISSUED_KEYS.append(key)
    key_id = admin.ListKeys(admin_pb2.ListKeysRequest(account_id="acct_cli_ops")).keys[0].key_id
    http(mesh, VECTORS, bearer(key))

    listed = defrag_command(mesh, "keys", "list", "--account", "acct_cli_ops")
    usage = defrag_command(mesh, "usage", "--account", "acct_cli_ops")
    rolled = defrag_command(mesh, "keys", "roll", key_id, "--grace", "60")
    ISSUED_KEYS.append(rolled.stdout.strip().splitlines()[-1])
    revoked = defrag_command(mesh, "keys", "revoke", key_id)

    assert key.startswith("sk_test_")
    assert key_id in listed.stdout
    assert key not in listed.stdout
    assert "1 of 3 calls used, 2 left" in usage.stdout
    assert rolled.stdout.strip().splitlines()[-1].startswith("sk_test_")
    assert revoked.returncode == 0
    assert http(mesh, VECTORS, bearer(key)).status == 401


def test_cli_explains_a_missing_account(mesh):
    result = defrag_command(mesh, "keys", "create", "--account", "acct_never_made")

    assert result.returncode == 1
    assert "pass --tier NAME to create it" in result.stderr


def test_cli_explains_an_unreachable_admin_api(mesh):
    env = dict(os.environ, DEFRAG_ADMIN_ADDR="127.0.0.1:1", DEFRAG_ADMIN_TOKEN="x")
    executable = pathlib.Path(sys.executable).parent / "defrag"

    result = subprocess.run([str(executable), "usage", "--account", "a"], capture_output=True, text=True, env=env, timeout=60)

    assert result.returncode == 1
    assert "cannot reach the admin API" in result.stderr


def test_cli_refuses_to_change_a_tier_silently(mesh, admin):
    account_id = admin.new_account("enterprise")

    result = defrag_command(mesh, "keys", "create", "--account", account_id, "--tier", "free")

    assert result.returncode == 1
    assert "accounts update" in result.stderr
    assert admin.GetAccount(admin_pb2.GetAccountRequest(account_id=account_id)).tier == "enterprise"


def test_cli_rejects_a_negative_grace(mesh):
    result = defrag_command(mesh, "keys", "roll", "key_" + "a" * 20, "--grace", "-5")

    assert result.returncode == 2
    assert "outside 0..604800" in result.stderr
    assert "Traceback" not in result.stderr


def test_expired_key_cannot_be_rolled(admin):
    _, key_id, _ = admin.account_with_key("pro")
    admin.RollKey(admin_pb2.RollKeyRequest(key_id=key_id, grace_seconds=0))

    with pytest.raises(grpc.RpcError) as raised:
        admin.RollKey(admin_pb2.RollKeyRequest(key_id=key_id))

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "expired" in raised.value.details()


def test_cli_shows_tiers_and_accounts(mesh, admin):
    account_id = admin.new_account("tiny")

    tiers = defrag_command(mesh, "tiers", "list")
    account = defrag_command(mesh, "accounts", "get", "--account", account_id)

    assert "tiny: 3 calls a month" in tiers.stdout
    assert "enterprise: no monthly cap" in tiers.stdout
    assert "tier      tiny, status active" in account.stdout


def test_dates_outside_the_range_are_400(admin):
    account_id = admin.new_account("pro")

    with pytest.raises(grpc.RpcError) as raised:
        admin.CreateKey(admin_pb2.CreateKeyRequest(account_id=account_id, expires_at="9999-12-31T23:59:59-01:00"))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "expires_at" in raised.value.details()
    assert admin.ListKeys(admin_pb2.ListKeysRequest(account_id=account_id)).keys == []
