"""Dataset manifests: build, validate (``manifests/schema.json``), split, label, export.

Consumer API (training, metrics)::

    from styleinv_data.manifest import read_manifest
    m = read_manifest("data/ffs/manifest.jsonl")       # validated; m.root is the dataset root
    train = m.subset("train")
    for rec in train.records: rec.id, rec.path, rec.frame_count, rec.width, rec.height, rec.fps, rec.label

Builder API::

    from styleinv_data.manifest import BuildConfig, SplitConfig, build_manifest, write_manifest
    m = build_manifest("out/ffs", BuildConfig(split=SplitConfig(fractions={"train": 0.9, "val": 0.1})))
    write_manifest(m, "out/ffs/manifest.jsonl")
"""

from styleinv_data.manifest.build import BuildConfig, build_manifest
from styleinv_data.manifest.export import add_dataset_json_to_zip, write_dataset_json, write_parquet
from styleinv_data.manifest.io import check_manifest, read_manifest, write_manifest
from styleinv_data.manifest.records import CropStats, Manifest, ManifestHeader, SourceSpan, VideoRecord
from styleinv_data.manifest.schema import ManifestError, load_schema
from styleinv_data.manifest.splits import SplitConfig, parse_fractions
from styleinv_data.manifest.verify import VerifyReport, verify_manifest

__all__ = [
    "BuildConfig",
    "CropStats",
    "Manifest",
    "ManifestError",
    "ManifestHeader",
    "SourceSpan",
    "SplitConfig",
    "VerifyReport",
    "VideoRecord",
    "add_dataset_json_to_zip",
    "build_manifest",
    "check_manifest",
    "load_schema",
    "parse_fractions",
    "read_manifest",
    "verify_manifest",
    "write_dataset_json",
    "write_manifest",
    "write_parquet",
]
