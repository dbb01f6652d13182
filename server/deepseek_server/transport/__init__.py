"""gRPC servicers: proto in, domain call, proto out; nothing else lives here."""

from deepseek_server.transport.services import API_SERVICES, ApiService, register_services

__all__ = ["API_SERVICES", "ApiService", "register_services"]
