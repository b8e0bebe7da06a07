"""The demo catalog a first start seeds: idempotent, never destructive."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from musicstore.store.covers import generate_cover
from musicstore.store.models import Album, StoreMeta

# Invented titles and artists: a realistic shop without anybody's real catalog.
DEMO_ALBUMS: list[tuple[str, str, str, int]] = [
    ("Midnight Static", "The Velvet Circuits", "Rock", 2019),
    ("Paper Lanterns", "Ada Wren", "Folk", 2021),
    ("Blue Hour Sessions", "Marcus Lowe Trio", "Jazz", 2017),
    ("Neon Tides", "Solar Drift", "Electronic", 2022),
    ("Concrete Psalms", "MC Verse", "Hip-Hop", 2020),
    ("Sonata for a Quiet City", "Elena Marchetti", "Classical", 2015),
    ("Dust Road Hymns", "Cole Harlan", "Country", 2018),
    ("Slow Burn", "Nia Okafor", "Soul", 2023),
    ("Glass Houses", "The Lanterns", "Indie", 2016),
    ("Iron Meridian", "Vanta Crown", "Metal", 2021),
    ("Coastline FM", "Palm Avenue", "Pop", 2024),
    ("Kingston Sunrise", "Roots Collective", "Reggae", 2014),
    ("Static Bloom", "Hollow Pines", "Rock", 2023),
    ("Harbour Lights", "Ada Wren", "Folk", 2018),
    ("Take the Long Way", "Marcus Lowe Trio", "Jazz", 2020),
    ("Pulse Theory", "Solar Drift", "Electronic", 2019),
    ("Block Letters", "MC Verse", "Hip-Hop", 2023),
    ("Nocturnes Reimagined", "Elena Marchetti", "Classical", 2019),
    ("Gravel and Grace", "Cole Harlan", "Country", 2021),
    ("Velvet Sundays", "Nia Okafor", "Soul", 2020),
    ("Small Victories", "The Lanterns", "Indie", 2020),
    ("Forge of Ages", "Vanta Crown", "Metal", 2018),
    ("Summer Reruns", "Palm Avenue", "Pop", 2021),
    ("One Love Dub", "Roots Collective", "Reggae", 2017),
    ("Radio Ghosts", "The Velvet Circuits", "Rock", 2015),
    ("Winter Almanac", "Finch & Farrow", "Folk", 2022),
    ("Modal Weather", "Ines Duarte Quartet", "Jazz", 2021),
    ("Afterglow Protocol", "Kairo", "Electronic", 2024),
    ("Rooftop Ciphers", "Lyric Union", "Hip-Hop", 2018),
    ("Strings in Motion", "Aurora Chamber Ensemble", "Classical", 2022),
    ("Highway Prayers", "Dolly Mae Rivers", "Country", 2016),
    ("Honey and Smoke", "The Sable Horns", "Soul", 2018),
    ("Postcards from Nowhere", "Kite Theory", "Indie", 2024),
    ("Thunder Liturgy", "Black Basalt", "Metal", 2023),
    ("Heartbeat Arcade", "Luma", "Pop", 2023),
    ("Island Frequencies", "Selector Jah Mel", "Reggae", 2021),
    ("Electric Orchard", "Hollow Pines", "Rock", 2020),
    ("Tidewater Songs", "Finch & Farrow", "Folk", 2019),
    ("Late Set at the Blue Door", "Ines Duarte Quartet", "Jazz", 2016),
    ("Signal / Noise", "Kairo", "Electronic", 2020),
    ("Northside Stories", "Lyric Union", "Hip-Hop", 2022),
    ("Baroque Echoes", "Aurora Chamber Ensemble", "Classical", 2018),
    ("Porch Light", "Dolly Mae Rivers", "Country", 2023),
    ("Golden Hour Groove", "The Sable Horns", "Soul", 2022),
    ("Fever Dream Club", "Kite Theory", "Indie", 2021),
    ("Cathedral of Noise", "Black Basalt", "Metal", 2019),
    ("Glitter Static", "Luma", "Pop", 2020),
    ("Riddim Republic", "Selector Jah Mel", "Reggae", 2024),
    ("Amplifier Weather", "The Velvet Circuits", "Rock", 2022),
    ("Fault Lines", "Hollow Pines", "Rock", 2017),
    ("Open Road Overdrive", "Cinder Kings", "Rock", 2024),
    ("Sunday Standards", "Marcus Lowe Trio", "Jazz", 2023),
    ("Night Bus Ballads", "Ines Duarte Quartet", "Jazz", 2019),
    ("Satellite Hearts", "Luma", "Pop", 2024),
    ("Bubblegum Horizon", "Palm Avenue", "Pop", 2019),
    ("Low Orbit", "Kairo", "Electronic", 2022),
    ("Machine Lullabies", "Solar Drift", "Electronic", 2016),
    ("Second Verse", "Lyric Union", "Hip-Hop", 2024),
]


def _price(index: int) -> Decimal:
    return [Decimal("9.99"), Decimal("12.99"), Decimal("14.99"), Decimal("17.49"), Decimal("19.99")][index % 5]


def _stock(index: int) -> int:
    # A few sold out and a few nearly gone, so every stock state shows on the first pages.
    return [25, 12, 0, 2, 40, 8, 1, 30, 15, 5][index % 10]


SEED_MARK = "demo_catalog_seeded"


def seed_catalog(session: Session, covers_dir: Path) -> int:
    """Add the demo albums once per database; return how many were added (0 when already done)."""
    if session.get(StoreMeta, SEED_MARK) is not None:
        return 0
    try:
        with session.begin_nested():
            session.add(StoreMeta(key=SEED_MARK, value=datetime.now(UTC).isoformat()))
    except IntegrityError:
        return 0  # another process is seeding right now
    if session.scalar(select(func.count(Album.id))):
        return 0  # a catalog that already has albums is left as it is
    for index, (title, artist, genre, year) in enumerate(DEMO_ALBUMS):
        session.add(
            Album(
                title=title,
                artist=artist,
                genre=genre,
                year=year,
                price=_price(index),
                stock=_stock(index),
                cover=generate_cover(title, artist, covers_dir),
            )
        )
    return len(DEMO_ALBUMS)
