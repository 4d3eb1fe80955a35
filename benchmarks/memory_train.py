"""Peak memory of training a benchmark config, each in a fresh process.

Usage: python benchmarks/memory_train.py [CONFIG ...] [--steps 20] [--threads 2]

For each config (default: SGL-ED and LightGCN on Yelp2018) a subprocess loads the
split, builds the model and the trainer's optimiser, and trains ``--steps`` batches
with the config's sampler (views drawn as in an epoch), with the training loop of
``speed.py``. It prints the process's
resident memory after loading the data, its peak resident memory (``ru_maxrss``)
over the whole run, and the peak growth during training. On CUDA the device's peak
allocation is printed as well.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, torch
from graphcl_rec.cli.build import build_model, load_data
from graphcl_rec.cli.config import load_config
from graphcl_rec.data.sampling import PairSampler
from graphcl_rec.graph import adjacency

path, steps, threads, device = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    sys.argv[4]
sys.path.insert(0, sys.argv[5])
from speed import epoch_seconds  # the training loop the speed figures use
torch.set_num_threads(threads)
dev = torch.device(device)
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
cfg = load_config(path)
train, _, _ = load_data(cfg.data)
after_data = rss()
model = build_model(cfg.model, train.num_users, train.num_items).to(dev)
train = train.to(dev)
adj = adjacency(train)
adjs = [adj] * model.encoder.num_layers
sampler = PairSampler(train, cfg.train.batch_size, mode=cfg.train.sampler)
seconds = epoch_seconds(model, train, adjs, sampler, steps, False) / len(sampler)
res = {"config": cfg.name, "steps": steps, "seconds_per_step": seconds,
       "rss_after_data_mb": after_data, "peak_rss_mb": rss(),
       "train_growth_mb": rss() - after_data}
if dev.type == "cuda":
    res["cuda_peak_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
print(json.dumps(res))
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("configs", nargs="*", default=[
        "benchmarks/configs/sgl_ed_yelp2018.toml",
        "benchmarks/configs/lightgcn_yelp2018.toml"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    print("| config | steps | s/step | RSS after data (MB) | peak RSS (MB) | "
          "growth in training (MB) |")
    print("|---|---|---|---|---|---|")
    for path in args.configs:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, path, str(args.steps), str(args.threads),
             args.device, str(Path(__file__).resolve().parent)],
            capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        extra = (f" (CUDA peak {r['cuda_peak_mb']:.0f} MB)" if "cuda_peak_mb" in r
                 else "")
        print(f"| {r['config']} | {r['steps']} | {r['seconds_per_step']:.2f} | "
              f"{r['rss_after_data_mb']:.0f} | {r['peak_rss_mb']:.0f}{extra} | "
              f"{r['train_growth_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
