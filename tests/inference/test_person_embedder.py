"""The person embedder on real photos (the two images ultralytics ships)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from storelens.inference.person_embedder import EMBEDDING_DIM, PersonEmbedder


@pytest.fixture(scope="module")
def images():
    import ultralytics

    assets = Path(ultralytics.__file__).parent / "assets"
    return cv2.imread(str(assets / "bus.jpg")), cv2.imread(str(assets / "zidane.jpg"))


def test_embeddings_are_unit_vectors_and_tell_people_apart(images):
    bus, zidane = images
    embed = PersonEmbedder()
    # a man walking in bus.jpg, the same box shifted by a few pixels, and Zidane
    man = np.array([[50, 400, 245, 905]], float)
    shifted = man + [6, 8, 6, 8]
    a, b = embed(bus, man), embed(bus, shifted)
    c = embed(zidane, np.array([[745, 40, 1150, 715]], float))
    assert a.shape == (1, EMBEDDING_DIM) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    same, other = float((a @ b.T)[0, 0]), float((a @ c.T)[0, 0])
    assert same > 0.9 and same > other


def test_batch_equals_one_by_one_and_empty_is_fine(images):
    bus, _ = images
    embed = PersonEmbedder()
    boxes = np.array([[50, 400, 245, 905], [220, 405, 345, 860], [670, 380, 810, 880]], float)
    together = embed(bus, boxes)
    alone = np.concatenate([embed(bus, boxes[i : i + 1]) for i in range(3)])
    np.testing.assert_allclose(together, alone, atol=1e-4)
    assert embed(bus, np.zeros((0, 4))).shape == (0, EMBEDDING_DIM)
