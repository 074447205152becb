"""How far our modules, loaded with the StyleInV authors' weights, are from the golden outputs of
the authors' own modules (tests/fixtures/styleinv_authors/): max |Δ| / max |golden| per fixture and
output. The temporal style is measured twice: as imported (the authors' float32 phase order) and
with our default float64 phases. Prints a table and writes
benchmarks/results/authors_fixture_deltas.json. (The bounds are asserted by
tests/styleinv/test_authors_fixtures.py; this prints the values.)

    python benchmarks/authors_fixture_deltas.py
"""

from __future__ import annotations

import dataclasses
import json
import platform
from pathlib import Path

import numpy as np
import torch

from styleinv_model.styleinv.authors_weights import (
    encoder_config_from_authors,
    encoder_key_from_authors,
    temporal_style_from_authors,
    video_discriminator_from_authors,
)
from styleinv_model.styleinv.encoder import AdaINResBlock
from styleinv_model.styleinv.layers import EqualizedLinear
from styleinv_model.styleinv.temporal_style import TemporalStyle

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "styleinv_authors"
RESULTS = Path(__file__).parent / "results"


def _load(name: str):
    meta = json.loads((FIXTURES / "fixtures.json").read_text())["modules"][name]
    return meta, dict(np.load(FIXTURES / meta["weights_file"])), dict(np.load(FIXTURES / meta["io_file"]))


def _rel(ours: torch.Tensor, golden: np.ndarray) -> float:
    return float(np.abs(ours.detach().numpy() - golden).max() / np.abs(golden).max())


def main() -> None:
    rows: list[tuple[str, str, float]] = []
    meta, weights, io = _load("temporal_style")
    imported = temporal_style_from_authors(weights, meta["constructor"])
    float64 = TemporalStyle(dataclasses.replace(imported.config, phase_precision="float64"))
    float64.load_state_dict(imported.state_dict())
    with torch.no_grad():
        for label, module in (("float32 (as imported)", imported), ("float64 (our default)", float64)):
            for name in ("int16", "frac16", "span127", "long"):
                t = torch.from_numpy(io[f"{name}/t_idx"])
                batch, frames = t.shape
                codes = module.anchor_codes(torch.from_numpy(io[f"{name}/motion_z"]), 0)
                v = module.time_codes(t, codes, 0)
                s = module.styles_from_codes(torch.from_numpy(io["w0"]), v)
                rows.append((f"temporal style, {label}", f"{name} anchor codes", _rel(codes, io[f"{name}/anchor_u"])))
                rows.append((f"temporal style, {label}", f"{name} v_t",
                             _rel(v, io[f"{name}/v_t"].reshape(batch, frames, -1))))
                rows.append((f"temporal style, {label}", f"{name} s_t",
                             _rel(s, io[f"{name}/s_t"].reshape(frames, batch, -1).transpose(1, 0, 2))))
        meta, weights, io = _load("encoder")
        config = encoder_config_from_authors(meta["constructor"])
        for block, channels in ((0, 64), (1, 128)):
            prefix = f"adains.{block}."
            ours = AdaINResBlock(channels, config.style_dim, config.adain_lr_multiplier)
            ours.load_state_dict({encoder_key_from_authors(k, config)[len(prefix):]: torch.from_numpy(v)
                                  for k, v in weights.items() if k.startswith(prefix)})
            out = ours(torch.from_numpy(io[f"adains.{block}/x_in"]), torch.from_numpy(io["s"]))
            rows.append(("encoder", f"AdaIN block {block}", _rel(out, io[f"adains.{block}/x_out"])))
        head = EqualizedLinear(512, 512)
        head.load_state_dict({k[len("linear."):]: torch.from_numpy(v) for k, v in weights.items()
                              if k.startswith("linear.")})
        pooled = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(io["head/x_in"]), 1).flatten(1)
        rows.append(("encoder", "head delta_w", _rel(head(pooled), io["head/delta_w"])))
        for name in ("disc_sgv", "disc_ffc"):
            meta, weights, io = _load(name)
            disc = video_discriminator_from_authors(weights, meta["constructor"])
            frames = torch.from_numpy(io["img"]).reshape(2, 4, 3, 64, 64)
            t = torch.from_numpy(io["frames_idx"])
            rows.append((name, "cmap", _rel(disc.time_condition(t), io["cmap_t"])))
            rows.append((name, "logits", _rel(disc(frames, t), io["logits"])))
    width = max(len(a) for a, _, _ in rows)
    print(f"{'fixture':<{width}}  {'output':<22} max|Δ|/max|golden|")
    for fixture, output, value in rows:
        print(f"{fixture:<{width}}  {output:<22} {value:.3g}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "authors_fixture_deltas.json"
    out.write_text(json.dumps({"rows": [{"fixture": a, "output": b, "relative_max_abs_diff": c} for a, b, c in rows],
                               "machine": platform.platform(), "torch": torch.__version__}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
