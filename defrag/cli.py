"""`defrag`: the operator's command for accounts, keys and usage.

It talks to the gateway's admin API, and for `billing` to the billing
service. The addresses and the token come from DEFRAG_ADMIN_ADDR,
DEFRAG_BILLING_ADDR and DEFRAG_ADMIN_TOKEN, or from the file that `make run`
writes (var/admin.env, or the file named by DEFRAG_ADMIN_ENV).
"""

import argparse
import os
import pathlib
import sys

import grpc

from defrag.billing.v1 import billing_pb2, billing_pb2_grpc
from defrag.keys.v1 import admin_pb2, admin_pb2_grpc
from defrag.platform.config import ROOT

TIMEOUT_SECONDS = 10
# Reconcile reads every subscription from Stripe, 100 a page.
RECONCILE_TIMEOUT_SECONDS = 600


class CliError(Exception):
    """Ends the command with a message on stderr and exit status 1."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.code = code


def env_file() -> pathlib.Path:
    return pathlib.Path(os.environ.get("DEFRAG_ADMIN_ENV") or ROOT / "var" / "admin.env")


def setting(name: str) -> str:
    """Returns a setting from the environment, else from the env file; "" when neither has it."""
    value = os.environ.get(name, "")
    path = env_file()
    if not value and path.exists():
        for line in path.read_text().splitlines():
            key, _, found = line.partition("=")
            if key == name:
                value = found.strip()
    return value


def admin_settings(address_setting: str = "DEFRAG_ADMIN_ADDR") -> tuple[str, str]:
    """Returns an admin address and the admin token from the environment or the env file."""
    address, token = setting(address_setting), setting("DEFRAG_ADMIN_TOKEN")
    if not address or not token:
        raise CliError(
            f"no admin API settings: start the mesh with `make run` (it writes {env_file()}), "
            f"or set {address_setting} and DEFRAG_ADMIN_TOKEN"
        )
    return address, token


class Admin:
    """A thin client of an admin API that turns gRPC errors into CliError."""

    def __init__(self, address: str, token: str, stub_class=admin_pb2_grpc.KeyAdminServiceStub, name: str = "the admin API"):
        self.address = address
        self.name = name
        self.channel = grpc.insecure_channel(address)
        self.stub = stub_class(self.channel)
        self.metadata = [("authorization", f"Bearer {token}")]

    def call(self, method: str, request, timeout: float = TIMEOUT_SECONDS):
        try:
            return getattr(self.stub, method)(request, metadata=self.metadata, timeout=timeout)
        except grpc.RpcError as error:
            from_server = any(key == "grpc-status-details-bin" for key, _ in error.trailing_metadata() or ())
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and not from_server:
                raise CliError(f"cannot reach {self.name} at {self.address} ({error.details()}); is `make run` running?") from None
            raise CliError(error.details() or error.code().name, error.code()) from None


def show_key(key: admin_pb2.ApiKey) -> str:
    parts = [key.key_id, key.status, f"{key.prefix}...", f"created {key.created_at}"]
    if key.name:
        parts.insert(1, f"name={key.name!r}")
    parts.append(f"expires {key.expires_at}" if key.expires_at else "no expiry")
    parts.append(f"last used {key.last_used_at}" if key.last_used_at else "never used")
    return "  ".join(parts)


def keys_create(admin: Admin, args) -> None:
    mode = "test" if args.test else "live"
    try:
        account = admin.call("GetAccount", admin_pb2.GetAccountRequest(account_id=args.account))
    except CliError as missing:
        if missing.code != grpc.StatusCode.NOT_FOUND:
            raise
        if not args.tier:
            raise CliError(f"account {args.account} does not exist; pass --tier NAME to create it") from None
        account = admin.call("CreateAccount", admin_pb2.CreateAccountRequest(account_id=args.account, mode=mode, tier=args.tier))
        print(f"created {account.mode} account {account.account_id} on the {account.tier} tier")
    else:
        if args.test and account.mode != "test":
            raise CliError(f"account {args.account} is a live account; --test applies only when creating an account")
        if args.tier and args.tier != account.tier:
            raise CliError(
                f"account {args.account} exists on the {account.tier} tier; leave out --tier to add a key, "
                f"or change the tier with `defrag accounts update --account {args.account} --tier {args.tier}`"
            )

    created = admin.call(
        "CreateKey", admin_pb2.CreateKeyRequest(account_id=args.account, name=args.name or "", expires_at=args.expires or "")
    )
    print(f"key {created.key.key_id} for account {args.account}; it is shown once, so store it now:")
    print(created.plaintext)


def keys_revoke(admin: Admin, args) -> None:
    key = admin.call("RevokeKey", admin_pb2.RevokeKeyRequest(key_id=args.key_id))
    print(f"revoked {key.key_id} of account {key.account_id}")


def keys_roll(admin: Admin, args) -> None:
    request = admin_pb2.RollKeyRequest(key_id=args.key_id)
    if args.grace is not None:
        request.grace_seconds = args.grace
    rolled = admin.call("RollKey", request)
    print(f"{rolled.old_key.key_id} keeps working until {rolled.old_key.expires_at}")
    print(f"new key {rolled.new_key.key_id} for account {rolled.new_key.account_id}; it is shown once, so store it now:")
    print(rolled.plaintext)


def keys_list(admin: Admin, args) -> None:
    listed = admin.call("ListKeys", admin_pb2.ListKeysRequest(account_id=args.account))
    if not listed.keys:
        print(f"account {args.account} has no keys")
    for key in listed.keys:
        print(show_key(key))


def usage(admin: Admin, args) -> None:
    u = admin.call("GetUsage", admin_pb2.GetAccountRequest(account_id=args.account))
    quota = "no monthly cap" if u.quota_unlimited else f"{u.used} of {u.monthly_quota} calls used, {u.remaining} left"
    print(f"account   {u.account_id} ({u.mode})")
    print(f"tier      {u.tier}, status {u.status}, burst {u.burst_per_second} requests per second")
    print(f"window    {u.window_start} .. {u.resets_at}")
    print(f"quota     {quota}" if not u.quota_unlimited else f"quota     {quota}; {u.used} calls this window")
    if u.period_start:
        print(f"billing   {u.period_start} .. {u.period_end}")


def accounts_get(admin: Admin, args) -> None:
    a = admin.call("GetAccount", admin_pb2.GetAccountRequest(account_id=args.account))
    print(f"account   {a.account_id} ({a.mode}), created {a.created_at}")
    print(f"tier      {a.tier}, status {a.status}")
    print(f"billing   {a.period_start or '-'} .. {a.period_end or '-'}")


def tiers_list(admin: Admin, args) -> None:
    for tier in admin.call("ListTiers", admin_pb2.ListTiersRequest()).tiers:
        quota = "no monthly cap" if tier.quota_unlimited else f"{tier.monthly_quota} calls a month"
        print(f"{tier.name}: {quota}, {tier.burst_per_second} requests per second; methods: {', '.join(tier.methods) or 'usage only'}")


def billing_reconcile(_admin: None, args) -> None:
    billing = Admin(*admin_settings("DEFRAG_BILLING_ADDR"), stub_class=billing_pb2_grpc.BillingAdminServiceStub,
                    name="the billing service")
    result = billing.call("Reconcile", billing_pb2.ReconcileRequest(dry_run=args.dry_run), timeout=RECONCILE_TIMEOUT_SECONDS)
    verb = "would change" if result.dry_run else "changed"
    modes = " and ".join(result.modes)
    print(f"read {result.subscriptions_read} {plural(result.subscriptions_read, 'subscription')} ({modes} mode) from Stripe; "
          f"{len(result.changes)} {plural(len(result.changes), 'account')} {verb}")
    for change in result.changes:
        before = f"{change.tier_before} {change.status_before}" if change.tier_before else "(no account)"
        notes = []
        if change.revoked_keys:
            notes.append(f"{change.revoked_keys} {plural(change.revoked_keys, 'key')} revoked")
        if not result.dry_run and not change.applied:
            notes.append("not applied: the account holds a newer change")
        note = f"  ({'; '.join(notes)})" if notes else ""
        print(f"  {change.account_id} ({change.mode}): {before} -> {change.tier_after} {change.status_after}{note}")
    if result.unknown_prices:
        print("prices that match no tier (set STRIPE_<TIER>_PRICE_ID or the price's tier metadata, then run this again):")
        for price in result.unknown_prices:
            seen = f", {price.events} events, last {price.last_event_id} at {price.last_seen}" if price.events else ", seen in Stripe"
            print(f"  {price.price_id}: account {price.last_account_id or '-'}{seen}")
    if result.skipped:
        for skipped in result.skipped:
            print(f"skipped {skipped.subscription_id or '(no id)'} of {skipped.account_id or '(no customer)'}: {skipped.reason}",
                  file=sys.stderr)
        raise CliError(f"{len(result.skipped)} {plural(len(result.skipped), 'subscription')} left out (listed above); "
                       "every other account was reconciled")


def plural(count: int, noun: str) -> str:
    return noun if count == 1 else noun + "s"


def grace_seconds(text: str) -> int:
    """Parses --grace: whole seconds, 0 to 604800 (7 days)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if not 0 <= value <= 604_800:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..604800 seconds (7 days)")
    return value


