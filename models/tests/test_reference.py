"""reference.py --checkpoint (mgm/official/reference.py) on the scaled-down released checkpoints: the
official prompt strings and tokenizer_image_token ids, the preprocessing and its agreement with
model.json, greedy decoding against the whole-sequence forward and against export_mgm's ONNX graphs
(run by tests/onnx_numpy.py), and the CLI's result and trace lines."""
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import export_mgm  # noqa: E402
import make_test_checkpoints as mtc  # noqa: E402
import onnx  # noqa: E402
import onnx_numpy  # noqa: E402
from mgm.official import reference as R  # noqa: E402

QUESTION = "What is in the picture?"


def image(w, h, seed):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(x) for x in f]


class ReferenceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.folders = mtc.write_test_checkpoints(os.path.join(cls.tmp.name, "ck"), ("gemma", "llama3", "vicuna"))
        cls.refs = {f: R.Reference(d) for f, d in cls.folders.items()}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    # ------------------------------------------------------------------ prompts and ids

    def test_official_prompt_strings(self):
        self.assertEqual(R.chat_prompt("gemma", "Q?"),
                         "<start_of_turn>user\n<image>\nQ?<end_of_turn>\n<start_of_turn>model\n")
        self.assertEqual(R.chat_prompt("gemma", "Q?", generate=True),
                         "<start_of_turn>user\n<image>\nQ? <GEN><end_of_turn>\n<start_of_turn>model\n")
        self.assertEqual(R.chat_prompt("vicuna_v1", "Q?"), R.VICUNA_SYSTEM + " USER: <image>\nQ? ASSISTANT:")
        self.assertEqual(R.chat_prompt("llama_3", "Q?"),
                         "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful language and vision "
                         "assistant. You are able to understand the visual content that the user provides, and "
                         "assist the user with a variety of tasks using natural language.<|eot_id|>"
                         "<|start_header_id|>user<|end_header_id|>\n\n<image>\nQ?<|eot_id|>"
                         "<|start_header_id|>system<|end_header_id|>\n\n")

    def test_gemma_prompt_ids(self):
        ref = self.refs["gemma"]
        tok = ref.tokenizer
        self.assertEqual(ref.template, "gemma")
        ids = ref.input_ids(QUESTION, generate=False)
        before, after = "<start_of_turn>user\n", "\n" + QUESTION + "<end_of_turn>\n<start_of_turn>model\n"
        self.assertEqual(ids, [2] + tok.encode(before)[1:] + [-200] + tok.encode(after)[1:])
        self.assertEqual(ids.count(2), 1)
        self.assertEqual(ids.count(-200), 1)
        self.assertEqual(ids[:2], [2, 4])  # <bos> <start_of_turn>
        self.assertEqual(ids[2:ids.index(-200)], tok.encode("user\n", False))
        self.assertEqual(ids[ids.index(-200) + 1], tok.token_to_id("\n"))
        # <end_of_turn> \n <start_of_turn> model \n
        self.assertEqual(ids[ids.index(5):], [5] + tok.encode("\n", False) + [4] + tok.encode("model\n", False))
        gen = ref.input_ids(QUESTION, generate=True)
        self.assertEqual(tok.decode(gen[gen.index(-200) + 1:]),
                         "\n" + QUESTION + " <GEN><end_of_turn>\n<start_of_turn>model\n")

    def test_llama3_prompt_ids(self):
        ref = self.refs["llama3"]
        self.assertEqual(ref.template, "llama_3")
        self.assertEqual(ref.stop_ids, {137, 129})
        ids = ref.input_ids(QUESTION, generate=False)
        self.assertEqual(ids[:2], [128, 134])
        self.assertEqual((ids.count(128), ids.count(-200)), (1, 1))
        self.assertEqual(ids[-3:], [135] + ref.tokenizer.encode("\n\n", False))
        self.assertEqual(ref.tokenizer.decode(ids[ids.index(-200) + 1:]),
                         "\n" + QUESTION + "<|eot_id|><|start_header_id|>system<|end_header_id|>\n\n")

    def test_vicuna_prompt_ids(self):
        """Vicuna: the slow LlamaTokenizer on tokenizer.model (not a converted json); every chunk gets
        SentencePiece's dummy prefix, so the image is followed by '▁' and the newline's byte piece."""
        from mgm.llama_tokenizer import SlowLlamaTokenizer
        ref = self.refs["vicuna"]
        tok = ref.tokenizer
        self.assertIsInstance(tok, SlowLlamaTokenizer)
        self.assertEqual((ref.template, ref.stop_ids), ("vicuna_v1", {2}))
        ids = ref.input_ids(QUESTION, generate=False)
        self.assertEqual((ids[0], ids.count(1), ids.count(-200)), (1, 1, 1))
        at = ids.index(-200)
        self.assertEqual(tok.tokens(ids[1:4]), ["\u2581", "A", "\u2581chat"])
        self.assertEqual(tok.tokens(ids[at + 1:at + 4]), ["\u2581", "<0x0A>", "What"])
        self.assertEqual(ids[1:at], tok.encode(R.VICUNA_SYSTEM + " USER: ", False))
        self.assertEqual(tok.decode(ids[at + 1:]), "\n" + QUESTION + " ASSISTANT:")
        self.assertNotIn(0, ids)  # no <unk>

    def test_tokenizer_image_token_chunks(self):
        tok = self.refs["gemma"].tokenizer
        ids = R.tokenizer_image_token("a<image>b<image>", tok)
        self.assertEqual(ids, [2] + tok.encode("a", False) + [-200] + tok.encode("b", False) + [-200])
        self.assertEqual(R.tokenizer_image_token("<image>\nx", tok), [2, -200] + tok.encode("\nx", False))

    def test_stop_tokens_and_templates_are_export_mgms(self):
        for name, chat in export_mgm.CHAT.items():
            self.assertEqual(R.STOP_TOKENS[name], chat["stop_tokens"])
        for cfg, family in (({"vocab_size": 256000}, "gemma"), ({"vocab_size": 32000}, "llama"),
                            ({"vocab_size": 128256, "rope_theta": 500000.0}, "llama"),
                            ({"vocab_size": 256, "rope_theta": 500000.0}, "llama")):
            self.assertEqual(R.default_chat(cfg, family), export_mgm.default_chat(cfg, family))

    def test_generation_prompt_as_cli_extracts_it(self):
        self.assertEqual(R.official_generation_prompt("Sure. <h>a dog in snow</h>"), "a dog in snow")
        self.assertEqual(R.official_generation_prompt("<h>x</h> then <h>y</h> end"), "y")
        self.assertIsNone(R.official_generation_prompt("<h>no end"))
        with self.assertRaises(ValueError):
            self.refs["gemma"].run(image(8, 8, 0), "two <image> here", False, 2)

    # ------------------------------------------------------------------ images

    def test_preprocessing(self):
        spec = self.refs["gemma"].spec
        s, s_aux = spec["lr"]["size"], spec["hr"]["size"]
        self.assertEqual((s, s_aux), (mtc.CLIP["image_size"], mtc.CONVNEXT["image_size_aux"]))
        mean, std = np.array(mtc.CLIP_MEAN, np.float32), np.array(mtc.CLIP_STD, np.float32)
        # a square image at the aux size: no resize, HR is the normalised pixels, LR is bilinear of HR
        img = image(s_aux, s_aux, 1)
        lr, hr = R.preprocess(img, spec)
        want = ((np.asarray(img).astype(np.float64) / 255).astype(np.float32) - mean) / std
        np.testing.assert_array_equal(hr[0].numpy(), want.transpose(2, 0, 1))
        torch.testing.assert_close(lr, F.interpolate(hr, size=[s, s], mode="bilinear", align_corners=False),
                                   rtol=0, atol=0)
        # a wide image: padded top and bottom with the mean colour, then bicubic to the aux size
        wide = image(2 * s_aux, s_aux, 2)
        _, hr = R.preprocess(wide, spec)
        pad = np.array([int(x * 255) for x in mtc.CLIP_MEAN])
        self.assertEqual(spec["pad_color"], pad.tolist())
        np.testing.assert_allclose(hr[0, :, 0, 0].numpy(), ((pad / 255).astype(np.float32) - mean) / std, rtol=1e-6)
        square = Image.new("RGB", (2 * s_aux, 2 * s_aux), tuple(pad))
        square.paste(wide, (0, s_aux // 2))
        small = np.asarray(square.resize((s_aux, s_aux), Image.BICUBIC)).astype(np.float64) / 255
        np.testing.assert_allclose(hr[0].numpy(), ((small.astype(np.float32) - mean) / std).transpose(2, 0, 1),
                                   rtol=0, atol=1e-6)

    def test_preprocess_spec_is_what_export_writes(self):
        for family, folder in self.folders.items():
            out = os.path.join(self.tmp.name, "export-" + family)
            with contextlib.redirect_stderr(io.StringIO()):
                m = export_mgm.export(folder, out, "float32")
            with self.subTest(family=family):
                self.assertEqual(self.refs[family].spec, m["vision"]["preprocess"])
                self.assertEqual(sorted(self.refs[family].stop_ids),
                                 sorted(self.refs[family].tokenizer.token_to_id(t) for t in m["chat"]["stop_tokens"]))
                self.assertEqual(m["chat"]["default_prompts"]["caption"], R.OFFICIAL_CAPTION_PROMPT)
                self.assertEqual(m["tokenizer"]["file"], "tokenizer.json")
                self.assertTrue(os.path.isfile(os.path.join(out, "tokenizer.json")))
                self.check_against_onnx(family, out, m)

    # ------------------------------------------------------------------ decoding

    def test_greedy_matches_the_whole_sequence_forward(self):
        for family, ref in self.refs.items():
            with self.subTest(family=family):
                ids = ref.input_ids(QUESTION, False)
                lr, hr = R.preprocess(image(70, 40, 3), ref.spec)
                g = R.greedy(ref.model, ids, lr, hr, set(), 6)
                self.assertEqual((len(g.tokens), g.finish, len(g.logits)), (6, "length", 6))
                with torch.no_grad():
                    full = ref.model(torch.tensor([ids + g.tokens]), lr, hr)[0]
                n = full.shape[0] - len(g.tokens)
                for step, row in enumerate(g.logits):
                    torch.testing.assert_close(row, full[n - 1 + step], rtol=1e-4, atol=1e-4)
                    self.assertEqual(int(full[n - 1 + step].argmax()), g.tokens[step])
                # stopping: the step that picks a stop token is traced, the token is not kept
                stop = R.greedy(ref.model, ids, lr, hr, {g.tokens[2]}, 6)
                first = g.tokens.index(g.tokens[2])
                self.assertEqual((stop.tokens, stop.finish, len(stop.logits)), (g.tokens[:first], "stop", first + 1))

    def check_against_onnx(self, family, out, m):
        """Greedy through the exported float32 graphs with a KV cache, as the Java side runs them,
        from the reference's pixels and ids: the same tokens and logits."""
        ref = self.refs[family]
        graph = {n: onnx.load(os.path.join(out, n + ".onnx"))
                 for n in ("lr_encoder", "hr_encoder", "projector", "embed_tokens", "decoder")}
        ids = ref.input_ids(QUESTION, False)
        lr, hr = R.preprocess(image(50, 90, 4), ref.spec)
        want = R.greedy(ref.model, ids, lr, hr, ref.stop_ids, 5)
        lr_f = onnx_numpy.run(graph["lr_encoder"], {"pixel_values": lr.numpy()})["lr_features"]
        hr_f = onnx_numpy.run(graph["hr_encoder"], {"pixel_values_hr": hr.numpy()})["hr_features"]
        vis = onnx_numpy.run(graph["projector"], {"lr_features": lr_f, "hr_features": hr_f})["visual_tokens"]
        at = ids.index(m["tokenizer"]["image_token_id"])
        embed = lambda x: onnx_numpy.run(graph["embed_tokens"],  # noqa: E731
                                         {"input_ids": np.array([x], np.int64)})["inputs_embeds"]
        emb = np.concatenate([embed(ids[:at]), vis, embed(ids[at + 1:])], axis=1)
        lm = m["language_model"]
        past = {f"past_key_values.{i}.{p}": np.zeros((1, lm["num_kv_heads"], 0, lm["head_dim"]), np.float32)
                for i in range(lm["num_layers"]) for p in ("key", "value")}
        tokens, n = [], emb.shape[1]
        stops = {ref.tokenizer.token_to_id(t) for t in m["chat"]["stop_tokens"]}
        for step in range(5):
            r = onnx_numpy.run(graph["decoder"], {
                "inputs_embeds": emb, "attention_mask": np.ones((1, n), np.int64),
                "position_ids": np.arange(n - emb.shape[1], n, dtype=np.int64)[None], **past})
            logits = r["logits"][0, 0]
            np.testing.assert_allclose(logits, want.logits[step].numpy(), rtol=1e-4, atol=1e-4)
            nxt = int(logits.argmax())
            if nxt in stops:
                break
            tokens.append(nxt)
            past = {k: r[k.replace("past_key_values", "present")] for k in past}
            emb, n = embed([nxt]), n + 1
        self.assertEqual(tokens, want.tokens)

    # ------------------------------------------------------------------ the CLI

    def test_cli_results_and_trace(self):
        d = os.path.join(self.tmp.name, "cli")
        os.makedirs(d)
        image(70, 40, 5).save(os.path.join(d, "a.png"))
        tasks = [{"task_id": "v", "image": "a.png", "kind": "vqa", "prompt": QUESTION},
                 {"task_id": "c", "image": "a.png", "kind": "caption"},
                 {"task_id": "g", "image": "a.png", "kind": "generate", "prompt": "Generate a dog."},
                 {"task_id": "m", "image": "missing.png", "kind": "vqa", "prompt": "x"}]
        with open(os.path.join(d, "tasks.jsonl"), "w") as f:
            f.write("".join(json.dumps(t) + "\n" for t in tasks) + "{broken\n")
        for family in ("gemma", "llama3", "vicuna"):
            with self.subTest(family=family):
                res, trace = os.path.join(d, family + ".jsonl"), os.path.join(d, family + "-trace.jsonl")
                subprocess.run([sys.executable, os.path.join(HERE, "..", "reference.py"), "--checkpoint",
                                self.folders[family], "--input", os.path.join(d, "tasks.jsonl"), "--output", res,
                                "--trace", trace, "--max-new-tokens", "4"],
                               check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
                lines = read_jsonl(res)
                self.assertEqual([x["task_id"] for x in lines], ["v", "c", "g", "m", "line-5"])
                self.assertEqual([x["status"] for x in lines[3:]], ["rejected", "rejected"])
                ref = self.refs[family]
                traced = read_jsonl(trace)
                self.assertEqual([t["task_id"] for t in traced], ["v", "c", "g"])
                for t, line, gen in zip(traced, lines, (False, False, True)):
                    self.assertEqual(set(t), {"task_id", "input_ids", "tokens", "finish", "logits"})
                    q = {"v": QUESTION, "c": R.OFFICIAL_CAPTION_PROMPT, "g": "Generate a dog."}[t["task_id"]]
                    self.assertEqual(t["input_ids"], ref.input_ids(q, gen))
                    self.assertEqual(len(t["logits"]), len(t["tokens"]) + (t["finish"] == "stop"))
                    self.assertTrue(all(len(row) == 256 for row in t["logits"]))
                    self.assertEqual([int(np.argmax(row)) for row in t["logits"][:len(t["tokens"])]], t["tokens"])
                    self.assertEqual(line["answer"], ref.tokenizer.decode(t["tokens"], skip_special_tokens=True).strip())
                    if t["finish"] == "length":
                        self.assertEqual(len(t["tokens"]), 4)
                self.assertIn(lines[2]["status"], ("ok", "failed"))


if __name__ == "__main__":
    unittest.main()
