"""train.py --lm0-only, the diagnosis that session 20's recipe change rests on: it runs the one command's LR
stage and LM pretraining for real (at toy size) and stops before the HR encoder."""
import os
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "..", "train.py")


def run(work: str, *extra: str) -> subprocess.CompletedProcess:
    # 300 scenes: the LR ViT keeps its first 256 for validation
    return subprocess.run([sys.executable, TRAIN, "--work", work, "--scenes", "300", "--lr-steps", "3",
                           "--lm0-align-steps", "2", "--lm0-steps", "3", "--check-every", "1000", "--lm0-only",
                           *extra], capture_output=True, text=True, timeout=600)


class Lm0Only(unittest.TestCase):
    def test_stops_after_the_lm_pretraining(self):
        with tempfile.TemporaryDirectory() as work:
            done = run(work)
            self.assertEqual(done.returncode, 0, done.stderr[-2000:])
            state = torch.load(os.path.join(work, "lm0", "model.pt"))
            self.assertIn("state", state)
            self.assertTrue(os.path.exists(os.path.join(work, "lr_encoder.300.3.pos.aug.pt")))
            # the HR encoder's half hour is what the flag saves
            self.assertFalse(os.path.exists(os.path.join(work, "encoders.pt")))
            self.assertFalse(os.path.exists(os.path.join(work, "lronly")))

    def test_refuses_without_lm_steps(self):
        with tempfile.TemporaryDirectory() as work:
            done = run(work, "--lm0-steps", "0")
            self.assertNotEqual(done.returncode, 0)
            self.assertIn("--lm0-steps is 0", done.stderr)

    def test_refuses_a_second_stopping_point(self):
        with tempfile.TemporaryDirectory() as work:
            done = run(work, "--encoders-only")
            self.assertNotEqual(done.returncode, 0)
            self.assertIn("--lm0-only and --encoders-only", done.stderr)
            # refused before anything is rendered or trained
            self.assertFalse(os.path.exists(os.path.join(work, "features_lr.pt")))


if __name__ == "__main__":
    unittest.main()
