"""The SEDA shell's pure parts (locale, text checks, resources, hash, secret) and its audit-stream trimming."""

import asyncio
import hashlib
import hmac
import time
import uuid

import pytest
import redis

from defrag.platform.config import ConfigError
from defrag.seda.v1 import seda_pb2
from services.seda import audit, resources, scorer, service


@pytest.mark.parametrize(
    "locale, region",
    [
        ("en-US", "US"),
        ("en-us", "US"),
        ("EN-GB", "GB"),
        ("es-MX", "MX"),
        ("zh-Hant-TW", "TW"),
        ("es-419", "419"),
        ("sr-Latn", ""),
        ("en", ""),
        ("de-CH-1996", "CH"),
        ("en-US-u-ca-gregory", "US"),
        ("de-DE-u-co-phonebk-x-private", "DE"),
        ("en-GB-x-test", "GB"),
        ("zh-yue-HK", "HK"),
        # Private use alone, and grandfathered tags, have no region.
        ("x-whatever", ""),
        ("i-klingon", ""),
        ("sgn-BE-FR", ""),
        ("", ""),
    ],
)
def test_locale_region_is_read(locale, region):
    violations, found = service.check_locale(locale)

    assert violations == []
    assert found == region


@pytest.mark.parametrize("locale", ["en_US", "english", "e", "en-", "-US", "en-US-", "en-US\n", "en-" + "a" * 40, "12-US",
                                    "en-US-u", "en-US-u-ca-", "en-US-x", "x", "x-", "i-unknown", "en-US-x-toolongpart", "en-US-u-" + "-".join(["ca"] * 30)])
def test_malformed_locale_is_rejected(locale):
    violations, region = service.check_locale(locale)

    assert [v.field for v in violations] == ["locale"]
    assert region == ""


def test_underscore_locale_gets_a_hint():
    violations, _ = service.check_locale("en_GB")

    assert "'-' between the parts" in violations[0].description


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "missing"),
        ("   \n", "only whitespace"),
        ("\u0301\u0301\u0301", "only whitespace"),
        ("\ufe0f\ufe0f", "only whitespace"),
        ("x" * 20_001, "20001 code points"),
    ],
)
def test_bad_text_is_rejected(text, fragment):
    violations = service.check_text(text)

    assert [v.field for v in violations] == ["journal_text"]
    assert fragment in violations[0].description


def test_text_length_counts_code_points():
    # 20,000 code points of 4 UTF-8 bytes (and 2 UTF-16 units) each are within the limit.
    assert service.check_text("\U0001F30A" * 20_000) == []
    assert service.check_text("\U0001F30A" * 20_001) != []


def test_unknown_context_lists_the_set():
    (violation,) = service.check_context("palmistry")

    assert violation.field == "context"
    for context in service.CONTEXTS:
        assert context in violation.description


@pytest.mark.parametrize(
    "region, first_name, phone",
    [
        ("US", "988 Suicide & Crisis Lifeline", "988"),
        ("us", "988 Suicide & Crisis Lifeline", "988"),
        ("CA", "9-8-8 Suicide Crisis Helpline", "988"),
        ("GB", "Samaritans", "116 123"),
        ("IE", "Samaritans", "116 123"),
        ("MX", "Find A Helpline", ""),
        ("419", "Find A Helpline", ""),
        ("", "Find A Helpline", ""),
    ],
)
def test_resources_follow_the_region(region, first_name, phone):
    found = resources.resources_for(region)

    assert found[0].name == first_name
    assert found[0].phone == phone


def test_resources_never_name_a_method():
    every = [r for group in resources.REGIONAL.values() for r in group] + list(resources.INTERNATIONAL)
    words = ("pill", "overdose", "rope", "bridge", "gun", "knife", "jump")

    for resource in every:
        for word in words:
            assert word not in resource.description.lower()


def test_input_hash_matches_rfc_4231():
    # RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
    digest = audit.input_hash(b"Jefe", "what do ya want for nothing?")

    assert digest == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_input_hash_is_of_utf8_as_sent():
    key = b"k" * 32
    precomposed = "caf\u00e9"
    decomposed = "cafe\u0301"

    assert audit.input_hash(key, precomposed) == hmac.new(key, b"caf\xc3\xa9", hashlib.sha256).hexdigest()
    # No Unicode normalisation: the two spellings of the same word hash differently.
    assert audit.input_hash(key, precomposed) != audit.input_hash(key, decomposed)


