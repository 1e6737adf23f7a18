"""Domain errors, mapped to HTTP status codes (and form messages) at the edge by ``node``."""

from __future__ import annotations


class DomainError(Exception):
    """``permanent``: the same input fails the same way again — the federation worker records
    it once as refused instead of retrying (:func:`federation.transient.classify`)."""

    status = 400
    permanent = True


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
