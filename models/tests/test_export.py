"""A quick export check: a small random mgm-tiny exports to valid ONNX graphs whose names match the
manifest, and the one-by-one KV-cache decoding equals a full forward pass."""
import json
import os
import sys
import tempfile
import unittest

import onnx
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from export import Float64Projector, export_all, manifest  # noqa: E402
from mgm.generate import greedy  # noqa: E402
from mgm.io import Loaded  # noqa: E402
from mgm.model import Config, MGMTiny  # noqa: E402
from mgm.tokenizer import Tokenizer, build_vocab  # noqa: E402


def small():
    tok = Tokenizer(build_vocab())
    cfg = Config(vocab_size=len(tok), vit_depth=2, lm_layers=2, cnx_depths=(1, 1, 1, 1))
    torch.manual_seed(0)
    return Loaded(MGMTiny(cfg), tok)


class ExportTest(unittest.TestCase):
    def test_graphs_match_the_manifest(self):
        loaded = small()
        with tempfile.TemporaryDirectory() as d:
            export_all(loaded, d)
            man = manifest(loaded, "test")
            json.dumps(man)
            parts = [man["vision"]["lr_encoder"], man["vision"]["hr_encoder"], man["vision"]["projector"],
                     man["language_model"]["embed_tokens"], man["language_model"]["decoder"]]
            for part in parts:
                g = onnx.load(os.path.join(d, part["file"]))
                onnx.checker.check_model(g)
                inputs = [i.name for i in g.graph.input]
                outputs = [o.name for o in g.graph.output]
                for name in part["inputs"]:
                    self.assertIn(name, inputs, part["file"])
                for name in part["outputs"]:
                    self.assertIn(name, outputs, part["file"])
            dec = onnx.load(os.path.join(d, "decoder.onnx"))
            names = [i.name for i in dec.graph.input]
            self.assertIn("past_key_values.1.value", names)
            self.assertIn("present.1.key", [o.name for o in dec.graph.output])

    def test_folded_mining_is_the_checkpoints_mining(self):
        """The exported projector skips mining's per-sub-patch keys and values (see Float64Projector);
        it must still compute what the checkpoint's mining and projector compute."""
        loaded = small()
        projector = loaded.model.projector
        with torch.no_grad():
            for p in projector.parameters():      # LayerNorm affines away from 1 and 0 as well
                p.add_(0.3 * torch.randn_like(p))
            lr = torch.randn(3, loaded.cfg.n_tokens, loaded.cfg.vit_dim)
            hr = loaded.model.hr_encoder(torch.randn(3, 3, loaded.cfg.hr_size, loaded.cfg.hr_size))
            want = projector.double()(lr.double(), hr.double())
            got = Float64Projector(projector)(lr, hr).double()
        scale = want.abs().max().item()
        self.assertLess((got - want).abs().max().item(), 1e-6 * max(1.0, scale))

    def test_cached_decoding_equals_full_forward(self):
        loaded = small()
        lm = loaded.model.lm.eval()
        x = torch.randn(1, 12, loaded.cfg.lm_dim)
        with torch.no_grad():
            full, _ = lm(x, torch.ones(1, 12, dtype=torch.long), torch.arange(12).unsqueeze(0))
            a, past = lm(x[:, :8], torch.ones(1, 8, dtype=torch.long), torch.arange(8).unsqueeze(0))
            b, _ = lm(x[:, 8:], torch.ones(1, 12, dtype=torch.long), torch.arange(8, 12).unsqueeze(0), past)
        self.assertLess((torch.cat([a, b], 1) - full).abs().max().item(), 1e-4)

    def test_batched_greedy_equals_one_by_one(self):
        loaded = small()
        lm = loaded.model.lm.eval()
        torch.manual_seed(1)
        rows = [torch.randn(n, loaded.cfg.lm_dim) for n in (5, 9, 7)]
        stop = loaded.tok.id("<end_of_turn>")
        batched = greedy(lm, rows, stop, 12)
        single = [greedy(lm, [r], stop, 12)[0] for r in rows]
        self.assertEqual(batched, single)


if __name__ == "__main__":
    unittest.main()
