"""The sandbox over HTTP: the ASGI app (authentication, service protection, injected faults, admin endpoints),
serving it with uvicorn over HTTP or TLS, and the throwaway certificate authority."""
