"""Instruction-task sampling: the hard `where` questions."""
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from mgm import data, world  # noqa: E402


class HardWhereTest(unittest.TestCase):
    SCENE = world.Scene((world.Shape(0, "circle", "red", "large"), world.Shape(1, "square", "red", "small"),
                         world.Shape(2, "circle", "blue", "small"), world.Shape(4, "triangle", "green", "large")))

    def where(self, prompt):
        return next(t for t in world.all_tasks(self.SCENE) if t.prompt == prompt)

    def test_distractors_share_colour_or_kind_but_are_not_the_shape(self):
        self.assertEqual(data.where_distractors(self.SCENE, self.where("Where is the red circle?")), 2)
        self.assertEqual(data.where_distractors(self.SCENE, self.where("Where is the red square?")), 1)
        self.assertEqual(data.where_distractors(self.SCENE, self.where("Where is the green triangle?")), 0)

    def test_hard_where_asks_where_more_often_and_prefers_distractors(self):
        def draw(hard):
            old, data.HARD_WHERE = data.HARD_WHERE, hard
            try:
                rng = random.Random(3)
                return [data.sample_task(rng, self.SCENE) for _ in range(3000)]
            finally:
                data.HARD_WHERE = old
        plain, hard = draw(0.0), draw(2.0)
        where = lambda ts: [t for t in ts if t.template == "where"]
        self.assertGreater(len(where(hard)), 1.5 * len(where(plain)))
        easy = lambda ts: sum(t.prompt == "Where is the green triangle?" for t in ts) / len(ts)
        self.assertLess(easy(where(hard)), easy(where(plain)))


if __name__ == "__main__":
    unittest.main()
