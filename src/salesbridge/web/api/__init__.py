"""The JSON API, ``/api/v1``: one module per area, each exposing ``router``."""
