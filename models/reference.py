#!/usr/bin/env python3
"""The one-by-one reference: answers tasks one image and one task at a time with the PyTorch model,
as the official Mini-Gemini evaluation scripts do (batch size 1).

Usage: models/py models/reference.py --input TASKS.jsonl --output RESULTS.jsonl [--model models/mgm-tiny]
       models/py models/reference.py --checkpoint MGM_DIR [--tower-root DIR] --input TASKS.jsonl
           --output RESULTS.jsonl [--max-new-tokens N] [--trace TRACE.jsonl] [--chat-template NAME]

--checkpoint runs a released Mini-Gemini folder (official layout, towers found as resolve_towers
finds them) in float32 on the CPU as the official code does one task at a time: see
mgm/official/reference.py. --trace then writes one line per answered task:
  {"task_id", "input_ids": [prompt ids, -200 where the image goes], "tokens": [generated ids, the
   stop token left out], "finish": "stop" | "length", "logits": [[vocab floats] per step, the step
   that produced the stop token included]}

Input line:  {"task_id": "...", "image": "path (relative to the input file's folder) or absolute",
              "kind": "caption" | "vqa" | "generate", "prompt": "..."}
Output line: {"task_id", "status": "ok" | "rejected" | "failed", "answer", "generation_prompt", "reason"}
Every input line gets exactly one output line, a malformed one included (status rejected).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from PIL import Image, UnidentifiedImageError  # noqa: E402

from mgm import world  # noqa: E402
from mgm.io import Loaded, generation_prompt  # noqa: E402

KINDS = ("caption", "vqa", "generate")


def parse(line: str, lineno: int, base: str, caption_prompt: str = world.CAPTION_PROMPT):
    """Returns (task_id, image path, kind, prompt) or raises ValueError with a reason."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"line {lineno}: not JSON ({e.msg})")
    if not isinstance(obj, dict):
        raise ValueError(f"line {lineno}: not a JSON object")
    task_id = str(obj.get("task_id") or f"line-{lineno}")
    kind = obj.get("kind", "caption")
    if kind not in KINDS:
        raise ValueError(f"line {lineno}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    prompt = obj.get("prompt")
    if kind == "caption" and not prompt:
        prompt = caption_prompt
    if not prompt:
        raise ValueError(f"line {lineno}: a {kind} task needs a prompt")
    image = obj.get("image")
    if not image or not isinstance(image, str):
        raise ValueError(f"line {lineno}: missing image")
    if image.startswith("file:"):
        image = image[len("file:"):]
    path = image if os.path.isabs(image) else os.path.join(base, image)
    return task_id, path, kind, prompt


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--model", default=os.path.join(here, "mgm-tiny"))
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--checkpoint", help="a released MGM folder: run it as the official code does")
    ap.add_argument("--tower-root", help="where the config's relative tower paths are looked up first")
    ap.add_argument("--chat-template", choices=["gemma", "vicuna_v1", "llama_3"],
                    help="with --checkpoint; default: export_mgm.py's choice for the family")
    ap.add_argument("--trace", help="with --checkpoint: per-task ids, tokens and logits (JSON lines)")
    a = ap.parse_args()
    if a.checkpoint:
        return run_checkpoint(a)
    if a.trace or a.tower_root:
        ap.error("--trace and --tower-root need --checkpoint")
    model = Loaded.from_dir(a.model)

    def answer(img, kind, prompt, task_id):
        text = model.answer(img, prompt, a.max_new_tokens)
        return text, generation_prompt(text) if kind == "generate" else None

    run_tasks(a.input, a.output, world.CAPTION_PROMPT, answer,
              failed_reason="the answer has no well-formed <h>...</h> generation prompt")


def read_image(path: str):
    try:
        img = Image.open(path)
        img.load()
        return img.convert("RGB")
    except (OSError, UnidentifiedImageError) as e:
        raise ValueError(f"cannot read image {path}: {e}")


def run_tasks(input_path, output_path, caption_prompt, answer, failed_reason):
    """One result line for every task line, in order: `answer(img, kind, prompt, task_id)` returns the
    answer and, for a generate task, its generation prompt (None or blank fails the task); a task that
    cannot be read or parsed is rejected with the reason."""
    base = os.path.dirname(os.path.abspath(input_path))
    t0, n, counts = time.time(), 0, {"ok": 0, "rejected": 0, "failed": 0}
    with open(input_path) as fin, open(output_path, "w") as fout:
        for lineno, line in enumerate(fin, 1):
            if not line.strip():
                continue
            n += 1
            res = {"task_id": f"line-{lineno}", "status": "ok"}
            try:
                task_id, path, kind, prompt = parse(line, lineno, base, caption_prompt)
                res["task_id"] = task_id
                text, gp = answer(read_image(path), kind, prompt, task_id)
                res["answer"] = text
                if kind == "generate":
                    if gp is None or not gp.strip():
                        res["status"] = "failed"
                        res["reason"] = failed_reason
                    else:
                        res["generation_prompt"] = gp
            except ValueError as e:
                res["status"] = "rejected"
                res["reason"] = str(e)
            counts[res["status"]] += 1
            fout.write(json.dumps(res) + "\n")
            fout.flush()
    dt = time.time() - t0
    print(f"{n} tasks in {dt:.1f}s ({n / max(dt, 1e-9):.2f} tasks/s): {counts}", file=sys.stderr)


def run_checkpoint(a):
    import torch
    from mgm.official.reference import OFFICIAL_CAPTION_PROMPT, Reference, official_generation_prompt
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
    ref = Reference(a.checkpoint, a.tower_root, a.chat_template)
    trace = open(a.trace, "w") if a.trace else None

    def answer(img, kind, prompt, task_id):
        out = ref.run(img, prompt, kind == "generate", a.max_new_tokens)
        if trace:
            g = out["generation"]
            trace.write(json.dumps({
                "task_id": task_id, "input_ids": out["input_ids"], "tokens": g.tokens,
                "finish": g.finish, "logits": [row.tolist() for row in g.logits]}) + "\n")
            trace.flush()
        return out["answer"], official_generation_prompt(out["answer"]) if kind == "generate" else None

    try:
        run_tasks(a.input, a.output, OFFICIAL_CAPTION_PROMPT, answer,
                  failed_reason="the answer has no <h>...</h> generation prompt")
    finally:
        if trace:
            trace.close()

if __name__ == "__main__":
    main()
