"""Convert an official StyleGAN2-ADA pickle to our safetensors + JSON checkpoint.

    python -m styleinv_model.checkpoints.convert network-snapshot-025000.pkl ffs256.safetensors
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

from styleinv_model.checkpoints.sg2ada_pickle import convert_sg2ada_pickle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert a StyleGAN2-ADA .pkl to a .safetensors checkpoint "
                                                 "(never executes code from the pickle).")
    parser.add_argument("pickle_path", type=Path)
    parser.add_argument("output_path", type=Path)
    args = parser.parse_args(argv)
    try:
        out = convert_sg2ada_pickle(args.pickle_path, args.output_path)
    except (OSError, ValueError, pickle.UnpicklingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
