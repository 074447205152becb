"""``styleinv-convert``: foreign checkpoints to ours (safetensors + JSON), never running code from them.

    styleinv-convert network-snapshot-025000.pkl ffs256.safetensors         # StyleGAN2-ADA pickle
    styleinv-convert styleinv-ffs-snapshot.pkl ffs_styleinv.safetensors     # the StyleInV authors' snapshot
    styleinv-convert psp_ffhq_encode.pt psp_encoder.safetensors             # pSp encoder (or model_ir_se50.pth)

(``python -m styleinv_model.checkpoints.convert`` is the same command.)
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

KINDS = ("auto", "stylegan2-ada", "styleinv", "psp")


def detect_kind(path: Path) -> tuple[str, dict | None]:
    """(kind, the pickle's top-level dict or None): ``styleinv`` for a pickle holding SI / SI_ema,
    ``stylegan2-ada`` for another pickle, ``psp`` for a torch file (.pt / .pth: pSp checkpoints,
    model_ir_se50.pth). A pickle is read once, by the allow-list unpickler of both pickle kinds."""
    if path.suffix.lower() in (".pt", ".pth"):
        return "psp", None
    from styleinv_model.checkpoints.authors_snapshot import AuthorsSnapshotUnpickler

    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: check the path")
    with path.open("rb") as handle:
        try:
            data = AuthorsSnapshotUnpickler(handle).load()
        except Exception:  # noqa: BLE001  (read again below by the StyleGAN2-ADA reader, which says why)
            return "stylegan2-ada", None
    if not isinstance(data, dict):
        return "stylegan2-ada", None
    return ("styleinv" if "SI" in data or "SI_ema" in data else "stylegan2-ada"), data


def convert(input_path: Path, output_path: Path, kind: str = "auto") -> tuple[Path, str]:
    """Convert one file; returns (the written checkpoint, the kind it was read as)."""
    data = None
    if kind == "auto":
        kind, data = detect_kind(input_path)
    if kind == "stylegan2-ada":
        from styleinv_model.checkpoints.sg2ada_pickle import convert_sg2ada_pickle

        return convert_sg2ada_pickle(input_path, output_path, data), kind
    if kind == "styleinv":
        from styleinv_model.checkpoints.authors_snapshot import convert_authors_snapshot

        return convert_authors_snapshot(input_path, output_path, data), kind
    if kind == "psp":
        from styleinv_model.checkpoints.psp import convert_psp

        return convert_psp(input_path, output_path), kind
    raise ValueError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="styleinv-convert",
        description="Convert a StyleGAN2-ADA .pkl, a StyleInV authors' training snapshot (.pkl) or a pSp / "
                    "ArcFace IR-SE encoder (.pt / .pth) to our .safetensors checkpoint (+ .json). Pickles are "
                    "read by an allow-list unpickler and torch files with weights_only=True: nothing in the file "
                    "is executed.",
        epilog="Use the output with: styleinv-train stage1/2/3 --generator (StyleGAN2-ADA), styleinv-generate "
               "--checkpoint (StyleInV snapshot), stage3.encoder_checkpoint (pSp encoder).")
    parser.add_argument("input_path", type=Path, help="the file to convert")
    parser.add_argument("output_path", type=Path, help="where to write the .safetensors checkpoint")
    parser.add_argument("--kind", choices=KINDS, default="auto",
                        help="what the input is (default: from its suffix and contents)")
    args = parser.parse_args(argv)
    try:
        out, kind = convert(args.input_path, args.output_path, args.kind)
    except (OSError, ValueError, pickle.UnpicklingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"read {args.input_path} as {kind}; wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
