"""Images an image turn sends: read, checked and base64-encoded once, when the matrix is built,
so nothing is encoded on the event loop while a call is being measured."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}
"""Image formats a realtime `input_image` content part takes (PROTOCOLS §1.7: PNG or JPEG data URI)."""
MAX_BYTES = 10 * 1024 * 1024
"""Largest image file a turn may send (a bigger one is almost certainly the wrong file)."""


class ImageFileError(ValueError):
    """The image file is missing or is not a PNG or JPEG image (the message says which)."""


@dataclass(frozen=True)
class ImageInput:
    """One image as a turn sends it."""

    name: str
    """The file's name (records label the turn `image:<name>`)."""
    mime: str
    """`image/png` or `image/jpeg`."""
    width: int
    height: int
    data_url: str = field(repr=False)
    """`data:<mime>;base64,<bytes>`: what the `input_image` part carries."""


def load_image(path: Path) -> ImageInput:
    """Read and check an image file; `ImageFileError` when it is missing, too big or not a PNG
    or JPEG image."""
    if not path.is_file():
        raise ImageFileError(f"no such image file {str(path)!r}")
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise ImageFileError(f"{path.name} is {len(data):,} bytes (at most {MAX_BYTES:,})")
    try:
        with Image.open(io.BytesIO(data)) as img:
            kind, (width, height) = img.format, img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"{path.name} is not a readable image: {exc}") from None
    if kind not in MIME_TYPES:
        raise ImageFileError(f"{path.name} is {kind or 'an unknown format'}; an input_image is "
                             f"{' or '.join(MIME_TYPES)}")
    mime = MIME_TYPES[kind]
    return ImageInput(path.name, mime, width, height,
                      f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}")