def accounts_update(admin: Admin, args) -> None:
    request = admin_pb2.UpdateAccountRequest(account_id=args.account)
    for field in ("tier", "status", "period_start", "period_end"):
        value = getattr(args, field)
        if value is not None:
            setattr(request, field, value)
    updated = admin.call("UpdateAccount", request)
    a = updated.account
    print(f"account {a.account_id}: tier {a.tier}, status {a.status}, period {a.period_start or '-'} .. {a.period_end or '-'}")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="defrag", description="Manage defrag accounts, API keys and usage.")
    commands = top.add_subparsers(dest="command", required=True)

    keys = commands.add_parser("keys", help="create, revoke, roll and list API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="issue a key; prints it alone on the last line")
    create.add_argument("--account", required=True, help="account id, [A-Za-z0-9_]{1,64}")
    create.add_argument("--tier", help="create the account with this tier; leave it out for an existing account")
    create.add_argument("--name", help="a label for the key")
    create.add_argument("--expires", help="expiry, YYYY-MM-DD or RFC 3339")
    create.add_argument("--test", action="store_true", help="create a test-mode account (sk_test_ keys)")
    create.set_defaults(run=keys_create)
    revoke = keys.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id", help="the key's public id, key_... (see `defrag keys list`)")
    revoke.set_defaults(run=keys_revoke)
    roll = keys.add_parser("roll", help="issue a replacement; the old key works for a grace period")
    roll.add_argument("key_id", help="the key's public id, key_... (see `defrag keys list`)")
    roll.add_argument("--grace", type=grace_seconds, help="seconds the old key keeps working, 0..604800 (default 86400)")
    roll.set_defaults(run=keys_roll)
    listing = keys.add_parser("list", help="list an account's keys (never the secrets)")
    listing.add_argument("--account", required=True, help="account id")
    listing.set_defaults(run=keys_list)

    usage_command = commands.add_parser("usage", help="show an account's tier, quota and use")
    usage_command.add_argument("--account", required=True, help="account id")
    usage_command.set_defaults(run=usage)

    accounts = commands.add_parser("accounts", help="change accounts").add_subparsers(dest="action", required=True)
    show = accounts.add_parser("get", help="show an account")
    show.add_argument("--account", required=True, help="account id")
    show.set_defaults(run=accounts_get)
    update = accounts.add_parser("update", help="set tier, status or billing period (an operator's change)")
    update.add_argument("--account", required=True, help="account id")
    update.add_argument("--tier", help="a tier from the tiers file (see `defrag tiers list`)")
    update.add_argument("--status", choices=["active", "past_due", "canceled"])
    update.add_argument("--period-start", dest="period_start", help="RFC 3339; '' clears the period")
    update.add_argument("--period-end", dest="period_end", help="RFC 3339")
    update.set_defaults(run=accounts_update)

    billing = commands.add_parser("billing", help="Stripe billing").add_subparsers(dest="action", required=True)
    reconcile = billing.add_parser(
        "reconcile", help="bring every account in line with Stripe's subscriptions, and list prices that match no tier",
    )
    reconcile.add_argument("--dry-run", action="store_true", help="report what would change without changing it")
    reconcile.set_defaults(run=billing_reconcile)

    tiers = commands.add_parser("tiers", help="show the tiers the gateway enforces").add_subparsers(dest="action", required=True)
    tiers.add_parser("list", help="list every tier with its quota, burst limit and methods").set_defaults(run=tiers_list)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        # The billing commands talk to the billing service instead.
        admin = None if args.command == "billing" else Admin(*admin_settings())
        args.run(admin, args)
    except CliError as error:
        print(f"defrag: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader (such as `| head -2`) closed the pipe before the output ended,
        # which may have cut off a key that is shown only once.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("defrag: standard output was closed before the output ended. If a key was being shown, "
              "revoke it with `defrag keys revoke KEY_ID` and create another.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