def test_short_secret_is_rejected():
    with pytest.raises(ConfigError) as raised:
        audit.read_secret("s" * 31)

    assert "31 bytes" in str(raised.value)
    assert "s" * 31 not in str(raised.value)


def test_secret_length_counts_bytes():
    # 16 two-byte characters make 32 bytes, the minimum.
    assert audit.read_secret("\u00e9" * 16) == "\u00e9".encode() * 16


def test_audit_record_fields_are_strings():
    record = audit.AuditRecord("r1", "2026-01-01T00:00:00.000Z", "ab" * 32, 12, "critical", "m1", "k1", "a1", "pro", "")

    assert record.fields() == {
        "request_id": "r1",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "input_hash": "ab" * 32,
        "seda_score": "12",
        "band": "critical",
        "model_version": "m1",
        "key_id": "k1",
        "account_id": "a1",
        "tier": "pro",
        "context": "",
        "idempotent_replay": "false",
    }


@pytest.mark.integration
def test_expired_records_are_trimmed(mesh):
    stream = f"dfg:test:seda-retention:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(mesh.redis_url, decode_responses=True)
    forty_days_ago = int(time.time() * 1000) - 40 * audit.DAY_MS
    for index in range(250):
        client.xadd(stream, {"n": str(index)}, id=f"{forty_days_ago + index}-0")
    record = audit.AuditRecord("r", "t", "h", 90, "clear", "m", "k", "a", "pro", "")

    async def append_and_trim():
        log = audit.AuditLog(mesh.redis_url, retention_days=30, timeout_seconds=1.0, stream=stream)
        try:
            stored = await log.append(record)
            after_append = await log.redis.xlen(stream)
            return stored, after_append, await log.trim()
        finally:
            await log.close()

    try:
        stored, after_append, removed = asyncio.run(append_and_trim())
        remaining = client.xrange(stream)
    finally:
        client.delete(stream)
        client.close()

    assert stored is True
    # XADD's "~" trims whole nodes of 100 entries, so one node of expired entries may stay.
    assert 1 < after_append <= 101
    assert removed == after_append - 1
    assert len(remaining) == 1
    assert remaining[0][1]["band"] == "clear"


def assessment(band: str, score: int, *, signals=(), language_supported: bool = True) -> scorer.Assessment:
    modes = {"critical": "halted", "caution": "throttled", "watch": "grounded", "clear": "open"}
    return scorer.Assessment(
        score=score, band=band, mode=modes[band], label=band.title(), action="act", score_range="0-100",
        signals=tuple(signals), language="en" if language_supported else "xx", language_supported=language_supported,
    )


def respond(result: scorer.Assessment, logged: bool = True, locale: str = "en-GB") -> seda_pb2.AuditResponse:
    _, region = service.check_locale(locale)
    checked = service.CheckedRequest("text", locale, region, "horoscope")
    record = audit.AuditRecord("r1", "2026-01-01T00:00:00.000Z", "ab" * 32, result.score, result.band, "m1", "k1", "a1", "pro", "horoscope")
    return service.build_response(seda_pb2.AuditRequest(journal_text="text"), checked, result, record, logged)


@pytest.mark.parametrize(
    "band, score, action, resource_count",
    [
        ("critical", 10, "crisis_resources_attached", 2),
        ("caution", 40, "crisis_resources_attached", 2),
        ("watch", 60, "none", 0),
        ("clear", 90, "none", 0),
    ],
)
def test_resources_follow_the_band(band, score, action, resource_count):
    response = respond(assessment(band, score))

    assert response.band == band
    assert response.safety_action_taken == action
    assert len(response.crisis_resources) == resource_count


def test_signals_are_sorted_by_start():
    found = [scorer.Signal("plan", "high", 30, 40, "r2"), scorer.Signal("intent", "high", 5, 12, "r1")]

    response = respond(assessment("critical", 5, signals=found))

    assert [(s.start, s.end, s.rule) for s in response.signals] == [(5, 12, "r1"), (30, 40, "r2")]


def test_unsupported_language_warns():
    response = respond(assessment("clear", 90, language_supported=False))

    assert response.language_supported is False
    assert any("treat it with caution" in warning for warning in response.warnings)


def test_failed_audit_write_warns():
    response = respond(assessment("clear", 90), logged=False)

    assert response.audit_logged is False
    assert any("audit_logged is false" in warning for warning in response.warnings)
