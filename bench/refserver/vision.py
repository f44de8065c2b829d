"""Image input at the reference endpoint: an `input_image` part's data URL read into what the
answer and the usage need (its dominant colour, its size in tokens), and the answers to turns
without words (an image; the model's greeting). Pure, apart from decoding the image.

The answer to an image is a function of its pixels, "The image is mostly red.", so a client
can score the answer's correctness and runs repeat exactly.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from bench.refserver.update import RequestError, shown

if TYPE_CHECKING:
    from bench.refserver.conversation import Conversation

GREETING = "Hello! I am the reference endpoint of realtime-bench. How can I help you today?"
"""What the model says when asked to speak first (a response with no user input)."""

DATA_URL = re.compile(r"data:(?P<mime>image/(?:png|jpeg));base64,(?P<data>.*)", re.DOTALL)
"""The `image_url` an `input_image` takes: a PNG or JPEG data URL (PROTOCOLS §1.7)."""
DETAILS = ("auto", "low", "high")
ANALYSED_SIDE = 64
"""Images are shrunk to at most this many pixels a side before their colours are counted."""

LOW_DETAIL_TOKENS = 85
"""Tokens of an image at `detail: low`, and the base of every image."""
TILE_TOKENS = 170
"""Tokens per 512 px tile at high detail."""
TILE_SIDE, MAX_SIDE, SHORT_SIDE = 512, 2048, 768
"""The tiling: fit within 2048 × 2048, shortest side scaled to 768, then 512 px tiles."""


@dataclass(frozen=True)
class ImageFacts:
    """What the endpoint knows of one image part."""

    colour: str
    """The dominant colour's name (`red`, `blue`, ...)."""
    width: int
    height: int
    tokens: int
    """Input image tokens it counts as."""


def image_tokens(width: int, height: int, detail: str = "auto") -> int:
    """Image tokens by the GPT-4o vision rule (OpenAI's vision guide): 85 at low detail; else fit
    in 2048 × 2048, scale the shortest side down to 768, and add 170 per 512 px tile. OpenAI does
    not publish the realtime models' own count; this is the documented rule nearest to them."""
    if detail == "low":
        return LOW_DETAIL_TOKENS
    scale = min(1.0, MAX_SIDE / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, SHORT_SIDE / min(w, h))
    w, h = w * scale, h * scale
    return LOW_DETAIL_TOKENS + TILE_TOKENS * math.ceil(w / TILE_SIDE) * math.ceil(h / TILE_SIDE)


def colour_names(hsv: npt.NDArray[np.uint8]) -> npt.NDArray[np.str_]:
    """A colour name per pixel of an HSV image (Pillow's 0-255 channels): black, white and grey
    by value and saturation, the rest by hue."""
    h, s, v = (hsv[..., k].astype(np.float64) for k in range(3))
    hue = h * 360 / 255
    edges = np.array([15, 45, 70, 170, 200, 260, 290, 345])
    names = np.array(["red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "red"])
    out = names[np.searchsorted(edges, hue, side="right")]
    out = np.where(s < 40, np.where(v > 215, "white", "grey"), out)
    return np.where(v < 50, "black", out)


def dominant_colour(img: Image.Image) -> str:
    """The name most pixels have (ties: the first in name order)."""
    small = img.convert("RGB")
    small.thumbnail((ANALYSED_SIDE, ANALYSED_SIDE))
    names, counts = np.unique(colour_names(np.asarray(small.convert("HSV"))), return_counts=True)
    return str(names[int(np.argmax(counts))])


def read_image_part(part: dict[str, object], param: str) -> ImageFacts:
    """An `input_image` content part → its facts; `RequestError` (invalid_value) when its
    `image_url` is not a PNG or JPEG data URL that decodes, or its `detail` is unknown."""
    url, detail = part.get("image_url"), part.get("detail", "auto")
    if detail not in DETAILS:
        raise RequestError("invalid_value", f"Invalid value: {shown(detail)}. Supported values are: "
                           "'auto', 'low' and 'high'.", f"{param}.detail")
    found = DATA_URL.fullmatch(url) if isinstance(url, str) else None
    if found is None:
        raise RequestError("invalid_value", "Invalid 'image_url': expected a data URL of a PNG or "
                           "JPEG image (data:image/png;base64,...).", f"{param}.image_url")
    try:
        data = base64.b64decode(found.group("data"), validate=True)
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            colour, (width, height) = dominant_colour(img), img.size
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise RequestError("invalid_value", "Invalid 'image_url': the image data could not be "
                           "decoded.", f"{param}.image_url") from None
    return ImageFacts(colour, width, height, image_tokens(width, height, str(detail)))


def reply_without_words(conversation: Conversation) -> str | None:
    """The reply a response gives whatever the words: to a user message with an image, its
    colour; with no user input at all, the greeting. None when the words decide (`reply_for`)."""
    last = conversation.last_user_item()
    if last is None:
        return GREETING
    image = next((x.image for x in last.parts if x.image is not None), None)
    return f"The image is mostly {image.colour}." if image is not None else None
