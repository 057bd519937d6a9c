"""Throughput and latency bench of the edge, the gateway and the telemetry service: `make bench`."""
