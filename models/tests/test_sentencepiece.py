"""mgm/sentencepiece_model.py and mgm/llama_tokenizer.py: the ModelProto reader and writer, the
SentencePiece BPE encoder and decoder on hand-made and test-checkpoint models, and token-by-token
agreement between the slow LlamaTokenizer on tokenizer.model and mgm.hf_tokenizer on the
tokenizer.json converted from it (what the Java side reads)."""
import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import make_test_checkpoints as mtc  # noqa: E402
from mgm import sentencepiece_model as spm  # noqa: E402
from mgm.hf_tokenizer import HFTokenizer  # noqa: E402
from mgm.llama_tokenizer import SlowLlamaTokenizer, llama_tokenizer_json  # noqa: E402
from mgm.official.reference import VICUNA_SYSTEM, chat_prompt  # noqa: E402

S = spm.SPACE
CONFIG = {"add_bos_token": True, "add_eos_token": False, "clean_up_tokenization_spaces": False,
          "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"}


def tiny_model(pieces, byte_fallback=False, **normalizer):
    """<unk> <s> </s> then (piece, score[, type]) entries."""
    m = spm.ModelProto()
    m.pieces = [spm.Piece.make("<unk>", 0, spm.UNKNOWN), spm.Piece.make("<s>", 0, spm.CONTROL),
                spm.Piece.make("</s>", 0, spm.CONTROL)]
    m.pieces += [spm.Piece.make(*p) for p in pieces]
    m.trainer_spec.set("model_type", spm.BPE)
    m.trainer_spec.set("byte_fallback", byte_fallback)
    m.normalizer_spec.set("remove_extra_whitespaces", False)
    for k, v in normalizer.items():
        m.normalizer_spec.set(k, v)
    return m


QUESTIONS = ["What is in the picture?", "Describe the image in detail.", "How many people are standing near the bus?",
             "What color is the car? Answer with one word.", "Is there a dog?", "Generate a photo of two dogs.",
             "Read the sign: what does it say?", "What's the price of coffee ($3.50 or 4)?",
             "Where is the green triangle -- left, right, or above?", "Count: 1, 2, 3, 10, 100, 2024.",
             "Quote \"hello\" and 'bye'!", "Tab\tseparated\tvalues", "Two\n\nparagraphs\nhere.",
             "  leading spaces", "trailing spaces   ", "multiple   inner    spaces", " ", "  ", "\n", "\n\n", "",
             "café, naive? “smart quotes” and it’s fine", "ends with newline\n", "<GEN> <h>a dog</h>",
             "a<s>b", "x </s> y", "<unk>", "<s><s>", "USER: ASSISTANT:", "100%", "e-mail@x.org / path\\to",
             "[brackets] {braces} (parens) ~tilde^ |pipe| `tick` #hash _under_ +plus= *star*"]
ANSWERS = ["The image shows a red circle to the left of a blue square.",
           "There is a sign with the letters on it, and the text is written in black.",
           "It is above the yellow star, in the top right corner of the image.",
           "Three people wait beside it; one holds an umbrella.",
           "Sure! Here is a prompt: <h>two dogs playing in the snow, mountains, bright sky</h>",
           "A cat.", "Yes.", "No, there isn't.", "12 apples and 3 oranges", "The answer is: 42"]


def corpus(n_random=250, seed=0):
    """Prompt chunks as tokenizer_image_token splits them, questions, answers and random strings
    over the printable characters, spaces, newlines, tabs and characters with byte pieces."""
    out = []
    for q in QUESTIONS + ANSWERS:
        for gen in (False, True):
            out += chat_prompt("vicuna_v1", q, gen).split("<image>")
        out += [q, " " + q, q + " ", "\n" + q]
    out += [VICUNA_SYSTEM, VICUNA_SYSTEM + " USER: "]
    rng = random.Random(seed)
    pool = [chr(c) for c in range(32, 127)] + [" "] * 12 + ["\n", "\t", "é", "’", "“", "”"] + \
        list("etaoinshrdlu") * 4
    words = "the image a picture of dog cat is in on and what where ASSISTANT USER: <s> </s> ? . ,".split()
    for _ in range(n_random):
        if rng.random() < 0.5:
            s = "".join(rng.choice(pool) for _ in range(rng.randint(0, 30)))
        else:
            s = "".join(rng.choice(words) + rng.choice([" ", " ", "  ", "", "\n", ", "]) for _ in range(rng.randint(1, 10)))
        out.append(s)
    return out


