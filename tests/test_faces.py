"""Photo preprocessing on a real photo: detection, crop, classes, bad inputs, conventions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage
from photo_support import two_face_photo
from PIL import Image

from faces import NoFaceError, detect_faces, face_crop, read_photo
from faces.crop import square_box
from faces.pixel3dmm import (
    NORMAL_CLASSES,
    UV_CLASSES,
    class_mask,
    normals_from_png,
    normals_to_png,
    read_frame,
    uv_from_png,
    uv_to_png,
    write_frame,
)
from faces.segment import LABEL
from rgbimage import ImageError

DATA = Path(skimage.__file__).parent / "data"
ASTRONAUT = DATA / "astronaut.png"  # public-domain NASA portrait shipped in the wheel
COFFEE = DATA / "coffee.png"  # a cup of coffee: no face


@pytest.fixture(scope="module")
def astronaut_crop():
    return face_crop(ASTRONAUT, 256)


def test_astronaut_has_one_face_and_its_68_landmarks_lie_on_it(astronaut_crop):
    face = astronaut_crop.face
    assert astronaut_crop.n_faces == 1
    assert face.landmarks_px.shape == (68, 2)
    # dlib's box is tight (brows to lower lip): the jaw line reaches a few pixels past it.
    # Every landmark lies in the box grown by 15% a side, and in the 1.42 crop.
    x0, y0, x1, y1 = face.box_xyxy
    grow = 0.15 * np.array([x1 - x0, y1 - y0])
    assert np.all(face.landmarks_px >= [x0, y0] - grow)
    assert np.all(face.landmarks_px <= [x1, y1] + grow)
    inside = (astronaut_crop.landmarks_px >= 0) & (astronaut_crop.landmarks_px <= 255)
    assert inside.all()
    # Layout: left eye corners (image left = subject's right, 36-39) left of 42-45; chin 8
    # below the nose tip 30, the nose tip below the eyes.
    lmk = astronaut_crop.landmarks_px
    assert lmk[36:42, 0].max() < lmk[42:48, 0].min()
    assert lmk[8, 1] > lmk[30, 1] > lmk[36:48, 1].max()


def test_crop_is_pixel3dmm_square_grown_by_1_42_and_maps_points_both_ways(astronaut_crop):
    crop, face = astronaut_crop.crop, astronaut_crop.face
    x0, y0, x1, y1 = face.box_xyxy
    assert crop.side == pytest.approx(1.42 * max(x1 - x0, y1 - y0))
    centre = np.array([crop.x0 + crop.side / 2, crop.y0 + crop.side / 2])
    np.testing.assert_allclose(centre, [(x0 + x1) / 2, (y0 + y1) / 2])
    points = np.array([[10.0, 20.0], [300.5, 100.25]])
    np.testing.assert_allclose(crop.to_photo(crop.to_crop(points)), points)
    # Overflow: shifted back inside the image, as get_cstm_crop does.
    assert square_box(np.array([0, 0, 100, 50]), 400, 300) == pytest.approx((0.0, 0.0, 142.0))
    # A box larger than the image is centred (padded) rather than shrunk.
    assert square_box(np.array([0, 0, 100, 100]), 120, 120) == pytest.approx((-11, -11, 142))


def test_face_classes_follow_the_landmarks_and_give_pixel3dmm_masks(astronaut_crop):
    labels, lmk = astronaut_crop.labels, np.rint(astronaut_crop.landmarks_px).astype(int)

    def at(index: int) -> int:
        return int(labels[lmk[index, 1], lmk[index, 0]])

    eye_centre = np.rint(astronaut_crop.landmarks_px[36:42].mean(axis=0)).astype(int)
    assert labels[eye_centre[1], eye_centre[0]] == LABEL["re"]
    assert at(33) == LABEL["nose"]
    mid_cheek = np.rint((astronaut_crop.landmarks_px[3] + astronaut_crop.landmarks_px[48]) / 2)
    assert labels[int(mid_cheek[1]), int(mid_cheek[0])] == LABEL["face"]
    uv_mask, normal_mask = class_mask(labels, UV_CLASSES), class_mask(labels, NORMAL_CLASSES)
    assert not uv_mask[labels == LABEL["re"]].any() and not normal_mask[labels == LABEL["le"]].any()
    mouth = labels == LABEL["imouth"]
    assert normal_mask[mouth].all() and not uv_mask[mouth].any()
    assert (labels == LABEL["neck"]).sum() > 500 and (labels == LABEL["hair"]).sum() > 500
    # The neck lies below the chin; the hair around the head, above the nose tip.
    assert np.median(np.nonzero(labels == LABEL["neck"])[0]) > lmk[8, 1]
    assert np.median(np.nonzero(labels == LABEL["hair"])[0]) < lmk[30, 1]


def test_grey_photo_is_read_as_rgb_and_its_largest_face_is_the_colour_one(tmp_path):
    grey = tmp_path / "grey.png"
    Image.open(ASTRONAUT).convert("L").save(grey)
    rgb = read_photo(grey)
    assert rgb.shape == (512, 512, 3)
    colour = detect_faces(read_photo(ASTRONAUT))[0]
    largest = detect_faces(rgb)[0]
    np.testing.assert_allclose(largest.box_xyxy, colour.box_xyxy, atol=10)


def test_bad_photos_raise_errors_naming_the_file(tmp_path):
    with pytest.raises(NoFaceError, match=f"{COFFEE}: no face found"):
        face_crop(COFFEE, 256)
    with pytest.raises(NoFaceError, match=r"--face 3 asked for, 1 face\(s\) found"):
        face_crop(ASTRONAUT, 256, face_index=3)
    truncated = tmp_path / "truncated.jpg"
    Image.open(ASTRONAUT).save(truncated, quality=90)
    truncated.write_bytes(truncated.read_bytes()[:4000])
    with pytest.raises(ImageError, match=f"{truncated}: not a readable image"):
        face_crop(truncated, 256)
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.full((20, 20, 3), 128, np.uint8)).save(tiny)
    with pytest.raises(ImageError, match=f"{tiny}: image is 20x20 pixels, too small"):
        face_crop(tiny, 256)
    with pytest.raises(ImageError, match="no such image file"):
        face_crop(tmp_path / "missing.jpg", 256)


def test_pixel3dmm_encoding_round_trips_within_8_bit_steps(tmp_path):
    rng = np.random.default_rng(0)
    uv = rng.uniform(0, 1, (16, 16, 2)).astype(np.float32)
    normal = rng.normal(size=(16, 16, 3))
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    png = uv_to_png(uv)
    # u in R, flipped v in G, B zero.
    np.testing.assert_array_equal(png[..., 0], np.round(uv[..., 0] * 255))
    np.testing.assert_array_equal(png[..., 1], np.round((1 - uv[..., 1]) * 255))
    assert not png[..., 2].any()
    assert np.abs(uv_from_png(png) - uv).max() <= 0.5 / 255 + 1e-6
    decoded = normals_from_png(normals_to_png(normal))
    assert np.degrees(np.arccos(np.clip((decoded * normal).sum(-1), -1, 1))).max() < 0.6
    labels = np.full((16, 16), LABEL["face"], np.uint8)
    labels[:4] = LABEL["hair"]
    rgb = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    paths = write_frame(tmp_path, 3, normal, uv, labels, rgb)
    assert paths["uv_map"] == tmp_path / "p3dmm" / "uv_map" / "00003.png"
    frame = read_frame(tmp_path, 3)
    np.testing.assert_array_equal(frame["rgb"], rgb)
    np.testing.assert_array_equal(frame["labels"], labels)
    assert not frame["uv_valid"][:4].any() and frame["uv_valid"][4:].all()
    # uv outside the uv classes is zeroed as the tracker zeroes it: v reads back as 1.
    np.testing.assert_allclose(frame["uv"][:4], np.broadcast_to([0.0, 1.0], (4, 16, 2)))
    assert np.abs(frame["uv"][4:] - uv[4:]).max() <= 0.5 / 255 + 1e-6


def test_two_faces_listed_most_confident_first_and_face_1_picks_the_other(tmp_path):
    # The suit of the astronaut gets false boxes at this image size (HOG margins 0.02-0.23,
    # one larger than the faces): the score threshold drops them.
    path = two_face_photo(tmp_path / "pair.png")
    first, other = face_crop(path, 128), face_crop(path, 128, face_index=1)
    assert first.n_faces == 2 and (first.index, other.index) == (0, 1)
    assert first.face.score >= other.face.score
    boxes = sorted([first.face.box_xyxy, other.face.box_xyxy], key=lambda box: box[0])
    assert boxes[0][2] < 512 <= boxes[1][0]


def test_small_face_is_found_by_the_upsampled_retry():
    photo = Image.open(ASTRONAUT).convert("RGB").resize((256, 256))  # face about 44 px
    canvas = np.full((700, 900, 3), 120, np.uint8)
    canvas[200:456, 300:556] = np.asarray(photo)
    assert detect_faces(canvas, retry_upsampled=False) == []
    faces = detect_faces(canvas)
    assert len(faces) == 1 and faces[0].upsample == 1
    x0, y0, x1, y1 = faces[0].box_xyxy
    assert 300 < x0 < x1 < 556 and 200 < y0 < y1 < 456


def test_cnn_detector_finds_the_cameraman_that_hog_misses():
    # scikit-image's camera.png: a photographer in profile-ish three-quarter view.
    rgb = read_photo(DATA / "camera.png")
    assert detect_faces(rgb, "hog") == []
    (face,) = detect_faces(rgb, "cnn")
    assert face.detector == "cnn" and face.score > 0.3
    assert face.landmarks_px.shape == (68, 2)
    with pytest.raises(ValueError, match="unknown detector"):
        detect_faces(rgb, "mtcnn")
