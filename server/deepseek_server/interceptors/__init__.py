"""Server interceptors, one concern each.

Order (outermost first): :class:`RequestContextInterceptor` names the call, then
:class:`ErrorMappingInterceptor` turns exceptions into statuses. Later concerns (authentication,
rate limiting, audit) go between the two, so that they see the call's context and their own
errors are mapped like any other.
"""

from deepseek_server.interceptors.errors import ErrorMappingInterceptor, status_from_error
from deepseek_server.interceptors.request_context import RequestContextInterceptor

__all__ = ["ErrorMappingInterceptor", "RequestContextInterceptor", "status_from_error"]
