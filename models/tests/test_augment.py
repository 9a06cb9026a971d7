"""Training augmentation (issue 20): seeded, covering every variation the issue lists, and still
drawing the scene the answers describe."""
import os
import random
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from mgm import world  # noqa: E402

AUGS = [world.augment_for(1000, i) for i in range(400)]


def ink_box(img: np.ndarray, box):
    """Bounding box of the dark pixels inside the sign's white field."""
    x0, y0, x1, y1 = box
    b = world.SIGN_BORDER + 1
    field = img[y0 + b:y1 - b, x0 + b:x1 - b].min(axis=2)
    ys, xs = np.nonzero(field < 100)
    return xs.min() + x0 + b, ys.min() + y0 + b, xs.max() + x0 + b, ys.max() + y0 + b


class AugmentTest(unittest.TestCase):
    def test_seeded(self):
        self.assertEqual(world.augment_for(1000, 7), AUGS[7])
        self.assertNotEqual([world.augment_for(1001, i) for i in range(20)], AUGS[:20])
        scene = world.random_scene(random.Random(4), sign_probability=1.0)
        for aug in AUGS[:6]:
            a, b = np.asarray(world.render(scene, aug)), np.asarray(world.render(scene, aug))
            self.assertTrue(np.array_equal(a, b))

    def test_every_variation_is_drawn(self):
        self.assertTrue({1} < {a.aa for a in AUGS}, "anti-aliasing both off and on")
        self.assertEqual({a.text_aa for a in AUGS}, {True, False})
        self.assertTrue({1} < {a.text_scale for a in AUGS}, "hinted and supersampled glyphs")
        self.assertTrue(any(a.tint != (0, 0, 0) for a in AUGS) and any(a.tint == (0, 0, 0) for a in AUGS))
        self.assertTrue(all(max(abs(t) for t in a.tint) <= 6 and a.noise <= 8 for a in AUGS))
        self.assertTrue(any(a.noise > 0 for a in AUGS))
        q = [a.jpeg for a in AUGS if a.jpeg is not None]
        self.assertTrue(0.3 < len(q) / len(AUGS) < 0.7, "both PNG and JPEG inputs")
        self.assertTrue(min(q) <= 63 and max(q) >= 92 and all(60 <= x <= 95 for x in q))
        self.assertTrue(any(a.resample for a in AUGS) and any(not a.resample for a in AUGS))
        self.assertEqual({a.text_dx for a in AUGS}, {-1, 0, 1})
        self.assertEqual({a.text_dy for a in AUGS}, {-1, 0, 1})

    def test_without_augment_the_renderer_is_unchanged(self):
        scene = world.random_scene(random.Random(9), sign_probability=1.0)
        self.assertTrue(np.array_equal(np.asarray(world.render(scene)), np.asarray(world.scene_image(scene, None))))

    def test_text_jitter_moves_the_ink_one_pixel(self):
        scene = world.random_scene(random.Random(2), sign_probability=1.0)
        plain = world.Augment(aa=1)
        box = world.sign_box(scene.sign)
        b0 = ink_box(np.asarray(world.render(scene, plain)), box)
        b1 = ink_box(np.asarray(world.render(scene, world.Augment(aa=1, text_dx=1, text_dy=-1))), box)
        self.assertEqual(tuple(np.subtract(b1, b0)), (1, -1, 1, -1))
        big = dict(aa=1, text_scale=4, text_aa=False)
        b0 = ink_box(np.asarray(world.render(scene, world.Augment(**big))), box)
        b1 = ink_box(np.asarray(world.render(scene, world.Augment(text_dx=-1, text_dy=1, **big))), box)
        self.assertEqual(tuple(np.subtract(b1, b0)), (-1, 1, -1, 1))

    def test_augmented_scenes_still_show_their_contents(self):
        rng = random.Random(11)
        for aug in AUGS[:40]:
            scene = world.random_scene(rng, sign_probability=1.0)
            img = np.asarray(world.render(scene, aug)).astype(int)
            self.assertEqual(img.shape, (384, 384, 3))
            for sh in scene.shapes:
                x0, y0, x1, y1 = world.shape_box(sh)
                cx, cy = int((x0 + x1) / 2), int((y0 + y1) / 2) + (8 if sh.shape == "triangle" else 0)
                patch = img[cy - 2:cy + 3, cx - 2:cx + 3].reshape(-1, 3).mean(0)
                self.assertLess(np.abs(patch - world.COLORS[sh.color]).max(), 30, f"{sh} {aug}")
            sx0, sy0, sx1, sy1 = ink_box(img, world.sign_box(scene.sign))
            self.assertTrue(18 < sx1 - sx0 < 30 and 7 <= sy1 - sy0 <= 13, f"three letters at 14 px {aug}")

    def test_a_scene_without_shapes_skips_the_supersampled_layer_with_the_same_pixels(self):
        # render() draws a shapeless scene (the HR letter pretraining's sign crops) at 1x: the box
        # filter of a flat k-times layer is that flat colour, for every channel value the
        # backgrounds and tints reach and every supersampling the augmentation draws
        from PIL import Image
        values = sorted({min(255, max(0, c + t)) for bg in world.BACKGROUNDS.values() for c in bg
                         for t in range(-6, 7)})
        for k in sorted({a.aa for a in AUGS} - {1}):
            for i in range(0, len(values), 3):
                colour = tuple(values[min(i + j, len(values) - 1)] for j in range(3))
                flat = Image.new("RGB", (world.CANVAS * k, world.CANVAS * k), colour)
                out = np.asarray(flat.resize((world.CANVAS, world.CANVAS), Image.BOX))
                self.assertTrue((out == np.array(colour, np.uint8)).all(), f"{k} {colour}")
        rng = random.Random(5)
        sign = world.Sign(4, "ABC", 0, 0)
        for aug in AUGS[:12]:
            scene = world.Scene((), sign, rng.choice(list(world.BACKGROUNDS)), True, True, 7)
            img = np.asarray(world.render(scene, aug))
            self.assertEqual(img.shape, (384, 384, 3))
            bg = [min(255, max(0, c + t)) for c, t in zip(world.BACKGROUNDS[scene.background], aug.tint)]
            if aug.noise == 0 and aug.jpeg is None and not aug.resample:
                self.assertTrue((img[:40, :40] == np.array(bg, np.uint8)).all())

    def test_jpeg_and_resampling_change_pixels(self):
        scene = world.random_scene(random.Random(3), sign_probability=1.0)
        base = np.asarray(world.render(scene, world.Augment())).astype(int)
        for aug in (world.Augment(jpeg=60), world.Augment(resample=320)):
            diff = np.abs(np.asarray(world.render(scene, aug)).astype(int) - base)
            self.assertGreater(diff.max(), 20)


if __name__ == "__main__":
    unittest.main()
