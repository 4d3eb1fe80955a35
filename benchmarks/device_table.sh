#!/bin/bash
# The benchmark table on a machine with one GPU, in one wall-clock budget.
#
# Usage: bash benchmarks/device_table.sh OUT [MINUTES] [PROTOCOL:CONFIG ...]
#
# Runs the test suite's GPU cases and benchmarks/device_check.py, the speed figures
# for Yelp2018 (python -m benchmarks.run probe, kernels spmm, epoch and eval with
# --device cuda: the rates, propagation, whole LightGCN+BPR and SGL-ED epochs under
# both samplers, full-ranking evaluation), then every PROTOCOL:CONFIG
# run (CONFIG: a name in benchmarks/configs or a path; default: the five published
# rows in the legacy protocol and SGL-ED Yelp2018 validated) as concurrent
# `graphcl-rec bench --device cuda` processes sharing the GPU, each with a budget of
# MINUTES (default 7): a run still improving when its budget ends is marked "time
# budget" in RESULTS.md. The runs share the GPU, so their seconds per epoch are not
# solo figures (the speed figures are). Results (h200/*.json) and logs (logs/) are made in a
# temporary folder and packed into OUT/results.tgz; the checks and speed figures are
# also in OUT/checks.log and OUT/speed_yelp2018.log (with JSON in OUT/speed_*.json).
# Needs $GRAPHCL_REC_DATA (the datasets) and $GRAPHCL_REC_REVISION (the commit sent:
# a copy of the tree may carry stale git metadata). $DEVICE (default cuda),
# $CHECKS=0 and $SPEED=0 (skip the checks or the speed figures) are for trying the
# script on CPU.
set -u
out=${1:?usage: device_table.sh OUT [MINUTES] [PROTOCOL:CONFIG ...]}
minutes=${2:-7}
shift $(( $# < 2 ? $# : 2 ))
runs=("$@")
if [ ${#runs[@]} -eq 0 ]; then
    runs=(legacy:sgl_ed_yelp2018 validated:sgl_ed_yelp2018 legacy:xsimgcl_yelp2018
          legacy:simgcl_yelp2018 legacy:lightgcn_yelp2018 legacy:lightgcn_gowalla)
fi
py=${PYTHON:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
device=${DEVICE:-cuda}
work=$(mktemp -d)
mkdir -p "$out" "$work/h200" "$work/logs"
stamp() { echo "== $(date +%T) $*"; }

if [ "${CHECKS:-1}" != 0 ]; then
    stamp "checks: the test suite's GPU cases, then device_check.py"
    timeout 300 $py -m pytest -q -m gpu -p no:cacheprovider 2>&1 | tail -5 \
        | tee "$out/checks.log"
    timeout 180 $py benchmarks/device_check.py --device "$device" 2>&1 \
        | grep -v Warning | tee -a "$out/checks.log"
fi

if [ "${SPEED:-1}" != 0 ]; then
    stamp speed
    {
        timeout 60 $py -m benchmarks.run probe --device "$device" \
            --json "$out/speed_probe.json"
        timeout 60 $py -m benchmarks.run kernels spmm --device "$device" \
            --dataset yelp2018 --json "$out/speed_spmm.json"
        timeout 180 $py -m benchmarks.run epoch --device "$device" --dataset yelp2018 \
            --models lightgcn,sgl-ed --samplers user,interaction \
            --json "$out/speed_epoch.json"
        timeout 60 $py -m benchmarks.run eval --device "$device" --dataset yelp2018 \
            --json "$out/speed_eval.json"
    } 2>&1 | grep -v Warning | tee "$out/speed_yelp2018.log"
fi

stamp "data caches (both splits of both datasets)"
$py - <<'PY'
import graphcl_rec as gr
for name in ("gowalla", "yelp2018"):
    for val in (0.0, 0.1):
        gr.data.load(name, val_ratio=val)
PY

stamp "table: ${runs[*]} (budget $minutes min each, concurrent)"
pids=()
for r in "${runs[@]}"; do
    protocol=${r%%:*} config=${r#*:}
    case $config in */*) path=$config ;; *) path=benchmarks/configs/$config.toml ;; esac
    OMP_NUM_THREADS=2 timeout "$(awk "BEGIN {print int($minutes * 60 + 120)}")" \
        $py -m graphcl_rec.cli.main bench "$path" \
        --device "$device" --protocol "$protocol" --budget-minutes "$minutes" \
        --out "$work/h200" --report "$work/logs/report.md" --no-progress \
        > "$work/logs/$(basename "$path" .toml)-$protocol.log" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; echo "run $p exit $?"; done
stamp packing
tar czf "$out/results.tgz" -C "$work" h200 logs && ls -l "$out" "$work/h200"
for f in "$work"/logs/*.log; do echo "-- $f"; grep -v Warning "$f" | tail -3; done
