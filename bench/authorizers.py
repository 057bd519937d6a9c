"""Two reference authorizers that admit every call without any check: `python -m bench.authorizers grpc|http PORT`.

They show how much of the gateway's cost per decision is the transport
and server framework rather than the decision itself.
- grpc: Envoy's ext_authz gRPC service on grpc.aio, the framework the
  gateway uses. It returns a constant OK CheckResponse for every Check.
- http: Envoy's ext_authz HTTP service on a bare asyncio protocol. It
  returns 200 with no body for every request.
Both run on uvloop, as the gateway does. Neither reads Redis, logs or
counts anything, so they are bench references only.
"""

import asyncio
import sys

import grpc
import uvloop
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from google.rpc import status_pb2

ALLOW = external_auth_pb2.CheckResponse(status=status_pb2.Status(code=0))
HTTP_ALLOW = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
MAX_HEADER_BYTES = 64 * 1024


class AllowAllServicer(external_auth_pb2_grpc.AuthorizationServicer):
    async def Check(self, request, context):
        return ALLOW


class AllowAllHttpProtocol(asyncio.Protocol):
    """Responds with 200 to every HTTP/1.1 request on a keep-alive connection, after reading its body."""

    def __init__(self):
        self.transport = None
        self.buffer = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                if len(self.buffer) > MAX_HEADER_BYTES:
                    self.transport.close()
                return
            body_length = content_length(self.buffer[:head_end])
            request_end = head_end + 4 + body_length
            if len(self.buffer) < request_end:
                return
            self.buffer = self.buffer[request_end:]
            self.transport.write(HTTP_ALLOW)


def content_length(head: bytes) -> int:
    """Returns the Content-Length of a request head, 0 when it has none."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


async def serve_grpc(port: int) -> None:
    server = grpc.aio.server()
    external_auth_pb2_grpc.add_AuthorizationServicer_to_server(AllowAllServicer(), server)
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise OSError(f"cannot listen on 127.0.0.1:{port}; choose a free port")
    await server.start()
    await server.wait_for_termination()


async def serve_http(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(AllowAllHttpProtocol, "127.0.0.1", port)
    await server.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("grpc", "http") or not argv[1].isdigit():
        print("usage: python -m bench.authorizers grpc|http PORT", file=sys.stderr)
        return 2
    serve = serve_grpc if argv[0] == "grpc" else serve_http
    try:
        uvloop.run(serve(int(argv[1])))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
