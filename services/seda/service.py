"""The gRPC shell of the SEDA service: validate, score off the event loop, audit, build the response.

The score comes from services.seda.scorer and depends on the text alone:
birth data and context are validated and echoed but never passed to the
scorer. The text is hashed and then dropped. It reaches no log line, no
audit record and no error message.
"""

import asyncio
import dataclasses
import datetime as dt
import re
import time
import unicodedata
from concurrent.futures import Executor

import grpc
from google.protobuf import descriptor as pb_descriptor
from prometheus_client import Counter, Histogram

from defrag import birthdata
from defrag.common.v1 import common_pb2
from defrag.platform.calls import format_timestamp, metadata_value, request_id
from defrag.platform.errors import FieldViolation, invalid_argument
from defrag.seda.v1 import seda_pb2, seda_pb2_grpc
from services.seda import scorer
from services.seda.audit import AuditLog, AuditRecord, input_hash
from services.seda.resources import CrisisResource, resources_for

SERVICE_DESCRIPTOR = seda_pb2.DESCRIPTOR.services_by_name["SedaService"]

# Values of the context field, the kind of content the platform is about to show.
CONTEXTS = ("tarot_reading", "transit_forecast", "horoscope", "journal_prompt", "astrology_chart", "meditation", "other")

# The shape of a BCP 47 language tag (RFC 5646, section 2.1). It starts with a
# language of 2 or 3 letters and up to three extended language subtags (zh-yue).
# Then come an optional script, an optional region, variants, extensions such as
# -u-ca-gregory, and a private-use part (-x-...).
# A tag may also be private use alone (x-whatever) or one of the grandfathered
# tags of section 2.2.8 (i-klingon). Tags are matched without regard to case.
# The scorer reads only the language, and the resources only the region.
_GRANDFATHERED = (
    "en-gb-oed i-ami i-bnn i-default i-enochian i-hak i-klingon i-lux i-mingo i-navajo i-pwn i-tao i-tay i-tsu "
    "sgn-be-fr sgn-be-nl sgn-ch-de art-lojban cel-gaulish no-bok no-nyn zh-guoyu zh-hakka zh-min zh-min-nan zh-xiang"
).split()
LOCALE_PATTERN = re.compile(
    r"(?P<language>[a-z]{2,3}(?:-[a-z]{3}){0,3})"
    r"(?:-(?P<script>[a-z]{4}))?"
    r"(?:-(?P<region>[a-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"
    r"(?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*"
    r"(?:-x(?:-[a-z0-9]{1,8})+)?"
    r"|x(?:-[a-z0-9]{1,8})+"
    r"|" + "|".join(re.escape(tag) for tag in sorted(_GRANDFATHERED, key=len, reverse=True)),
    re.IGNORECASE,
)
# RFC 5646 (section 4.4.1) asks for room for 35 characters without extensions;
# this leaves room for a few extensions as well.
MAX_LOCALE_LENGTH = 80
# Characters of a rejected context or locale repeated in its error message.
MAX_SHOWN_VALUE = 40

# Bands whose response carries crisis resources. Caution is included
# because its signals (such as a wish to be dead) call for a contact even
# when no plan is stated.
CRISIS_BANDS = frozenset({"critical", "caution"})
ACTION_CRISIS_RESOURCES = "crisis_resources_attached"
ACTION_NONE = "none"

