"""The one error shape of the API: google.rpc.Status with typed details.

Every error names the value, the rule it broke and the fix. Services raise
ApiError; the server wrapper turns it into grpc-status and
grpc-status-details-bin, which Envoy's transcoder prints as JSON for REST
callers. The gateway builds the same Status for its own denials.
"""

import dataclasses
import json

import grpc
from google.protobuf import duration_pb2, json_format
from google.rpc import code_pb2, error_details_pb2, status_pb2

DOMAIN = "api.defrag.app"

# HTTP status for each gRPC code, as the status table of the API reference states.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNIMPLEMENTED: 404,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.INTERNAL: 500,
}


@dataclasses.dataclass
class FieldViolation:
    """One bad field: its name (dotted path) and what is wrong with it and how to fix it."""

    field: str
    description: str


@dataclasses.dataclass
class QuotaViolation:
    """One exhausted limit: what it counts and what to do."""

    subject: str
    description: str


class ApiError(Exception):
    """An error that reaches the caller as a google.rpc.Status."""

    def __init__(
        self,
        code: grpc.StatusCode,
        reason: str,
        message: str,
        *,
        violations: list[FieldViolation] | None = None,
        quota_violations: list[QuotaViolation] | None = None,
        retry_after_seconds: int | None = None,
        metadata: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.violations = violations or []
        self.quota_violations = quota_violations or []
        self.retry_after_seconds = retry_after_seconds
        self.metadata = metadata or {}

    def to_status(self, request_id: str = "") -> status_pb2.Status:
        """Builds the google.rpc.Status, with the request id in ErrorInfo's metadata."""
        status = status_pb2.Status(code=self.code.value[0], message=self.message)

        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN)
        info.metadata.update(self.metadata)
        if request_id:
            info.metadata["request_id"] = request_id
        status.details.add().Pack(info)

        if self.violations:
            bad = error_details_pb2.BadRequest()
            for v in self.violations:
                bad.field_violations.add(field=v.field, description=v.description)
            status.details.add().Pack(bad)
        if self.quota_violations:
            quota = error_details_pb2.QuotaFailure()
            for v in self.quota_violations:
                quota.violations.add(subject=v.subject, description=v.description)
            status.details.add().Pack(quota)
        if self.retry_after_seconds is not None:
            retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=self.retry_after_seconds))
            status.details.add().Pack(retry)
        return status


def invalid_argument(violations: list[FieldViolation], reason: str = "INVALID_ARGUMENT") -> ApiError:
    """Returns a 400 whose message repeats the first violation, so a log line alone is useful."""
    first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return ApiError(
        grpc.StatusCode.INVALID_ARGUMENT,
        reason,
        f"{first.field}: {first.description}{more}",
        violations=violations,
    )


def status_json(status: status_pb2.Status) -> str:
    """Prints a Status the way Envoy's transcoder prints one (proto field names)."""
    return json.dumps(json_format.MessageToDict(status, preserving_proto_field_name=True), separators=(",", ":"))


def code_name(code: int) -> str:
    """Returns the gRPC code's name, such as "INVALID_ARGUMENT"."""
    return code_pb2.Code.Name(code) if code in code_pb2.Code.values() else str(code)
