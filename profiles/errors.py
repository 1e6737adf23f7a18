"""Domain errors, mapped to HTTP status codes (and form messages) at the edge by ``node``."""

from __future__ import annotations


class DomainError(Exception):
    status = 400


class ValidationError(DomainError):
    """Bad input: ``errors`` maps a field name to a message (English; the UI translates codes)."""

    status = 422

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class NotFound(DomainError):
    status = 404


class PermissionDenied(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409
