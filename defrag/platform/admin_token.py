"""The admin token check shared by the operator APIs (the gateway's admin API and billing's reconcile)."""

import hmac

import grpc

from defrag.platform.errors import ApiError


def check_admin_token(context: grpc.aio.ServicerContext, token: bytes) -> None:
    """Raises UNAUTHENTICATED unless the call carries "authorization: Bearer <token>"; compares in constant time."""
    metadata = dict(context.invocation_metadata() or ())
    scheme, _, sent = metadata.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token):
        raise ApiError(
            grpc.StatusCode.UNAUTHENTICATED, "ADMIN_TOKEN_INVALID",
            "missing or wrong admin token; send 'authorization: Bearer <token>' with the token from DEFRAG_ADMIN_TOKEN",
        )
