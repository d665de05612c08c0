"""The web console: FastAPI app factory (:mod:`.app`), JSON API (:mod:`.api`), pages (:mod:`.ui`), security
(:mod:`.security`), templates and static files."""
