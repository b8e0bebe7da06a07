"""Cover images: uploads proven to be images by decoding them, and generated covers."""

from __future__ import annotations

import colorsys
import hashlib
import io
import secrets
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# Pillow (some 10 MB in each worker) is imported when a cover is uploaded or drawn, not by every process that
# serves the catalog: covers are made at seeding and by the admin, rarely.

ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "png", "WEBP": "png"}
MAX_SIDE = 800
MAX_PIXELS = 40_000_000
COVER_SIZE = 400


class InvalidCover(ValueError):
    """The upload is not an image we accept."""


def save_upload(stream: IO[bytes], covers_dir: Path, max_bytes: int) -> str:
    """Decode an upload with Pillow, re-encode it under a random name and return that name."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InvalidCover(f"the cover is larger than {max_bytes // 1024} KiB")
    if not data:
        raise InvalidCover("the cover file is empty")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ALLOWED_FORMATS:
                raise InvalidCover("the cover must be a JPEG, PNG, GIF or WebP image")
            if probe.width * probe.height > MAX_PIXELS:
                raise InvalidCover("the cover has too many pixels")
            probe.verify()
        with Image.open(io.BytesIO(data)) as decoded:
            decoded.load()
            fmt = decoded.format or "PNG"
            image = decoded.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise InvalidCover("the cover has too many pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InvalidCover("the cover is not a readable image") from exc
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return _store(image, covers_dir, ALLOWED_FORMATS[fmt])


def generate_cover(title: str, artist: str, covers_dir: Path) -> str:
    """Draw a cover from the title and artist (no copyrighted artwork) and return its file name."""
    from PIL import Image, ImageDraw, ImageFont

    digest = hashlib.sha256(f"{title}\0{artist}".encode()).digest()
    hue = digest[0] / 255
    top = _rgb(hue, 0.55, 0.45)
    bottom = _rgb((hue + 0.12) % 1, 0.6, 0.22)
    image = Image.new("RGB", (COVER_SIZE, COVER_SIZE), top)
    draw = ImageDraw.Draw(image)
    for y in range(COVER_SIZE):
        t = y / COVER_SIZE
        draw.line([(0, y), (COVER_SIZE, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    for i in range(3):
        r = 40 + digest[i + 1] % 120
        cx, cy = 60 + digest[i + 4] % 280, 40 + digest[i + 7] % 200
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(255, 255, 255), width=2)
    draw.text((24, 270), _fit(title, 22), fill=(255, 255, 255), font=ImageFont.load_default(size=30))
    draw.text((24, 318), _fit(artist, 30), fill=(230, 230, 240), font=ImageFont.load_default(size=22))
    return _store(image, covers_dir, "png")


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h, s, v + 0.3)
    return int(r * 255), int(g * 255), int(b * 255)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _store(image: Image.Image, covers_dir: Path, ext: str) -> str:
    covers_dir.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{ext}"
    image.save(covers_dir / name, format="JPEG" if ext == "jpg" else "PNG", optimize=True)
    return name


def delete_cover(name: str | None, covers_dir: Path) -> None:
    """Remove a cover file, if it is one of ours."""
    if name and "/" not in name and not name.startswith("."):
        (covers_dir / name).unlink(missing_ok=True)
