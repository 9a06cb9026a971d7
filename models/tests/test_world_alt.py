"""The evaluation-only renderer (mgm/world_alt.py) against the text of shared/world/SPEC.md: sizes,
colours and cells are read from the spec, not from the training renderer's tables or pixels."""
import glob
import os
import re
import sys
import unittest
from dataclasses import replace

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from mgm import world, world_alt  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
# shared/ lies beside the repository (CI: beside the clone) or, in some checkouts, inside it
SPEC_PATHS = [os.environ.get("MGM_SPEC", ""), os.path.join(REPO, "..", "shared", "world", "SPEC.md"),
              os.path.join(REPO, "shared", "world", "SPEC.md")]
SPEC = next((p for p in SPEC_PATHS if p and os.path.exists(p)), None)


def read(path):
    with open(path) as f:
        return f.read()


def rgb(m):
    return tuple(int(v) for v in m)


@unittest.skipIf(SPEC is None, f"shared/world/SPEC.md not found (looked in {SPEC_PATHS[1:]}; set MGM_SPEC)")
class AltRendererFollowsTheSpec(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        text = read(SPEC)
        cls.canvas = int(re.search(r"Canvas: (\d+) x \1 pixels", text).group(1))
        cls.cell = int(re.search(r"3 x 3 cells of (\d+) x \1 pixels", text).group(1))
        names = re.search(r"Cell names in row-major order:\s*(.*?)\.\n", text, re.S).group(1)
        cls.cells = re.findall(r"`([a-z ]+)`", names)
        bg_line = re.search(r"Background: one flat colour from\s*(.*?);", text, re.S).group(1)
        cls.backgrounds = {n: rgb(c) for n, *c in re.findall(r"(white|light gray|cream) \((\d+),(\d+),(\d+)\)", bg_line)}
        cls.colours = {n: rgb(c) for n, *c in re.findall(r"`(red|green|blue|yellow)` \((\d+),(\d+),(\d+)\)", text)}
        small, large = re.search(r"`small` \(bounding box side (\d+) px\) or `large` \(side (\d+) px\)", text).groups()
        cls.sides = {"small": int(small), "large": int(large)}
        w, h, b = re.search(r"rectangle of (\d+) x (\d+) px with a (\d+) px black border", text).groups()
        cls.sign_w, cls.sign_h, cls.border = int(w), int(h), int(b)
        cls.font_px = int(re.search(r"DejaVuSansMono-Bold\.ttf\) at (\d+) px", text).group(1))
        cls.noise = int(re.search(r"uniform noise in \[-(\d+), \+\1\]", text).group(1))
        cls.jpeg_min = int(re.search(r"JPEG, quality >= (\d+)", text).group(1))
        cls.scenes = world_alt.sample_scenes(4242, 120)

    def test_constants_are_the_spec_s(self):
        self.assertEqual(world_alt.CANVAS, self.canvas)
        self.assertEqual(world_alt.CELL, self.cell)
        self.assertEqual(world.CELLS, self.cells)
        self.assertEqual(world_alt.BACKGROUND, self.backgrounds)
        self.assertEqual(world_alt.COLOR, self.colours)
        self.assertEqual(world_alt.SIDE, self.sides)
        self.assertEqual(world_alt.SIGN_SIZE, (self.sign_w, self.sign_h))
        self.assertEqual((world_alt.BORDER, world_alt.FONT_PX, world_alt.NOISE), (self.border, self.font_px, self.noise))
        self.assertEqual(len(self.colours), 4)
        self.assertEqual(len(self.backgrounds), 3)

    def centre(self, cell, dx, dy):
        r, c = divmod(cell, 3)
        return c * self.cell + self.cell // 2 + dx, r * self.cell + self.cell // 2 + dy

    def test_aliased_scenes_pixel_by_pixel(self):
        for scene, _ in self.scenes[:60]:
            scene = replace(scene, antialias=False, noise=False)
            img = np.asarray(world_alt.render(scene)).astype(int)
            self.assertEqual(img.shape, (self.canvas, self.canvas, 3))
            bg = np.array(self.backgrounds[scene.background])
            occupied = {t.cell for t in scene.items()}
            for cell in range(9):
                r, c = divmod(cell, 3)
                block = img[r * self.cell:(r + 1) * self.cell, c * self.cell:(c + 1) * self.cell]
                non_bg = np.any(block != bg, axis=2)
                if cell not in occupied:
                    self.assertFalse(non_bg.any(), f"cell {self.cells[cell]} is empty: background only")
            for sh in scene.shapes:
                cx, cy = self.centre(sh.cell, sh.dx, sh.dy)
                side, col = self.sides[sh.size], np.array(self.colours[sh.color])
                r, c = divmod(sh.cell, 3)
                block = img[r * self.cell:(r + 1) * self.cell, c * self.cell:(c + 1) * self.cell]
                ys, xs = np.nonzero(np.all(block == col, axis=2))
                self.assertEqual(np.count_nonzero(np.any(block != bg, axis=2)), len(ys),
                                 "a shape's pixels are its exact colour when aliased, and stay in its cell")
                w, h = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
                self.assertLessEqual(abs(w - side), 1, f"{sh}: width {w}")
                self.assertLessEqual(abs(h - side), 1, f"{sh}: height {h}")
                mid_x = (xs.min() + xs.max() + 1) / 2 + c * self.cell
                mid_y = (ys.min() + ys.max() + 1) / 2 + r * self.cell
                self.assertLessEqual(abs(mid_x - cx), 1)
                self.assertLessEqual(abs(mid_y - cy), 1)
                area = len(ys) / side ** 2
                expected = {"square": 1.0, "circle": np.pi / 4, "triangle": 0.5}[sh.shape]
                self.assertAlmostEqual(area, expected, delta=0.06, msg=f"{sh}")
                if sh.shape == "triangle":
                    top, bottom = ys.min(), ys.max()
                    row_w = lambda y: np.count_nonzero(ys == y)
                    self.assertLessEqual(row_w(top), 3, "apex up")
                    self.assertGreaterEqual(row_w(bottom), side - 2, "base at the bottom, as wide as the side")
            if scene.sign is not None:
                self.check_sign(img, scene.sign, antialiased=False)

    def check_sign(self, img, sign, antialiased):
        cx, cy = self.centre(sign.cell, sign.dx, sign.dy)
        x0, y0 = cx - self.sign_w // 2, cy - self.sign_h // 2
        x1, y1 = x0 + self.sign_w, y0 + self.sign_h
        b = self.border
        frame = img[y0:y1, x0:x1]
        ring = np.ones(frame.shape[:2], bool)
        ring[b:-b, b:-b] = False
        self.assertTrue((frame[ring] == 0).all(), "a black border of the spec's width")
        self.assertFalse((img[y0 - 1, x0:x1] == 0).all(), "no wider than the spec's rectangle")
        inner = frame[b:-b, b:-b].min(axis=2)
        self.assertTrue((inner[:, :3] == 255).all() and (inner[:, -3:] == 255).all(), "white inside")
        ys, xs = np.nonzero(inner < 128)
        ink_cx = (xs.min() + xs.max() + 1) / 2 + x0 + b
        ink_cy = (ys.min() + ys.max() + 1) / 2 + y0 + b
        self.assertLessEqual(abs(ink_cx - (x0 + x1) / 2), 1.0, "text centred in the rectangle")
        self.assertLessEqual(abs(ink_cy - (y0 + y1) / 2), 1.5)
        # capitals and digits of DejaVu Sans Mono Bold are 0.73 em tall; 3 advances of 0.6 em wide
        # (Q's tail goes below the baseline)
        height = ys.max() - ys.min() + 1
        self.assertTrue(0.73 * self.font_px - 1.5 <= height <= 0.73 * self.font_px + (3 if "Q" in sign.text else 1.5),
                        f"{sign.text}: ink {height} px tall")
        self.assertLessEqual(xs.max() - xs.min() + 1, 3 * 0.6 * self.font_px + 1)
        self.assertGreaterEqual(xs.max() - xs.min() + 1, 2 * 0.6 * self.font_px)
        if not antialiased:
            self.assertTrue(np.isin(inner, (0, 255)).all(), "aliased text is black on white")

    def test_antialiased_edges_and_text(self):
        seen_soft = 0
        for scene, _ in self.scenes[:30]:
            scene = replace(scene, antialias=True, noise=False)
            img = np.asarray(world_alt.render(scene)).astype(int)
            bg = np.array(self.backgrounds[scene.background])
            for sh in scene.shapes:
                cx, cy = self.centre(sh.cell, sh.dx, sh.dy)
                cy += 8 if sh.shape == "triangle" else 0
                self.assertTrue((img[cy, cx] == self.colours[sh.color]).all())
                r, c = divmod(sh.cell, 3)
                block = img[r * self.cell:(r + 1) * self.cell, c * self.cell:(c + 1) * self.cell].reshape(-1, 3)
                mixed = np.any(block != bg, axis=1) & np.any(block != self.colours[sh.color], axis=1)
                seen_soft += mixed.sum() > 0
            if scene.sign is not None:
                self.check_sign(img, scene.sign, antialiased=True)
        self.assertGreater(seen_soft, 0, "anti-aliased edges blend shape and background")

    def test_noise_and_encoding(self):
        for scene, jpeg in self.scenes[:40]:
            self.assertTrue(jpeg is None or jpeg[0] >= self.jpeg_min)
        quals = [j for _, j in self.scenes if j is not None]
        self.assertTrue(0.15 < len(quals) / len(self.scenes) < 0.5)
        scene = replace(self.scenes[0][0], noise=True, antialias=False)
        img = np.asarray(world_alt.render(scene)).astype(int)
        bg = np.array(self.backgrounds[scene.background])
        corner = img[:8, :8]          # the top left corner of a cell is always background
        d = corner - bg
        self.assertTrue(np.abs(d).max() <= self.noise and d.std() > 1)

    def test_never_imported_by_training(self):
        models = os.path.dirname(HERE)
        for path in [os.path.join(models, "train.py"), os.path.join(models, "train_gen.py")] + \
                glob.glob(os.path.join(models, "mgm", "*.py")):
            if path.endswith("world_alt.py"):
                continue
            imports = re.search(r"^\s*(from\s+\S*world_alt\S*\s+import|(from\s+\S+\s+)?import\s+[^\n]*world_alt)",
                                read(path), re.M)
            self.assertIsNone(imports, f"{path} must not use the evaluation renderer")
        src = read(os.path.join(models, "mgm", "world_alt.py"))
        for name in ("world.render", "world.COLORS", "world.BACKGROUNDS", "world.SIZES", "world.sign_box",
                     "world.shape_box", "world.cell_centre", "_draw_shape"):
            self.assertNotIn(name, src, "the evaluation renderer draws from the spec, not from world.py")


if __name__ == "__main__":
    unittest.main()
