"""mgm/official's model against the released layout: make_test_checkpoints.py writes scaled-down
random checkpoints whose names are listed from the upstream layouts, and these tests load them with
strict state-dict loading, run the whole model, and check the behaviours the official code has."""
import contextlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import make_test_checkpoints as mtc  # noqa: E402
from mgm.official import checkpoint as ck  # noqa: E402
from mgm.official.clip import CLIPVisionConfig  # noqa: E402
from mgm.official.lm import LMConfig, RMSNorm  # noqa: E402
from mgm.official.mgm import (AUX_PREFIX, CLIP_PREFIX, IMAGE_TOKEN_INDEX, assemble_state_dict,  # noqa: E402
                              hr_windows, load_released, resolve_towers)

IMG = mtc.CLIP["image_size"]
IMG_AUX = mtc.CONVNEXT["image_size_aux"]
N_TOKENS = (IMG // mtc.CLIP["patch_size"]) ** 2


class OfficialModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.folders = mtc.write_test_checkpoints(cls.tmp.name)
        cls.models = {name: load_released(folder) for name, folder in cls.folders.items()}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def images(self, b=1, seed=0):
        g = torch.Generator().manual_seed(seed)
        return torch.randn(b, 3, IMG, IMG, generator=g), torch.randn(b, 3, IMG_AUX, IMG_AUX, generator=g)

    # ------------------------------------------------------------------ layout and loading

    def test_the_folders_have_the_released_layout(self):
        root = self.tmp.name
        self.assertEqual(ck.checkpoint_format(self.folders["gemma"]), ck.SAFETENSORS_INDEX)
        self.assertEqual(ck.checkpoint_format(self.folders["vicuna"]), ck.BIN_INDEX)
        self.assertEqual(ck.checkpoint_format(self.folders["llama3"]), ck.SAFETENSORS_INDEX)
        self.assertTrue(os.path.isfile(os.path.join(root, mtc.CLIP_DIR, "pytorch_model.bin")))
        self.assertTrue(os.path.isfile(os.path.join(root, mtc.AUX_DIR, "open_clip_config.json")))
        for name, folder in self.folders.items():
            cfg = ck.read_config(folder)
            for key in ("mm_vision_tower", "mm_vision_tower_aux", "mm_hidden_size",
                        "mm_hidden_size_aux", "mm_projector_type", "mm_vision_select_layer",
                        "image_size_aux", "optimize_vision_tower_aux"):
                self.assertIn(key, cfg, f"{name}: {key}")
            self.assertEqual(cfg["mm_hidden_size_aux"], sum(mtc.CONVNEXT["dims"]))
            self.assertGreater(len(set(ck.read_index(os.path.join(folder, ck.checkpoint_format(folder))).values())), 1)
        total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
        self.assertLess(total, 4 << 20)

    def test_every_checkpoint_key_is_used_and_none_is_missing(self):
        for name, folder in self.folders.items():
            with self.subTest(name):
                model = self.models[name]
                state, *_ = assemble_state_dict(resolve_towers(folder))
                self.assertEqual(set(state), set(model.state_dict()))
                # every LM, projector and mining tensor of the MGM folder reaches the model
                own = {k for k in ck.load_state_dict(folder)
                       if not k.startswith((CLIP_PREFIX, AUX_PREFIX))}
                self.assertLessEqual(own, set(model.state_dict()))
                # and every tower tensor the official code keeps
                clip_keys = {k for k in ck.load_state_dict(os.path.join(self.tmp.name, mtc.CLIP_DIR))
                             if k.startswith("vision_model.") and "position_ids" not in k}
                self.assertEqual({CLIP_PREFIX + k for k in clip_keys},
                                 {k for k in model.state_dict() if k.startswith(CLIP_PREFIX)})

    def test_loaded_values_are_the_files_values(self):
        model = self.models["vicuna"]
        sd = model.state_dict()
        lm = ck.load_state_dict(self.folders["vicuna"])
        for key in ("model.embed_tokens.weight", "lm_head.weight", "model.mm_projector.2.bias",
                    "model.vlm_uni_aux_projector.1.weight", "model.layers.1.self_attn.k_proj.weight"):
            self.assertTrue(torch.equal(sd[key], lm[key].float()), key)
        clip_file = ck.load_state_dict(os.path.join(self.tmp.name, mtc.CLIP_DIR))
        key = "vision_model.encoder.layers.2.mlp.fc1.weight"
        self.assertTrue(torch.equal(sd[CLIP_PREFIX + key], clip_file[key]))
        aux_file = ck.load_state_dict(os.path.join(self.tmp.name, mtc.AUX_DIR))
        self.assertTrue(torch.equal(sd[AUX_PREFIX + "vision_stages.2.blocks.1.gamma"],
                                    aux_file["visual.trunk.stages.2.blocks.1.gamma"]))

    def test_loads_in_the_checkpoints_own_precision(self):
        model = load_released(self.folders["gemma"], dtype=torch.bfloat16)
        self.assertEqual(torch.get_default_dtype(), torch.float32)
        self.assertEqual({p.dtype for p in model.parameters()}, {torch.bfloat16})
        lm = ck.load_state_dict(self.folders["gemma"])
        key = "model.layers.0.mlp.gate_proj.weight"
        self.assertTrue(torch.equal(model.state_dict()[key], lm[key]))
        self.assertNotEqual(float(torch.nn.Linear(4, 4).weight.abs().sum()), 0.0, "init restored")
        imgs, aux = self.images()
        with torch.no_grad():
            logits = model(torch.tensor([[2, IMAGE_TOKEN_INDEX, 5]]), imgs, aux)
        self.assertEqual(logits.dtype, torch.bfloat16)
        self.assertTrue(torch.isfinite(logits).all())

    def test_strict_loading_rejects_a_missing_key(self):
        state, *_ = assemble_state_dict(resolve_towers(self.folders["gemma"]))
        del state["model.vlm_uni_val_projector.0.bias"]
        with self.assertRaisesRegex(RuntimeError, "vlm_uni_val_projector"):
            type(self.models["gemma"])(*self.configs("gemma")).load_state_dict(state, strict=True)

    def test_tower_copies_in_the_mgm_folder_follow_the_official_precedence(self):
        # CLIP always comes from its own folder; the ConvNeXt stages come from the MGM folder only
        # when optimize_vision_tower_aux says the aux tower was trained
        folder = os.path.join(self.tmp.name, "MGM-2B-aux-trained")
        shutil.copytree(self.folders["gemma"], folder)
        aux_key = AUX_PREFIX + "vision_stages.0.blocks.0.gamma"
        clip_key = CLIP_PREFIX + "vision_model.post_layernorm.bias"
        weight_map = ck.read_index(os.path.join(folder, ck.SAFETENSORS_INDEX))
        for key in (aux_key, clip_key):
            shard = os.path.join(folder, weight_map[key])
            tensors = ck.read_safetensors(shard)
            tensors[key] = torch.full_like(tensors[key], 7.0)
            ck.write_safetensors(shard, tensors)
        for trained in (False, True):
            with self.subTest(optimize_vision_tower_aux=trained):
                cfg = ck.read_config(folder)
                cfg["optimize_vision_tower_aux"] = trained
                with open(os.path.join(folder, "config.json"), "w") as f:
                    json.dump(cfg, f)
                state, *_ = assemble_state_dict(resolve_towers(folder))
                self.assertEqual(bool((state[aux_key] == 7.0).all()), trained)
                self.assertFalse(bool((state[clip_key] == 7.0).any()))

    def test_the_script_writes_the_families_asked_for(self):
        with tempfile.TemporaryDirectory() as out:
            with contextlib.redirect_stdout(io.StringIO()):
                mtc.main(["--out", out, "--families", "gemma"])
            self.assertEqual(sorted(os.listdir(out)), ["MGM-2B", "model_zoo"])
            load_released(os.path.join(out, "MGM-2B"))

    def configs(self, name):
        m = self.models[name].model
        return m.lm_config, m.mm_config, m.vision_tower.config, m.vision_tower_aux.config

    def test_attention_heads_per_family(self):
        expect = {"gemma": (4, 1), "vicuna": (4, 4), "llama3": (4, 2)}
        for name, (heads, kv) in expect.items():
            with self.subTest(name):
                attn = self.models[name].model.layers[0].self_attn
                self.assertEqual((attn.heads, attn.kv_heads), (heads, kv))
                self.assertEqual(attn.k_proj.weight.shape[0], kv * attn.head_dim)
        self.assertEqual(self.models["gemma"].model.layers[0].self_attn.head_dim, 32)
        self.assertEqual(self.models["llama3"].lm_config.rope_theta, 500000.0)
        self.assertNotIn("lm_head.weight", self.models["gemma"].state_dict())
        with self.assertRaises(NotImplementedError):
            LMConfig.from_hf({"model_type": "mgm_mixtral"})

    # ------------------------------------------------------------------ forward pass

    def test_whole_model_shapes(self):
        imgs, aux = self.images(b=2)
        ids = torch.tensor([[2, 10, IMAGE_TOKEN_INDEX, 11, 12, 13],
                            [2, IMAGE_TOKEN_INDEX, 20, 21, 0, 0]])
        mask = torch.tensor([[1] * 6, [1, 1, 1, 1, 0, 0]])
        for name, model in self.models.items():
            with self.subTest(name), torch.no_grad():
                m = model.model
                lr = m.vision_tower(imgs)
                self.assertEqual(lr.shape, (2, N_TOKENS, mtc.CLIP["hidden_size"]))
                hr = m.vision_tower_aux(aux)
                self.assertEqual(hr.shape, (2, sum(mtc.CONVNEXT["dims"]), IMG_AUX // 4, IMG_AUX // 4))
                feats = m.encode_images(imgs, aux)
                self.assertEqual(feats.shape, (2, N_TOKENS, model.lm_config.hidden_size))
                logits = model(ids, imgs, aux, mask)
                self.assertEqual(logits.shape, (2, 5 + N_TOKENS, model.lm_config.vocab_size))
                self.assertTrue(torch.isfinite(logits).all())

    def test_padding_does_not_change_a_row(self):
        model = self.models["llama3"]
        imgs, aux = self.images(b=2)
        ids = torch.tensor([[2, IMAGE_TOKEN_INDEX, 7, 8, 9], [2, IMAGE_TOKEN_INDEX, 5, 0, 0]])
        mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
        with torch.no_grad():
            both = model(ids, imgs, aux, mask)
            alone = model(ids[1:, :3], imgs[1:], aux[1:])
        n = alone.shape[1]
        self.assertTrue(torch.allclose(both[1, :n], alone[0], atol=1e-5))

    def test_gemma_scales_the_spliced_sequence_visual_tokens_included(self):
        imgs, aux = self.images()
        ids = torch.tensor([[2, 9, IMAGE_TOKEN_INDEX, 4]])
        for name, scale in (("gemma", math.sqrt(64)), ("llama3", 1.0)):
            with self.subTest(name), torch.no_grad():
                model = self.models[name]
                seen = []
                hook = model.model.layers[0].register_forward_pre_hook(
                    lambda mod, args: seen.append(args[0]))
                try:
                    model(ids, imgs, aux)
                finally:
                    hook.remove()
                feats = model.model.encode_images(imgs, aux)
                embeds, _, _ = model.splice(ids, feats)
                self.assertTrue(torch.allclose(embeds[0, 2:2 + N_TOKENS], feats[0]))
                self.assertTrue(torch.allclose(seen[0], embeds * scale, atol=1e-6))

    def test_a_row_without_a_placeholder_is_plain_text(self):
        model = self.models["gemma"]
        imgs, aux = self.images()
        ids = torch.tensor([[2, 30, 31, 32]])
        with torch.no_grad():
            self.assertTrue(torch.allclose(model(ids, imgs, aux), model(ids), atol=1e-6))

    def test_gemma_head_is_the_embedding_matrix(self):
        model = self.models["gemma"]
        embeds = torch.randn(1, 3, 64)
        with torch.no_grad():
            hidden = model.model.decode(embeds)
            self.assertTrue(torch.allclose(model.logits(embeds),
                                           hidden @ model.model.embed_tokens.weight.t()))

    # ------------------------------------------------------------------ parts, against the definitions

    def test_lr_tower_gives_the_penultimate_layer_without_cls(self):
        tower = self.models["gemma"].model.vision_tower
        imgs, _ = self.images()
        with torch.no_grad():
            states = tower.vision_tower.vision_model.hidden_states(imgs, mtc.CLIP["num_hidden_layers"])
            self.assertTrue(torch.equal(tower(imgs), states[-2][:, 1:]))
            self.assertFalse(torch.allclose(states[-2], states[-1]))

    def test_aux_tower_concatenates_all_four_stages_at_stage_0_size(self):
        tower = self.models["gemma"].model.vision_tower_aux
        _, aux = self.images()
        with torch.no_grad():
            outs = tower.stage_outputs(aux)
            cat = tower(aux)
        self.assertEqual([o.shape[1] for o in outs], list(mtc.CONVNEXT["dims"]))
        self.assertEqual([o.shape[-1] for o in outs], [16, 8, 4, 2])
        d0 = mtc.CONVNEXT["dims"][0]
        self.assertTrue(torch.equal(cat[:, :d0], outs[0]))
        last = torch.nn.functional.interpolate(outs[3], size=(16, 16), mode="bilinear", align_corners=False)
        self.assertTrue(torch.allclose(cat[:, -mtc.CONVNEXT["dims"][3]:], last))

    def test_mining_attends_within_each_lr_patch(self):
        m = self.models["vicuna"].model
        g = torch.Generator().manual_seed(3)
        lr = torch.randn(1, N_TOKENS, mtc.CLIP["hidden_size"], generator=g)
        hr = torch.randn(1, sum(mtc.CONVNEXT["dims"]), 16, 16, generator=g)
        with torch.no_grad():
            got = m.mine(lr, hr)
            grid, cell = 4, 4
            for n in range(N_TOKENS):
                r, c = divmod(n, grid)
                window = hr[0, :, r * cell:(r + 1) * cell, c * cell:(c + 1) * cell].flatten(1).t()
                q = m.vlm_uni_query_projector(lr[0, n])
                k, v = m.vlm_uni_aux_projector(window), m.vlm_uni_val_projector(window)
                want = lr[0, n] + torch.softmax(k @ q / math.sqrt(k.shape[-1]), 0) @ v
                self.assertTrue(torch.allclose(got[0, n], want, atol=1e-5), n)

    def test_released_sizes_give_576_tokens_mining_64_cells(self):
        self.assertEqual(CLIPVisionConfig().num_patches, 576)
        windows = hr_windows(torch.zeros(1, 2, 192, 192), 24)  # ConvNeXt-L stage 0 at 768
        self.assertEqual(windows.shape, (1, 576, 64, 2))

    def test_gemma_rmsnorm_scales_by_one_plus_weight(self):
        norm = RMSNorm(8, 1e-6, unit_offset=True)
        with torch.no_grad():
            norm.weight.fill_(0.5)
        x = torch.randn(2, 8)
        want = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * 1.5
        self.assertTrue(torch.allclose(norm(x), want, atol=1e-6))


if __name__ == "__main__":
    unittest.main()
