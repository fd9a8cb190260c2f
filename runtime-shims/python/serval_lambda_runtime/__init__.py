"""Serval's Python runtime: a Lambda Runtime API client that runs unmodified Lambda Python handlers."""