class ProtoTest(unittest.TestCase):
    def test_round_trip_of_the_test_model(self):
        m = mtc.vicuna_sentencepiece(256)
        data = m.to_bytes()
        back = spm.ModelProto.from_bytes(data)
        self.assertEqual(back.to_bytes(), data)
        self.assertEqual(len(back.pieces), 256)
        self.assertEqual([(p.piece, p.type) for p in back.pieces[:4]],
                         [("<unk>", spm.UNKNOWN), ("<s>", spm.CONTROL), ("</s>", spm.CONTROL), ("<0x09>", spm.BYTE)])
        self.assertEqual([(p.piece, p.score, p.type) for p in back.pieces], [(p.piece, p.score, p.type) for p in m.pieces])
        ts, ns = back.trainer_spec, back.normalizer_spec
        self.assertEqual((ts.get("model_type"), ts.get("vocab_size"), ts.get("byte_fallback")), (spm.BPE, 256, True))
        self.assertEqual((ts.get("unk_id"), ts.get("bos_id"), ts.get("eos_id"), ts.get("pad_id")), (0, 1, 2, -1))
        self.assertEqual((ns.get("name"), ns.get("add_dummy_prefix"), ns.get("remove_extra_whitespaces"),
                          ns.get("escape_whitespaces")), ("identity", True, False, True))
        self.assertEqual(ts.get("unk_piece"), "<unk>")  # the default when absent

    def test_round_trip_keeps_unknown_fields_and_order(self):
        piece = spm.encode_fields([(1, 2, "▁a".encode()), (2, 5, spm._f32_bits(-1.5)), (99, 0, 7)])
        trainer = spm.encode_fields([(3, 0, 2), (43, 0, (1 << 64) - 1), (35, 0, 1), (77, 1, 12345)])
        unk = spm.encode_fields([(1, 2, b"<unk>"), (3, 0, 2)])
        data = spm.encode_fields([(2, 2, trainer), (1, 2, unk), (1, 2, piece), (4, 2, b"\x0a\x00"), (3, 2, b"\x18\x00")])
        m = spm.ModelProto.from_bytes(data)
        self.assertEqual(m.to_bytes(), data)
        self.assertEqual((m.pieces[1].piece, m.pieces[1].score), ("▁a", -1.5))
        self.assertEqual(m.trainer_spec.get("pad_id"), -1)
        self.assertFalse(m.normalizer_spec.get("add_dummy_prefix"))
        self.assertTrue(m.normalizer_spec.get("escape_whitespaces"))
        with self.assertRaises(spm.ProtoError):
            spm.ModelProto.from_bytes(b"\x0a\x05ab")


class EncoderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = mtc.vicuna_sentencepiece(256)
        cls.sp = spm.SentencePieceBPE(cls.model)

    def test_known_strings(self):
        sp = self.sp
        self.assertEqual(sp.encode_as_pieces("\nWhat is in the picture?"),
                         [S, "<0x0A>", "What", S + "is", S + "in", S + "the", S + "picture?"])
        self.assertEqual(sp.encode_as_pieces("A chat between"), [S, "A", S + "chat", S + "between"])
        self.assertEqual(sp.normalize("  a  b "), S * 3 + "a" + S * 2 + "b" + S)  # spaces kept
        self.assertEqual(sp.normalize(""), "")
        self.assertEqual(sp.encode_as_pieces(" "), [S, S])
        self.assertEqual(sp.encode_as_pieces("é"), [S, "<0xC3>", "<0xA9>"])
        # a character whose bytes are not pieces: one unknown id per byte
        self.assertEqual(sp.encode("中"), [sp.piece_to_id(S), 0, 0, 0])
        self.assertEqual(sp.encode("<s>"), [sp.piece_to_id(p) for p in (S, "<", "s", ">")])  # control: plain text
        for text in ("\nWhat is in the picture?", "a  b\tc", "café “x”"):
            self.assertEqual(sp.decode(sp.encode(text)), text)

    def test_merge_order_is_score_then_leftmost(self):
        base = [("a", -10), ("b", -11), ("c", -12), (S, -13)]
        tie = spm.SentencePieceBPE(tiny_model(base + [("ab", -1), ("bc", -1)]))
        self.assertEqual(tie.encode_as_pieces("abc"), [S, "ab", "c"])
        right = spm.SentencePieceBPE(tiny_model(base + [("ab", -2), ("bc", -1)]))
        self.assertEqual(right.encode_as_pieces("abc"), [S, "a", "bc"])
        # merges never make control or byte pieces
        ctl = spm.SentencePieceBPE(tiny_model(base + [("ab", -1, spm.CONTROL)]))
        self.assertEqual(ctl.encode_as_pieces("ab"), [S, "a", "b"])

    def test_unknowns_without_byte_fallback_are_fused(self):
        sp = spm.SentencePieceBPE(tiny_model([("a", -1), (S, -2)]))
        self.assertEqual(sp.encode_pieces("axyz a"), [(S, 4), ("a", 3), ("xyz", 0), (S, 4), ("a", 3)])
        self.assertEqual(sp.decode(sp.encode("axyz a")), "a \u2047  a")

    def test_remove_extra_whitespaces(self):
        m = tiny_model([("a", -1), (S, -2)], remove_extra_whitespaces=True)
        sp = spm.SentencePieceBPE(m)
        self.assertEqual(sp.normalize("  a   a  "), S + "a" + S + "a")
        self.assertEqual(sp.normalize("   "), "")

    def test_decode(self):
        sp = self.sp
        ids = lambda *ps: [sp.piece_to_id(p) for p in ps]  # noqa: E731
        self.assertEqual(sp.decode(ids(S + "the", S + "image")), "the image")
        self.assertEqual(sp.decode(ids(S, S + "the")), " the")  # one leading space consumed
        self.assertEqual(sp.decode(ids("<s>", S + "the", "</s>")), "the")
        self.assertEqual(sp.decode(ids("<0xC3>", "<0xA9>", "<0xC3>", "x")), "é\ufffdx")
        self.assertEqual(sp.decode_pieces(["", S + "a"]), "a")


class ConvertedTokenizerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = mtc.vicuna_sentencepiece(256)
        cls.spec = llama_tokenizer_json(cls.model, CONFIG)
        cls.hf = HFTokenizer(cls.spec, CONFIG)
        cls.slow = {legacy: SlowLlamaTokenizer(cls.model, {**CONFIG, "legacy": legacy}) for legacy in (True, False)}
        cls.texts = corpus()

    def test_layout(self):
        s = self.spec
        self.assertEqual(s["normalizer"]["normalizers"], [{"type": "Prepend", "prepend": S},
                                                          {"type": "Replace", "pattern": {"String": " "}, "content": S}])
        self.assertIsNone(s["pre_tokenizer"])
        self.assertEqual([d["type"] for d in s["decoder"]["decoders"]], ["Replace", "ByteFallback", "Fuse", "Strip"])
        self.assertEqual(s["post_processor"]["special_tokens"], {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}})
        self.assertEqual([(a["id"], a["content"], a["special"]) for a in s["added_tokens"]],
                         [(0, "<unk>", True), (1, "<s>", True), (2, "</s>", True)])
        m = s["model"]
        self.assertEqual((m["type"], m["unk_token"], m["byte_fallback"], m["fuse_unk"]), ("BPE", "<unk>", True, True))
        self.assertEqual(m["vocab"], {p.piece: i for i, p in enumerate(self.model.pieces)})
        self.assertEqual(m["merges"][:3], [S + " t", "h e", S + " i"])  # the first pieces learnt
        for merge in m["merges"]:
            a, b = merge.split(" ")
            self.assertIn(a + b, m["vocab"])

    def test_encode_agrees_token_by_token(self):
        self.assertGreater(len(self.texts), 300)
        for text in self.texts:
            want = self.hf.encode(text)
            for legacy, slow in self.slow.items():
                with self.subTest(text=text, legacy=legacy):
                    got = slow.encode(text)
                    if legacy or "<s>" not in text and "</s>" not in text and "<unk>" not in text:
                        self.assertEqual(got, want, (slow.tokens(got), self.hf.tokens(want)))
                    if "<unk>" not in text:
                        self.assertEqual(got.count(0), 0)  # nothing unknown in this corpus
                    self.assertEqual(got[0], 1)

    def test_decode_agrees(self):
        rng = random.Random(1)
        normal = [i for i, p in enumerate(self.model.pieces) if p.type == spm.NORMAL]
        seqs = [self.hf.encode(t) for t in self.texts]
        seqs += [[rng.choice(normal + [0, 1, 2]) for _ in range(rng.randint(0, 12))] for _ in range(200)]
        for ids in seqs:
            want = self.hf.decode(ids, skip_special_tokens=True)
            with self.subTest(ids=ids):
                self.assertEqual(self.slow[False].decode(ids, skip_special_tokens=True), want)
                toks = self.hf.tokens([i for i in ids if i > 2])
                if not toks or not (toks[0].startswith(S * 2) or toks[0] == S and len(toks) > 1 and toks[1][:1] == S):
                    self.assertEqual(self.slow[True].decode(ids, skip_special_tokens=True), want)
        for text in self.texts:
            if not any(t in text for t in ("<s>", "</s>", "<unk>")):
                self.assertEqual(self.hf.decode(self.hf.encode(text), skip_special_tokens=True), text)

    def test_known_differences(self):
        """Where the converted tokenizer.json and SentencePiece part: characters whose bytes are
        missing from the vocabulary (LLaMA has all 256, this test model does not), invalid byte runs
        when decoding, a double leading '▁' in legacy decoding, and special tokens in the text in
        non-legacy mode."""
        slow, hf = self.slow[False], self.hf
        self.assertEqual(slow.encode("中"), [1, slow.token_to_id(S), 0, 0, 0])
        self.assertEqual(hf.encode("中"), [1, hf.token_to_id(S), 0])  # one fused <unk>
        self.assertEqual(slow.encode("ï"), [1, slow.token_to_id(S), slow.token_to_id("<0xC3>"), 0])  # C3 AF
        self.assertEqual(hf.encode("ï"), [1, hf.token_to_id(S), 0])
        bad = [hf.token_to_id(p) for p in ("<0xC3>", "<0xA9>", "<0xC3>")]
        self.assertEqual(slow.decode(bad), "é\ufffd")
        self.assertEqual(hf.decode(bad), "\ufffd" * 3)
        ids = [hf.token_to_id(S), hf.token_to_id(S + "the")]
        self.assertEqual((self.slow[True].decode(ids), slow.decode(ids), hf.decode(ids)), ("the", " the", " the"))
        self.assertEqual(slow.tokens(slow.encode("a</s>b")), ["<s>", S + "a", "</s>", "b"])
        self.assertEqual(hf.tokens(hf.encode("a</s>b")), ["<s>", S + "a", "</s>", S + "b"])


if __name__ == "__main__":
    unittest.main()
