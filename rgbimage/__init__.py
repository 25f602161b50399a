"""One image reader for every stage: any file Pillow reads -> (H, W, 3) uint8 RGB.

``read_rgb(path_or_bytes, name=...)`` handles greyscale, palette, alpha (composited on
black), CMYK, 16-bit and float images, EXIF orientation, and refuses truncated files and
images too small or too large with :class:`ImageError`, which names the file and the
problem. Data-set readers wrap it (``scans.images`` turns ImageError into ScanError).
Depends on numpy and Pillow only.
"""

from rgbimage.read import MAX_PIXELS, MIN_SIDE_PX, ImageError, read_rgb

__all__ = ["MAX_PIXELS", "MIN_SIDE_PX", "ImageError", "read_rgb"]
