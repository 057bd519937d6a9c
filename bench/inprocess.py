"""The telemetry handler called in a loop in this process: the compute ceiling of one core.

It runs the servicer's GetVectors (validation, local-time resolution,
positions of ten bodies, building the response message) without gRPC,
Envoy or the gateway, for the same request that the load generators send.
"""

import asyncio
import dataclasses
import time

from defrag.telemetry.v1 import telemetry_pb2
from services.telemetry.service import TelemetryServicer


@dataclasses.dataclass
class ComputeResult:
    """Calls of the handler in one process, one after another."""

    calls: int
    seconds: float

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds

    @property
    def milliseconds_per_call(self) -> float:
        return self.seconds * 1000 / self.calls


class _Context:
    """The one part of grpc.aio.ServicerContext that GetVectors reads on success."""

    def invocation_metadata(self):
        return (("x-request-id", "bench"),)


async def _call_for(servicer: TelemetryServicer, request, seconds: float) -> ComputeResult:
    context = _Context()
    calls = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        response = await servicer.GetVectors(request, context)
        calls += 1
    elapsed = time.perf_counter() - started
    if len(response.bodies) != 10:
        raise RuntimeError(f"GetVectors returned {len(response.bodies)} bodies, expected 10")
    return ComputeResult(calls, elapsed)


def measure(request: telemetry_pb2.GetVectorsRequest, seconds: float, warm_up_seconds: float = 1.0) -> ComputeResult:
    """Calls GetVectors back to back for `seconds` after a warm-up, on the calling thread."""
    servicer = TelemetryServicer()
    asyncio.run(_call_for(servicer, request, warm_up_seconds))
    return asyncio.run(_call_for(servicer, request, seconds))
