"""The names of a crop output folder's parts: the contract between the crop step (which writes
them) and the manifest (which reads them). See docs/architecture.md, "Crop output layout".

``OUT/frames/<out_id>/000000.jpg``  layout ``frames``: the clips, in a folder of their own, so that
                                    ``OUT/frames`` is a dataset root StyleGAN-V and StyleGAN2-ADA read
``OUT/frames.zip``                  layout ``zip``: the same tree (``frames/<out_id>/...``) in one zip
``OUT/<out_id>.mp4``                layout ``mp4``
``OUT/_meta/``                      the crop's sidecars (status, plan, recipe, locks, partial outputs),
                                    outside the dataset root of the frames and zip layouts
"""

from __future__ import annotations

META_DIR = "_meta"
FRAMES_FOLDER = "frames"  # the frames layout's dataset root inside OUT, and the zip's top folder
ZIP_CONTAINER = "frames.zip"
