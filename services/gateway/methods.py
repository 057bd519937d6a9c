"""The public methods the gateway admits, with their byte limits and costs."""

import dataclasses
import functools
from collections.abc import Callable

from google.api import annotations_pb2
from google.protobuf import descriptor_pool
from google.protobuf.message import Message

from defrag.keys.v1 import usage_pb2
from defrag.orbit.v1 import orbit_pb2
from defrag.seda.v1 import seda_pb2
from defrag.telemetry.v1 import telemetry_pb2


@dataclasses.dataclass(frozen=True)
class MethodRule:
    """Admission and charging rules of one gRPC method."""

    path: str
    request_type: type[Message]
    # Largest accepted request message in bytes. A larger one gets 413.
    max_body_bytes: int
    # Calls charged for one request; 0 means free and open to every tier.
    cost: Callable[[Message], int]
    # Repeated field whose length must lie in (minimum, maximum), checked
    # before any charge; None when the method has no such field.
    count_field: str | None = None
    count_range: tuple[int, int] = (0, 0)

    @property
    def free(self) -> bool:
        return self.cost is FREE

    @functools.cached_property
    def rest_verb(self) -> str:
        """Returns the HTTP verb of the method's REST route ("get", "post", ...), from its google.api.http rule."""
        method = descriptor_pool.Default().FindMethodByName(self.path.strip("/").replace("/", "."))
        return method.GetOptions().Extensions[annotations_pb2.http].WhichOneof("pattern") or ""


def INSTANT_COUNT(message: Message) -> int:
    """Return the cost of a telemetry batch: one call per instant."""
    return len(message.instants)


def PAIR_COUNT(message: Message) -> int:
    """Return the cost of an orbit map of N people: one call per pair, N(N-1)/2."""
    count = len(message.people)
    return count * (count - 1) // 2


def FREE(_message: Message) -> int:
    return 0


def ONE_CALL(_message: Message) -> int:
    return 1


PUBLIC_METHODS: dict[str, MethodRule] = {
    rule.path: rule
    for rule in [
        MethodRule(
            "/defrag.telemetry.v1.TelemetryService/GetVectors",
            telemetry_pb2.GetVectorsRequest,
            max_body_bytes=16 * 1024,
            cost=ONE_CALL,
        ),
        # 20,000 code points of 4-byte UTF-8 are 80,000 bytes; the rest
        # leaves room for birth data, context, locale and field tags.
        MethodRule(
            "/defrag.seda.v1.SedaService/Audit",
            seda_pb2.AuditRequest,
            max_body_bytes=96 * 1024,
            cost=ONE_CALL,
        ),
        MethodRule(
            "/defrag.telemetry.v1.TelemetryService/BatchGetVectors",
            telemetry_pb2.BatchGetVectorsRequest,
            # 366 instants of about 30 bytes each, plus the shared fields.
            max_body_bytes=32 * 1024,
            cost=INSTANT_COUNT,
            count_field="instants",
            count_range=(1, 366),
        ),
        MethodRule(
            "/defrag.orbit.v1.OrbitService/Map",
            orbit_pb2.MapRequest,
            # 12 people with 64-code-point names (256 bytes of UTF-8) and
            # every birth-data field come to about 6 KiB.
            max_body_bytes=16 * 1024,
            cost=PAIR_COUNT,
            count_field="people",
            count_range=(2, 12),
        ),
        MethodRule(
            "/defrag.keys.v1.UsageService/GetUsage",
            usage_pb2.GetUsageRequest,
            max_body_bytes=1024,
            cost=FREE,
        ),
    ]
}
