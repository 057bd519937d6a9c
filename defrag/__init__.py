"""Shared code of the defrag mesh.

`defrag.platform` contains what every service uses: configuration,
logging, metrics, health, server start-up and errors. `defrag.sky` and
`defrag.localtime` are pure cores with no gRPC or Redis. The
`defrag.common`, `defrag.telemetry` and `defrag.keys` packages are
generated from protos/ by `make protos`.
"""
