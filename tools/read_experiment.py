#!/usr/bin/env python3
"""Prints every point of a MergeScope experiment file with h5py (docs/experiment-file.md):
one line per point, sorted by its parameters, with the primary proxy's mean over tasks and the
mean normalized performance, then each sweep's proxy-quality summary.

Usage: python3 tools/read_experiment.py EXP.h5
"""
import sys

import h5py
import numpy as np


def open_experiment(path):
    try:
        return h5py.File(path, "r")
    except OSError:
        # A sweep appending to it (or killed while it did): HDF5 only lets a SWMR reader in.
        return h5py.File(path, "r", libver="latest", swmr=True)


def committed(s):
    """Points committed: schema 2 keeps completed_at as a dataset (rows of the other datasets
    beyond its length were not committed); schema 1 as an attribute."""
    return len(s["completed_at"]) if "completed_at" in s else len(s.attrs["completed_at"])


def main(path):
    with open_experiment(path) as f:
        if f.attrs.get("format") != "mergescope-experiment":
            sys.exit(f"{path}: not a MergeScope experiment file")
        print(f"schema {int(f.attrs['schema_version'])}, written by MergeScope {f.attrs['tool_version']}")
        for sid, s in f["sweeps"].items():
            names = list(s.attrs["param_names"])
            n = committed(s)
            params = s["params"][:n]  # [points, parameters]
            proxies = list(s.attrs["proxies"])
            proxy = s["proxy"][proxies[0]][:n] if proxies else None  # [points, tasks]
            down = s["downstream/normalized"][:n]  # [points, tasks]; NaN: not computed
            order = np.lexsort(params.T[::-1]) if params.shape[1] else range(len(params))
            for i in order:
                setting = " ".join(f"{n}={v:g}" for n, v in zip(names, params[i]))
                p = f"{proxy[i].mean():.6f}" if proxy is not None else "-"
                d = f"{down[i].mean():.6f}" if not np.isnan(down[i]).all() else "-"
                print(f"{sid} {setting} proxy={p} downstream={d}")
            for variant, summary in s["summary"].items():
                a = summary.attrs
                print(f"{sid} summary {variant}: spearman={a['spearman']:.6f} kendall={a['kendall']:.6f} "
                      f"regret={a['regret']:.6f} cost_ratio={a['cost_ratio']:.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
