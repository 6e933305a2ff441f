#!/usr/bin/python3
"""Wrap a torchvision classifier into Pleura's model contract: TorchScript with `features(x)` (the
Grad-CAM layer's activations) and `head(A)` (a dict of named logits), plus the JSON card.

    /usr/bin/python3 Scripts/export_model.py --arch resnet18 --out /tmp/resnet18 \
        [--weights STATE_DICT.pth] [--classes covid,pneumonia,healthy] [--head diagnosis] [--size 224]

Writes OUT.pt and OUT.json. Without --weights the network keeps torchvision's random initialisation
(seeded by --seed), which is enough to test numerics; a real model passes its fine-tuned state dict.
Supported: resnet18/34/50, vgg11/13/16 (with or without _bn), mobilenet_v2, mobilenet_v3_small/large,
densenet121, efficientnet_b0. The Grad-CAM layer is the last convolutional block, as pytorch-grad-cam
recommends (resnet: layer4; vgg: features up to the last ReLU; mobilenet: features).
Input: RGB, ImageNet mean/std, the whole frame resized bilinearly (half-pixel centres) to --size.
"""
import argparse
import json
import os
from typing import Dict

import torch
import torch.nn as nn
import torchvision


class ResNetContract(nn.Module):
    def __init__(self, net: nn.Module, head: str):
        super().__init__()
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)
        self.fc = net.fc
        self.head_name = head

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem(x)

    @torch.jit.export
    def head(self, a: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {self.head_name: self.fc(torch.flatten(a.mean(dim=(2, 3)), 1))}

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return self.head(self.features(x))


class VGGContract(nn.Module):
    """VGG: features up to (and including) the last ReLU; the final max-pool moves into head()."""

    def __init__(self, net: nn.Module, head: str):
        super().__init__()
        layers = list(net.features.children())
        self.body = nn.Sequential(*layers[:-1])
        self.pool = layers[-1]
        self.avgpool = net.avgpool
        self.classifier = net.classifier
        self.head_name = head

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    @torch.jit.export
    def head(self, a: torch.Tensor) -> Dict[str, torch.Tensor]:
        v = torch.flatten(self.avgpool(self.pool(a)), 1)
        return {self.head_name: self.classifier(v)}

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return self.head(self.features(x))


class FeaturesClassifierContract(nn.Module):
    """torchvision nets shaped `features` → (ReLU) → global average pool → `classifier`."""

    def __init__(self, net: nn.Module, head: str, relu_after: bool):
        super().__init__()
        self.body = net.features
        self.classifier = net.classifier
        self.relu_after = relu_after
        self.head_name = head

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        a = self.body(x)
        if self.relu_after:
            a = torch.relu(a)
        return a

    @torch.jit.export
    def head(self, a: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {self.head_name: self.classifier(torch.flatten(a.mean(dim=(2, 3)), 1))}

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return self.head(self.features(x))


def build(arch: str, classes: int, head: str):
    ctor = getattr(torchvision.models, arch, None)
    if ctor is None:
        raise SystemExit("export_model.py: unknown --arch %s" % arch)
    net = ctor(num_classes=classes)
    if arch.startswith("resnet"):
        return net, ResNetContract(net, head), "layer4"
    if arch.startswith("vgg"):
        return net, VGGContract(net, head), "features.%d" % (len(net.features) - 2)
    if arch.startswith("densenet"):
        return net, FeaturesClassifierContract(net, head, relu_after=True), "features (+ final ReLU)"
    if arch.startswith("mobilenet") or arch.startswith("efficientnet"):
        if arch.startswith("mobilenet_v3"):
            raise SystemExit("export_model.py: mobilenet_v3 has a hidden layer before its classifier; use mobilenet_v2")
        return net, FeaturesClassifierContract(net, head, relu_after=False), "features"
    raise SystemExit("export_model.py: no contract wrapper for --arch %s" % arch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--out", required=True, help="output path without extension (writes OUT.pt and OUT.json)")
    ap.add_argument("--weights", help="state dict (.pth) of the torchvision model with --classes outputs")
    ap.add_argument("--classes", default="covid,pneumonia,healthy")
    ap.add_argument("--head", default="diagnosis")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    classes = [c for c in args.classes.split(",") if c]
    net, wrapped, layer = build(args.arch, len(classes), args.head)
    if args.weights:
        net.load_state_dict(torch.load(args.weights, map_location="cpu"))
    wrapped.eval()
    scripted = torch.jit.script(wrapped)
    # The wrapper must compute what the original network computes.
    with torch.no_grad():
        x = torch.randn(1, 3, args.size, args.size)
        diff = (scripted(x)[args.head] - net.eval()(x)).abs().max().item()
    if diff > 1e-4:
        raise SystemExit("export_model.py: wrapper differs from %s by %g" % (args.arch, diff))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    scripted.save(args.out + ".pt")
    pleura_map = {"covid": "COVID-19", "pneumonia": "bacterial pneumonia", "healthy": "healthy"}
    card = {
        "format": "pleura-model-card/1",
        "name": os.path.basename(args.out),
        "description": "torchvision %s wrapped by Scripts/export_model.py (%s)" %
                       (args.arch, "weights " + os.path.basename(args.weights) if args.weights else "random initialisation, seed %d: for tests only" % args.seed),
        "input": {"width": args.size, "height": args.size, "channels": 3, "colour": "RGB", "resize": "bilinear",
                  "scale": 1.0 / 255.0, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                  "layout": "NCHW float32; x = (pixel / 255 - mean) / std"},
        "gradcam_layer": layer,
        "heads": [{"name": args.head, "kind": "multiclass", "activation": "softmax", "classes": classes,
                   "pleura_labels": {"field": args.head, "map": {c: pleura_map.get(c, c) for c in classes}}}],
        "default_head": args.head,
        "training": {"script": "Scripts/export_model.py", "arch": args.arch, "weights": args.weights, "torch": torch.__version__},
        "metrics": {},
    }
    with open(args.out + ".json", "w") as f:
        json.dump(card, f, indent=1)
        f.write("\n")
    print("wrote %s.pt and %s.json (Grad-CAM layer %s, max |wrapper - %s| = %.2g)" % (args.out, args.out, layer, args.arch, diff))


if __name__ == "__main__":
    main()
