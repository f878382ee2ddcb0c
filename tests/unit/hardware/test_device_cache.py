"""The device cache: a profile rebuilt from cached validated values equals a freshly validated one (every
shipped profile); a second load hits without validating; a changed file or changed rules miss; invalid
files are never stored (their errors still come from the schema); a damaged entry is ignored; ``off``
writes nothing."""

from __future__ import annotations

import copy
import marshal
import re
from pathlib import Path

import pytest

from hwsim.errors import DeviceProfileError
from hwsim.hardware import device_cache, list_devices, load_device, loader


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(device_cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "devices"


@pytest.mark.parametrize("name", list_devices())
def test_profile_from_cached_values_equals_the_validated_one(name: str) -> None:
    path = loader.device_path(name)
    raw = loader.read_raw(path)
    model = loader.validate(copy.deepcopy(raw), str(path))
    fresh = loader.build(model, name=name, source=str(path), raw=raw)
    values = marshal.loads(marshal.dumps(model.model_dump()))  # what an entry holds
    cached = loader.build(device_cache.Validated(values), name=name, source=str(path), raw=raw)
    assert cached == fresh and repr(cached) == repr(fresh) and dict(cached.raw) == dict(fresh.raw)


def _device_file(tmp_path: Path, clock: str = "1 GHz") -> Path:
    text = loader.device_path("systolic-32x32").read_text()
    path = tmp_path / "dev.yaml"
    path.write_text(re.sub(r"(?m)^clock:.*$", f"clock: {clock}", text, count=1))
    return path


def test_second_load_hits_and_a_changed_file_or_rule_misses(tmp_path, cache, monkeypatch) -> None:
    path = _device_file(tmp_path)
    first = load_device(str(path))
    assert len(list(cache.glob("*.marshal"))) == 1

    def no_validation(*a, **k):
        raise AssertionError("validated although cached")

    monkeypatch.setattr(loader, "validate", no_validation)
    assert load_device(str(path)) == first  # served from the cache
    original = path.read_text()
    path.write_text(original.replace("clock: 1 GHz", "clock: 2 GHz"))
    with pytest.raises(AssertionError, match="validated although cached"):
        load_device(str(path))  # new bytes: a miss
    path.write_text(original)
    monkeypatch.setattr(device_cache, "_fingerprint", b"other rules")
    with pytest.raises(AssertionError, match="validated although cached"):
        load_device(str(path))  # same bytes, other validation rules: a miss
    assert len(list(cache.glob("*.marshal"))) == 1


def test_invalid_file_is_not_stored_and_explains_through_the_schema(tmp_path, cache) -> None:
    path = _device_file(tmp_path, clock="'fast'")
    for _ in range(2):
        with pytest.raises(DeviceProfileError, match="clock"):
            load_device(str(path))
    assert not cache.exists() or not list(cache.glob("*.marshal"))


def test_damaged_entry_is_ignored(tmp_path, cache) -> None:
    path = _device_file(tmp_path)
    first = load_device(str(path))
    for entry in cache.glob("*.marshal"):
        entry.write_bytes(b"\x00damaged")
    assert load_device(str(path)) == first


def test_overrides_bypass_the_cache(tmp_path, cache) -> None:
    path = _device_file(tmp_path)
    assert load_device(str(path), {"clock": "3 GHz"}).clock_hz == 3e9
    assert not cache.exists() or not list(cache.glob("*.marshal"))


def test_off_writes_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(device_cache.CACHE_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    load_device(str(_device_file(tmp_path)))
    assert not (tmp_path / "xdg").exists() and not (tmp_path / "home").exists()


def test_fingerprint_follows_the_shared_software_models(tmp_path, monkeypatch) -> None:
    shared = tmp_path / "software_models.yaml"
    shared.write_text(device_cache._DATA[0].read_text())
    monkeypatch.setattr(device_cache, "_DATA", (shared,))
    monkeypatch.setattr(device_cache, "_fingerprint", None)
    before = device_cache.fingerprint()
    shared.write_text(shared.read_text() + "\n# edited\n")
    monkeypatch.setattr(device_cache, "_fingerprint", None)
    assert device_cache.fingerprint() != before
