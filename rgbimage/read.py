"""``read_rgb``: an image file or its bytes as (H, W, 3) uint8 RGB, or one ImageError."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MIN_SIDE_PX = 1
"""Default smallest side accepted (callers that need a face ask for more)."""
MAX_PIXELS = 89_478_485
"""Largest image accepted (width x height): Pillow's own decompression-bomb limit
(``PIL.Image.MAX_IMAGE_PIXELS``), about 270 MB decoded."""


class ImageError(ValueError):
    """An image file is missing, unreadable, truncated, or of an unusable size; the message
    names the file and the problem."""


def _to_uint8(image: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8 of a decoded image of any mode (16-bit and float scaled to 8 bits)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if image.mode == "F":
            peak = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
        elif image.mode == "I" and values.max(initial=0.0) < 256:
            peak = 255.0
        else:
            peak = 65535.0
        grey = np.clip(np.round(values / peak * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return np.asarray(Image.alpha_composite(black, rgba).convert("RGB"), dtype=np.uint8)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def read_rgb(source: str | Path | bytes, name: str | None = None, min_side: int = MIN_SIDE_PX,
             max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB, upright (EXIF orientation applied).

    Parameters
    ----------
    source : a path, or the encoded bytes of an image
    name : how errors name the image (default: the path; "<bytes>" for bytes)
    min_side : smallest width and height accepted, pixels
    max_pixels : largest width x height accepted

    Raises
    ------
    ImageError : missing file, not an image, truncated or corrupt data, too small or too
        large; the message starts with ``name:``
    """
    is_bytes = isinstance(source, bytes | bytearray | memoryview)
    label = name if name is not None else ("<bytes>" if is_bytes else str(source))
    try:
        handle = io.BytesIO(bytes(source)) if is_bytes else open(Path(source), "rb")  # noqa: SIM115
    except (FileNotFoundError, NotADirectoryError):
        raise ImageError(f"{label}: no such image file") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a folder, not an image file") from None
    except OSError as error:
        raise ImageError(f"{label}: cannot open ({error.strerror or error})") from None
    with handle, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # sized below
        try:
            with Image.open(handle) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageError(f"{label}: image is {width}x{height} pixels, larger than "
                                     f"the {max_pixels / 1e6:g} megapixels accepted")
                if min(width, height) < min_side:
                    raise ImageError(f"{label}: image is {width}x{height} pixels, too small "
                                     f"(need {min_side} px on each side)")
                image.load()
                image = ImageOps.exif_transpose(image)
                return np.array(_to_uint8(image), dtype=np.uint8)  # writable copy
        except ImageError:
            raise
        except Image.DecompressionBombError as error:
            raise ImageError(f"{label}: image too large to decode safely ({error})") from None
        except UnidentifiedImageError:
            raise ImageError(f"{label}: not a readable image (unknown format)") from None
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            problem = "truncated or corrupt" if "truncat" in str(error).lower() else "corrupt"
            raise ImageError(f"{label}: not a readable image ({problem}: {error})") from None
