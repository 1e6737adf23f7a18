"""Typed federation errors, mapped to HTTP statuses at the edge.

The protocol core raises these; the web layer turns ``status`` into the response code and
``message`` into a short body. ``code`` is a stable machine-readable name for logs and tests.
Never answer 2xx to a request that raised one of these.
"""

from __future__ import annotations


class FederationError(Exception):
    """Base class. ``status`` is the HTTP status an inbound request gets for this error."""

    status: int = 400
    code: str = "federation_error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.code)
        self.message = message or self.code

    def __str__(self) -> str:
        return self.message


class BadRequest(FederationError):
    """Malformed input: bad JSON, missing or invalid fields."""

    status = 400
    code = "bad_request"


class SignatureMissing(FederationError):
    """An inbound request carries no HTTP signature at all."""

    status = 401
    code = "signature_missing"


class SignatureInvalid(FederationError):
    """An HTTP signature is present but wrong: stale, malformed, weak or not matching the key."""

    status = 401
    code = "signature_invalid"


class Forbidden(FederationError):
    """Authenticated but not allowed: key/actor mismatch, blocked host or actor."""

    status = 403
    code = "forbidden"


class NotFound(FederationError):
    status = 404
    code = "not_found"


class Gone(FederationError):
    """The object or actor was deleted (a Tombstone or HTTP 410 upstream)."""

    status = 410
    code = "gone"


class PayloadTooLarge(FederationError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(FederationError):
    status = 415
    code = "unsupported_media_type"


class TransportError(FederationError):
    """An outbound request failed (network, timeout, bad response).

    Not an answer to an inbound request as such; ``status`` 502 is used if it surfaces while
    serving one (e.g. fetching a remote actor's key failed).
    """

    status = 502
    code = "transport_error"


class RemoteRefused(TransportError):
    """A remote server answered our request with an error status."""

    status = 502
    code = "remote_refused"

    def __init__(self, message: str = "", remote_status: int | None = None) -> None:
        super().__init__(message)
        self.remote_status = remote_status


__all__ = [
    "BadRequest",
    "FederationError",
    "Forbidden",
    "Gone",
    "NotFound",
    "PayloadTooLarge",
    "RemoteRefused",
    "SignatureInvalid",
    "SignatureMissing",
    "TransportError",
    "UnsupportedMediaType",
]
