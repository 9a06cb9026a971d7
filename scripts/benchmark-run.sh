#!/usr/bin/env bash
# Benchmark of issue 6: 'mgm run --embedded' against models/reference.py (the PyTorch model, one image
# and one task at a time) over the same tasks, on the same machine, one after the other. Prints both
# wall times and their ratio, and how many answers the two agree on.
#
#   scripts/benchmark-run.sh [TASKS [IMAGES]]
#
# TASKS (default 200) are drawn from the bundled scenes' answer key (12 images, so the encoders' cache
# answers most of them), or with IMAGES > 0 from that many freshly rendered scenes of the synthetic world
# (seed 7007; one task of each of four templates per scene, so every image is encoded once).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200}"
images="${2:-0}"
case "$n$images" in
  *[!0-9]*|"") echo "usage: scripts/benchmark-run.sh [TASKS [IMAGES]] (whole numbers)" >&2; exit 2 ;;
esac
work="$(mktemp -d -t mgm-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

if [ "$images" -gt 0 ]; then
  models/py - "$n" "$images" "$work" <<'PY'
import json, os, random, sys
sys.path.insert(0, "models")
from mgm import world
n, images, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(7007)
tasks = []
for i, (scene, q) in enumerate(world.sample_scenes(7007, images)):
    path = os.path.join(work, f"scene-{i:05d}.png")
    world.scene_image(scene, q).save(path)
    by = {}
    for t in world.all_tasks(scene):
        by.setdefault(t.template, []).append(t)
    for tmpl in rng.sample(sorted(by), min(4, len(by))):
        t = rng.choice(by[tmpl])
        tasks.append({"image": path, "kind": t.kind, "prompt": t.prompt})
rng.shuffle(tasks)
with open(os.path.join(work, "tasks.jsonl"), "w") as f:
    for i in range(n):
        f.write(json.dumps(dict(task_id=f"b{i}", **tasks[i % len(tasks)])) + "\n")
PY
else
  python3 - "$n" "$work/tasks.jsonl" <<'PY'
import json, os, random, sys
n, out = int(sys.argv[1]), sys.argv[2]
key = [json.loads(l) for l in open("samples/scenes/answers.jsonl")]
random.Random(6).shuffle(key)
with open(out, "w") as f:
    for i in range(n):
        k = key[i % len(key)]
        f.write(json.dumps({"task_id": f"b{i}", "image": os.path.abspath("samples/scenes/" + k["image"]),
                            "kind": k["kind"], "prompt": k["prompt"]}) + "\n")
PY
fi

MGM_NO_BUILD= ./mgm --version >/dev/null   # build first, outside the timing

start=$(date +%s.%N)
models/py models/reference.py --input "$work/tasks.jsonl" --output "$work/reference.jsonl" >/dev/null
ref=$(echo "$(date +%s.%N) - $start" | bc)

start=$(date +%s.%N)
# reference.py writes the generation prompt but renders no image, so neither does the pipeline here
./mgm run --embedded --input "$work/tasks.jsonl" --output "$work/mgm.jsonl" --lake "$work/lake" \
  --set generation.model.dir="$work/no-generator" 2>"$work/mgm.err"
mgm=$(echo "$(date +%s.%N) - $start" | bc)
grep -E "tasks, .* results in" "$work/mgm.err" || true

python3 - "$work/reference.jsonl" "$work/mgm.jsonl" "$ref" "$mgm" "$n" <<'PY'
import json, sys
ref = {j["task_id"]: j for j in map(json.loads, open(sys.argv[1]))}
mgm = {j["task_id"]: j for j in map(json.loads, open(sys.argv[2]))}
same = sum(1 for t, r in ref.items() if t in mgm and r.get("answer") == mgm[t].get("answer"))
r, m, n = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"tasks: {n}")
print(f"reference.py (one by one):  {r:8.1f} s  ({n / r:.2f} tasks/s)")
print(f"mgm run --embedded:         {m:8.1f} s  ({n / m:.2f} tasks/s, JVM, broker and model start included)")
print(f"ratio (reference / mgm):    {r / m:8.2f}x")
print(f"same answer in both:        {same} of {len(ref)}")
PY
