"""Letterbox, contrast equalisation, orientation, caching and training augmentation."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from PIL import Image

from ramultimodal.image import (
    ImagePreprocessor,
    _preprocess,
    equalize,
    letterbox,
    train_augmentation,
)
from ramultimodal.io import ImageReadError, read_image, write_dicom

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _empty_memory_cache():
    ImagePreprocessor.clear_memory_cache()
    yield
    ImagePreprocessor.clear_memory_cache()


@pytest.fixture
def decodes(monkeypatch):
    """Count the files ImagePreprocessor actually decodes."""
    calls = []

    def counting_read_image(path, **kwargs):
        calls.append(path)
        return read_image(path, **kwargs)

    monkeypatch.setattr(_preprocess, "read_image", counting_read_image)
    return calls


def _asymmetric_png(path, shape=(60, 40)):
    """A grey PNG whose left half is dark and right half bright."""
    pixels = np.zeros(shape, dtype=np.uint8)
    pixels[:, shape[1] // 2 :] = 200
    Image.fromarray(pixels).save(path)
    return path


def _hand_dicom(path, laterality):
    """A 12-bit CR of `laterality`, bright on the right."""
    stored = np.zeros((32, 32), dtype=np.uint16)
    stored[:, 24:] = 4095
    uid = "1.2.826.0.1.3680043.10.1"
    write_dicom(
        path, stored, patient_id="p", study_date="2020-01-01", study_uid=uid,
        series_uid=uid + ".1", sop_uid=uid + ".1.1", laterality=laterality, pixel_spacing_mm=0.1,
    )  # fmt: skip
    return path


# --------------------------------------------------------------------------- letterbox


@pytest.mark.parametrize("shape", [(100, 50), (50, 100), (64, 64), (7, 3)])
def test_letterbox_keeps_the_aspect_ratio_and_pads(shape):
    out = letterbox(np.ones(shape, dtype=np.float32), 32)
    assert out.shape == (32, 32) and out.dtype == np.float32
    rows = np.flatnonzero(out.max(axis=1) > 0.5)
    columns = np.flatnonzero(out.max(axis=0) > 0.5)
    height, width = rows.size, columns.size
    assert max(height, width) == 32
    assert height / width == pytest.approx(shape[0] / shape[1], rel=0.1)
    # Centred: padding on either side differs by at most one pixel.
    assert abs(rows[0] - (31 - rows[-1])) <= 1 and abs(columns[0] - (31 - columns[-1])) <= 1
    assert out.max() == pytest.approx(1.0)
    assert (out.min() == 0.0) == (shape[0] != shape[1])  # padded unless already square


def test_letterbox_shrinks_by_area_average():
    checkerboard = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float32)
    # Point sampling would alias to all 0 or all 1; the area average is a flat 0.5.
    np.testing.assert_allclose(letterbox(checkerboard, 8), 0.5, atol=1e-6)
    ramp = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_allclose(letterbox(ramp, 2), [[2.5, 4.5], [10.5, 12.5]])


def test_letterbox_rejects_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        letterbox(np.ones((4, 4, 3)), 8)


# --------------------------------------------------------------------------- equalize


def test_histogram_equalisation_spreads_levels_evenly():
    skewed = (0.1 + 0.5 * RNG.random((128, 128)) ** 3).astype(np.float32)  # mostly dark
    flat = equalize(skewed, "histogram", n_bins=1024)
    assert flat.dtype == np.float32 and flat.shape == skewed.shape
    # Deciles of the result are close to those of a uniform distribution.
    deciles = np.percentile(flat, np.arange(10, 100, 10))
    np.testing.assert_allclose(deciles, np.arange(0.1, 1.0, 0.1), atol=0.03)
    # Monotone: the order of grey levels is kept.
    order = np.argsort(skewed.ravel())
    assert np.all(np.diff(flat.ravel()[order]) >= 0)


def test_clahe_raises_local_contrast_within_limits():
    # Two regions of faint texture at very different brightness.
    texture = 0.02 * RNG.random((128, 128)).astype(np.float32)
    image = texture + np.where(np.arange(128) < 64, 0.1, 0.8)[None, :].astype(np.float32)
    out = equalize(image, "clahe")
    assert out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
    for half in (slice(0, 64), slice(64, 128)):
        # Contrast-limited: the slope of the mapping is capped near clip_limit (2) times
        # that of a flat histogram, so faint texture gains contrast, but not unboundedly.
        assert out[:, half].std() > 2 * image[:, half].std()
    # A stronger clip limit gives more contrast, a weaker one less.
    assert (
        equalize(image, clip_limit=4.0)[:, :64].std()
        > equalize(image, clip_limit=1.5)[:, :64].std()
    )
    # No seams: neighbouring pixels across a tile border differ no more than within tiles.
    steps = np.abs(np.diff(equalize(np.tile(np.linspace(0, 1, 128), (128, 1)), "clahe"), axis=1))
    assert steps[:, 15:17].max() <= 2 * np.median(steps) + 1e-6


def test_equalize_rejects_unknown_method():
    with pytest.raises(ValueError, match="clahe"):
        equalize(np.zeros((4, 4)), "gamma")


# --------------------------------------------------------------------------- ImagePreprocessor


def test_load_path_equals_read_then_letterbox(tmp_path):
    path = _asymmetric_png(tmp_path / "a.png")
    image = ImagePreprocessor(size=32).load(path)
    np.testing.assert_allclose(image, letterbox(read_image(path)[0], 32))
    assert image.shape == (32, 32) and image.dtype == np.float32
    assert not image.flags.writeable  # shared through the cache


def test_contrast_is_applied_before_padding(tmp_path):
    path = _asymmetric_png(tmp_path / "a.png", shape=(64, 32))
    image = ImagePreprocessor(size=32, contrast="histogram").load(path)
    assert np.all(image[:, :8] == 0) and np.all(image[:, 24:] == 0)  # padding stays black
    np.testing.assert_allclose(
        image[:, 8:24], equalize(letterbox(read_image(path)[0], 32)[:, 8:24], "histogram")
    )


def test_left_hands_are_flipped_to_the_right(tmp_path):
    right = ImagePreprocessor(size=32).load(_hand_dicom(tmp_path / "r.dcm", "R"))
    left = ImagePreprocessor(size=32).load(_hand_dicom(tmp_path / "l.dcm", "L"))
    assert right[:, -1].mean() == 1.0 and right[:, 0].mean() == 0.0
    np.testing.assert_array_equal(left, right[:, ::-1])
    unflipped = ImagePreprocessor(size=32, flip_left=False).load(tmp_path / "l.dcm")
    np.testing.assert_array_equal(unflipped, right)
    # A PNG carries no laterality: the caller may give it (from the image manifest).
    png = _asymmetric_png(tmp_path / "a.png", shape=(32, 32))
    prep = ImagePreprocessor(size=32)
    np.testing.assert_array_equal(prep.load(png, laterality="L"), prep.load(png)[:, ::-1])


def test_arrays_are_accepted(tmp_path):
    prep = ImagePreprocessor(size=4)
    np.testing.assert_allclose(prep.load(np.full((4, 4), 255, dtype=np.uint8)), 1.0)
    np.testing.assert_allclose(prep.load(np.full((4, 4), 2.0)), 1.0)  # floats clipped
    with pytest.raises(ValueError, match="2-D"):
        prep.load(np.zeros((4, 4, 3)))
    with pytest.raises(ImageReadError, match="no such file"):
        prep.load(tmp_path / "absent.png")


def test_memory_cache_decodes_each_file_once_across_clones(tmp_path, decodes):
    path = _asymmetric_png(tmp_path / "a.png")
    first = ImagePreprocessor(size=32)
    image = first.load(path)
    assert first.load(str(path)) is image
    # A new preprocessor with the same settings (as in each cross-validation fold) shares it.
    assert ImagePreprocessor(size=32).load(path) is image
    assert len(decodes) == 1 and first.cache_info() == {"hits": 1, "disk_hits": 0, "misses": 1}
    ImagePreprocessor(size=16).load(path)  # other settings: another entry
    ImagePreprocessor(size=32, memory_cache=False).load(path)  # cache off: decodes
    assert len(decodes) == 3
    # A changed file is decoded again.
    _asymmetric_png(path, shape=(40, 60))
    os.utime(path, ns=(1, 1))
    assert ImagePreprocessor(size=32).load(path).shape == (32, 32)
    assert len(decodes) == 4


def test_disk_cache_survives_the_process_and_ignores_damage(tmp_path, decodes):
    path = _asymmetric_png(tmp_path / "a.png")
    cache = tmp_path / "cache"
    image = ImagePreprocessor(size=32, cache_dir=cache).load(path)
    files = sorted(cache.iterdir())
    assert [f.suffix for f in files] == [".npy"]  # no temporary file left behind
    np.testing.assert_array_equal(np.load(files[0], allow_pickle=False), image)

    ImagePreprocessor.clear_memory_cache()  # as in a new process
    again = ImagePreprocessor(size=32, cache_dir=cache)
    np.testing.assert_array_equal(again.load(path), image)
    assert len(decodes) == 1 and again.cache_info()["disk_hits"] == 1

    ImagePreprocessor.clear_memory_cache()
    files[0].write_bytes(b"not an npy file")
    np.testing.assert_array_equal(ImagePreprocessor(size=32, cache_dir=cache).load(path), image)
    assert len(decodes) == 2
    assert np.load(files[0], allow_pickle=False).shape == (32, 32)  # rewritten


def test_preprocessor_pickles_for_dataloader_workers(tmp_path):
    prep = ImagePreprocessor(size=16, contrast="clahe", cache_dir=tmp_path)
    copy = pickle.loads(pickle.dumps(prep))
    assert repr(copy) == repr(prep)
    path = _asymmetric_png(tmp_path / "a.png")
    np.testing.assert_array_equal(copy.load(path), prep.load(path))


def test_invalid_settings_fail_early():
    with pytest.raises(ValueError, match="contrast"):
        ImagePreprocessor(contrast="gamma")
    with pytest.raises(ValueError, match="size"):
        ImagePreprocessor(size=0)


@pytest.mark.realdata
def test_real_hand_dicom_and_png(real_data):
    prep = ImagePreprocessor(size=64, contrast="clahe")
    hand = prep.load(real_data / "dicom/cr_hand_pa_mono2_j2k_lossless.dcm")
    assert hand.shape == (64, 64) and 0.0 <= hand.min() and hand.max() <= 1.0
    # 2500 x 2048: the letterboxed hand fills the height, with black side bars.
    assert hand[:, :3].max() == 0.0 and hand[:, 29:35].mean() > 0.1
    png = prep.load(real_data / "images/hand/vsoch_boneage_example_0.png")
    assert png.shape == (64, 64) and png.std() > 0.1


# --------------------------------------------------------------------------- augmentation


def test_train_augmentation_is_repeatable_and_random():
    torch = pytest.importorskip("torch")
    augment = train_augmentation()
    image = torch.from_numpy(letterbox(RNG.random((40, 30)).astype(np.float32), 32))[None]
    torch.manual_seed(1)
    first = augment(image)
    torch.manual_seed(1)
    same = augment(image)
    other = augment(image)
    assert torch.equal(first, same) and not torch.equal(first, other)
    assert first.shape == (1, 32, 32) and first.dtype == torch.float32
    assert 0.0 <= float(first.min()) and float(first.max()) <= 1.0
    assert not torch.equal(first, image)
    # Small changes only: the augmented image stays correlated with the original.
    correlation = np.corrcoef(first.numpy().ravel(), image.numpy().ravel())[0, 1]
    assert correlation > 0.3
    assert pickle.loads(pickle.dumps(augment)) is not None  # spawn-started workers


def test_train_augmentation_draws_per_image_in_a_batch():
    torch = pytest.importorskip("torch")
    augment = train_augmentation(noise_sigma=0)
    image = torch.from_numpy(letterbox(RNG.random((40, 30)).astype(np.float32), 32))[None]
    torch.manual_seed(0)
    batch = augment(image.expand(4, 1, 32, 32))
    assert batch.shape == (4, 1, 32, 32) and batch.dtype == torch.float32
    assert all(not torch.equal(batch[0], batch[k]) for k in (1, 2, 3))
    # One brightness factor and one gamma per image, within their ranges.
    still = dict(degrees=0, translate=0, scale=(1, 1), contrast=0, noise_sigma=0)
    images = torch.rand(4, 1, 16, 16) * 0.8 + 0.1
    brighter = train_augmentation(**still, brightness=0.1, gamma=(1, 1))(images)
    factor = (brighter / images).flatten(1)
    assert torch.allclose(factor, factor[:, :1], atol=1e-5)
    assert bool(((factor >= 0.9 - 1e-6) & (factor <= 1.1 + 1e-6)).all())
    powered = train_augmentation(**still, brightness=0, gamma=(0.8, 1.25))(images)
    exponent = (powered.log() / images.log()).flatten(1)
    assert torch.allclose(exponent, exponent[:, :1], atol=1e-4)
    assert exponent[:, 0].unique().numel() == 4


def test_train_augmentation_without_randomness_is_identity():
    torch = pytest.importorskip("torch")
    augment = train_augmentation(
        degrees=0, translate=0, scale=(1, 1), brightness=0, contrast=0, gamma=(1, 1), noise_sigma=0
    )
    image = torch.rand(1, 16, 16)
    torch.testing.assert_close(augment(image), image, atol=1e-5, rtol=0)
