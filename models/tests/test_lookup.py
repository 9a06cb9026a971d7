"""train.py's lookup supervision: the cell each question is about (checked against the task's own
answer where the answer names or describes that cell), and the loss on one head's attention."""
import math
import os
import random
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import train  # noqa: E402
from mgm import world  # noqa: E402
from mgm.data import prompt_ids  # noqa: E402
from mgm.tokenizer import Tokenizer, build_vocab  # noqa: E402


class LookupCell(unittest.TestCase):
    def test_every_template(self):
        rng = random.Random(3)
        seen = set()
        for _ in range(300):
            scene = world.random_scene(rng)
            for t in world.all_tasks(scene):
                cell = train.lookup_cell(scene, t.prompt)
                if cell >= 0:
                    seen.add(t.template)
                if t.template == "shape_at":
                    thing = scene.shape_at(cell)
                    self.assertEqual(t.answer, thing.shape if thing else "nothing")
                    self.assertEqual(t.prompt, f"What shape is at the {world.CELLS[cell]}?")
                elif t.template == "where":
                    self.assertEqual(world.CELLS[cell], t.answer)
                elif t.template == "color_of":
                    self.assertEqual(scene.shape_at(cell).color, t.answer)
                elif t.template == "is_there":
                    # present once: its cell; absent (or twice, so no one cell): none
                    if cell >= 0:
                        self.assertEqual(t.answer, "yes")
                        self.assertIn(scene.shape_at(cell).color, t.prompt)
                elif t.template == "sign_text":
                    self.assertEqual(cell, scene.sign.cell)
                else:
                    self.assertEqual(cell, -1, t)
        self.assertEqual(seen, {"shape_at", "where", "color_of", "is_there", "sign_text"})


class LookupLoss(unittest.TestCase):
    tok = Tokenizer(build_vocab())

    def batch(self, prompts):
        seqs = [prompt_ids(self.tok, p, 9) for p in prompts]
        t = max(len(s) for s in seqs) + 4
        ids = torch.full((len(seqs), t), self.tok.id("<pad>"))
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s)
        return ids, [len(s) - 1 for s in seqs]

    def test_points(self):
        scene = world.Scene((world.Shape(4, "circle", "red", "small"),), world.Sign(0, "K7Q"))
        last = len(prompt_ids(self.tok, "What shape is at the center?", 9)) - 1
        self.assertEqual(train.lookup_points(self.tok, scene, "What shape is at the center?", "circle", 9),
                         [(last, 4)])
        last = len(prompt_ids(self.tok, "What does the sign say?", 9)) - 1
        # one point per letter: the position before each letter reads it from the sign's token
        self.assertEqual(train.lookup_points(self.tok, scene, "What does the sign say?", "K7Q", 9),
                         [(last, 0), (last + 1, 0), (last + 2, 0)])
        self.assertEqual(train.lookup_points(self.tok, scene, "How many objects are there?", "1", 9), [])

    def test_mass_on_the_asked_cell(self):
        ids, last = self.batch(["What shape is at the center?", "What shape is at the top left?"])
        image = (ids[0] == self.tok.id("<image>")).nonzero()[:, 0]
        probs = torch.zeros(2, ids.shape[1], ids.shape[1])
        probs[0, last[0], image[4]] = 1.0          # row 0: all on the center's token
        probs[1, last[1], image[0]] = 0.5          # row 1: half on the top left's token
        probs[1, last[1], image[1]] = 0.5
        probs[1, last[1] + 1, image[0]] = 0.25     # row 1, next position: a quarter on it
        rows, query, cells = torch.tensor([0, 1, 1]), torch.tensor([last[0], last[1], last[1] + 1]), torch.tensor([4, 0, 0])
        loss = train.lookup_loss(probs, ids, self.tok.id("<image>"), rows, query, cells)
        expected = -(0.0 + math.log(0.5) + math.log(0.25)) / 3
        self.assertAlmostEqual(loss.item(), expected, places=5)
        # the mass has to be at the query position: elsewhere it does not count
        self.assertGreater(train.lookup_loss(probs.roll(1, dims=1), ids, self.tok.id("<image>"), rows, query,
                                             cells).item(), 10)

    def test_sign_slot_points(self):
        scene = world.Scene((world.Shape(4, "circle", "red", "small"),), world.Sign(2, "K7Q"))
        last = len(prompt_ids(self.tok, "What does the sign say?", 9)) - 1
        pts = train.sign_slot_points(self.tok, scene, "What does the sign say?", "K7Q", 9, 4)
        # head 1 + j on the sign's cell at letter j's position, pushed off it at the other two
        self.assertEqual(sorted((q, h) for q, c, h, pull in pts if pull), [(last, 1), (last + 1, 2), (last + 2, 3)])
        self.assertEqual(len([p for p in pts if not p[3]]), 6)
        self.assertEqual({c for _, c, _, _ in pts}, {2})
        self.assertEqual(train.sign_slot_points(self.tok, scene, "What shape is at the center?", "circle", 9, 4), [])
        # fewer heads than letters: only the heads there are
        self.assertEqual({h for _, _, h, _ in train.sign_slot_points(self.tok, scene, "What does the sign say?",
                                                                     "K7Q", 9, 2)}, {1})

    def test_slot_loss_pulls_and_pushes(self):
        ids, last = self.batch(["What does the sign say?"])
        image = (ids[0] == self.tok.id("<image>")).nonzero()[:, 0]
        probs = torch.zeros(1, 4, ids.shape[1], ids.shape[1])
        probs[0, 1, last[0], image[2]] = 0.5        # head 1, its own letter: half on the sign
        probs[0, 1, last[0] + 1, image[2]] = 0.75   # head 1, the next letter: three quarters on it
        rows, query = torch.tensor([0, 0]), torch.tensor([last[0], last[0] + 1])
        cells, heads, pull = torch.tensor([2, 2]), torch.tensor([1, 1]), torch.tensor([True, False])
        loss = train.slot_loss(probs, ids, self.tok.id("<image>"), rows, query, cells, heads, pull)
        self.assertAlmostEqual(loss.item(), -(math.log(0.5) + math.log(0.25)) / 2, places=5)

    def test_sign_slots_refused_without_the_lookup_loss(self):
        # --only-lm leaves the lookup loss at 0, and the slot heads are part of it
        with tempfile.TemporaryDirectory() as work:
            run = subprocess.run([sys.executable, train.__file__, "--work", work, "--only-lm", "main",
                                  "--lookup-sign-slots"], capture_output=True, text=True, timeout=120)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("--lookup-sign-slots", run.stderr)

    def test_none_without_points(self):
        ids, _ = self.batch(["Describe the image."])
        probs = torch.full((1, ids.shape[1], ids.shape[1]), 1.0 / ids.shape[1])
        empty = torch.zeros(0, dtype=torch.long)
        self.assertIsNone(train.lookup_loss(probs, ids, self.tok.id("<image>"), empty, empty, empty))


if __name__ == "__main__":
    unittest.main()
