#!/usr/bin/python3
"""Writes the two small example checkpoints the README's main command inspects:
tiny_vit_base.safetensors (a timm-layout ViT, width 32, depth 2, patch 4, 28x28 input) and
tiny_vit_expert.pt (the same encoder after a small "fine-tuning" step, plus a 10-way head), as a
torch.save training checkpoint. Run with Debian's /usr/bin/python3 (python3-torch)."""
import json
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(7)
D, DEPTH, P, N = 32, 2, 4, (28 // 4) ** 2

base = {
    "cls_token": torch.randn(1, 1, D) * 0.02,
    "pos_embed": torch.randn(1, N + 1, D) * 0.02,
    "patch_embed.proj.weight": torch.randn(D, 1, P, P) * 0.1,
    "patch_embed.proj.bias": torch.zeros(D),
}
for i in range(DEPTH):
    b = f"blocks.{i}."
    base |= {
        b + "norm1.weight": torch.ones(D), b + "norm1.bias": torch.zeros(D),
        b + "attn.qkv.weight": torch.randn(3 * D, D) * 0.05, b + "attn.qkv.bias": torch.zeros(3 * D),
        b + "attn.proj.weight": torch.randn(D, D) * 0.05, b + "attn.proj.bias": torch.zeros(D),
        b + "norm2.weight": torch.ones(D), b + "norm2.bias": torch.zeros(D),
        b + "mlp.fc1.weight": torch.randn(4 * D, D) * 0.05, b + "mlp.fc1.bias": torch.zeros(4 * D),
        b + "mlp.fc2.weight": torch.randn(D, 4 * D) * 0.05, b + "mlp.fc2.bias": torch.zeros(D),
    }
base |= {"norm.weight": torch.ones(D), "norm.bias": torch.zeros(D)}

expert = {k: v + 0.01 * torch.randn_like(v) for k, v in base.items()}
expert |= {"head.weight": torch.randn(10, D) * 0.05, "head.bias": torch.zeros(10)}

header, blobs, off = {"__metadata__": {"format": "pt", "description": "MergeScope example: tiny ViT base"}}, [], 0
for k, v in base.items():
    raw = v.contiguous().numpy().astype("<f4").tobytes()
    header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(raw)]}
    blobs.append(raw)
    off += len(raw)
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
with open(os.path.join(HERE, "tiny_vit_base.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
torch.save({"epoch": 10, "task": "example-classification", "state_dict": expert},
           os.path.join(HERE, "tiny_vit_expert.pt"))
print("wrote", len(base), "base tensors and", len(expert), "expert tensors")
