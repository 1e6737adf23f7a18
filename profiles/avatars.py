"""Remote avatars, made safe to serve from this node (issue 10, leak 5).

A partner member's avatar is never hot-linked (a third party would learn who views the
directory): the worker fetches it once through the guarded transport, :func:`reencode` checks
it (type, size, pixel dimensions) and re-encodes it with Pillow (dropping metadata and anything
smuggled in the file), and the node serves its own copy. Until then, or if it fails, no picture
is shown.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

MAX_BYTES = 1_048_576  # what the transport reads at most anyway
MAX_SIDE = 4096  # pixels; larger is refused before decoding
MAX_PIXELS = 16_000_000
OUT_SIDE = 512  # stored at most this wide/high
FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}


def reencode(data: bytes) -> bytes:
    """A checked image re-encoded as PNG (at most :data:`OUT_SIDE` pixels a side).

    Raises ValueError for anything else: too large, not an image, an unexpected format, too
    many pixels (decompression bombs)."""
    if len(data) > MAX_BYTES:
        raise ValueError("avatar too large")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in FORMATS:
                    raise ValueError(f"avatar format {probe.format!r} refused")
                width, height = probe.size
                if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                    raise ValueError("avatar dimensions refused")
                probe.seek(0)
                image = probe.convert("RGBA")
        except (OSError, SyntaxError, Image.DecompressionBombWarning) as exc:
            raise ValueError(f"not a readable image: {exc}") from None
    image.thumbnail((OUT_SIDE, OUT_SIDE))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


__all__ = ["reencode"]
