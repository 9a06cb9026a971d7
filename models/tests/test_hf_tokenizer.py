"""mgm/hf_tokenizer.py: the tokenizer.json reader against the rules of the Rust library, on the Gemma-
and Llama-3-shaped tokenizer.json files make_test_checkpoints.py writes and on handmade ones."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import make_test_checkpoints as mtc  # noqa: E402
from mgm.hf_tokenizer import (HFTokenizer, TokenizerError, _compiled, _split, byte_level,  # noqa: E402
                              clean_up_tokenization, translate_regex)

TEXTS = [
    "Describe the image in detail.",
    "What is in the picture? Where is the green triangle?",
    "  leading spaces, trailing  \n\nand blank lines\n",
    "Generate a photo of two dogs playing in the snow <GEN>",
    "numbers 1234567 and symbols #$%&*()[]{}~",
    "",
]


def bpe_spec(vocab, merges, **model):
    return {"added_tokens": [], "normalizer": None, "pre_tokenizer": None, "post_processor": None,
            "decoder": {"type": "Fuse"},
            "model": {"type": "BPE", "vocab": {t: i for i, t in enumerate(vocab)}, "merges": merges, **model}}


class GemmaShapedTest(unittest.TestCase):
    tok = HFTokenizer(mtc.gemma_tokenizer(256), {"clean_up_tokenization_spaces": False},
                      {"bos_token": "<bos>", "eos_token": "<eos>"})

    def test_round_trips(self):
        for text in TEXTS + ["<start_of_turn>user\nhi<end_of_turn>\n"]:
            ids = self.tok.encode(text)
            self.assertEqual(ids[0], 2)
            self.assertNotIn(3, ids, text)  # no unknowns in ASCII
            self.assertEqual(self.tok.decode(ids), "<bos>" + text)
        self.assertEqual(self.tok.decode(self.tok.encode("<start_of_turn>user\nhi<end_of_turn>"),
                                         skip_special_tokens=True), "user\nhi")

    def test_known_splits(self):
        t = self.tok
        self.assertEqual(t.bos_token_id, 2)
        self.assertEqual(t.encode("", add_special_tokens=True), [2])
        self.assertEqual(t.encode("", add_special_tokens=False), [])
        # special tokens are split out of the raw text first; spaces become U+2581 in the rest
        ids = t.encode("<start_of_turn>user\n<end_of_turn>x y", add_special_tokens=False)
        toks = t.tokens(ids)
        self.assertEqual(toks[0], "<start_of_turn>")
        self.assertIn("<end_of_turn>", toks)
        self.assertEqual(toks[-2:], ["x", "\u2581y"])
        # no pre-tokenizer: a merge learnt inside words still applies after a space (▁the)
        self.assertEqual(t.tokens(t.encode(" the", add_special_tokens=False)), ["\u2581the"])
        # the test vocabulary has no <0xNN> tokens: byte fallback falls back to one fused <unk>
        self.assertEqual(t.tokens(t.encode("a\u00e9\u00e8b", add_special_tokens=False)), ["a", "<unk>", "b"])

    def test_merges_apply_in_rank_order(self):
        first_bc = HFTokenizer(bpe_spec(["a", "b", "c", "ab", "bc"], ["b c", "a b"]))
        first_ab = HFTokenizer(bpe_spec(["a", "b", "c", "ab", "bc"], [["a", "b"], ["b", "c"]]))
        self.assertEqual(first_bc.tokens(first_bc.encode("abc")), ["a", "bc"])
        self.assertEqual(first_ab.tokens(first_ab.encode("abc")), ["ab", "c"])
        # every occurrence of the best pair, left to right, without overlaps
        self.assertEqual(first_ab.tokens(first_ab.encode("aaab")), ["a", "a", "ab"])

    def test_byte_fallback_and_decoder(self):
        vocab = ["<unk>", "a", "\u2581", "<0xC3>", "<0xA9>"]
        spec = bpe_spec(vocab, [], unk_token="<unk>", byte_fallback=True, fuse_unk=True)
        spec["normalizer"] = {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}
        spec["decoder"] = {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]}
        t = HFTokenizer(spec, {"clean_up_tokenization_spaces": False})
        ids = t.encode("a \u00e9\u4e00\u4e01a")  # é has byte tokens; the CJK characters do not
        self.assertEqual(t.tokens(ids), ["a", "\u2581", "<0xC3>", "<0xA9>", "<unk>", "a"])
        self.assertEqual(t.decode(ids), "a \u00e9<unk>a")
        self.assertEqual(t.decode([3, 1]), "\ufffda")  # a lone lead byte: one U+FFFD per byte token


class Llama3ShapedTest(unittest.TestCase):
    spec = mtc.llama3_tokenizer(256)
    tok = HFTokenizer(spec, {"clean_up_tokenization_spaces": True, "bos_token": "<|begin_of_text|>"})

    def test_layout(self):
        t = self.tok
        self.assertEqual([t.token_to_id(s) for s in ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                                     "<|end_header_id|>", "<|eot_id|>")], [128, 129, 134, 135, 137])
        self.assertEqual(sorted(t.vocab.values()), list(range(256)))
        self.assertEqual(t.bos_token_id, 128)

    def test_split_regex(self):
        pat = _compiled(mtc.LLAMA3_PATTERN)
        self.assertEqual(_split(pat, "I'm 12345 ok", "Isolated", False), ["I", "'m", " ", "123", "45", " ok"])
        self.assertEqual(_split(pat, "h\u00e9llo w\u00f6rld!!\n\n  x", "Isolated", False),
                         ["h\u00e9llo", " w\u00f6rld", "!!\n\n", " ", " x"])
        self.assertEqual(_split(pat, "WE'LL go", "Isolated", False), ["WE", "'LL", " go"])
        self.assertNotIn("\\p", translate_regex(r"[^\s\p{L}]\p{N}"))

    def test_round_trips_and_known_ids(self):
        t = self.tok
        for text in TEXTS:
            ids = t.encode(text)
            self.assertEqual(ids[0], 128)
            self.assertEqual(t.decode(ids, skip_special_tokens=True), text)
        ids = t.encode("<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>")
        self.assertEqual(ids[:2], [128, 134])
        self.assertEqual(ids[-1], 137)
        self.assertIn(135, ids)
        # byte-level pieces: a space is Ġ, a newline Ċ, and a learnt merge joins them with letters
        self.assertEqual(t.tokens(t.encode(" the", add_special_tokens=False)), ["\u0120the"])
        self.assertEqual(t.tokens(t.encode("\n", add_special_tokens=False)), ["\u010a"])
        with self.assertRaises(TokenizerError):
            t.encode("\u00e9")  # no byte for it in this small vocabulary and no unk token

    def test_decoder_and_clean_up(self):
        t = self.tok
        self.assertEqual(byte_level("\u00e9 a"), "\u00c3\u00a9\u0120a")
        ids = t.encode("a . b ,c", add_special_tokens=False)
        self.assertEqual(t.decode(ids), "a. b,c")  # transformers' clean_up_tokenization
        self.assertEqual(clean_up_tokenization("do n't , ok ?"), "don't, ok?")

    def test_from_dir_reads_the_configs(self):
        with tempfile.TemporaryDirectory() as d:
            folders = mtc.write_test_checkpoints(d, ("gemma", "llama3"))
            g, l3 = HFTokenizer.from_dir(folders["gemma"]), HFTokenizer.from_dir(folders["llama3"])
            self.assertEqual((g.bos_token_id, g.clean_up_spaces), (2, False))
            self.assertEqual((l3.bos_token_id, l3.clean_up_spaces), (128, True))
            with self.assertRaises(FileNotFoundError):
                HFTokenizer.from_dir(os.path.join(d, "model_zoo"))


if __name__ == "__main__":
    unittest.main()
