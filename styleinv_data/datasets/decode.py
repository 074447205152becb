"""Image bytes -> uint8 RGB pixels (grayscale and RGBA are converted, never refused).

Decoders, fastest first, each used when it imports:

* JPEG: ``simplejpeg`` (libjpeg-turbo, decodes straight into a caller's buffer, no extra copy),
  then ``torchvision.io.decode_jpeg``, then PIL;
* PNG: ``torchvision.io.decode_png``, then PIL.

libjpeg-turbo's default (accurate integer DCT, fancy upsampling) is used by all three, so the
pixels do not depend on which one ran. Tensors come back as ``[3, H, W]`` *views* of ``H x W x 3``
memory (PyTorch's channels-last strides): call ``.contiguous()`` if a consumer needs CHW memory.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from PIL import Image

from styleinv_data.manifest.schema import ManifestError

try:
    import simplejpeg

    HAVE_SIMPLEJPEG = True
except ImportError:  # pragma: no cover - exercised only without simplejpeg
    HAVE_SIMPLEJPEG = False

try:  # torchvision is an optional dependency ("train" extra)
    from torchvision.io import ImageReadMode, decode_jpeg, decode_png

    HAVE_TORCHVISION = True
except Exception:  # pragma: no cover - exercised only without torchvision
    HAVE_TORCHVISION = False

# torchvision 0.29 deprecates its image codecs in favour of torchcodec; they still work (when they
# are removed, the import above fails and PIL takes over).
_TV_DEPRECATION = "The image decoding and encoding capabilities of TorchVision"


def _bad(where: str, e: Exception) -> ManifestError:
    return ManifestError(f"{where}: cannot decode the image ({e}); re-run the crop of this video")


def decode_with_pil(data: bytes, where: str) -> np.ndarray:
    """``H x W x 3`` uint8 via PIL."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.array(im.convert("RGB"))
    except Exception as e:
        raise _bad(where, e) from e


def is_jpeg_ext(ext: str) -> bool:
    """``.jpg`` (the crop's), or ``.jpeg`` / upper case as other datasets name their frames."""
    return ext == ".jpg" or ext.lower() in (".jpg", ".jpeg")


def decode_hwc(data: bytes, ext: str, where: str) -> np.ndarray:
    """Decode one frame file to an ``H x W x 3`` uint8 array; ``where`` names it in errors."""
    is_jpeg = is_jpeg_ext(ext)
    if is_jpeg and HAVE_SIMPLEJPEG:
        try:
            return simplejpeg.decode_jpeg(data, colorspace="RGB")
        except ValueError as e:
            raise _bad(where, e) from e
    if HAVE_TORCHVISION:
        buf = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=_TV_DEPRECATION, category=DeprecationWarning)
                chw = (decode_jpeg if is_jpeg else decode_png)(buf, mode=ImageReadMode.RGB)
        except RuntimeError as e:
            raise _bad(where, e) from e
        return chw.permute(1, 2, 0).numpy()
    return decode_with_pil(data, where)


def decode_into(data: bytes, ext: str, out_hwc: np.ndarray, where: str, mirror: bool = False) -> None:
    """Decode into ``out_hwc`` (``H x W x 3`` uint8, e.g. a slice of a shared batch buffer),
    mirrored horizontally when asked; a size other than ``out_hwc``'s is a clear error."""
    h, w = out_hwc.shape[:2]
    if is_jpeg_ext(ext) and HAVE_SIMPLEJPEG and not mirror and out_hwc.flags.c_contiguous:
        try:
            fh, fw = simplejpeg.decode_jpeg_header(data)[:2]
        except ValueError as e:
            raise _bad(where, e) from e
        if (fh, fw) != (h, w):
            raise _size_error(where, fw, fh, w, h)
        try:
            simplejpeg.decode_jpeg(data, colorspace="RGB", buffer=out_hwc)
        except ValueError as e:
            raise _bad(where, e) from e
        return
    img = decode_hwc(data, ext, where)
    if img.shape[:2] != (h, w):
        raise _size_error(where, img.shape[1], img.shape[0], w, h)
    out_hwc[...] = img[:, ::-1] if mirror else img


def _size_error(where: str, fw: int, fh: int, w: int, h: int) -> ManifestError:
    return ManifestError(
        f"{where}: frame is {fw}x{fh} but the manifest says {w}x{h}; the manifest does not match the dataset, rebuild it"
    )


def decode_image(data: bytes, ext: str, where: str) -> torch.Tensor:
    """One frame file -> uint8 ``[3, H, W]`` (a channels-last view)."""
    return torch.from_numpy(np.ascontiguousarray(decode_hwc(data, ext, where))).permute(2, 0, 1)
