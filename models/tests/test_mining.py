"""The sign-centre target that supervises mining's attention points at the HR location where the
letters are read, and the supervised scores are the ones the exported projector uses."""
import os
import random
import sys
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from mgm import world  # noqa: E402
from mgm.model import Config, VisualProjector  # noqa: E402
from train import dense_targets, sign_centre_subpatch  # noqa: E402


class MiningTargetTest(unittest.TestCase):
    def test_subpatch_is_where_the_letters_are_read(self):
        cfg = Config()
        stride, m = cfg.cnx_stem_stride, cfg.mining_m
        rng = random.Random(5)
        seen = 0
        while seen < 20:
            scene = world.random_scene(rng, sign_probability=1.0)
            _, _, _, chars = dense_targets(scene, cfg.hr_map, stride)
            ys, xs = torch.nonzero(chars[0] >= 0, as_tuple=True)
            r, c = divmod(scene.sign.cell, 3)
            sub = sign_centre_subpatch(scene, cfg)
            self.assertEqual((int(ys[0]), int(xs[0])), (r * m + sub // m, c * m + sub % m))
            seen += 1
        no_sign = world.Scene(shapes=scene.shapes)
        self.assertEqual(sign_centre_subpatch(no_sign, cfg), -100)

    def test_projected_tokens_and_scores_agree_with_forward(self):
        cfg = Config(vit_depth=1, cnx_depths=(1, 1, 1, 1))
        torch.manual_seed(0)
        proj = VisualProjector(cfg).eval()
        lr = torch.randn(2, cfg.n_tokens, cfg.vit_dim)
        hr = torch.randn(2, cfg.hr_channels, cfg.hr_map, cfg.hr_map)
        tokens, scores = proj.project(lr, hr)
        self.assertTrue(torch.equal(tokens, proj(lr, hr)))
        self.assertEqual(tuple(scores.shape), (2, cfg.n_tokens, cfg.mining_m ** 2))


if __name__ == "__main__":
    unittest.main()
