"""rgbimage.read_rgb: every image form to (H, W, 3) uint8, one error naming the file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import skimage
from PIL import Image

from rgbimage import ImageError, read_rgb

ASTRONAUT = Path(skimage.__file__).parent / "data" / "astronaut.png"


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return np.asarray(Image.open(ASTRONAUT).convert("RGB"))[::4, ::4].copy()  # 128 x 128


def _saved(tmp_path: Path, image: Image.Image, name: str, **options) -> Path:
    path = tmp_path / name
    image.save(path, **options)
    return path


def test_plain_rgb_is_returned_exactly_and_writable(rgb, tmp_path):
    out = read_rgb(_saved(tmp_path, Image.fromarray(rgb), "plain.png"))
    np.testing.assert_array_equal(out, rgb)
    assert out.dtype == np.uint8 and out.flags.writeable


def test_grey_cmyk_16bit_and_alpha_become_rgb(rgb, tmp_path):
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    out = read_rgb(_saved(tmp_path, Image.fromarray(grey), "grey.png"))
    assert out.shape == (128, 128, 3) and (out == grey[..., None]).all()
    cmyk = read_rgb(_saved(tmp_path, Image.fromarray(rgb).convert("CMYK"), "cmyk.jpg",
                           quality=95))
    assert cmyk.shape == (128, 128, 3) and np.abs(cmyk.astype(int) - rgb).mean() < 8
    deep = Image.fromarray(grey.astype(np.uint16) * 257)  # 16-bit grey, full range
    assert deep.mode.startswith("I;16")
    out16 = read_rgb(_saved(tmp_path, deep, "deep.png"))
    assert np.abs(out16[..., 0].astype(int) - grey).max() <= 1
    rgba = np.concatenate([rgb, np.full((128, 128, 1), 255, np.uint8)], axis=2)
    rgba[:10, :, 3] = 0  # transparent rows -> black
    out_rgba = read_rgb(_saved(tmp_path, Image.fromarray(rgba), "alpha.png"))
    assert not out_rgba[:10].any()
    np.testing.assert_array_equal(out_rgba[10:], rgb[10:])


def test_exif_orientation_is_applied(rgb, tmp_path):
    image = Image.fromarray(rgb[:, :100])  # 100 wide, 128 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = _saved(tmp_path, image, "rotated.jpg", exif=exif, quality=95)
    out = read_rgb(path)
    assert out.shape == (100, 128, 3)


def test_bytes_are_read_and_named(rgb):
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    np.testing.assert_array_equal(read_rgb(buffer.getvalue()), rgb)
    with pytest.raises(ImageError, match=r"^scan.zip::tex.png: not a readable image"):
        read_rgb(b"not an image", name="scan.zip::tex.png")


def test_bad_files_raise_one_error_naming_the_file_and_the_problem(rgb, tmp_path):
    truncated = _saved(tmp_path, Image.fromarray(rgb), "truncated.jpg", quality=90)
    truncated.write_bytes(truncated.read_bytes()[:1500])
    cases = {
        tmp_path / "missing.png": "no such image file",
        tmp_path: "is a folder",
        truncated: "not a readable image",
        _saved(tmp_path, Image.fromarray(rgb[:20, :20]), "tiny.png"):
            r"image is 20x20 pixels, too small \(need 32 px",
    }
    (tmp_path / "text.png").write_text("hello")
    cases[tmp_path / "text.png"] = "not a readable image"
    for path, problem in cases.items():
        with pytest.raises(ImageError, match=f"^{path}: {problem}"):
            read_rgb(path, min_side=32)
    wide = _saved(tmp_path, Image.new("RGB", (4000, 300)), "panorama.png")
    with pytest.raises(ImageError, match=r"4000x300 pixels, larger than the 1 megapixels"):
        read_rgb(wide, max_pixels=1_000_000)
    assert issubclass(ImageError, ValueError)


def test_the_stage_readers_share_it(rgb, tmp_path):
    from network.predict import read_image
    from scans.errors import ScanError
    from scans.images import decode_image

    # network: a non-square photo is padded to a centred square, not squashed.
    wide = _saved(tmp_path, Image.fromarray(np.concatenate([rgb, rgb], axis=1)), "wide.png")
    tensor = read_image(wide, 64).numpy()
    assert tensor.shape == (3, 64, 64)
    assert tensor[:, :14].max() < 0.02 and tensor[:, -14:].max() < 0.02  # black bands
    assert tensor[:, 20:44].mean() > 0.1
    with pytest.raises(ImageError, match=f"^{tmp_path / 'gone.png'}: no such image file"):
        read_image(tmp_path / "gone.png", 64)
    # scans: the same problem, as the data set's ScanError naming the member.
    with pytest.raises(ScanError, match="unreadable image: not a readable image"):
        decode_image(b"\x89PNG broken", "scan.zip::texture.png")
