"""train.py's instruction-tuning batch: its shape follows --lm-images / --lm-tasks, the default shape
draws exactly what the inline code drew before (so earlier runs' seeds still reproduce), and impossible
shapes are refused with a reason."""
import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import train  # noqa: E402
from mgm import world  # noqa: E402
from mgm.data import sample_task  # noqa: E402


class InstructionItems(unittest.TestCase):
    scenes = [world.random_scene(random.Random(i)) for i in range(30)]

    def test_shape(self):
        rows, items = train.instruction_items(random.Random(1), self.scenes, 24, 3)
        self.assertEqual(len(rows), 24)
        self.assertEqual(len(set(rows)), 24)
        self.assertEqual(len(items), 72)
        self.assertEqual([r for r, _, _ in items], [r for r in rows for _ in range(3)])
        for r, prompt, answer in items:
            self.assertIn((prompt, answer), [(t.prompt, t.answer) for t in world.all_tasks(self.scenes[r])])

    def test_default_draws_as_before(self):
        rng = random.Random(7)
        rows = rng.sample(range(len(self.scenes)), 12)
        want = [(r, t.prompt, t.answer) for r in rows for t in [sample_task(rng, self.scenes[r]) for _ in range(4)]]
        self.assertEqual(train.instruction_items(random.Random(7), self.scenes, 12, 4), (rows, want))

    def test_refused(self):
        for images, tasks in ((31, 4), (0, 4), (12, 0)):
            with self.assertRaisesRegex(ValueError, "images x"):
                train.instruction_items(random.Random(1), self.scenes, images, tasks)


if __name__ == "__main__":
    unittest.main()
