import numpy as np
import pytest

from signseg.overlay import COLOURS, grid, overlay


def test_overlay_colours_only_the_mask():
    frame = np.full((4, 5, 3), 100, np.uint8)
    mask = np.zeros((4, 5), np.uint8)
    mask[1, 2], mask[2, 3] = 1, 4
    out = overlay(frame, mask, alpha=1.0)
    np.testing.assert_array_equal(out[1, 2], COLOURS[1])
    np.testing.assert_array_equal(out[2, 3], COLOURS[4])
    assert (out[0] == 100).all()
    with pytest.raises(ValueError, match="differ"):
        overlay(frame, mask[:3])


def test_grid_layout():
    g = grid([np.zeros((10, 20, 3), np.uint8)] * 5, columns=3, pad=2)
    assert g.shape == (22, 64, 3)
