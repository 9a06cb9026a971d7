"""Issue 20 tooling: an HR ConvNeXt written by `train.py --hr-out` is read back by `hr_state` and by
hr_letters.py, and the letter check runs on every view."""
import os
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import hr_letters  # noqa: E402
import train  # noqa: E402
from mgm.model import Config, HRConvNeXt, MGMTiny  # noqa: E402


class HrSwapTest(unittest.TestCase):
    def test_round_trip_and_check(self):
        torch.set_num_threads(1)
        cfg = Config(vocab_size=64)
        torch.manual_seed(0)
        cnx = HRConvNeXt(cfg)
        n_local = cfg.cnx_dims[0] + cfg.cnx_dims[1]
        head = nn.Conv2d(n_local, 96, 1)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "hr.pt")
            torch.save({"config": cfg.to_dict(), "hr_encoder": cnx.state_dict(), "letter_head": head.state_dict()}, path)
            sd, hd = train.hr_state(path)
            self.assertTrue(all(torch.equal(sd[k], v) for k, v in cnx.state_dict().items()))
            self.assertTrue(torch.equal(hd["weight"], head.weight))
            # a whole model's checkpoint gives its HR encoder and no head
            model = MGMTiny(cfg)
            mp = os.path.join(d, "model.pt")
            torch.save({"config": cfg.to_dict(), "state": model.state_dict()}, mp)
            sd2, hd2 = train.hr_state(mp)
            self.assertIsNone(hd2)
            self.assertEqual(set(sd2), set(model.hr_encoder.state_dict()))
            # and the HR letter head a robustness fine-tune saved beside it
            torch.save({"config": cfg.to_dict(), "state": model.state_dict(), "hr_letter_head": head.state_dict()}, mp)
            self.assertTrue(torch.equal(train.hr_state(mp)[1]["bias"], head.bias))
            c2, cnx2, head2, nl = hr_letters.load(path)
            signs, views = hr_letters.views(2000, 12)
            self.assertEqual(set(views), {"plain", "augmented", "alt"})
            for x in views.values():
                self.assertEqual(x.shape, (len(signs), 384, 384, 3))
                l, s, n = hr_letters.read_signs(c2, cnx2, head2, nl, x, signs)
                self.assertEqual(n, len(signs))
                self.assertTrue(0 <= s <= l <= 3 * n)
            # the augmented view is not the plain one
            self.assertFalse(np.array_equal(views["plain"], views["augmented"]))


if __name__ == "__main__":
    unittest.main()
