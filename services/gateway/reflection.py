"""gRPC server reflection for the public API only, so grpcurl works without proto files."""

from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection

from defrag.platform.config import descriptor_path

PUBLIC_SERVICES = ("defrag.telemetry.v1.TelemetryService", "defrag.seda.v1.SedaService", "defrag.orbit.v1.OrbitService", "defrag.keys.v1.UsageService")
PRIVATE_FILES = ("defrag/keys/v1/admin.proto",)


def public_pool() -> descriptor_pool.DescriptorPool:
    """Returns a pool of the public files from the descriptor set, without the admin API."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_path().read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for proto in files.file:  # protoc writes dependencies before the files that import them
        if proto.name not in PRIVATE_FILES:
            pool.Add(proto)
    return pool


def enable(server) -> None:
    reflection.enable_server_reflection([*PUBLIC_SERVICES, reflection.SERVICE_NAME], server, pool=public_pool())
