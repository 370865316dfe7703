#!/usr/bin/python3
"""The ViT-B/32 kit of bench_kit, and PyTorch's forward of the same weights on the same batch.

    /usr/bin/python3 bench/vit_b32_kit.py make DIR      # base + 4 experts (HF CLIP layout, random
                                                        # init), 4 tasks x 32 JPEG images, zero-shot
                                                        # text heads, config.json, kit.yaml
    /usr/bin/python3 bench/vit_b32_kit.py forward DIR   # prints JSON: images/s of python3-torch's
                                                        # forward (CLIP's vision tower as Hugging Face
                                                        # computes it) on task 0's 32 images

Weights are random (speed does not depend on them); images are preprocessed as CLIP's pipeline
does (Pillow bicubic shortest edge 224, centre crop 224, CLIP mean/std).
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
from PIL import Image

W, DEPTH, HEADS, PATCH, SIZE, PROJ, MLP = 768, 12, 12, 32, 224, 512, 3072
TASKS, CLASSES, PER_CLASS = 4, 4, 8
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def save_safetensors(path, tensors):
    header, offset = {}, 0
    for name, t in tensors.items():
        n = t.numel() * 4
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + n]}
        offset += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for t in tensors.values():
            f.write(t.contiguous().to(torch.float32).numpy().tobytes())


def vision(gen):
    g = lambda *s: torch.randn(*s, generator=gen) * 0.02
    p = {"embeddings.class_embedding": g(W), "embeddings.patch_embedding.weight": g(W, 3, PATCH, PATCH),
         "embeddings.position_embedding.weight": g((SIZE // PATCH) ** 2 + 1, W),
         "pre_layrnorm.weight": torch.ones(W), "pre_layrnorm.bias": torch.zeros(W),
         "post_layernorm.weight": torch.ones(W), "post_layernorm.bias": torch.zeros(W)}
    for i in range(DEPTH):
        L = f"encoder.layers.{i}."
        for n in ["q_proj", "k_proj", "v_proj", "out_proj"]:
            p[L + f"self_attn.{n}.weight"] = g(W, W)
            p[L + f"self_attn.{n}.bias"] = torch.zeros(W)
        for n in ["layer_norm1", "layer_norm2"]:
            p[L + n + ".weight"] = torch.ones(W)
            p[L + n + ".bias"] = torch.zeros(W)
        p[L + "mlp.fc1.weight"] = g(MLP, W)
        p[L + "mlp.fc1.bias"] = torch.zeros(MLP)
        p[L + "mlp.fc2.weight"] = g(W, MLP)
        p[L + "mlp.fc2.bias"] = torch.zeros(W)
    return p


def forward(p, x):
    """Hugging Face's CLIPVisionTransformer, written with the same torch ops (bmm attention)."""
    n = x.shape[0]
    F = torch.nn.functional
    e = F.conv2d(x, p["embeddings.patch_embedding.weight"], stride=PATCH).flatten(2).transpose(1, 2)
    h = torch.cat([p["embeddings.class_embedding"].expand(n, 1, W), e], 1) + p["embeddings.position_embedding.weight"]
    h = F.layer_norm(h, (W,), p["pre_layrnorm.weight"], p["pre_layrnorm.bias"], 1e-5)
    dh = W // HEADS
    for i in range(DEPTH):
        L = f"encoder.layers.{i}."
        lin = lambda t, name: F.linear(t, p[L + name + ".weight"], p[L + name + ".bias"])
        r = h
        t = F.layer_norm(h, (W,), p[L + "layer_norm1.weight"], p[L + "layer_norm1.bias"], 1e-5)
        q = lin(t, "self_attn.q_proj").view(n, -1, HEADS, dh).transpose(1, 2) * dh ** -0.5
        k = lin(t, "self_attn.k_proj").view(n, -1, HEADS, dh).transpose(1, 2)
        v = lin(t, "self_attn.v_proj").view(n, -1, HEADS, dh).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2), -1) @ v
        h = r + lin(a.transpose(1, 2).reshape(n, -1, W), "self_attn.out_proj")
        r = h
        t = F.layer_norm(h, (W,), p[L + "layer_norm2.weight"], p[L + "layer_norm2.bias"], 1e-5)
        t = lin(t, "mlp.fc1")
        h = r + lin(t * torch.sigmoid(1.702 * t), "mlp.fc2")
    return F.layer_norm(h, (W,), p["post_layernorm.weight"], p["post_layernorm.bias"], 1e-5)


