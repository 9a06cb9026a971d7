"""train.py's lookup supervision: the cell each question is about (checked against the task's own
answer where the answer names or describes that cell), and the loss on one head's attention."""
import os
import random
import sys
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
        t = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), t), self.tok.id("<pad>"))
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s)
        return ids, torch.tensor([len(s) - 1 for s in seqs])

    def test_mass_on_the_asked_cell(self):
        ids, query = self.batch(["What shape is at the center?", "What shape is at the top left?",
                                 "How many objects are there?"])
        image = (ids[0] == self.tok.id("<image>")).nonzero()[:, 0]
        probs = torch.zeros(3, ids.shape[1], ids.shape[1])
        probs[0, query[0], image[4]] = 1.0          # row 0: all on the center's token
        probs[1, query[1], image[0]] = 0.5          # row 1: half on the top left's token
        probs[1, query[1], image[1]] = 0.5
        probs[2, query[2], image[0]] = 1.0          # row 2: not a lookup question, not counted
        loss = train.lookup_loss(probs, ids, self.tok.id("<image>"), query, torch.tensor([4, 0, -1]))
        self.assertAlmostEqual(loss.item(), (0.0 - torch.log(torch.tensor(0.5)).item()) / 2, places=5)
        # the mass has to be at the query position: elsewhere it does not count
        shifted = probs.roll(1, dims=1)
        self.assertGreater(train.lookup_loss(shifted, ids, self.tok.id("<image>"), query,
                                             torch.tensor([4, 0, -1])).item(), 10)

    def test_none_without_lookup_questions(self):
        ids, query = self.batch(["Describe the image."])
        probs = torch.full((1, ids.shape[1], ids.shape[1]), 1.0 / ids.shape[1])
        self.assertIsNone(train.lookup_loss(probs, ids, self.tok.id("<image>"), query, torch.tensor([-1])))


if __name__ == "__main__":
    unittest.main()
