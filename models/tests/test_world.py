"""The scene generator against the rules of shared/world/SPEC.md."""
import os
import re
import sys
import unittest
from collections import Counter

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from mgm import world  # noqa: E402
from evaluate import caption_items, f1  # noqa: E402

SCENES = world.sample_scenes(123, 300)


class SceneRules(unittest.TestCase):
    def test_same_seed_same_scenes(self):
        self.assertEqual(world.sample_scenes(123, 20), SCENES[:20])
        self.assertNotEqual(world.sample_scenes(124, 20), SCENES[:20])

    def test_contents(self):
        for s, q in SCENES:
            self.assertTrue(1 <= len(s.shapes) <= 4)
            cells = [t.cell for t in s.items()]
            self.assertEqual(len(cells), len(set(cells)), "no two things share a cell")
            if s.sign:
                self.assertEqual(len(s.sign.text), 3)
                self.assertTrue(all(c in world.SIGN_ALPHABET for c in s.sign.text))
                self.assertFalse(set("IO01") & set(s.sign.text))
            for sh in s.shapes:
                self.assertTrue(-12 <= sh.dx <= 12 and -12 <= sh.dy <= 12)
            self.assertTrue(q is None or 90 <= q <= 98)
        signs = sum(1 for s, _ in SCENES if s.sign)
        self.assertTrue(100 < signs < 200, f"about half the scenes have a sign, got {signs}/300")

    def test_rendering_draws_the_shapes_in_their_cells(self):
        for s, _ in SCENES[:30]:
            img = np.asarray(world.render(s)).astype(int)
            self.assertEqual(img.shape, (384, 384, 3))
            for sh in s.shapes:
                x0, y0, x1, y1 = world.shape_box(sh)
                cx, cy = int((x0 + x1) / 2), int((y0 + y1) / 2) + (8 if sh.shape == "triangle" else 0)
                diff = np.abs(img[cy, cx] - np.array(world.COLORS[sh.color])).max()
                self.assertLessEqual(diff, 8, f"{sh} centre pixel {img[cy, cx]}")
            if s.sign:
                x0, y0, x1, y1 = world.sign_box(s.sign)
                self.assertLessEqual(img[y0, x0].max(), 8, "the sign has a black border")


class TaskRules(unittest.TestCase):
    def test_caption_grammar(self):
        for s, _ in SCENES:
            cap = s.caption()
            self.assertTrue(cap.endswith(".") and cap[0] == "a")
            items = caption_items(cap)
            self.assertEqual(len(items), len(s.shapes) + (1 if s.sign else 0))
            n = len(items)
            self.assertEqual(cap.count(" and "), 1 if n >= 2 else 0)
            self.assertEqual(cap.count(", "), max(0, n - 2))
            order = [world.CELLS.index(" ".join(i[i.index("the") + 1:])) for i in items]
            self.assertEqual(order, sorted(order), "items follow the cells in row-major order")

    def test_answers_follow_the_rules(self):
        for s, _ in SCENES:
            tasks = world.all_tasks(s)
            kinds = Counter(sh.shape for sh in s.shapes)
            by = {}
            for t in tasks:
                by.setdefault(t.template, []).append(t)
            self.assertEqual(len(by["caption"]), 1)
            self.assertEqual(len(by["shape_at"]), 9)
            self.assertEqual(by["count_objects"][0].answer, str(len(s.shapes)))
            for t in by["count_shape"]:
                shape = re.match(r"How many (\w+)s are there\?", t.prompt).group(1)
                self.assertEqual(t.answer, str(kinds[shape]))
            for t in by.get("color_of", []):
                shape = re.match(r"What color is the (\w+)\?", t.prompt).group(1)
                self.assertEqual(kinds[shape], 1, "asked only when exactly one shape of that kind")
            self.assertEqual(len(by.get("color_of", [])), sum(1 for k in kinds.values() if k == 1))
            self.assertEqual(len(by["is_there"]), 12)
            for t in by.get("where", []):
                col, shape = re.match(r"Where is the (\w+) (\w+)\?", t.prompt).groups()
                self.assertEqual(sum(1 for x in s.shapes if x.color == col and x.shape == shape), 1)
            self.assertEqual("sign_text" in by, s.sign is not None)
            if s.sign:
                self.assertEqual(by["sign_text"][0].answer, s.sign.text)
            self.assertEqual(by["is_sign"][0].answer, "yes" if s.sign else "no")
            self.assertEqual("gen_describe" in by, s.sign is None)
            for t in by.get("gen_recolor", []) + by.get("gen_remove", []) + by.get("gen_describe", []):
                self.assertTrue(t.answer.startswith("<h>a ") and t.answer.endswith(".</h>"))
                self.assertNotIn("sign", t.answer, "the generator does not draw text")
            for t in by.get("gen_remove", []):
                self.assertGreaterEqual(len(s.shapes), 2)
                self.assertEqual(len(caption_items(t.answer[3:-4])), len(s.shapes) - 1)
            for t in by.get("gen_recolor", []):
                shape, col = re.match(r".*with the (\w+) in (\w+)\.", t.prompt).groups()
                self.assertIn(f"{col} {shape}", t.answer)
                self.assertNotEqual([x.color for x in s.shapes if x.shape == shape][0], col)

    def test_spec_example_caption(self):
        s = world.Scene((world.Shape(0, "circle", "red", "large"), world.Shape(8, "square", "blue", "small")),
                        world.Sign(4, "K7Q"))
        self.assertEqual(s.caption(), "a large red circle at the top left, a sign that says K7Q at the center "
                                      "and a small blue square at the bottom right.")

    def test_object_f1(self):
        gold = "a large red circle at the top left and a small blue square at the bottom right."
        self.assertEqual(f1(gold, gold), 1.0)
        self.assertAlmostEqual(f1("a large red circle at the top left.", gold), 2 / 3)


if __name__ == "__main__":
    unittest.main()