def preprocess(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    nw, nh = (SIZE, int(SIZE * h / w)) if w <= h else (int(SIZE * w / h), SIZE)
    img = img.resize((nw, nh), Image.BICUBIC)
    top, left = int(round((nh - SIZE) / 2.0)), int(round((nw - SIZE) / 2.0))
    a = torch.tensor(np.asarray(img.crop((left, top, left + SIZE, top + SIZE)), dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (a - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]


def make(d):
    os.makedirs(d, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    base = vision(gen)
    full = {"vision_model." + k: v for k, v in base.items()}
    full["visual_projection.weight"] = torch.randn(PROJ, W, generator=gen) * 0.02
    full["logit_scale"] = torch.tensor([math.log(100.0)])
    save_safetensors(os.path.join(d, "base.safetensors"), full)
    json.dump({"model_type": "clip", "projection_dim": PROJ,
               "vision_config": {"hidden_size": W, "num_hidden_layers": DEPTH, "num_attention_heads": HEADS,
                                 "intermediate_size": MLP, "patch_size": PATCH, "image_size": SIZE, "num_channels": 3,
                                 "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}}, open(os.path.join(d, "config.json"), "w"))
    kit = ["kit: 1", "name: vit-b32-bench", "base: base.safetensors", "preprocess: clip", "tasks:"]
    for t in range(TASKS):
        expert = {k: v + torch.randn(v.shape, generator=gen) * 0.002 for k, v in base.items()}
        save_safetensors(os.path.join(d, f"expert{t}.safetensors"), expert)
        save_safetensors(os.path.join(d, f"text{t}.safetensors"), {"zeroshot_weights": torch.randn(CLASSES, PROJ, generator=gen)})
        for c in range(CLASSES):
            os.makedirs(os.path.join(d, f"images{t}", f"class{c}"), exist_ok=True)
            for i in range(PER_CLASS):
                w, h = int(rng.integers(240, 400)), int(rng.integers(240, 400))
                a = np.clip(rng.normal(120, 50, (h // 8, w // 8, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(a).resize((w, h), Image.BILINEAR).save(os.path.join(d, f"images{t}", f"class{c}", f"{i}.jpg"), quality=90)
        kit += [f"  - name: task{t}", f"    expert: expert{t}.safetensors", f"    images: images{t}",
                f"    eval: images{t}", f"    head: {{text: text{t}.safetensors}}"]
    open(os.path.join(d, "kit.yaml"), "w").write("\n".join(kit) + "\n")


def timed_forward(d):
    import glob
    torch.set_num_threads(os.cpu_count())
    p = {}
    with open(os.path.join(d, "base.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    for name, info in header.items():
        if name.startswith("vision_model."):
            b, e = info["data_offsets"]
            p[name[len("vision_model."):]] = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32).reshape(info["shape"])
    files = sorted(glob.glob(os.path.join(d, "images0", "*", "*.jpg")))
    x = torch.stack([preprocess(f) for f in files])
    with torch.no_grad():
        forward(p, x)  # warm-up
        best = 1e9
        for _ in range(3):
            t0 = time.perf_counter()
            forward(p, x)
            best = min(best, time.perf_counter() - t0)
    print(json.dumps({"images": len(files), "seconds": best, "images_per_second": len(files) / best,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    {"make": make, "forward": timed_forward}[sys.argv[1]](sys.argv[2])
