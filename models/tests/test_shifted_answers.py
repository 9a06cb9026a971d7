"""shifted_answers.py writes the held-out evaluation's alt-renderer scenes as files that decode to exactly
the pixels evaluate.py feeds the model, JPEG scenes as the very JPEG bytes, and lists each scene's tasks
in evaluate.py's order with the answer given for each."""
import io
import json
import os
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import evaluate  # noqa: E402
import shifted_answers  # noqa: E402


class ShiftedAnswers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # seed 4242 starts with a JPEG scene (quality 96, 4:2:0), then PNG ones
        cls.scenes, cls.tasks = evaluate.held_out(3, shifted_answers.DEFAULT_SEED, "alt")
        cls.answers = [f"answer {k}" for k in range(len(cls.tasks))]
        cls.tmp = tempfile.TemporaryDirectory()
        cls.doc = shifted_answers.write_scenes(cls.scenes, cls.tasks, cls.answers, cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_files_decode_to_the_evaluation_s_pixels(self):
        want = evaluate.scene_images(self.scenes, "alt")
        kinds = set()
        for s, pixels in zip(self.doc["scenes"], want):
            with open(os.path.join(self.tmp.name, s["image"]), "rb") as f:
                data = f.read()
            img = Image.open(io.BytesIO(data))
            kinds.add(img.format)
            self.assertEqual(img.format, "JPEG" if s["jpeg"] else "PNG", s["image"])
            np.testing.assert_array_equal(np.asarray(img.convert("RGB")), pixels, err_msg=s["image"])
        self.assertEqual(kinds, {"JPEG", "PNG"})

    def test_jpeg_scenes_are_the_re_encoded_bytes(self):
        scene, jpeg = self.scenes[0]
        self.assertIsNotNone(jpeg)
        self.assertEqual(self.doc["scenes"][0]["jpeg"], {"quality": jpeg[0], "subsampling": jpeg[1]})
        with open(os.path.join(self.tmp.name, self.doc["scenes"][0]["image"]), "rb") as f:
            self.assertEqual(f.read(), shifted_answers.world_alt.jpeg_bytes(
                shifted_answers.world_alt.render(scene), jpeg))

    def test_every_task_in_order_with_its_answer(self):
        listed = [(s["index"], t["template"], t["prompt"], t["answer"], t["truth"])
                  for s in self.doc["scenes"] for t in s["tasks"]]
        want = [(i, t.template, t.prompt, a, t.answer) for (i, t), a in zip(self.tasks, self.answers)]
        self.assertEqual(listed, want)
        self.assertEqual(self.doc["templates"], evaluate.world.TEMPLATES)
        json.dumps(self.doc)   # the document is plain JSON


if __name__ == "__main__":
    unittest.main()
