#!/usr/bin/python3
"""Converts a folder of images into MergeScope's HDF5 image-set format (docs/data.md).

    /usr/bin/python3 tools/images_to_hdf5.py DIR OUT.h5 [--size 28] [--gray] [--test-fraction 0.2] [--seed 0]

DIR holds one sub-folder per class (ImageFolder layout: DIR/cat/1.png, DIR/dog/7.jpg, ...); the
class names, sorted, become labels 0..K-1 and the attribute class_names. Images are resized to
SIZE×SIZE (Debian packages python3-pil, python3-h5py, python3-numpy). A stratified train/test
split is stored under /splits.
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np
from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--gray", action="store_true", help="convert to one channel")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    classes = sorted(d for d in os.listdir(a.dir) if os.path.isdir(os.path.join(a.dir, d)))
    if not classes:
        sys.exit(f"{a.dir}: no class sub-folders")
    images, labels = [], []
    for label, c in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(a.dir, c))):
            try:
                im = Image.open(os.path.join(a.dir, c, f)).convert("L" if a.gray else "RGB")
            except OSError:
                print(f"skipping {os.path.join(a.dir, c, f)}: not an image", file=sys.stderr)
                continue
            arr = np.asarray(im.resize((a.size, a.size), Image.BILINEAR), dtype=np.uint8)
            images.append(arr[None] if a.gray else arr.transpose(2, 0, 1))
            labels.append(label)
    images, labels = np.stack(images), np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(a.seed)
    train, test = [], []
    for c in range(len(classes)):
        idx = rng.permutation(np.flatnonzero(labels == c))
        cut = int(len(idx) * a.test_fraction)
        test += idx[:cut].tolist()
        train += idx[cut:].tolist()
    tmp = a.out + ".partial"
    with h5py.File(tmp, "w") as f:
        f.attrs["mergescope_image_set"] = 1
        f.attrs["name"] = os.path.basename(os.path.normpath(a.dir))
        f.attrs["class_names"] = json.dumps(classes)
        f.create_dataset("images", data=images)
        f.create_dataset("labels", data=labels)
        f.create_dataset("splits/train", data=np.sort(np.asarray(train, dtype=np.int64)))
        f.create_dataset("splits/test", data=np.sort(np.asarray(test, dtype=np.int64)))
    os.replace(tmp, a.out)
    print(f"wrote {a.out}: {len(images)} images, {len(classes)} classes, {len(train)} train / {len(test)} test")


if __name__ == "__main__":
    main()
