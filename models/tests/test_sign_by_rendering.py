"""sign_by_rendering.py's one redrawn choice: the alt renderer's text moved to whole pixels, nothing else."""
import os
import random
import sys
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from mgm import world, world_alt  # noqa: E402
import sign_by_rendering  # noqa: E402


def sign_scene(seed):
    rng = random.Random(seed)
    while True:
        s = world.random_scene(rng)
        if s.sign is not None:
            return s


def fine_position(scene):
    """Where world_alt puts the text's top left on its fine grid (TEXT_SCALE steps a pixel)."""
    k = world_alt.TEXT_SCALE
    ink = world_alt._text_mask(scene.sign.text)
    x0, y0, x1, y1 = world_alt.sign_rect(scene.sign)
    return int(round((x0 + x1) / 2 * k - ink.shape[1] / 2)), int(round((y0 + y1) / 2 * k - ink.shape[0] / 2))


def drawn(scene, draw):
    before = world_alt._draw_text
    world_alt._draw_text = draw
    try:
        return np.asarray(world_alt.render(scene)).astype(np.int64)
    finally:
        world_alt._draw_text = before


class WholePixelText(unittest.TestCase):
    def test_same_ink_at_most_a_pixel_away_and_the_rest_untouched(self):
        for seed in range(12):
            scene = sign_scene(seed)
            a = drawn(scene, world_alt._draw_text)
            b = drawn(scene, sign_by_rendering.whole_pixel_text)
            x0, y0, x1, y1 = world_alt.sign_rect(scene.sign)
            outside = np.ones(a.shape[:2], bool)
            outside[y0:y1, x0:x1] = False
            # only the text moved: every pixel outside the sign is the same
            self.assertTrue((a[outside] == b[outside]).all())
            ink_a, ink_b = 255 - a[y0:y1, x0:x1], 255 - b[y0:y1, x0:x1]
            if scene.antialias:
                # the same glyphs at another sub-pixel phase: about the same ink
                self.assertLess(abs(ink_a.sum() - ink_b.sum()), 0.08 * ink_a.sum())
            ca = np.array(np.nonzero(ink_a.sum(axis=2) > 200)).mean(axis=1)
            cb = np.array(np.nonzero(ink_b.sum(axis=2) > 200)).mean(axis=1)
            self.assertLess(np.abs(ca - cb).max(), 1.0)

    def test_the_text_moves_exactly_when_it_lies_between_pixels(self):
        k = world_alt.TEXT_SCALE
        on_grid = between = 0
        for seed in range(400):
            scene = sign_scene(seed)
            fx, fy = fine_position(scene)
            if fx % k == 0 and fy % k == 0:
                on_grid += 1
                np.testing.assert_array_equal(drawn(scene, world_alt._draw_text),
                                              drawn(scene, sign_by_rendering.whole_pixel_text))
            elif scene.antialias and between < 20:
                # one-bit coverage may threshold to the same pixels; anti-aliased coverage cannot
                between += 1
                self.assertFalse((drawn(scene, world_alt._draw_text)
                                  == drawn(scene, sign_by_rendering.whole_pixel_text)).all())
        self.assertGreater(on_grid, 0)
        self.assertGreater(between, 0)


if __name__ == "__main__":
    unittest.main()
