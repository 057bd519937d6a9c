"""The telemetry service: planetary positions for a local date, time and place over gRPC."""

from services.telemetry.service import TelemetryServicer, register

__all__ = ["TelemetryServicer", "register"]
