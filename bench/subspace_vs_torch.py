#!/usr/bin/python3
"""Subspace merges (iso_c, iso_cts, tsv_m) at ViT-B size: `mergescope-cli merge` against the same
algorithm in python3-torch, FusionBench's way (every state dict in memory, task vectors as state
dicts, one torch.linalg.svd per weight matrix in float32 on the CPU: isotropic_merging/iso_utils.py
and task_singular_vector/utils/TSVM_utils.py), on the same files, in the same run.

Usage: bench/subspace_vs_torch.py CLI DIR [--experts 4,8] [--methods iso_c,iso_cts,tsv_m]
Makes DIR/base.pt and DIR/expert_{i}.pt (timm ViT-B/16 names, float32, torch.save state dicts;
task vectors of rank 64 plus noise, as fine-tuning leaves them), then for each expert count and
method prints wall seconds and peak RSS of both, and the ratios MergeScope / torch
(targets: time ≤ 0.5, memory ≤ 0.25). Each run is a child process measured by /usr/bin/time.
Needs python3-torch and ≈ 3.5 GB of disk for 8 experts.
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def vit_b_shapes():
    D, H = 768, 3072
    s = {"cls_token": (1, 1, D), "pos_embed": (1, 197, D), "patch_embed.proj.weight": (D, 3, 16, 16), "patch_embed.proj.bias": (D,)}
    for b in range(12):
        p = f"blocks.{b}."
        s.update({p + "norm1.weight": (D,), p + "norm1.bias": (D,), p + "attn.qkv.weight": (3 * D, D), p + "attn.qkv.bias": (3 * D,),
                  p + "attn.proj.weight": (D, D), p + "attn.proj.bias": (D,), p + "norm2.weight": (D,), p + "norm2.bias": (D,),
                  p + "mlp.fc1.weight": (H, D), p + "mlp.fc1.bias": (H,), p + "mlp.fc2.weight": (D, H), p + "mlp.fc2.bias": (D,)})
    s.update({"norm.weight": (D,), "norm.bias": (D,)})
    return s


def make(directory, experts):
    import torch
    torch.manual_seed(0)
    shapes = vit_b_shapes()
    base = {n: torch.randn(sh) * 0.02 for n, sh in shapes.items()}
    if not os.path.exists(os.path.join(directory, "base.pt")):
        torch.save(base, os.path.join(directory, "base.pt"))
    for t in range(experts):
        path = os.path.join(directory, f"expert_{t}.pt")
        if os.path.exists(path):
            continue
        g = torch.Generator().manual_seed(100 + t)
        e = {}
        for n, sh in shapes.items():
            if len(sh) == 2:
                r = min(64, *sh)
                tau = (torch.randn(sh[0], r, generator=g) @ torch.randn(r, sh[1], generator=g)) * (0.002 / r ** 0.5)
                tau += torch.randn(sh, generator=g) * 2e-4
            else:
                tau = torch.randn(sh, generator=g) * 1e-3
            e[n] = base[n] + tau
        torch.save(e, path)


def reference(method, directory, experts, out):
    """FusionBench's algorithms on state dicts in memory (float32, CPU)."""
    import torch
    torch.set_grad_enabled(False)
    base = torch.load(os.path.join(directory, "base.pt"))
    tvs = []
    for t in range(experts):
        e = torch.load(os.path.join(directory, f"expert_{t}.pt"))
        tvs.append({k: e[k] - base[k] for k in base})  # state_dict_sub
        del e
    T = len(tvs)
    merged = {}
    for key in base:
        if len(base[key].shape) != 2:
            merged[key] = sum(tv[key] for tv in tvs) / T
            continue
        if method == "iso_c":
            u, s, v = torch.linalg.svd(sum(tv[key] for tv in tvs), full_matrices=False)
            merged[key] = torch.linalg.multi_dot((u, torch.diag(torch.ones_like(s) * s.mean()), v))
        elif method == "iso_cts":
            shape = base[key].shape
            k = min(shape)
            c = int(k * 0.8)
            c = k - round((k - c) / T) * T
            u, s, v = torch.linalg.svd(sum(tv[key] for tv in tvs), full_matrices=False)
            cu, cs, cv = u[:, :c], s[:c], v[:c, :]
            per = int((k - c) / T)
            U, S, V = torch.zeros(shape[0], k), torch.zeros(k), torch.zeros(k, shape[1])
            for i, tv in enumerate(tvs):
                w = tv[key]
                ut, st, vt = torch.linalg.svd(w - cu @ cu.T @ w, full_matrices=False)
                U[:, i * per:(i + 1) * per], S[i * per:(i + 1) * per], V[i * per:(i + 1) * per] = ut[:, :per], st[:per], vt[:per]
            U[:, T * per:T * per + c], S[T * per:T * per + c], V[T * per:T * per + c] = cu, cs, cv
            uu, _, vu = torch.linalg.svd(U, full_matrices=False)
            uv, _, vv = torch.linalg.svd(V, full_matrices=False)
            merged[key] = torch.linalg.multi_dot((uu @ vu, torch.diag(torch.ones_like(S) * S.mean()), uv @ vv))
        else:  # tsv_m
            shape = base[key].shape
            k = min(shape)
            r = int(k * (1 / T))
            U, S, V = torch.zeros(shape[0], k), torch.zeros(k), torch.zeros(k, shape[1])
            for i, tv in enumerate(tvs):
                u, s, v = torch.linalg.svd(tv[key], full_matrices=False)
                U[:, i * r:(i + 1) * r], S[i * r:(i + 1) * r], V[i * r:(i + 1) * r] = u[:, :r], s[:r], v[:r]
            uu, _, vu = torch.linalg.svd(U, full_matrices=False)
            uv, _, vv = torch.linalg.svd(V, full_matrices=False)
            merged[key] = torch.linalg.multi_dot((uu @ vu, torch.diag(S), uv @ vv))
    torch.save({k: base[k] + merged[k] for k in base}, out)


def measured(cmd):
    t0 = time.time()
    p = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    wall, rss = p.stderr.strip().splitlines()[-1].split()
    return float(wall), int(rss) / 1024.0, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cli")
    ap.add_argument("dir")
    ap.add_argument("--experts", default="4,8")
    ap.add_argument("--methods", default="iso_c,iso_cts,tsv_m")
    ap.add_argument("--reference", nargs=3, metavar=("METHOD", "EXPERTS", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.reference:
        reference(a.reference[0], a.dir, int(a.reference[1]), a.reference[2])
        return
    counts = [int(x) for x in a.experts.split(",")]
    os.makedirs(a.dir, exist_ok=True)
    make(a.dir, max(counts))
    print(f"{'method':<8} {'experts':>7} {'MergeScope s':>13} {'torch s':>9} {'time ratio':>10} {'MergeScope MiB':>15} {'torch MiB':>10} {'memory ratio':>12}")
    for T in counts:
        for m in a.methods.split(","):
            models = []
            for t in range(T):
                models += ["--model", os.path.join(a.dir, f"expert_{t}.pt")]
            ours = measured([a.cli, "merge", "--method", m, "--base", os.path.join(a.dir, "base.pt")] + models +
                            ["--out", os.path.join(a.dir, "ours.safetensors")])
            theirs = measured([sys.executable, os.path.abspath(__file__), a.cli, a.dir, "--reference", m, str(T), os.path.join(a.dir, "theirs.pt")])
            print(f"{m:<8} {T:>7} {ours[0]:>13.1f} {theirs[0]:>9.1f} {ours[0] / theirs[0]:>10.2f} {ours[1]:>15.0f} {theirs[1]:>10.0f} {ours[1] / theirs[1]:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