BANDS_TOTAL = Counter("defrag_seda_band_total", "Audits answered, by band.", ["band"])
SCORING_SECONDS = Histogram(
    "defrag_seda_scoring_duration_seconds",
    "Time the scorer took for one text, measured in the worker thread.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
for _band in scorer.BANDS:
    BANDS_TOTAL.labels(_band.name)


@dataclasses.dataclass(frozen=True)
class CheckedRequest:
    """The fields of a valid request that the handler uses."""

    text: str
    locale: str
    region: str
    context: str


class SedaServicer(seda_pb2_grpc.SedaServiceServicer):
    """Serves defrag.seda.v1.SedaService."""

    def __init__(self, audit_log: AuditLog, secret: bytes, executor: Executor, use_encoder: bool = True):
        self.audit_log = audit_log
        self.secret = secret
        self.executor = executor
        self.use_encoder = use_encoder

    async def Audit(self, request: seda_pb2.AuditRequest, context: grpc.aio.ServicerContext) -> seda_pb2.AuditResponse:
        checked = read_request(request)

        # The scorer takes about 100 ms for 2,000 code points with the encoder
        # and 5 ms without it (BENCHMARKS.md), so it runs in a worker thread
        # and the event loop keeps serving health checks meanwhile. The rules
        # hold the GIL, so more throughput needs more processes
        # (DEFRAG_SEDA_WORKERS).
        loop = asyncio.get_running_loop()
        assessment = await loop.run_in_executor(self.executor, score, checked.text, checked.locale, self.use_encoder)
        BANDS_TOTAL.labels(assessment.band).inc()

        record = AuditRecord(
            request_id=request_id(context),
            timestamp=format_timestamp(dt.datetime.now(dt.UTC), "milliseconds"),
            input_hash=input_hash(self.secret, checked.text),
            seda_score=assessment.score,
            band=assessment.band,
            model_version=scorer.model_version(self.use_encoder),
            key_id=metadata_value(context, "x-defrag-key-id"),
            account_id=metadata_value(context, "x-defrag-account-id"),
            tier=metadata_value(context, "x-defrag-tier"),
            context=checked.context,
            idempotent_replay=metadata_value(context, "x-defrag-idempotent-replay") == "true",
        )
        logged = await self.audit_log.append(record)
        return build_response(request, checked, assessment, record, logged)


def register(server: grpc.aio.Server, servicer: SedaServicer) -> list[pb_descriptor.ServiceDescriptor]:
    """Add the SEDA servicer to a server and return its descriptor for health and metrics."""
    seda_pb2_grpc.add_SedaServiceServicer_to_server(servicer, server)
    return [SERVICE_DESCRIPTOR]


def score(text: str, locale: str, use_encoder: bool = True) -> scorer.Assessment:
    """Run the scorer and record its duration. The handler calls this in a worker thread."""
    started = time.perf_counter()
    assessment = scorer.assess(text, locale, use_encoder=use_encoder)
    SCORING_SECONDS.observe(time.perf_counter() - started)
    return assessment


# --- validation -------------------------------------------------------------


def read_request(request: seda_pb2.AuditRequest) -> CheckedRequest:
    """Check every field and raise a 400 with one FieldViolation per bad field, in field order."""
    violations = [*check_text(request.journal_text)]
    if request.HasField("birth_data"):
        violations += check_birth_data(request.birth_data)
    violations += check_context(request.context)
    locale_violations, region = check_locale(request.locale)
    violations += locale_violations

    if violations:
        raise invalid_argument(violations)
    return CheckedRequest(request.journal_text, request.locale, region, request.context)


# Control and format characters (U+200B, U+FEFF, bidi marks) and separators.
# Control, format and separator characters, and marks (combining accents, and variation
# selectors such as U+FE0F), which carry no text without a letter to attach to.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"})
# Letters and symbols that render as blank space: the Hangul fillers and the blank Braille pattern.
BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def check_text(text: str) -> list[FieldViolation]:
    """Check journal_text's length in code points, never repeating the text."""
    limit = scorer.MAX_TEXT_LENGTH
    if not text:
        return [FieldViolation("journal_text", f"missing or empty: send the person's text, 1 to {limit} Unicode code points")]
    # Whitespace and invisible characters alone give the scorer nothing to
    # read, and a band for them would look like a real result.
    if not any(not char.isspace() and char not in BLANK_CHARACTERS and unicodedata.category(char) not in INVISIBLE_CATEGORIES
               for char in text):
        return [FieldViolation(
            "journal_text",
            "contains only whitespace or invisible characters (such as U+200B, control characters, lone combining "
            "marks or the blank U+3164 and U+2800): "
            f"send the person's text, 1 to {limit} code points",
        )]
    if len(text) > limit:
        return [FieldViolation(
            "journal_text",
            f"is {len(text)} code points long, over the limit of {limit}: "
            "send a shorter text, or audit each part of a long one and act on the lowest score",
        )]
    return []


def check_birth_data(birth: common_pb2.BirthData) -> list[FieldViolation]:
    """Check birth data with telemetry's rules. The place is optional, but once given it needs both lat and lon."""
    _, errors = birthdata.read_birth_data(birth, place_required=False)
    return [FieldViolation(f"birth_data.{error.field}", error.description) for error in errors]


def check_context(value: str) -> list[FieldViolation]:
    if not value or value in CONTEXTS:
        return []
    return [FieldViolation(
        "context",
        f"{_shown(value)} is not a known context: use one of {', '.join(CONTEXTS)}, or leave it out",
    )]


def check_locale(value: str) -> tuple[list[FieldViolation], str]:
    """Check the locale's BCP 47 shape and return any violation and its region subtag ("" when none)."""
    if not value:
        return [], ""
    match = LOCALE_PATTERN.fullmatch(value) if len(value) <= MAX_LOCALE_LENGTH else None
    if match is None:
        hint = " with '-' between the parts, not '_'" if "_" in value else ""
        return [FieldViolation(
            "locale",
            f"{_shown(value)} is not a BCP 47 language tag: send a tag such as en-US, en-GB or es-MX{hint}, or leave it out",
        )], ""
    return [], (match.group("region") or "").upper()


def _shown(value: str) -> str:
    """Return the value quoted for an error message, cut to MAX_SHOWN_VALUE characters."""
    return repr(value[:MAX_SHOWN_VALUE] + ("..." if len(value) > MAX_SHOWN_VALUE else ""))


# --- response ---------------------------------------------------------------


def build_response(
    request: seda_pb2.AuditRequest,
    checked: CheckedRequest,
    assessment: scorer.Assessment,
    record: AuditRecord,
    logged: bool,
) -> seda_pb2.AuditResponse:
    """Assemble the response from the assessment and the audit record."""
    crisis = assessment.band in CRISIS_BANDS
    response = seda_pb2.AuditResponse(
        request_id=record.request_id,
        timestamp=record.timestamp,
        seda_score=assessment.score,
        band=assessment.band,
        mode=assessment.mode,
        threshold_details=seda_pb2.ThresholdDetails(
            score_range=assessment.score_range, label=assessment.label, action=assessment.action
        ),
        safety_action_taken=ACTION_CRISIS_RESOURCES if crisis else ACTION_NONE,
        audit_logged=logged,
        input_hash=record.input_hash,
        signals=[_signal(signal) for signal in sorted(assessment.signals, key=lambda s: (s.start, s.end))],
        crisis_resources=[_resource(resource) for resource in resources_for(checked.region)] if crisis else [],
        model_version=record.model_version,
        language_supported=assessment.language_supported,
        language=assessment.language,
        context=checked.context,
        locale=checked.locale,
        warnings=_warnings(assessment, logged),
    )
    if request.HasField("birth_data"):
        response.birth_data.CopyFrom(request.birth_data)
    return response


def _warnings(assessment: scorer.Assessment, logged: bool) -> list[str]:
    warnings = []
    if not assessment.language_supported:
        warnings.append(
            f"the text's language ({assessment.language or 'unknown'}) is not one the scorer supports "
            f"({', '.join(scorer.SUPPORTED_LANGUAGES)}), so the score is less reliable; treat it with caution"
        )
    if not logged:
        warnings.append("the audit record could not be written; the score is valid, and audit_logged is false")
    return warnings


def _signal(signal: scorer.Signal) -> seda_pb2.Signal:
    return seda_pb2.Signal(
        category=signal.category, severity=signal.severity, start=signal.start, end=signal.end, rule=signal.rule
    )


def _resource(resource: CrisisResource) -> seda_pb2.CrisisResource:
    return seda_pb2.CrisisResource(**dataclasses.asdict(resource))
