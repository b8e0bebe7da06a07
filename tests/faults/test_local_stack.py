"""`musicstore up`: the flag file in the data directory, every flag off at the first start, named to every process."""

from __future__ import annotations

from pathlib import Path

from musicstore import local_config
from musicstore.common import flags
from musicstore.common.flags import ALL_OFF


def secrets() -> local_config.LocalSecrets:
    return local_config.LocalSecrets("k", "t", "d", "a", admin_password_generated=False)


def test_the_first_start_writes_the_flag_file_with_every_flag_off_and_later_starts_keep_it(data_dir: Path) -> None:
    path = local_config.flag_file(data_dir)
    assert path == data_dir / "flags.json" and flags.read_values(path) == ALL_OFF
    flags.set_value(path, "paymentFailure", 0.3)
    assert flags.read_values(local_config.flag_file(data_dir))["paymentFailure"] == 0.3


def test_every_process_of_the_stack_is_told_where_the_flag_file_is(data_dir: Path) -> None:
    env = local_config.local_env(data_dir, secrets(), None)
    assert env["FLAGS_FILE"] == str(data_dir / "flags.json")
