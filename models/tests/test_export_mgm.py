"""export_mgm.py on the scaled-down released checkpoints of make_test_checkpoints.py: every family
and dtype exports, the graphs pass the ONNX checker, their names, dtypes and shapes are what
model.json says, their weights are the checkpoint's, and (run by tests/onnx_numpy.py, since ONNX
Runtime is only on the Java side) they compute what mgm/official computes, KV cache included."""
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

import numpy as np
import onnx
import torch
from onnx import TensorProto, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
import export_mgm  # noqa: E402
import make_test_checkpoints as mtc  # noqa: E402
import onnx_numpy  # noqa: E402
from mgm.official.mgm import assemble_state_dict, load_released, resolve_towers  # noqa: E402

FAMILIES = ("gemma", "llama3")
DTYPES = ("float32", "float16")
GRAPHS = ("lr_encoder", "hr_encoder", "projector", "embed_tokens", "decoder")
ONNX_TYPES = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "int64": TensorProto.INT64}
IMG, IMG_AUX = mtc.CLIP["image_size"], mtc.CONVNEXT["image_size_aux"]
# the CLIP tower's last layer and final norm: MGM reads the penultimate layer, so no graph has them
UNUSED = ("model.vision_tower.vision_tower.vision_model.encoder.layers.2.",
          "model.vision_tower.vision_tower.vision_model.post_layernorm.")


def quiet():
    return contextlib.redirect_stderr(io.StringIO())


class ExportMGMTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.folders = mtc.write_test_checkpoints(os.path.join(cls.tmp.name, "ck"), FAMILIES)
        cls.models = {f: load_released(d) for f, d in cls.folders.items()}
        cls.out = {}
        for family in FAMILIES:
            for dtype in DTYPES:
                out = os.path.join(cls.tmp.name, f"{family}-{dtype}")
                with quiet():
                    export_mgm.export(cls.folders[family], out, dtype)
                cls.out[family, dtype] = out

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def manifest(self, family, dtype):
        with open(os.path.join(self.out[family, dtype], "model.json"), encoding="utf-8") as f:
            return json.load(f)

    def graph(self, family, dtype, name):
        return onnx.load(os.path.join(self.out[family, dtype], name + ".onnx"))

    # ------------------------------------------------------------------ graphs against model.json

    def test_graphs_pass_the_checker_and_match_the_manifest(self):
        for family in FAMILIES:
            for dtype in DTYPES:
                m = self.manifest(family, dtype)
                lm = m["language_model"]
                specs = {"lr_encoder": m["vision"]["lr_encoder"], "hr_encoder": m["vision"]["hr_encoder"],
                         "projector": m["vision"]["projector"], "embed_tokens": lm["embed_tokens"],
                         "decoder": lm["decoder"]}
                for name, spec in specs.items():
                    with self.subTest(family=family, dtype=dtype, graph=name):
                        path = os.path.join(self.out[family, dtype], spec["file"])
                        onnx.checker.check_model(path, full_check=True)
                        g = onnx.load(path).graph
                        ins = {v.name: v for v in g.input}
                        outs = {v.name: v for v in g.output}
                        for names, declared in ((ins, spec["inputs"]), (outs, spec["outputs"])):
                            for tensor, want in declared.items():
                                self.assertIn(tensor, names)
                                self.assert_spec(names[tensor], want)

    def assert_spec(self, value_info, want):
        t = value_info.type.tensor_type
        self.assertEqual(t.elem_type, ONNX_TYPES[want["dtype"]], value_info.name)
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        self.assertEqual(dims, want["shape"], value_info.name)

    def test_decoder_kv_names_shapes_and_dtypes(self):
        kv_heads = {"gemma": 1, "llama3": 2}
        for family in FAMILIES:
            for dtype in DTYPES:
                with self.subTest(family=family, dtype=dtype):
                    lm = self.manifest(family, dtype)["language_model"]
                    dec = lm["decoder"]
                    self.assertEqual(lm["num_kv_heads"], kv_heads[family])
                    self.assertEqual(dec["kv_shape"], ["batch", kv_heads[family], "past", lm["head_dim"]])
                    g = self.graph(family, dtype, "decoder").graph
                    ins, outs = {v.name: v for v in g.input}, {v.name: v for v in g.output}
                    expected_in = ["inputs_embeds", "attention_mask", "position_ids"]
                    expected_out = ["logits"]
                    for layer in range(lm["num_layers"]):
                        for part in ("key", "value"):
                            expected_in.append(dec[f"past_{part}"].replace("{layer}", str(layer)))
                            expected_out.append(dec[f"present_{part}"].replace("{layer}", str(layer)))
                    self.assertEqual([v.name for v in g.input], expected_in)
                    self.assertEqual([v.name for v in g.output], expected_out)
                    for name in expected_in[3:] + expected_out[1:]:
                        vi = (ins.get(name) or outs.get(name)).type.tensor_type
                        self.assertEqual(vi.elem_type, ONNX_TYPES[dtype], name)
                        shape = [d.dim_value or d.dim_param for d in vi.shape.dim]
                        self.assertEqual(shape, ["batch", kv_heads[family], "past" if name in ins else "total",
                                                 lm["head_dim"]], name)
                    logits = outs["logits"].type.tensor_type
                    self.assertEqual(logits.elem_type, TensorProto.FLOAT)  # float32 under float16 weights
                    self.assertEqual([d.dim_value or d.dim_param for d in logits.shape.dim],
                                     ["batch", 1, lm["vocab_size"]])

    def test_float16_graphs_keep_float32_only_where_the_official_model_does(self):
        for family in FAMILIES:
            for name in GRAPHS:
                g = self.graph(family, "float16", name).graph
                with self.subTest(family=family, graph=name):
                    self.assertTrue(g.initializer)
                    self.assertEqual({t.data_type for t in g.initializer}, {TensorProto.FLOAT16})
                    float_io = {v.name for v in list(g.input) + list(g.output)
                                if v.type.tensor_type.elem_type == TensorProto.FLOAT}
                    self.assertEqual(float_io, {"pixel_values", "pixel_values_hr", "logits"} & float_io)
                    casts = [n for n in g.node if n.op_type == "Cast"]
                    if name == "decoder":  # RMSNorm, RoPE and the attention softmax run in float32
                        self.assertTrue(any(a.i == TensorProto.FLOAT for n in casts for a in n.attribute))

    def test_manifest_fields(self):
        for family in FAMILIES:
            for dtype in DTYPES:
                with self.subTest(family=family, dtype=dtype):
                    m = self.manifest(family, dtype)
                    self.assertEqual(m["format"], "mgm-stream/manifest@1")
                    self.assertEqual(m["dtype"], dtype)
                    v, lm, tok = m["vision"], m["language_model"], m["tokenizer"]
                    n = (IMG // mtc.CLIP["patch_size"]) ** 2
                    self.assertEqual(v["image_token_count"], n)
                    self.assertEqual(v["mining"], {"enabled": True, "sub_patch_side": IMG_AUX // 4 // 4})
                    pre = v["preprocess"]
                    self.assertEqual(pre["hr"], {"size": IMG_AUX, "resize": "bicubic"})
                    self.assertEqual(pre["lr"], {"size": IMG, "source": "hr", "resize": "bilinear",
                                                 "antialias": False, "align_corners": False})
                    self.assertEqual(pre["mean"], mtc.CLIP_MEAN)
                    self.assertEqual(pre["std"], mtc.CLIP_STD)
                    self.assertEqual(pre["pad_color"], [int(x * 255) for x in mtc.CLIP_MEAN])
                    self.assertTrue(pre["pad_to_square"])
                    cfg = mtc.FAMILIES[family]["lm"]
                    self.assertEqual(lm["hidden_size"], cfg["hidden_size"])
                    self.assertEqual(lm["num_layers"], cfg["num_hidden_layers"])
                    self.assertEqual(lm["vocab_size"], cfg["vocab_size"])
                    self.assertEqual(lm["embeddings_scale"], 1.0)
                    self.assertEqual(lm["embeddings_scale_applies_to"], "spliced")
                    self.assertAlmostEqual(lm["embeddings_scale_in_decoder"],
                                           cfg["hidden_size"] ** 0.5 if family == "gemma" else 1.0)
                    self.assertEqual(lm["decoder"]["logits"], "last")
                    self.assertEqual(lm["decoder"]["kv_dtype"], dtype)
                    self.assertEqual(tok["image_token_id"], -200)
                    self.assertFalse(tok["image_token_in_vocab"])
                    self.assertEqual(m["chat"]["template"], "gemma" if family == "gemma" else "llama_3")
                    self.assertEqual(m["external_data"], {})

    # ------------------------------------------------------------------ weights

    def test_initializers_are_the_checkpoint_tensors(self):
        for family in FAMILIES:
            state = assemble_state_dict(resolve_towers(self.folders[family]))[0]
            expected = {k for k in state if not k.startswith(UNUSED)}
            for dtype in DTYPES:
                seen = set()
                for name in GRAPHS:
                    for t in self.graph(family, dtype, name).graph.initializer:
                        with self.subTest(family=family, dtype=dtype, tensor=t.name):
                            self.assertIn(t.name, state)
                            want = state[t.name].float()
                            want = want.half() if dtype == "float16" else want
                            np.testing.assert_array_equal(numpy_helper.to_array(t), want.numpy())
                            seen.add(t.name)
                self.assertEqual(seen, expected, f"{family} {dtype}: checkpoint tensors no graph holds")

    def test_external_data_past_the_threshold(self):
        out = os.path.join(self.tmp.name, "external")
        mgm = self.folders["gemma"]
        towers = resolve_towers(mgm)
        with quiet(), contextlib.redirect_stdout(io.StringIO()):
            export_mgm.main(["--model", mgm, "--out", out, "--dtype", "float32",
                             "--vision-tower", towers.clip, "--vision-tower-aux", towers.aux,
                             "--external-data-threshold", "100000"])
        with open(os.path.join(out, "model.json"), encoding="utf-8") as f:
            m = json.load(f)
        big = {n + ".onnx" for n in ("lr_encoder", "hr_encoder", "decoder")}  # over 100 kB of weights
        self.assertTrue(big <= set(m["external_data"]), m["external_data"])
        for graph, data in m["external_data"].items():
            self.assertEqual(data, graph + ".data")
            self.assertTrue(os.path.isfile(os.path.join(out, data)))
            onnx.checker.check_model(os.path.join(out, graph), full_check=True)
            stored = onnx.load(os.path.join(out, graph), load_external_data=False)
            self.assertTrue(any(t.data_location == TensorProto.EXTERNAL for t in stored.graph.initializer))
            loaded = onnx.load(os.path.join(out, graph))
            same = onnx.load(os.path.join(self.out["gemma", "float32"], graph))
            for a, b in zip(loaded.graph.initializer, same.graph.initializer):
                np.testing.assert_array_equal(numpy_helper.to_array(a), numpy_helper.to_array(b))
        self.assertNotIn("embed_tokens.onnx", m["external_data"])
        self.assertFalse(os.path.exists(os.path.join(out, "embed_tokens.onnx.data")))

    def test_gemma_tokenizer_json_is_copied_and_names_the_manifest_tokens(self):
        out = self.out["gemma", "float16"]
        m = self.manifest("gemma", "float16")
        tok = m["tokenizer"]
        self.assertEqual(tok["file"], "tokenizer.json")
        self.assertEqual(tok["files"], ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"])
        with open(os.path.join(out, "tokenizer.json"), "rb") as f, \
                open(os.path.join(self.folders["gemma"], "tokenizer.json"), "rb") as g:
            self.assertEqual(f.read(), g.read())
        with open(os.path.join(out, "tokenizer.json"), encoding="utf-8") as f:
            t = json.load(f)
        vocab = t["model"]["vocab"]
        self.assertEqual(sorted(vocab.values()), list(range(m["language_model"]["vocab_size"])))
        specials = {a["content"]: a["id"] for a in t["added_tokens"]}
        for name in [tok["bos_token"], tok["pad_token"], *m["chat"]["stop_tokens"]]:
            self.assertEqual(vocab[name], specials[name], name)
        self.assertEqual((tok["bos_token"], tok["pad_token"]), ("<bos>", "<pad>"))
        self.assertNotIn(tok["image_token"], vocab)  # the placeholder is never a token
        llama3 = self.manifest("llama3", "float32")["tokenizer"]
        self.assertEqual((llama3["file"], llama3["bos_token"]), ("tokenizer.json", "<|begin_of_text|>"))

    def test_tokenizer_files_are_copied_as_shipped(self):
        src = os.path.join(self.tmp.name, "ck-tok")
        shutil.copytree(os.path.join(self.tmp.name, "ck"), src)
        mgm = os.path.join(src, mtc.FAMILIES["llama3"]["folder"])
        for name in export_mgm.TOKENIZER_FILES:  # as Vicuna ships: a SentencePiece model only
            if os.path.exists(os.path.join(mgm, name)):
                os.remove(os.path.join(mgm, name))
        mtc.write_vicuna_tokenizer(mgm, 256)
        with open(os.path.join(mgm, "tokenizer.model"), "rb") as f:
            shipped = f.read()
        out = os.path.join(self.tmp.name, "tok")
        with quiet():
            m = export_mgm.export(mgm, out, "float32")
        # tokenizer.json converted from tokenizer.model as transformers' LlamaConverter writes it
        self.assertEqual(m["tokenizer"]["files"],
                         ["tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"])
        self.assertEqual(m["tokenizer"]["file"], "tokenizer.json")
        self.assertEqual((m["tokenizer"]["bos_token"], m["tokenizer"]["clean_up_tokenization_spaces"]), ("<s>", False))
        with open(os.path.join(out, "tokenizer.model"), "rb") as f:
            self.assertEqual(f.read(), shipped)
        from mgm.hf_tokenizer import HFTokenizer
        from mgm.llama_tokenizer import SlowLlamaTokenizer
        with open(os.path.join(out, "tokenizer.json"), encoding="utf-8") as f:
            self.assertEqual(json.load(f)["model"]["vocab"]["<0x0A>"], 4)
        text = "A chat. USER: \nWhat is in the picture? ASSISTANT:"
        self.assertEqual(HFTokenizer.from_dir(out).encode(text), SlowLlamaTokenizer.from_dir(mgm).encode(text))

    def test_float16_rewrite_refuses_overflow_and_untied_types(self):
        from onnx import helper
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
        big = numpy_helper.from_array(np.array([[1e6, 0], [0, 1]], np.float32), "w")
        graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [big])
        with self.assertRaisesRegex(ValueError, "overflows float16"):
            export_mgm.finalize(helper.make_model(graph), "float16")
        # a float32 output tied by an op to a float16 input: a cast the export lacks
        graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "g", [x], [y])
        with self.assertRaisesRegex(ValueError, "tied to both"):
            export_mgm.finalize(helper.make_model(graph), "float16", float32_io=["y"])

    # ------------------------------------------------------------------ numbers

    def test_graphs_compute_what_the_official_model_computes(self):
        g = torch.Generator().manual_seed(1)
        px, px_aux = torch.randn(2, 3, IMG, IMG, generator=g), torch.randn(2, 3, IMG_AUX, IMG_AUX, generator=g)
        for family in FAMILIES:
            model = self.models[family]
            with torch.no_grad():
                lr = model.model.vision_tower(px)
                hr = model.model.vision_tower_aux(px_aux)
                vis = model.model.mm_projector(model.model.mine(lr, hr))
            for dtype in DTYPES:
                tol = 1e-4 if dtype == "float32" else 2e-2
                np_dtype = np.float16 if dtype == "float16" else np.float32
                run = lambda name, feeds: onnx_numpy.run(self.graph(family, dtype, name), feeds)  # noqa: E731
                with self.subTest(family=family, dtype=dtype):
                    got = run("lr_encoder", {"pixel_values": px.numpy()})["lr_features"]
                    self.assert_close(got, lr, tol)
                    got = run("hr_encoder", {"pixel_values_hr": px_aux.numpy()})["hr_features"]
                    self.assert_close(got, hr, tol)
                    got = run("projector", {"lr_features": lr.numpy().astype(np_dtype),
                                            "hr_features": hr.numpy().astype(np_dtype)})["visual_tokens"]
                    self.assert_close(got, vis, tol)

    def test_decoder_steps_match_the_whole_sequence(self):
        """A left-padded batch prefilled, then two one-token steps through the returned KV cache,
        against mgm/official's forward over each row's whole sequence, at lengths the graph was not
        traced with."""
        g = torch.Generator().manual_seed(2)
        for family in FAMILIES:
            model = self.models[family]
            cfg = model.lm_config
            ids = torch.randint(0, cfg.vocab_size, (2, 7), generator=g)
            lengths = [7, 4]  # row 1 has 3 padding positions on the left
            with torch.no_grad():
                embeds = model.model.embed_tokens(ids)
                want = [model.logits(embeds[i:i + 1, 7 - n:])[0, -1] for i, n in enumerate(lengths)]
                want_prefix = [model.logits(embeds[i:i + 1, 7 - n:5])[0, -1] for i, n in enumerate(lengths)]
            for dtype in DTYPES:
                tol = 1e-4 if dtype == "float32" else 2e-2
                np_dtype = np.float16 if dtype == "float16" else np.float32
                dec = self.graph(family, dtype, "decoder")
                emb = onnx_numpy.run(self.graph(family, dtype, "embed_tokens"),
                                     {"input_ids": ids.numpy()})["inputs_embeds"]
                self.assertEqual(emb.dtype, np_dtype)
                mask = np.array([[1] * 7, [0] * 3 + [1] * 4], dtype=np.int64)
                pos = np.maximum(mask.cumsum(-1) - 1, 0)
                shape = (2, cfg.num_key_value_heads, 0, cfg.head_dim)
                past = {f"past_key_values.{i}.{p}": np.zeros(shape, np_dtype)
                        for i in range(cfg.num_hidden_layers) for p in ("key", "value")}
                with self.subTest(family=family, dtype=dtype):
                    for start, stop in ((0, 5), (5, 6), (6, 7)):
                        r = onnx_numpy.run(dec, {"inputs_embeds": emb[:, start:stop],
                                                 "attention_mask": mask[:, :stop],
                                                 "position_ids": pos[:, start:stop], **past})
                        self.assertEqual(r["logits"].shape, (2, 1, cfg.vocab_size))
                        if stop == 5:
                            for i in range(2):
                                self.assert_close(r["logits"][i, 0], want_prefix[i], tol)
                        past = {k: r[k.replace("past_key_values", "present")] for k in past}
                        self.assertEqual(past["past_key_values.0.key"].shape[2], stop)
                    for i in range(2):
                        self.assert_close(r["logits"][i, 0], want[i], tol)

    def assert_close(self, got, want, tol):
        want = want.numpy() if isinstance(want, torch.Tensor) else want
        scale = max(1.0, float(np.abs(want).max()))
        err = float(np.abs(got.astype(np.float64) - want).max())
        self.assertLessEqual(err, tol * scale, f"max error {err:g} at scale {scale:g}")


if __name__ == "__main__":
    unittest.main()
