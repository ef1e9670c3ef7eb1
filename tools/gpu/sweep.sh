#!/bin/bash
# One device call: four pre-norm en-de trainings side by side on one GPU for $MINUTES minutes, then
# checkpoint averaging and selection on the full validation split (tools/gpu/evaluate_runs.py).
# Results, and the two best models split into 15 MB parts, land in $OUT.
#
# Prepare here first (the device machine reaches no network), then carry data/ with the call:
#   python -m tools.freedict --out data/freedict
#   python -m tools.freedict --headwords none --out data/freedict-nohw
#   device: OUT=$OUT bash tools/gpu/sweep.sh          (carry: ["data"])
# Rebuild a pick here: cat pick0.tar.part* | tar x
# Try it on a CPU in a minute: MINUTES=0.5 STEP_SCALE=50 VSAMP=10 VALID_LIMIT=40 TOK=2048 OUT=/tmp/o bash tools/gpu/sweep.sh
#
#   E: the shipped recipe without headword pairs    F: d_model 384, 6 heads (ship as float16: 31 MB)
#   G: 6 + 6 layers (26 MB as float16)               H: the shipped model trained on (--init assets/en-de)
set -u
export PYTHONUNBUFFERED=1
MINUTES=${MINUTES:-8}
R=${RUNS:-/tmp/runs}
mkdir -p "$R" "$OUT"
(nvidia-smi --query-gpu=name,memory.total --format=csv 2>&1; python3 -c "import torch,sentencepiece,sacrebleu,safetensors,tqdm;print(torch.__version__, torch.cuda.is_available())") | tee "$OUT/env.txt" || exit 1
S=${STEP_SCALE:-1}
EVERY="--save-every $((400/S)) --valid-every $((400/S))"
COMMON="--tokenizer assets/en-de/tokenizer.model --max-len 128 --label-smoothing 0.1 --dropout 0.3 --norm pre --lr-factor 1.5 --warmup 600 --max-tokens ${TOK:-16384} --valid-samples ${VSAMP:-500} --log-every 50 --save-minutes ${SAVE_MIN:-100} --keep 40 --seed 1 --threads 3 --bf16 --quiet --max-minutes $MINUTES --steps $((20000/S)) $EVERY"
launch() { local name=$1; shift; python3 -m transformer.train --out "$R/$name" $COMMON "$@" > "$R/$name.stdout" 2>&1 & }
launch E --data data/freedict-nohw --d-model 256 --heads 4 --enc-layers 3 --dec-layers 3 --d-ff 1024
launch F --data data/freedict --d-model 384 --heads 6 --enc-layers 3 --dec-layers 3 --d-ff 1536
launch G --data data/freedict --d-model 256 --heads 4 --enc-layers 6 --dec-layers 6 --d-ff 1024
launch H --data data/freedict --init assets/en-de
sleep ${CHECK_AFTER:-75}
alive=$(jobs -r | wc -l)
for n in E F G H; do echo "== $n"; tail -c 600 "$R/$n.stdout"; tail -n 2 "$R/$n/log.jsonl" 2>/dev/null; done
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv 2>&1
if [ "$alive" -eq 0 ]; then echo "all trainings died"; tar czf "$OUT/logs.tgz" -C "$R" . ; exit 1; fi
wait
for n in E F G H; do echo "== $n"; tail -n 3 "$R/$n.stdout"; done
python3 tools/gpu/evaluate_runs.py "$R" "$OUT" 2>&1 | tee "$OUT/eval.txt"
tar czf "$OUT/logs.tgz" -C "$R" $(cd "$R" && ls -d */log.jsonl *.stdout 2>/dev/null)
ls -la "$OUT"
