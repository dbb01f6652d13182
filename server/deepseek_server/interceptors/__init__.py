"""Server interceptors, one concern each, in this order (outermost first):

1. :class:`RequestContextInterceptor` names the call (method, peer, request id).
2. :class:`ErrorMappingInterceptor` turns every exception raised inside it, by a handler or by
   an interceptor below, into a ``google.rpc.Status``.
3. Audit (recording one record per call) sits here: it sees every call, also those refused by
   authentication, with the domain exception that ended it.
4. Authentication, then rate limiting, then the handler.
"""

from deepseek_server.interceptors.errors import ErrorMappingInterceptor, status_from_error
from deepseek_server.interceptors.request_context import RequestContextInterceptor

__all__ = ["ErrorMappingInterceptor", "RequestContextInterceptor", "status_from_error"]
