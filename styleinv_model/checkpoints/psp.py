"""pSp's released encoder checkpoints and the ArcFace IR-SE-50 trunk as our stage-2 encoder.

* ``psp_*.pt`` (eladrich/pixel2style2pixel): ``{"state_dict": ..., "opts": {...}, "latent_avg": ...}``,
  written by ``torch.save``; the encoder's tensors are ``encoder.*``. With
  ``encoder_type: BackboneEncoderUsingLastLayerIntoW`` (an encoder into W, as StyleInV's authors
  start from) the whole encoder converts: IR-SE trunk plus the ``linear`` head (pSp's
  ``EqualLinear``, the same equalised-lr scaling as ours). With ``GradualStyleEncoder`` (W+, the
  FFHQ release ``psp_ffhq_encode.pt``) the trunk converts; its per-layer style heads have no
  counterpart in an encoder into W, and our head keeps its initialisation.
* ``model_ir_se50.pth`` (TreB1eN's InsightFace ArcFace, which pSp's encoders start from): a plain
  state dict; its trunk converts (``output_layer.*``, the face-recognition head, is left out).

Files are read with ``torch.load(weights_only=True)``: tensors and plain containers only, no code.
The stage-3 encoder takes the converted trunk (``stage3.encoder_checkpoint``), so a user with
FFHQ-aligned faces can skip stage 2.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from styleinv_model.styleinv.authors_weights import AuthorsWeightsError, encoder_key_from_authors
from styleinv_model.styleinv.encoder import IR_SE_UNITS, EncoderConfig, InversionEncoder

TRUNK_PREFIXES = ("input_layer.", "body.")


@dataclass
class PspEncoder:
    """Our inversion encoder with what a pSp / ArcFace file gave it."""

    encoder: InversionEncoder
    source_format: str  # "psp IntoW", "psp GradualStyleEncoder", "arcface ir_se50"
    loaded: int  # tensors taken from the file
    notes: list[str] = field(default_factory=list)
    latent_avg: torch.Tensor | None = None


def read_torch_file(path: str | Path) -> Any:
    """``torch.load(weights_only=True)`` with one-line errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: check the path")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise pickle.UnpicklingError(f"{path}: refused by torch.load(weights_only=True): {first}") from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise pickle.UnpicklingError(f"{path} is not a readable torch checkpoint ({str(error).splitlines()[0]}); "
                                     "is the download complete?") from None


def _encoder_tensors(data: Any, path: Path) -> tuple[dict[str, torch.Tensor], str, dict[str, Any]]:
    """(the encoder's tensors under pSp's encoder names, the format, pSp's opts)."""
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        opts = data.get("opts") if isinstance(data.get("opts"), dict) else {}
        state = {k[len("encoder."):]: v for k, v in data["state_dict"].items() if k.startswith("encoder.")}
        if not state:
            raise AuthorsWeightsError(f"{path}: a pSp checkpoint without encoder.* tensors")
        kind = str(opts.get("encoder_type") or ("BackboneEncoderUsingLastLayerIntoW" if "linear.weight" in state
                                                 else "GradualStyleEncoder"))
        return state, f"psp {kind}", opts
    if isinstance(data, dict) and any(str(k).startswith("body.") for k in data):
        return {str(k): v for k, v in data.items()}, "arcface ir_se50", {}
    raise AuthorsWeightsError(f"{path}: neither a pSp checkpoint (a dict with state_dict and opts) nor an IR-SE "
                              "state dict (input_layer.* / body.*)")


def inversion_encoder_from_psp(path: str | Path, **overrides: Any) -> PspEncoder:
    """Our stage-2 :class:`InversionEncoder` from a pSp checkpoint or ``model_ir_se50.pth``."""
    path = Path(path)
    data = read_torch_file(path)
    state, source_format, opts = _encoder_tensors(data, path)
    units = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("body."))
    depth = next((d for d, per_stage in IR_SE_UNITS.items() if sum(per_stage) == units), None)
    if depth is None:
        raise AuthorsWeightsError(f"{path}: a trunk of {units} units is no IR-SE-50/100/152")
    if not any(".res_layer.5.fc1." in k for k in state):
        raise AuthorsWeightsError(f"{path}: an IR trunk without squeeze-excitation (pSp mode 'ir'); only 'ir_se' "
                                  "converts")
    config = EncoderConfig.ir_se(depth, **{"input_resolution": 256, **overrides})
    encoder = InversionEncoder(config)
    ours = encoder.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    notes: list[str] = []
    for key, value in state.items():
        if key.startswith(TRUNK_PREFIXES) or (key.startswith("linear.") and source_format.endswith("IntoW")):
            name = encoder_key_from_authors(key, config)
            if name not in ours or tuple(ours[name].shape) != tuple(value.shape):
                raise AuthorsWeightsError(f"{path}: tensor {key} {tuple(value.shape)} does not fit ours "
                                          f"({name}: {tuple(ours[name].shape) if name in ours else 'absent'})")
            mapped[name] = value.to(ours[name].dtype)
    missing_trunk = sorted(k for k in ours if k.startswith(("input_layer.", "stages.")) and k not in mapped)
    if missing_trunk:
        raise AuthorsWeightsError(f"{path}: the trunk lacks {len(missing_trunk)} tensors, e.g. {missing_trunk[:2]}")
    if "output_fc.weight" not in mapped:
        notes.append(f"{source_format}: no head into W in the file; the encoder's output layer keeps its "
                     "initialisation (stage 3 takes the trunk only)")
    if opts.get("start_from_latent_avg") is False:
        notes.append("pSp trained this encoder without start_from_latent_avg: its outputs are absolute W codes, "
                     "ours are offsets from G's w_avg")
    encoder.load_state_dict({**ours, **mapped})
    latent_avg = data.get("latent_avg") if isinstance(data, dict) else None
    return PspEncoder(encoder.eval(), source_format, len(mapped), notes,
                      latent_avg if isinstance(latent_avg, torch.Tensor) else None)


def convert_psp(path: str | Path, output_path: str | Path) -> Path:
    """Write the encoder of a pSp / ArcFace file as our checkpoint (module ``encoder``), which
    ``stage3.encoder_checkpoint`` takes."""
    from styleinv_model.checkpoints.safetensors_io import save_checkpoint

    converted = inversion_encoder_from_psp(path)
    return save_checkpoint(output_path, {"encoder": converted.encoder},
                           config={"source": Path(path).name, "source_format": converted.source_format,
                                   "tensors_loaded": converted.loaded, "notes": converted.notes})
