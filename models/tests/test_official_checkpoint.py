"""The checkpoint readers of mgm/official against the published formats: safetensors files built
byte by byte, round trips of every dtype, sharded folders in both formats, and the order in which a
folder's files are chosen."""
import json
import os
import pickle
import struct
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from mgm.official import checkpoint as ck  # noqa: E402


def handmade_safetensors(path, entries, payload, pad_to=8):
    header = json.dumps(entries).encode()
    header += b" " * (-len(header) % pad_to)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + payload)


class Unpicklable:
    pass


class SafetensorsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "t.safetensors")

    def tearDown(self):
        self.dir.cleanup()

    def test_reads_a_file_built_from_the_spec(self):
        # F16 1.0 = 0x3C00, -2.0 = 0xC000; BF16 1.0 = 0x3F80, -0.5 = 0xBF00; little-endian bytes
        payload = (struct.pack("<2H", 0x3C00, 0xC000) + struct.pack("<2H", 0x3F80, 0xBF00)
                   + struct.pack("<q", -7) + struct.pack("<f", 0.25))
        handmade_safetensors(self.path, {
            "__metadata__": {"format": "pt"},
            "half": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
            "brain": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [4, 8]},
            "long": {"dtype": "I64", "shape": [], "data_offsets": [8, 16]},
            "float": {"dtype": "F32", "shape": [1], "data_offsets": [16, 20]},
        }, payload)
        t = ck.read_safetensors(self.path)
        self.assertEqual(set(t), {"half", "brain", "long", "float"})
        self.assertEqual(t["half"].dtype, torch.float16)
        self.assertEqual(t["half"].tolist(), [1.0, -2.0])
        self.assertEqual(t["brain"].dtype, torch.bfloat16)
        self.assertEqual(t["brain"].tolist(), [[1.0, -0.5]])
        self.assertEqual((t["long"].shape, t["long"].item()), (torch.Size([]), -7))
        self.assertEqual(t["float"].tolist(), [0.25])
        self.assertEqual(set(ck.read_safetensors(self.path, keys=["long"])), {"long"})
        with self.assertRaisesRegex(ck.CheckpointError, "no tensor nope"):
            ck.read_safetensors(self.path, keys=["nope"])

    def test_every_dtype_round_trips_bit_for_bit(self):
        g = torch.Generator().manual_seed(0)
        base = torch.randn(3, 5, generator=g) * 100
        tensors = {name: base.to(dtype) for name, dtype in ck.SAFETENSORS_DTYPES.items()}
        tensors["BOOL"] = base > 0
        tensors["scalar"] = torch.tensor(3.5, dtype=torch.bfloat16)
        tensors["empty"] = torch.zeros(0, 4, dtype=torch.float16)
        tensors["strided"] = base.t()  # not contiguous: the writer must not write raw storage
        ck.write_safetensors(self.path, tensors, {"format": "pt"})
        back = ck.read_safetensors(self.path)
        self.assertEqual(set(back), set(tensors))
        for name, t in tensors.items():
            with self.subTest(name=name):
                self.assertEqual(back[name].dtype, t.dtype)
                self.assertEqual(back[name].shape, t.shape)
                self.assertTrue(torch.equal(back[name], t))
        self.assertEqual(ck.read_safetensors_header(self.path)["__metadata__"], {"format": "pt"})
        with open(self.path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
        self.assertEqual((8 + n) % 8, 0, "data must start 8-byte aligned")

    def test_bfloat16_keeps_every_bit_pattern(self):
        bits = torch.arange(-32768, 32768, 97, dtype=torch.int32).to(torch.int16)
        ck.write_safetensors(self.path, {"b": bits.view(torch.bfloat16)})
        self.assertTrue(torch.equal(ck.read_safetensors(self.path)["b"].view(torch.int16), bits))

    def test_refuses_broken_files(self):
        handmade_safetensors(self.path, {"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}},
                             b"\0" * 8)
        with self.assertRaises(ck.CheckpointError):
            ck.read_safetensors(self.path)
        handmade_safetensors(self.path, {"x": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}},
                             b"\0")
        with self.assertRaisesRegex(ck.CheckpointError, "F8_E4M3"):
            ck.read_safetensors(self.path)
        with open(self.path, "wb") as f:
            f.write(struct.pack("<Q", 1 << 40) + b"{}")
        with self.assertRaisesRegex(ck.CheckpointError, "past the end"):
            ck.read_safetensors(self.path)


class FolderTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        g = torch.Generator().manual_seed(1)
        self.tensors = {f"model.layers.{i}.w": torch.randn(16, 16, generator=g).to(torch.bfloat16)
                        for i in range(6)}
        self.tensors["model.step"] = torch.tensor(9, dtype=torch.int64)

    def tearDown(self):
        self.dir.cleanup()

    def folder(self, name):
        path = os.path.join(self.dir.name, name)
        os.makedirs(path, exist_ok=True)
        return path

    def assert_same(self, got, want):
        self.assertEqual(set(got), set(want))
        for k in want:
            self.assertEqual(got[k].dtype, want[k].dtype, k)
            self.assertTrue(torch.equal(got[k], want[k]), k)

    def test_sharded_folders_in_both_formats(self):
        for fmt, index in (("safetensors", ck.SAFETENSORS_INDEX), ("bin", ck.BIN_INDEX)):
            with self.subTest(fmt=fmt):
                folder = self.folder(fmt)
                files = ck.write_sharded(folder, self.tensors, fmt, max_shard_bytes=1024)
                self.assertEqual(len(files), 4)  # 512-byte tensors, two to a shard
                stem = "model" if fmt == "safetensors" else "pytorch_model"
                self.assertEqual(files[0], f"{stem}-00001-of-00004.{fmt}")
                with open(os.path.join(folder, index)) as f:
                    meta = json.load(f)
                self.assertEqual(set(meta["weight_map"]), set(self.tensors))
                self.assertEqual(meta["metadata"]["total_size"], 6 * 512 + 8)
                self.assertEqual(ck.checkpoint_format(folder), index)
                self.assert_same(ck.load_state_dict(folder), self.tensors)

    def test_a_shard_missing_a_listed_tensor_is_an_error(self):
        folder = self.folder("broken")
        files = ck.write_sharded(folder, self.tensors, "safetensors", max_shard_bytes=1024)
        ck.write_safetensors(os.path.join(folder, files[0]), {})
        with self.assertRaisesRegex(ck.CheckpointError, "lacks"):
            ck.load_state_dict(folder)

    def test_single_files_and_their_order(self):
        folder = self.folder("single")
        torch.save({"a": torch.ones(2)}, os.path.join(folder, "pytorch_model.bin"))
        self.assert_same(ck.load_state_dict(folder), {"a": torch.ones(2)})
        ck.write_safetensors(os.path.join(folder, "model.safetensors"), {"b": torch.zeros(3)})
        self.assertEqual(set(ck.load_state_dict(folder)), {"b"}, "safetensors comes first")
        with self.assertRaises(ck.CheckpointError):
            ck.load_state_dict(self.folder("empty"))

    def test_openclip_files_unwrap_and_lose_the_dataparallel_prefix(self):
        folder = self.folder("openclip")
        torch.save({"state_dict": {"module.visual.trunk.stem.0.weight": torch.ones(1)}},
                   os.path.join(folder, "open_clip_pytorch_model.bin"))
        self.assertEqual(list(ck.load_state_dict(folder)), ["visual.trunk.stem.0.weight"])

    def test_pickled_code_is_refused(self):
        path = os.path.join(self.dir.name, "evil.bin")
        torch.save({"x": Unpicklable()}, path)
        with self.assertRaises(pickle.UnpicklingError):
            ck.read_torch_bin(path)

    def test_config(self):
        folder = self.folder("cfg")
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump({"model_type": "mgm_gemma", "mm_hidden_size": 1024}, f)
        self.assertEqual(ck.read_config(folder)["mm_hidden_size"], 1024)


if __name__ == "__main__":
    unittest.main()
