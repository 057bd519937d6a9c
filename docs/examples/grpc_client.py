"""Calls the defrag gRPC API with grpcio and the project's generated stubs: GetVectors, then GetUsage.

    DEFRAG_API_KEY=sk_live_... .venv/bin/python docs/examples/grpc_client.py

The address is DEFRAG_GRPC_ADDR, or else the host and port of DEFRAG_URL,
127.0.0.1:8080 by default: REST and gRPC share the public port. The key goes
in the `authorization` metadata. On an error the script prints the gRPC code,
the ErrorInfo reason and the message from the rich status
(grpc-status-details-bin), and exits with status 1.
"""

import os
import sys
import urllib.parse

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from defrag.keys.v1 import usage_pb2, usage_pb2_grpc
from defrag.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_SECONDS = 30


def grpc_address() -> str:
    """Returns host:port from DEFRAG_GRPC_ADDR, or from DEFRAG_URL when that is unset."""
    address = os.environ.get("DEFRAG_GRPC_ADDR")
    if address:
        return address
    url = urllib.parse.urlsplit(os.environ.get("DEFRAG_URL", DEFAULT_URL))
    return f"{url.hostname}:{url.port or 80}"


def error_reason(error: grpc.RpcError) -> str:
    """Returns the ErrorInfo reason of a failed call, or '' when the call carried no rich status."""
    status = rpc_status.from_call(error)
    if status is None:
        return ""
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


def print_vectors(response: telemetry_pb2.GetVectorsResponse) -> None:
    print(f"timestamp: {response.timestamp}")
    print(f"observer_timezone: {response.observer_timezone}")
    print(f"utc_offset: {response.utc_offset}")
    print(f"local_time: {response.local_time}")
    print(f"{'body':<8} {'ra_degrees':>10} {'dec_degrees':>11} {'azimuth_degrees':>15} {'altitude_degrees':>16}")
    for body in response.bodies:
        print(f"{body.body:<8} {body.ra_degrees:10.4f} {body.dec_degrees:11.4f} "
              f"{body.azimuth_degrees:15.4f} {body.altitude_degrees:16.4f}")
    for warning in response.warnings:
        print(f"warning: {warning}")


def main() -> int:
    key = os.environ.get("DEFRAG_API_KEY")
    if not key:
        print("grpc_client.py: set DEFRAG_API_KEY to an API key "
              "(create one with: .venv/bin/defrag keys create --account acct_demo --tier pro)", file=sys.stderr)
        return 2

    address = grpc_address()
    metadata = [("authorization", f"Bearer {key}")]
    request = telemetry_pb2.GetVectorsRequest(date="1990-01-15", time="14:30", lat=34.05, lon=-118.24)

    with grpc.insecure_channel(address) as channel:
        telemetry = telemetry_pb2_grpc.TelemetryServiceStub(channel)
        usage = usage_pb2_grpc.UsageServiceStub(channel)
        try:
            # with_call also returns the call, whose initial metadata carries
            # the gateway's rate-limit headers.
            vectors, call = telemetry.GetVectors.with_call(request, metadata=metadata, timeout=TIMEOUT_SECONDS)
            print(f"== defrag.telemetry.v1.TelemetryService/GetVectors at {address}")
            for name, value in call.initial_metadata():
                if name in ("ratelimit", "ratelimit-policy"):
                    print(f"{name}: {value}")
            print_vectors(vectors)

            account = usage.GetUsage(usage_pb2.GetUsageRequest(), metadata=metadata, timeout=TIMEOUT_SECONDS)
            print("== defrag.keys.v1.UsageService/GetUsage")
            print(json_format.MessageToJson(account, preserving_proto_field_name=True))
        except grpc.RpcError as error:
            print(f"error: {error.code().name}", file=sys.stderr)
            print(f"reason: {error_reason(error) or '(no ErrorInfo reason)'}", file=sys.stderr)
            print(f"message: {error.details()}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
