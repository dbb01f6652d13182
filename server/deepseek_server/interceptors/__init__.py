"""Server interceptors, one concern each, in this order (outermost first):

1. :class:`RequestContextInterceptor` names the call (method, peer, request id).
2. :class:`ErrorMappingInterceptor` turns every exception raised inside it, by a handler or by
   an interceptor below, into a ``google.rpc.Status``.
3. Audit (recording one record per call) sits here: it sees every call, also those refused by
   authentication, with the domain exception that ended it.
4. :class:`AuthInterceptor` verifies the access token and the method's scope and sets the
   principal; then :class:`RateLimitInterceptor` charges the principal's client; then the
   handler. Both are left out when ``auth.required`` is false (every call is the local user).
"""

from deepseek_server.interceptors.auth import AuthInterceptor
from deepseek_server.interceptors.errors import ErrorMappingInterceptor, status_from_error
from deepseek_server.interceptors.rate_limit import RateLimitInterceptor
from deepseek_server.interceptors.request_context import RequestContextInterceptor

__all__ = [
    "AuthInterceptor",
    "ErrorMappingInterceptor",
    "RateLimitInterceptor",
    "RequestContextInterceptor",
    "status_from_error",
]
