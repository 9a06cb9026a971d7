"""Mini-Gemini-HD (image_grid 2, image_global true) on the scaled-down MGM-2B-HD checkpoint of
make_test_checkpoints.py: mgm/official's encode_images gives the official 5N tokens [global, tiles],
the reference prepares the LR views as the official serving code does, and export_mgm.py's graphs,
chained the way the Java runtime chains them (global view first, the HR map 2 x 2 average pooled for
it and cut into tiles for the others, tests/onnx_numpy.py running the graphs), compute the same
tokens and the same greedy answer."""
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import export_mgm  # noqa: E402
import make_test_checkpoints as mtc  # noqa: E402
import onnx_numpy  # noqa: E402
from mgm.official import checkpoint as ck  # noqa: E402
from mgm.official import reference as R  # noqa: E402
from mgm.official.mgm import IMAGE_TOKEN_INDEX, MMConfig, load_released  # noqa: E402

G = 2
IMG = mtc.CLIP["image_size"]
IMG_AUX = 2 * mtc.CONVNEXT["image_size_aux"]
N = (IMG // mtc.CLIP["patch_size"]) ** 2
C_AUX = sum(mtc.CONVNEXT["dims"])
HR_SIDE = IMG_AUX // 4
QUESTION = "What is in the picture?"


def image(w, h, seed):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


# ---------------------------------------------------------------- the Java side, in numpy

def java_bilinear(chw, out):
    """Preprocessor.bilinear: half-pixel source positions clamped at 0, two taps per axis, float32."""
    size = chw.shape[-1]
    scale = np.float32(size / out)
    src = np.maximum(scale * (np.arange(out, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5), 0)
    lo = np.minimum(src.astype(np.int64), size - 1)
    hi = np.where(lo < size - 1, lo + 1, lo)
    w1 = (src - lo).astype(np.float32)
    w0 = 1 - w1
    rows = chw[:, lo] * w0[None, :, None] + chw[:, hi] * w1[None, :, None]
    return rows[:, :, lo] * w0[None, None, :] + rows[:, :, hi] * w1[None, None, :]


def java_lr_views(hr_chw, lr, g):
    """Preprocessor.apply for hd_grid g with a bilinear LR view from HR: [global, tiles row-major]."""
    big = java_bilinear(hr_chw, g * lr)
    views = [java_bilinear(big, lr)]
    views += [big[:, ty * lr:(ty + 1) * lr, tx * lr:(tx + 1) * lr] for ty in range(g) for tx in range(g)]
    return np.stack(views)


def java_split_for_grid(features, g):
    """VisionEncoder.splitForGrid: [B, C, H, W] -> [B*(g*g+1), C, H/g, W/g], per image the whole map
    g x g average pooled, then the tiles row-major."""
    b, c, h, w = features.shape
    th, tw = h // g, w // g
    out = []
    for i in range(b):
        f = features[i]
        out.append(f.reshape(c, th, g, tw, g).mean(axis=(2, 4)))
        out += [f[:, ty * th:(ty + 1) * th, tx * tw:(tx + 1) * tw] for ty in range(g) for tx in range(g)]
    return np.stack(out).astype(features.dtype)


class HDTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.folder = mtc.write_test_checkpoints(os.path.join(cls.tmp.name, "ck"), ("gemma-hd",))["gemma-hd"]
        cls.model = load_released(cls.folder)
        cls.ref = R.Reference(cls.folder)
        cls.out = {}
        for dtype in ("float32", "float16"):
            cls.out[dtype] = os.path.join(cls.tmp.name, "export-" + dtype)
            with contextlib.redirect_stderr(io.StringIO()):
                export_mgm.export(cls.folder, cls.out[dtype], dtype)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def graphs(self, dtype):
        return {n: onnx.load(os.path.join(self.out[dtype], n + ".onnx"))
                for n in ("lr_encoder", "hr_encoder", "projector", "embed_tokens", "decoder")}

    def manifest(self, dtype):
        with open(os.path.join(self.out[dtype], "model.json"), encoding="utf-8") as f:
            return json.load(f)

    # ------------------------------------------------------------------ the checkpoint and the model

    def test_the_checkpoint_has_the_hd_keys(self):
        self.assertEqual(os.path.basename(self.folder), "MGM-2B-HD")
        cfg = ck.read_config(self.folder)
        self.assertEqual((cfg["image_grid"], cfg["image_global"], cfg["image_size_aux"]), (G, True, IMG_AUX))
        self.assertEqual(cfg["model_type"], "mgm_gemma")
        self.assertTrue(os.path.isfile(os.path.join(self.folder, "tokenizer.json")))
        mm = self.model.model.mm_config
        self.assertEqual((mm.image_grid, mm.image_global, mm.hd), (G, True, True))

    def test_other_grid_layouts_are_refused(self):
        base = ck.read_config(self.folder)
        for grid, glob in ((2, False), (1, True), (3, True), (4, False)):
            with self.subTest(grid=grid, image_global=glob):
                with self.assertRaisesRegex(NotImplementedError, "image_grid"):
                    MMConfig.from_hf({**base, "image_grid": grid, "image_global": glob})
        self.assertEqual(MMConfig.from_hf({**base, "image_grid": None, "image_global": None}).image_grid, 1)

    def test_export_refuses_a_grid_without_the_global_view(self):
        folder = os.path.join(self.tmp.name, "no-global")
        os.makedirs(folder)
        cfg = {**ck.read_config(self.folder), "image_global": False}
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f)
        with self.assertRaisesRegex(NotImplementedError, "image_global"):
            export_mgm.export(folder, os.path.join(self.tmp.name, "never"), "float32")
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "never")))

    def test_hd_model_gives_five_n_tokens(self):
        g = torch.Generator().manual_seed(0)
        imgs = torch.randn(2, G * G + 1, 3, IMG, IMG, generator=g)
        aux = torch.randn(2, 3, IMG_AUX, IMG_AUX, generator=g)
        m = self.model.model
        d = self.model.lm_config.hidden_size
        with torch.no_grad():
            feats = m.encode_images(imgs, aux)
            self.assertEqual(feats.shape, (2, (G * G + 1) * N, d))
            ids = torch.tensor([[2, 10, IMAGE_TOKEN_INDEX, 11], [2, IMAGE_TOKEN_INDEX, 20, 21]])
            self.assertEqual(self.model(ids, imgs, aux).shape, (2, 3 + 5 * N, self.model.lm_config.vocab_size))
            # the official recipe spelled out: CLIP on every view, the ConvNeXt once on the aux image,
            # the global view (last in the input) mines the map resized by 1/2 and comes first, each
            # tile mines its own quarter of the map, row-major
            hr = m.vision_tower_aux(aux)
            h = HR_SIDE // G
            for b in range(2):
                lr = m.vision_tower(imgs[b])
                glob = F.interpolate(hr[b:b + 1], scale_factor=0.5, mode="bilinear", align_corners=False)
                want = [m.mm_projector(m.mine(lr[-1:], glob))[0]]
                for t in range(G * G):
                    ty, tx = divmod(t, G)
                    tile = hr[b:b + 1, :, ty * h:(ty + 1) * h, tx * h:(tx + 1) * h]
                    want.append(m.mm_projector(m.mine(lr[t:t + 1], tile))[0])
                torch.testing.assert_close(feats[b], torch.cat(want), rtol=1e-5, atol=1e-5)
            with self.assertRaisesRegex(ValueError, "HD images"):
                m.encode_images(imgs[:, 0], aux)

    # ------------------------------------------------------------------ preprocessing

    def test_reference_lr_views_are_cli_pys_and_the_javas(self):
        spec = self.ref.spec
        self.assertEqual((spec["lr"]["size"], spec["hr"]["size"]), (IMG, IMG_AUX))
        lr, hr = R.preprocess(image(90, 50, 1), spec, G)
        self.assertEqual(lr.shape, (1, G * G + 1, 3, IMG, IMG))
        self.assertEqual(hr.shape, (1, 3, IMG_AUX, IMG_AUX))
        big = F.interpolate(hr, size=[G * IMG, G * IMG], mode="bilinear", align_corners=False)[0]
        for t in range(G * G):
            ty, tx = divmod(t, G)
            torch.testing.assert_close(lr[0, t], big[:, ty * IMG:(ty + 1) * IMG, tx * IMG:(tx + 1) * IMG],
                                       rtol=0, atol=0)
        torch.testing.assert_close(lr[0, -1], F.interpolate(big[None], size=[IMG, IMG], mode="bilinear",
                                                            align_corners=False)[0], rtol=0, atol=0)
        # the Java preprocessor's views are the same, the global one first
        java = java_lr_views(hr[0].numpy(), IMG, G)
        np.testing.assert_allclose(java, torch.cat([lr[0, -1:], lr[0, :-1]]).numpy(), rtol=0, atol=5e-5)
        plain, _ = R.preprocess(image(90, 50, 1), spec)
        self.assertEqual(plain.shape, (1, 3, IMG, IMG))

    # ------------------------------------------------------------------ the export

    def test_manifest(self):
        for dtype in ("float32", "float16"):
            with self.subTest(dtype=dtype):
                v = self.manifest(dtype)["vision"]
                self.assertEqual((v["hd_grid"], v["image_token_count"]), (G, N))
                self.assertEqual(v["mining"], {"enabled": True, "sub_patch_side": HR_SIDE // G // 4})
                self.assertEqual(v["hr_encoder"]["outputs"]["hr_features"]["shape"], [-1, C_AUX, HR_SIDE, HR_SIDE])
                self.assertEqual(v["projector"]["inputs"]["hr_features"]["shape"],
                                 [-1, C_AUX, HR_SIDE // G, HR_SIDE // G])
                self.assertEqual(v["preprocess"], self.ref.spec)
                # 5 x 576 visual tokens would not fit the 2048 of a plain export
                self.assertEqual(self.manifest(dtype)["language_model"]["context_length"], 4096)
                g = self.graphs(dtype)["projector"].graph
                hr_in = {x.name: x for x in g.input}["hr_features"].type.tensor_type.shape.dim
                self.assertEqual([d.dim_value for d in hr_in][1:], [C_AUX, HR_SIDE // G, HR_SIDE // G])
        plain = os.path.join(self.tmp.name, "plain")
        folder = mtc.write_test_checkpoints(plain, ("gemma",))["gemma"]
        with contextlib.redirect_stderr(io.StringIO()):
            m = export_mgm.export(folder, os.path.join(plain, "out"), "float32")
        self.assertEqual((m["vision"]["hd_grid"], m["language_model"]["context_length"]), (0, 2048))

    def java_tokens(self, graphs, lr_views, hr_pixels):
        """VisionEncoder.encode: lr_encoder on [B*5] views, hr_encoder on [B], the HR map split per
        view, one projector call, the tokens of each image's views concatenated."""
        b = hr_pixels.shape[0]
        lr_f = onnx_numpy.run(graphs["lr_encoder"], {"pixel_values": lr_views.reshape(-1, 3, IMG, IMG)})
        hr_f = onnx_numpy.run(graphs["hr_encoder"], {"pixel_values_hr": hr_pixels})["hr_features"]
        self.assertEqual(hr_f.shape, (b, C_AUX, HR_SIDE, HR_SIDE))
        vis = onnx_numpy.run(graphs["projector"], {"lr_features": lr_f["lr_features"],
                                                   "hr_features": java_split_for_grid(hr_f, G)})["visual_tokens"]
        self.assertEqual(vis.shape[:2], (b * (G * G + 1), N))
        return vis.reshape(b, (G * G + 1) * N, -1)

    def test_graphs_chained_as_the_java_side_equal_encode_images(self):
        g = torch.Generator().manual_seed(3)
        imgs = torch.randn(2, G * G + 1, 3, IMG, IMG, generator=g)   # official order: tiles, then global
        aux = torch.randn(2, 3, IMG_AUX, IMG_AUX, generator=g)
        with torch.no_grad():
            want = self.model.model.encode_images(imgs, aux).numpy()
        java_order = torch.cat([imgs[:, -1:], imgs[:, :-1]], dim=1).numpy()
        for dtype, tol in (("float32", 1e-4), ("float16", 2e-2)):
            with self.subTest(dtype=dtype):
                got = self.java_tokens(self.graphs(dtype), java_order, aux.numpy())
                scale = max(1.0, float(np.abs(want).max()))
                err = float(np.abs(got.astype(np.float64) - want).max())
                self.assertLessEqual(err, tol * scale, f"max error {err:g}")

    # ------------------------------------------------------------------ the reference

    def test_reference_answers_an_hd_task_as_the_exported_graphs_do(self):
        ref = self.ref
        self.assertEqual(ref.grid, G)
        img = image(60, 100, 4)
        out = ref.run(img, QUESTION, False, 4)
        ids, gen = out["input_ids"], out["generation"]
        self.assertEqual(ids.count(IMAGE_TOKEN_INDEX), 1)
        self.assertEqual(len(gen.logits), len(gen.tokens) + (gen.finish == "stop"))
        lr, hr = R.preprocess(img, ref.spec, G)
        with torch.no_grad():
            full = ref.model(torch.tensor([ids + gen.tokens]), lr, hr)[0]
        self.assertEqual(full.shape[0], len(ids) - 1 + 5 * N + len(gen.tokens))
        n = full.shape[0] - len(gen.tokens)
        for step, row in enumerate(gen.logits[:len(gen.tokens)]):
            torch.testing.assert_close(row, full[n - 1 + step], rtol=1e-4, atol=1e-4)
        # the exported float32 graphs, preprocessed and chained as the Java side does, decode the same
        graphs, m = self.graphs("float32"), self.manifest("float32")
        vis = self.java_tokens(graphs, java_lr_views(hr[0].numpy(), IMG, G)[None], hr.numpy())
        embed = lambda x: onnx_numpy.run(graphs["embed_tokens"],  # noqa: E731
                                         {"input_ids": np.array([x], np.int64)})["inputs_embeds"]
        at = ids.index(IMAGE_TOKEN_INDEX)
        emb = np.concatenate([embed(ids[:at]), vis, embed(ids[at + 1:])], axis=1)
        lm = m["language_model"]
        past = {f"past_key_values.{i}.{p}": np.zeros((1, lm["num_kv_heads"], 0, lm["head_dim"]), np.float32)
                for i in range(lm["num_layers"]) for p in ("key", "value")}
        tokens, total = [], emb.shape[1]
        for step in range(len(gen.logits)):
            r = onnx_numpy.run(graphs["decoder"], {
                "inputs_embeds": emb, "attention_mask": np.ones((1, total), np.int64),
                "position_ids": np.arange(total - emb.shape[1], total, dtype=np.int64)[None], **past})
            logits = r["logits"][0, 0]
            np.testing.assert_allclose(logits, gen.logits[step].numpy(), rtol=1e-4, atol=1e-4)
            nxt = int(logits.argmax())
            if nxt in ref.stop_ids:
                break
            tokens.append(nxt)
            past = {k: r[k.replace("past_key_values", "present")] for k in past}
            emb, total = embed([nxt]), total + 1
        self.assertEqual(tokens, gen.tokens)

    def test_reference_cli_on_the_hd_checkpoint(self):
        d = os.path.join(self.tmp.name, "cli")
        os.makedirs(d)
        image(70, 40, 5).save(os.path.join(d, "a.png"))
        with open(os.path.join(d, "tasks.jsonl"), "w") as f:
            f.write(json.dumps({"task_id": "v", "image": "a.png", "kind": "vqa", "prompt": QUESTION}) + "\n")
        res, trace = os.path.join(d, "res.jsonl"), os.path.join(d, "trace.jsonl")
        subprocess.run([sys.executable, os.path.join(HERE, "..", "reference.py"), "--checkpoint", self.folder,
                        "--input", os.path.join(d, "tasks.jsonl"), "--output", res, "--trace", trace,
                        "--max-new-tokens", "3"],
                       check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        with open(res) as f:
            line = json.loads(f.readline())
        self.assertEqual((line["task_id"], line["status"]), ("v", "ok"))
        with open(trace) as f:
            t = json.loads(f.readline())
        want = self.ref.run(image(70, 40, 5), QUESTION, False, 3)
        self.assertEqual(t["tokens"], want["generation"].tokens)
        self.assertEqual(line["answer"], want["answer"])


if __name__ == "__main__":
    unittest.main()
