"""Identity: API clients, signing keys, access tokens, scopes and rate limits.

Plain async Python over the state store; imports neither grpc nor generated messages. The
interceptors and the AuthService servicer put it on the wire.
"""

from deepseek_server.identity.clients import ApiClient, ClientCredentials, ClientRegistry
from deepseek_server.identity.keys import (
    SIGNING_ALGORITHMS,
    SigningKey,
    ensure_signing_key,
    generate_signing_key,
    jwks_document,
    load_keys,
    published_jwks,
    rotate_key,
    write_jwks_file,
)
from deepseek_server.identity.ratelimit import METHOD_COSTS, RateLimiter, StreamLimiter, TokenBucket
from deepseek_server.identity.scopes import (
    ADMIN,
    ALL_SCOPES,
    AUDIT_READ,
    COMPUTE_READ,
    COMPUTE_WRITE,
    METHOD_SCOPES,
    parse_scopes,
    required_scope,
)
from deepseek_server.identity.service import POLL_SECONDS, IdentityService, IssuedToken
from deepseek_server.identity.tokens import REQUIRED_CLAIMS, TOKEN_TYPE, TokenPolicy, TokenVerifier

__all__ = [
    "ADMIN",
    "ALL_SCOPES",
    "AUDIT_READ",
    "COMPUTE_READ",
    "COMPUTE_WRITE",
    "METHOD_COSTS",
    "METHOD_SCOPES",
    "POLL_SECONDS",
    "REQUIRED_CLAIMS",
    "SIGNING_ALGORITHMS",
    "TOKEN_TYPE",
    "ApiClient",
    "ClientCredentials",
    "ClientRegistry",
    "IdentityService",
    "IssuedToken",
    "RateLimiter",
    "SigningKey",
    "StreamLimiter",
    "TokenBucket",
    "TokenPolicy",
    "TokenVerifier",
    "ensure_signing_key",
    "generate_signing_key",
    "jwks_document",
    "load_keys",
    "parse_scopes",
    "published_jwks",
    "required_scope",
    "rotate_key",
    "write_jwks_file",
]
