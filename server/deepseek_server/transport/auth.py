"""AuthService over gRPC: the token endpoint and the published keys."""

from __future__ import annotations

from typing import Any

import grpc.aio

from deepseek.hpc.v1 import auth_pb2, auth_pb2_grpc
from deepseek_server.identity import IdentityService

Context = grpc.aio.ServicerContext[Any, Any]


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """IssueToken (OAuth2 client_credentials) and GetJwks."""

    def __init__(self, identity: IdentityService) -> None:
        self._identity = identity

    async def IssueToken(
        self, request: auth_pb2.IssueTokenRequest, context: Context
    ) -> auth_pb2.IssueTokenResponse:
        issued = await self._identity.issue_token(
            request.grant_type, request.client_id, request.client_secret, request.scope
        )
        return auth_pb2.IssueTokenResponse(
            access_token=issued.access_token,
            token_type="Bearer",
            expires_in=issued.expires_in,
            scope=issued.scope,
        )

    async def GetJwks(
        self, request: auth_pb2.GetJwksRequest, context: Context
    ) -> auth_pb2.GetJwksResponse:
        fields = {field.name for field in auth_pb2.JsonWebKey.DESCRIPTOR.fields}
        return auth_pb2.GetJwksResponse(
            keys=[
                auth_pb2.JsonWebKey(**{k: v for k, v in jwk.items() if k in fields})
                for jwk in self._identity.jwks()
            ]
        )
