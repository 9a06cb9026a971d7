"""The tokenizer: exact round trips, and a tokenizer.json that the Rust library's rules describe."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from mgm import world  # noqa: E402
from mgm.tokenizer import Tokenizer, build_vocab, chat_prompt, pieces  # noqa: E402


class TokenizerTest(unittest.TestCase):
    tok = Tokenizer(build_vocab())

    def test_every_world_string_round_trips_without_unknowns(self):
        for s, _ in world.sample_scenes(7, 200):
            for t in world.all_tasks(s):
                for text in (chat_prompt(t.prompt), t.answer):
                    ids = self.tok.encode(text)
                    self.assertNotIn(self.tok.unk, ids, text)
                    self.assertEqual(self.tok.decode(ids, skip_special=False), text)

    def test_pieces_cover_the_text(self):
        for text in ["What does the sign say?", "a  b\n\tc", "é ü 42", "<h>x</h>"]:
            self.assertEqual("".join(pieces(text)), text)

    def test_unknown_words_map_to_unk(self):
        ids = self.tok.encode("a zebra")
        self.assertIn(self.tok.unk, ids)

    def test_saved_json_reloads(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "tokenizer.json")
            self.tok.save(path)
            with open(path) as f:
                js = json.load(f)
            self.assertEqual(js["model"]["type"], "WordLevel")
            self.assertEqual(js["decoder"]["type"], "Fuse")
            self.assertEqual(Tokenizer.load(path).vocab, self.tok.vocab)
            specials = {a["content"] for a in js["added_tokens"] if a["special"]}
            self.assertIn("<image>", specials)
            self.assertNotIn("<h>", specials, "<h> must survive decoding with special tokens skipped")


if __name__ == "__main__":
    unittest.main()
