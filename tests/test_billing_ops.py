"""Billing when its dependencies fail, and `defrag billing reconcile` against a fake Stripe API."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import grpc
import pytest

from defrag import cli
from defrag.billing.v1 import billing_pb2, billing_pb2_grpc
from defrag.keys.v1 import admin_pb2
import billing_support as stripe_events
from billing_support import FREE_PRICE, NEW_SHAPE, OLD_SHAPE, deliver
from conftest import ISSUED_KEYS, AdminClient, start_mesh


@pytest.fixture
def billing_mesh(tmp_path):
    """A mesh of its own with one gateway, whose admin API a test may stop; no Stripe API key."""
    env = {k: v for k, v in stripe_events.billing_env("http://127.0.0.1:9").items() if not k.startswith("STRIPE_API")}
    running = start_mesh(tmp_path, gateways=1, env=env)
    yield running
    for process in running.processes.values():
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
    running.stop()


def get_account(admin, account_id: str):
    try:
        return admin.GetAccount(admin_pb2.GetAccountRequest(account_id=account_id))
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND
        return None


def created_event(customer: str, subscription_id: str, **fields) -> dict:
    subscription = stripe_events.subscription(NEW_SHAPE, customer, subscription_id, **fields)
    return stripe_events.subscription_event("customer.subscription.created", NEW_SHAPE, subscription)


def test_gateway_down_gives_503_then_retry_applies(billing_mesh):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(customer, subscription_id)
    billing_mesh.stop_process("gateway-0")

    down = deliver(billing_mesh, event)

    assert down.status == 503
    assert down.reason() == "BILLING_DEPENDENCY_UNAVAILABLE"
    assert "gateway" in down.json()["message"]
    assert down.headers["retry-after"] == "5"
    billing_mesh.restart("gateway-0")
    admin = AdminClient(billing_mesh)
    assert get_account(admin, customer) is None

    up = deliver(billing_mesh, event)

    assert up.status == 200
    assert up.json()["outcome"] == "applied"
    assert get_account(admin, customer).tier == "pro"


def test_redis_down_gives_503_and_changes_nothing(billing_mesh):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(customer, subscription_id)
    os.kill(billing_mesh.processes["redis"].pid, signal.SIGSTOP)
    try:
        down = deliver(billing_mesh, event)
    finally:
        os.kill(billing_mesh.processes["redis"].pid, signal.SIGCONT)

    assert down.status == 503
    assert "Redis" in down.json()["message"]
    assert get_account(AdminClient(billing_mesh), customer) is None
    assert deliver(billing_mesh, event).json()["outcome"] == "applied"


def test_billing_down_gives_503(billing_mesh):
    billing_mesh.stop_process("billing-0")
    customer, subscription_id = stripe_events.new_ids()

    reply = deliver(billing_mesh, created_event(customer, subscription_id))

    assert reply.status == 503
    assert reply.reason() == "SERVICE_UNAVAILABLE"


def test_reconcile_needs_the_stripe_api_key(billing_mesh):
    with grpc.insecure_channel(billing_mesh.billing_address) as channel:
        stub = billing_pb2_grpc.BillingAdminServiceStub(channel)
        metadata = [("authorization", f"Bearer {billing_mesh.admin_token}")]
        with pytest.raises(grpc.RpcError) as raised:
            stub.Reconcile(billing_pb2.ReconcileRequest(), metadata=metadata, timeout=10)

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "STRIPE_API_KEY" in raised.value.details()
    assert "STRIPE_API_KEY_TEST" in raised.value.details()


def test_webhook_without_secret_gives_503(tmp_path):
    mesh = start_mesh(tmp_path, gateways=1)
    try:
        customer, subscription_id = stripe_events.new_ids()
        reply = deliver(mesh, created_event(customer, subscription_id))
    finally:
        mesh.stop()

    assert reply.status == 503
    assert reply.reason() == "WEBHOOK_NOT_CONFIGURED"
    assert reply.headers["retry-after"] == "60"
    assert "STRIPE_WEBHOOK_SECRET" in reply.json()["message"]


# --- reconcile ------------------------------------------------------------------------------------


def reconcile(mesh, capsys, *args) -> tuple[int, str, str]:
    """Runs `defrag billing reconcile` against the mesh; returns (exit status, stdout, stderr)."""
    os.environ["DEFRAG_ADMIN_ENV"] = str(mesh.var / "admin.env")
    try:
        status = cli.main(["billing", "reconcile", *args])
    finally:
        del os.environ["DEFRAG_ADMIN_ENV"]
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def stripe_holds(stripe_api):
    """Sets the subscriptions the fake Stripe API holds for one test."""
    def hold(subscriptions):
        stripe_api.subscriptions = subscriptions

    yield hold
    stripe_api.subscriptions = []


def test_reconcile_brings_accounts_in_line(mesh, admin, stripe_holds, capsys):
    missing, missing_sub = stripe_events.new_ids()
    ended, ended_sub = stripe_events.new_ids()
    odd, odd_sub = stripe_events.new_ids()
    assert deliver(mesh, created_event(ended, ended_sub)).json()["outcome"] == "applied"
    key = admin.CreateKey(admin_pb2.CreateKeyRequest(account_id=ended))
    ISSUED_KEYS.append(key.plaintext)
    stripe_holds([
        stripe_events.subscription(OLD_SHAPE, missing, missing_sub, price=FREE_PRICE),
        stripe_events.subscription(NEW_SHAPE, ended, ended_sub, status="canceled"),
        stripe_events.subscription(NEW_SHAPE, odd, odd_sub, price="price_TestNoTier01"),
    ])

    status, dry, _ = reconcile(mesh, capsys, "--dry-run")

    assert status == 0
    assert "read 3 subscriptions (test mode) from Stripe; 2 accounts would change" in dry
    assert f"{missing} (test): (no account) -> free active" in dry
    assert f"{ended} (test): pro active -> pro canceled  (1 key revoked)" in dry
    assert "price_TestNoTier01: account " + odd in dry
    assert get_account(admin, missing) is None
    assert get_account(admin, ended).status == "active"

    status, applied, _ = reconcile(mesh, capsys)

    assert status == 0
    assert "2 accounts changed" in applied
    assert get_account(admin, missing).tier == "free"
    assert get_account(admin, ended).status == "canceled"
    keys = admin.ListKeys(admin_pb2.ListKeysRequest(account_id=ended)).keys
    assert [k.status for k in keys] == ["revoked"]
    assert get_account(admin, odd) is None

    status, again, _ = reconcile(mesh, capsys)
    assert "0 accounts changed" in again


def test_reconcile_lists_prices_from_events(mesh, admin, stripe_holds, capsys):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(customer, subscription_id, price="price_TestFromEvent01")
    assert deliver(mesh, event).json()["outcome"] == "unknown_price"
    stripe_holds([])

    _, output, _ = reconcile(mesh, capsys, "--dry-run")

    assert f"price_TestFromEvent01: account {customer}, 1 events, last {event['id']}" in output


def test_reconcile_reports_stripe_down(mesh, stripe_api, stripe_holds, capsys):
    customer, subscription_id = stripe_events.new_ids()
    stripe_holds([stripe_events.subscription(NEW_SHAPE, customer, subscription_id)])
    stripe_api.fail_next(10, status=500)
    try:
        status, _, error = reconcile(mesh, capsys)
    finally:
        stripe_api.fail_next(0)

    assert status == 1
    assert "reconcile changed nothing" in error
    assert "(500)" in error


def test_reconcile_needs_the_admin_token(mesh):
    with grpc.insecure_channel(mesh.billing_address) as channel:
        stub = billing_pb2_grpc.BillingAdminServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.Reconcile(billing_pb2.ReconcileRequest(), metadata=[("authorization", "Bearer wrong")], timeout=10)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_reconcile_not_on_public_listener(mesh, public_channel):
    stub = billing_pb2_grpc.BillingAdminServiceStub(public_channel)
    metadata = [("authorization", f"Bearer {mesh.admin_token}")]

    with pytest.raises(grpc.RpcError) as raised:
        stub.Reconcile(billing_pb2.ReconcileRequest(dry_run=True), metadata=metadata, timeout=10)

    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_reconcile_rereads_newer_subscription(mesh, admin, stripe_api, stripe_holds, capsys):
    customer, subscription_id = stripe_events.new_ids()
    assert deliver(mesh, created_event(customer, subscription_id)).json()["outcome"] == "applied"
    # An upgrade created after the listing begins has been applied, and Stripe has it too.
    upgrade = stripe_events.subscription(NEW_SHAPE, customer, subscription_id, price=stripe_events.ENTERPRISE_PRICE)
    event = stripe_events.subscription_event("customer.subscription.updated", NEW_SHAPE, upgrade,
                                             created=int(time.time()) + 120)
    assert deliver(mesh, event).json()["outcome"] == "applied"
    stripe_holds([upgrade])
    stripe_api.clear_requests()

    status, output, _ = reconcile(mesh, capsys)

    assert status == 0
    assert customer not in output
    assert get_account(admin, customer).tier == "enterprise"
    assert [r.path for r in stripe_api.requests if r.path.endswith(subscription_id)] == [f"/v1/subscriptions/{subscription_id}"]


def pro_subscriber_with_key(mesh, admin) -> tuple[str, str, str]:
    """Returns (customer, subscription, another subscription id) for a new pro customer with one key."""
    customer, old_sub = stripe_events.new_ids()
    _, new_sub = stripe_events.new_ids()
    assert deliver(mesh, created_event(customer, old_sub)).json()["outcome"] == "applied"
    key = admin.CreateKey(admin_pb2.CreateKeyRequest(account_id=customer))
    ISSUED_KEYS.append(key.plaintext)
    return customer, old_sub, new_sub


def deleted_event(customer: str, subscription_id: str, created: int) -> dict:
    subscription = stripe_events.subscription(NEW_SHAPE, customer, subscription_id, status="canceled")
    return stripe_events.subscription_event("customer.subscription.deleted", NEW_SHAPE, subscription, created=created)


def test_deletion_before_the_new_subscription_keeps_access(mesh, admin, stripe_holds):
    customer, old_sub, new_sub = pro_subscriber_with_key(mesh, admin)
    now = int(time.time())
    replacement = stripe_events.subscription(NEW_SHAPE, customer, new_sub, price=stripe_events.ENTERPRISE_PRICE)
    stripe_holds([replacement, stripe_events.subscription(NEW_SHAPE, customer, old_sub, status="canceled")])
    deletion = deleted_event(customer, old_sub, created=now + 1)

    assert deliver(mesh, deletion).json()["outcome"] == "applied"

    account = get_account(admin, customer)
    assert (account.tier, account.status) == ("enterprise", "active")
    assert [k.status for k in admin.ListKeys(admin_pb2.ListKeysRequest(account_id=customer)).keys] == ["active"]
    late = stripe_events.subscription_event("customer.subscription.created", NEW_SHAPE, replacement, created=now - 5)
    assert deliver(mesh, late).json()["outcome"] == "applied"
    assert get_account(admin, customer).tier == "enterprise"


def test_event_of_the_other_mode_changes_nothing(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    admin.CreateAccount(admin_pb2.CreateAccountRequest(account_id=customer, mode="live", tier="pro"))

    reply = deliver(mesh, created_event(customer, subscription_id, status="incomplete"))

    assert reply.json()["outcome"] == "mode_mismatch"
    assert get_account(admin, customer).tier == "pro"


def test_reconcile_skips_what_it_cannot_read(mesh, admin, stripe_holds, capsys):
    good, good_sub = stripe_events.new_ids()
    odd, odd_sub = stripe_events.new_ids()
    unreadable = stripe_events.subscription(NEW_SHAPE, odd, odd_sub)
    unreadable["status"] = "pending_activation"
    stripe_holds([stripe_events.subscription(NEW_SHAPE, good, good_sub), unreadable])

    status, output, error = reconcile(mesh, capsys)

    assert status == 1
    assert f"{good} (test): (no account) -> pro active" in output
    assert f"skipped {odd_sub} of {odd}: not readable: status \"pending_activation\"" in error
    assert "1 subscription left out" in error
    assert get_account(admin, good).tier == "pro"
    assert get_account(admin, odd) is None


def test_reconcile_skips_an_account_of_the_other_mode(mesh, admin, stripe_holds, capsys):
    customer, subscription_id = stripe_events.new_ids()
    admin.CreateAccount(admin_pb2.CreateAccountRequest(account_id=customer, mode="live", tier="pro"))
    stripe_holds([stripe_events.subscription(NEW_SHAPE, customer, subscription_id, price=FREE_PRICE)])

    status, _, error = reconcile(mesh, capsys)

    assert status == 1
    assert "live-mode account, and the subscription is test-mode" in error
    assert get_account(admin, customer).tier == "pro"


def test_reconcile_revokes_keys_of_a_canceled_account(mesh, admin, stripe_holds, capsys):
    customer, subscription_id = stripe_events.new_ids()
    assert deliver(mesh, created_event(customer, subscription_id)).json()["outcome"] == "applied"
    deleted = stripe_events.subscription_event(
        "customer.subscription.deleted", NEW_SHAPE,
        stripe_events.subscription(NEW_SHAPE, customer, subscription_id, status="canceled"),
        created=int(time.time()) + 1)
    assert deliver(mesh, deleted).json()["outcome"] == "applied"
    # An operator issues a key to the canceled account afterwards.
    key = admin.CreateKey(admin_pb2.CreateKeyRequest(account_id=customer))
    ISSUED_KEYS.append(key.plaintext)
    stripe_holds([stripe_events.subscription(NEW_SHAPE, customer, subscription_id, status="canceled")])

    status, output, _ = reconcile(mesh, capsys)

    assert status == 0
    assert f"{customer} (test): pro canceled -> pro canceled  (1 key revoked)" in output
    assert [k.status for k in admin.ListKeys(admin_pb2.ListKeysRequest(account_id=customer)).keys] == ["revoked"]


def test_reconcile_waits_out_a_rate_limit(mesh, admin, stripe_api, stripe_holds, capsys):
    customer, subscription_id = stripe_events.new_ids()
    stripe_holds([stripe_events.subscription(NEW_SHAPE, customer, subscription_id)])
    stripe_api.fail_next(1, status=429, retry_after=1)

    status, output, _ = reconcile(mesh, capsys)

    assert status == 0
    assert f"{customer} (test): (no account) -> pro active" in output


def test_plan_switch_with_an_early_invoice_keeps_access(mesh, admin, stripe_holds):
    customer, old_sub, new_sub = pro_subscriber_with_key(mesh, admin)
    now = int(time.time())
    stripe_holds([stripe_events.subscription(NEW_SHAPE, customer, new_sub, price=stripe_events.ENTERPRISE_PRICE),
                  stripe_events.subscription(NEW_SHAPE, customer, old_sub, status="canceled")])
    paid = stripe_events.invoice_event("invoice.paid", NEW_SHAPE, customer, new_sub, created=now)
    assert deliver(mesh, paid).json()["outcome"] == "recorded"
    deletion = deleted_event(customer, old_sub, created=now + 1)

    assert deliver(mesh, deletion).json()["outcome"] == "applied"

    assert get_account(admin, customer).status == "active"
    assert [k.status for k in admin.ListKeys(admin_pb2.ListKeysRequest(account_id=customer)).keys] == ["active"]


def test_live_subscription_with_unmapped_price_keeps_keys(mesh, admin, stripe_holds, capsys):
    customer, old_sub, new_sub = pro_subscriber_with_key(mesh, admin)
    stripe_holds([stripe_events.subscription(NEW_SHAPE, customer, new_sub, price="price_TestUnmapped02"),
                  stripe_events.subscription(NEW_SHAPE, customer, old_sub, status="canceled")])
    deletion = deleted_event(customer, old_sub, created=int(time.time()) + 1)

    assert deliver(mesh, deletion).json()["outcome"] == "applied"
    _, output, _ = reconcile(mesh, capsys)

    assert customer + " (test)" not in output
    assert "price_TestUnmapped02" in output
    assert get_account(admin, customer).status == "active"
    assert [k.status for k in admin.ListKeys(admin_pb2.ListKeysRequest(account_id=customer)).keys] == ["active"]


def test_cli_closed_stdout_names_the_fix():
    # A command whose output outlives its reader, as `defrag keys create | head -2` does.
    script = (
        "import sys\n"
        "from defrag import cli\n"
        "def run(admin, args):\n"
        "    for _ in range(100_000):\n"
        "        print('line')\n"
        "class Parser:\n"
        "    def parse_args(self, argv):\n"
        "        return type('Args', (), {'command': 'billing', 'run': staticmethod(run)})()\n"
        "cli.parser = Parser\n"
        "sys.exit(cli.main([]))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=pathlib.Path(__file__).resolve().parent.parent)
    process.stdout.read(10)
    process.stdout.close()
    stderr = process.stderr.read()

    assert process.wait(timeout=60) == 1
    assert b"standard output was closed" in stderr
    assert b"Traceback" not in stderr
