"""Checkpoints: safetensors + JSON config; safe import of StyleGAN2-ADA pickles."""

from styleinv_model.checkpoints.networks import load_generator, load_networks
from styleinv_model.checkpoints.safetensors_io import Checkpoint, load_checkpoint, save_checkpoint
from styleinv_model.checkpoints.sg2ada_pickle import (PersistentRecord, RestrictedUnpickler, UnsafePickleError,
                                                      convert_sg2ada_pickle, import_sg2ada_pickle,
                                                      read_sg2ada_pickle)

__all__ = [
    "Checkpoint", "PersistentRecord", "RestrictedUnpickler", "UnsafePickleError", "convert_sg2ada_pickle",
    "import_sg2ada_pickle", "load_checkpoint", "load_generator", "load_networks", "read_sg2ada_pickle",
    "save_checkpoint",
]
