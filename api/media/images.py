"""Photo bytes in, safe photo bytes out: type detection, validation, metadata stripping, thumbnails.

The type is decided by the file's first bytes (magic numbers), never by its name or declared content
type, and Pillow must then decode the whole image as that format: a renamed `.exe`, a text file, a
truncated or corrupt image and a decompression bomb are all refused here. What is stored is a re-encoding
of the decoded pixels, turned upright by the EXIF orientation and carrying no EXIF, GPS, XMP or comments
(only the ICC colour profile, and PNG transparency, are kept): the raw upload is never served.

HEIC is not accepted: Pillow cannot decode it without a plugin (pillow-heif, libheif), and WeChat's
`wx.chooseMedia` already hands the mini-program JPEG on iPhones.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# A 48-megapixel phone photo passes; a 20 000 × 20 000 "photo" that would take over a gigabyte of memory to
# decode does not. Pillow itself refuses anything above twice this before decoding (DecompressionBombError).
MAX_PIXELS = 50_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

THUMBNAIL_EDGE = 400
JPEG_QUALITY = 90
THUMBNAIL_QUALITY = 80


@dataclass(frozen=True)
class ImageFormat:
    pillow: str
    content_type: str
    extension: str


JPEG = ImageFormat("JPEG", "image/jpeg", "jpg")
PNG = ImageFormat("PNG", "image/png", "png")
WEBP = ImageFormat("WEBP", "image/webp", "webp")
ACCEPTED = (JPEG, PNG, WEBP)
ACCEPTED_CONTENT_TYPES = tuple(f.content_type for f in ACCEPTED)
BY_CONTENT_TYPE = {f.content_type: f for f in ACCEPTED}


class ImageRejected(Exception):
    """The bytes are not a photo we accept. `code` is an api.errors code; `params` fill its message."""

    def __init__(self, code: str, detail: str, **params: int) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.params = params


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    format: ImageFormat
    width: int
    height: int


def sniff(head: bytes) -> ImageFormat | None:
    """The accepted format these leading bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def _not_an_image(detail: str) -> ImageRejected:
    return ImageRejected("media_type_not_allowed", detail)


def _decode(data: bytes, fmt: ImageFormat) -> Image.Image:
    """Open and fully decode `data` as `fmt`, or raise ImageRejected."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt.pillow]) as probe:
                _check_pixels(probe.size)
                probe.verify()  # structure and checksums (PNG CRCs); the image is unusable afterwards
            image = Image.open(io.BytesIO(data), formats=[fmt.pillow])
            image.load()  # every pixel: a truncated file fails here
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("media_too_many_pixels", str(exc), megapixels=MAX_PIXELS // 1_000_000) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("media_corrupt", f"not a readable {fmt.pillow} image") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError, MemoryError) as exc:
        # Pillow's plugins report damage with a variety of exceptions.
        raise ImageRejected("media_corrupt", f"damaged {fmt.pillow} image: {exc}") from exc
    return image


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageRejected("media_corrupt", "an image without pixels")
    if width * height > MAX_PIXELS:
        raise ImageRejected("media_too_many_pixels", f"{width}×{height} pixels", megapixels=MAX_PIXELS // 1_000_000)


def _upright(image: Image.Image) -> Image.Image:
    """The first frame, turned the way the camera was held (EXIF orientation applied), in place: a
    48-megapixel photo is 150 MB decoded, and copies of it add up."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    # An unreadable EXIF block: keep the pixels as they are (the block is dropped anyway).
    with contextlib.suppress(OSError, ValueError, SyntaxError, TypeError, KeyError, IndexError):
        ImageOps.exif_transpose(image, in_place=True)
    return image


_OTHER_COLOUR_SPACES = frozenset({"CMYK", "LAB", "YCbCr", "HSV"})


def _without_metadata(image: Image.Image, fmt: ImageFormat) -> tuple[Image.Image, dict[str, object]]:
    """The image holding nothing but pixels (and palette), plus the save options that keep colour right."""
    keep: dict[str, object] = {}
    source_mode = image.mode
    icc = image.info.get("icc_profile")
    if fmt is JPEG:
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
    elif fmt is WEBP:
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    elif image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        image = image.convert("RGBA")
    if icc and (image.mode == source_mode or source_mode not in _OTHER_COLOUR_SPACES):
        keep["icc_profile"] = icc  # a CMYK or Lab profile would misdescribe pixels converted to RGB
    transparency = image.info.get("transparency") if fmt is PNG else None
    if transparency is not None:
        keep["transparency"] = transparency
    image.info = {}  # EXIF, XMP, comments, text chunks: nothing of it is written
    return image, keep


def sanitise(data: bytes) -> CleanImage:
    """Validate `data` as a JPEG, PNG or WebP photo and re-encode it upright, without metadata.

    Raises ImageRejected (code `media_type_not_allowed`, `media_corrupt` or `media_too_many_pixels`).
    """
    fmt = sniff(data[:16])
    if fmt is None:
        raise _not_an_image("the file does not start like a JPEG, PNG or WebP image")
    out = io.BytesIO()
    with _decode(data, fmt) as decoded:
        clean, options = _without_metadata(_upright(decoded), fmt)
        if fmt is JPEG:
            clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, exif=b"", **options)
        elif fmt is PNG:
            clean.save(out, "PNG", **options)
        else:
            clean.save(out, "WEBP", quality=JPEG_QUALITY, exif=b"", xmp=b"", **options)
        return CleanImage(out.getvalue(), fmt, clean.width, clean.height)


def thumbnail(data: bytes, edge: int = THUMBNAIL_EDGE) -> bytes:
    """A JPEG at most `edge` pixels on its longer side, from an already sanitised image."""
    with Image.open(io.BytesIO(data)) as image:
        icc = image.info.get("icc_profile")
        image.thumbnail((edge, edge), Image.Resampling.LANCZOS)  # decodes a JPEG at a reduced scale
        small = image
        if small.mode in ("RGBA", "LA") or (small.mode == "P" and small.has_transparency_data):
            rgba = small.convert("RGBA")
            small = Image.new("RGB", rgba.size, (255, 255, 255))
            small.paste(rgba, mask=rgba.getchannel("A"))
        elif small.mode not in ("RGB", "L"):
            small = small.convert("RGB")
        small.info = {}
        out = io.BytesIO()
        options: dict[str, object] = {"icc_profile": icc} if icc else {}
        small.save(out, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True, **options)
        return out.getvalue()
