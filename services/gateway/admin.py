"""The admin API: accounts, tiers and keys, for operators and the billing service.

Served on its own port (loopback by default), never routed from the public
listener; every call needs the admin token.
"""

import datetime as dt
import logging
import re
import time

import grpc

from defrag.keys.v1 import admin_pb2, admin_pb2_grpc
from defrag.platform.admin_token import check_admin_token
from defrag.platform.errors import ApiError, FieldViolation, invalid_argument
from services.gateway.store import (
    FIRST_INSTANT,
    LAST_INSTANT,
    ROLL_GRACE_SECONDS,
    AlreadyExists,
    ClusterModeMismatch,
    KeyNotActive,
    NotFound,
    Store,
    StoreUnavailable,
    rfc3339,
)
from services.gateway.tiers import Tier
from services.gateway.usage import read_usage, store_unavailable

log = logging.getLogger("gateway.admin")

ACCOUNT_ID = re.compile(r"[A-Za-z0-9_]{1,64}")
KEY_ID = re.compile(r"key_[A-Za-z0-9]{20}")
MODES = ("live", "test")
STATUSES = ("active", "past_due", "canceled")
MAX_GRACE_SECONDS = 7 * 86_400


def parse_instant(field: str, value: str) -> int:
    """Reads RFC 3339 (or YYYY-MM-DD, midnight UTC) as unix seconds; raises a 400 naming the field."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)
        else:
            moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
            if moment.tzinfo is None:
                raise ValueError("no offset")
    except ValueError:
        raise invalid_argument([FieldViolation(
            field, f"{value[:80]!r} is not a date; use RFC 3339 such as 2027-01-31T00:00:00Z, or YYYY-MM-DD",
        )]) from None
    seconds = int(moment.timestamp())
    if not FIRST_INSTANT <= seconds <= LAST_INSTANT:
        raise invalid_argument([FieldViolation(
            field, f"{value[:80]!r} is outside 1970-01-01T00:00:00Z..9999-12-31T23:59:59Z; give a date in that range",
        )])
    return seconds


def account_message(fields: dict[str, str], account_id: str) -> admin_pb2.Account:
    return admin_pb2.Account(
        account_id=account_id,
        mode=fields.get("mode", "live"),
        tier=fields["tier"],
        status=fields.get("status", "active"),
        period_start=rfc3339(fields.get("period_start")),
        period_end=rfc3339(fields.get("period_end")),
        created_at=rfc3339(fields.get("created_at")),
        version=int(fields.get("version") or 0),
    )


def key_message(record: dict[str, str], now: float | None = None) -> admin_pb2.ApiKey:
    now = time.time() if now is None else now
    status = record["status"]
    if status == "active" and record.get("expires_at") and int(record["expires_at"]) <= now:
        status = "expired"
    return admin_pb2.ApiKey(
        key_id=record["key_id"],
        account_id=record["account_id"],
        name=record.get("name", ""),
        prefix=record.get("prefix", ""),
        status=status,
        created_at=rfc3339(record.get("created_at")),
        expires_at=rfc3339(record.get("expires_at")),
        last_used_at=rfc3339(record.get("last_used")),
        revoked_at=rfc3339(record.get("revoked_at")),
    )


class KeyAdminServicer(admin_pb2_grpc.KeyAdminServiceServicer):
    """Operator calls; each checks the admin token first."""

    def __init__(self, store: Store, tiers: dict[str, Tier], token: str):
        self.store = store
        self.tiers = tiers
        self.token = token.encode()

    def _authorize(self, context) -> None:
        check_admin_token(context, self.token)

    def _account_id(self, value: str, field: str = "account_id") -> str:
        if not ACCOUNT_ID.fullmatch(value):
            raise invalid_argument([FieldViolation(field, f"{value[:80]!r} must be 1..64 characters of A-Z, a-z, 0-9 and _")])
        return value

    def _tier(self, value: str) -> str:
        if value not in self.tiers:
            raise invalid_argument([FieldViolation("tier", f"unknown tier {value[:80]!r}; defined tiers: {', '.join(self.tiers)}")])
        return value

    async def _run(self, operation):
        try:
            return await operation
        except NotFound as missing:
            raise ApiError(grpc.StatusCode.NOT_FOUND, "NOT_FOUND", f"{missing} does not exist; check the id") from None
        except KeyNotActive as inactive:
            raise ApiError(
                grpc.StatusCode.FAILED_PRECONDITION, "KEY_NOT_ACTIVE",
                f"{inactive}, so it cannot be rolled; create a new key for the account instead",
            ) from None
        except AlreadyExists as existing:
            raise ApiError(grpc.StatusCode.ALREADY_EXISTS, "ACCOUNT_EXISTS", f"account {existing} already exists") from None
        except ClusterModeMismatch as mismatch:
            log.error("the gateway's Redis setting does not match its Redis", extra={"error": str(mismatch)})
            raise ApiError(
                grpc.StatusCode.FAILED_PRECONDITION, "REDIS_CLUSTER_MISMATCH", f"the gateway cannot use its Redis: {mismatch}",
            ) from None
        except StoreUnavailable:
            raise store_unavailable() from None

    async def CreateAccount(self, request, context):
        self._authorize(context)
        account_id = self._account_id(request.account_id)
        mode = request.mode or "live"
        if mode not in MODES:
            raise invalid_argument([FieldViolation("mode", f"{mode[:40]!r} must be 'live' or 'test'")])
        tier = self._tier(request.tier or "free")
        fields = await self._run(self.store.create_account(account_id, mode, tier))
        log.info("account created", extra={"account_id": account_id, "tier": tier, "mode": mode})
        return account_message(fields, account_id)

    async def GetAccount(self, request, context):
        self._authorize(context)
        account_id = self._account_id(request.account_id)
        return account_message(await self._run(self.store.get_account(account_id)), account_id)

    async def UpdateAccount(self, request, context):
        self._authorize(context)
        account_id = self._account_id(request.account_id)
        changes = self._changes(request)
        event_time = request.source_event_time if request.HasField("source_event_time") else None
        if event_time is not None and not FIRST_INSTANT <= event_time <= LAST_INSTANT:
            # Redis's Lua reads numbers as doubles, so a larger version would be stored inexactly.
            raise invalid_argument([FieldViolation(
                "source_event_time", f"{event_time} is outside {FIRST_INSTANT}..{LAST_INSTANT} (unix seconds up to year 9999)",
            )])
        create_mode = None
        if request.HasField("create_mode"):
            if request.create_mode not in MODES:
                raise invalid_argument([FieldViolation("create_mode", f"{request.create_mode[:40]!r} must be 'live' or 'test'")])
            create_mode = request.create_mode
        update = await self._run(self.store.update_account(
            account_id, changes, event_time, create_mode=create_mode, revoke_keys=request.revoke_keys,
        ))
        log.info(
            "account updated" if update.applied else "account change ignored as older than the account's state",
            extra={
                "account_id": account_id, "fields": sorted(changes), "event_time": event_time,
                "account_created": update.created, "revoked_keys": update.revoked_keys,
            },
        )
        return admin_pb2.UpdateAccountResponse(
            account=account_message(update.account, account_id),
            applied=update.applied,
            created=update.created,
            revoked_keys=update.revoked_keys,
        )

    def _changes(self, request) -> dict[str, str | int]:
        changes: dict[str, str | int] = {}
        if request.HasField("tier"):
            changes["tier"] = self._tier(request.tier)
        if request.HasField("status"):
            if request.status not in STATUSES:
                raise invalid_argument([FieldViolation("status", f"{request.status[:40]!r} must be one of {', '.join(STATUSES)}")])
            changes["status"] = request.status
        if request.HasField("period_start"):
            if request.period_start.strip():
                start = parse_instant("period_start", request.period_start)
                moment = dt.datetime.fromtimestamp(start, dt.timezone.utc)
                changes.update(period_start=start, anchor_day=moment.day,
                               anchor_second=moment.hour * 3600 + moment.minute * 60 + moment.second)
            else:
                changes.update(period_start="", anchor_day=1, anchor_second=0)
        if request.HasField("period_end"):
            changes["period_end"] = parse_instant("period_end", request.period_end) if request.period_end.strip() else ""
        start, end = changes.get("period_start"), changes.get("period_end")
        if isinstance(start, int) and isinstance(end, int) and end <= start:
            raise invalid_argument([FieldViolation("period_end", "must be after period_start")])
        return changes

    async def CreateKey(self, request, context):
        self._authorize(context)
        account_id = self._account_id(request.account_id)
        name = request.name.strip()
        if len(name) > 64 or not name.isprintable():
            raise invalid_argument([FieldViolation("name", "must be at most 64 printable characters")])
        expires_at = None
        if request.expires_at.strip():
            expires_at = parse_instant("expires_at", request.expires_at)
            if expires_at <= time.time():
                raise invalid_argument([FieldViolation("expires_at", f"{request.expires_at!r} is in the past; give a future date")])
        record, plaintext = await self._run(self.store.create_key(account_id, name, expires_at))
        log.info("key created", extra={"account_id": account_id, "key_id": record["key_id"]})
        return admin_pb2.CreateKeyResponse(key=key_message(record), plaintext=plaintext)

    def _key_id(self, value: str) -> str:
        if not KEY_ID.fullmatch(value):
            raise invalid_argument([FieldViolation("key_id", f"{value[:80]!r} is not a key id; key ids look like key_ and 20 letters or digits")])
        return value

    async def RevokeKey(self, request, context):
        self._authorize(context)
        record = await self._run(self.store.revoke_key(self._key_id(request.key_id)))
        log.info("key revoked", extra={"account_id": record["account_id"], "key_id": record["key_id"]})
        return key_message(record)

    async def RollKey(self, request, context):
        self._authorize(context)
        grace = request.grace_seconds if request.HasField("grace_seconds") else ROLL_GRACE_SECONDS
        if grace > MAX_GRACE_SECONDS:
            raise invalid_argument([FieldViolation("grace_seconds", f"{grace} is over {MAX_GRACE_SECONDS} (7 days)")])
        new, plaintext, old = await self._run(self.store.roll_key(self._key_id(request.key_id), grace))
        log.info("key rolled", extra={"account_id": new["account_id"], "key_id": new["key_id"], "old_key_id": old["key_id"]})
        return admin_pb2.RollKeyResponse(new_key=key_message(new), plaintext=plaintext, old_key=key_message(old))

    async def ListKeys(self, request, context):
        self._authorize(context)
        records = await self._run(self.store.list_keys(self._account_id(request.account_id)))
        return admin_pb2.ListKeysResponse(keys=[key_message(r) for r in records])

    async def GetUsage(self, request, context):
        self._authorize(context)
        return await read_usage(self.store, self.tiers, self._account_id(request.account_id))

    async def ListTiers(self, request, context):
        self._authorize(context)
        return admin_pb2.ListTiersResponse(tiers=[
            admin_pb2.Tier(
                name=t.name,
                quota_unlimited=t.monthly_quota is None,
                monthly_quota=t.monthly_quota or 0,
                burst_per_second=t.burst_per_second,
                methods=sorted(t.methods),
            )
            for t in self.tiers.values()
        ])
