"""Shared code of the defrag mesh.

`defrag.platform` contains what every service uses (configuration, logging,
metrics, health, server start-up, errors); `defrag.sky` and
`defrag.localtime` are pure cores with no gRPC or Redis; the
`defrag.common`, `defrag.telemetry` and `defrag.keys` packages are
generated from protos/ by `make protos`.
"""
