"""requirements.lock against pyproject.toml: the README installs the lock and then hrmtrain with --no-deps, so
a requirement the lock misses, or pins outside its range, would reach a user as an ImportError. These checks
catch it in the default suite (the cure is `scripts/lock`)."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from helpers import ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def parse_lock(text: str) -> tuple[dict[str, Version], dict[str, int]]:
    """{name: version} and {name: number of hashes} of a pip requirements file written by uv with hashes."""
    pins: dict[str, Version] = {}
    hashes: dict[str, int] = {}
    current = None
    for line in text.splitlines():
        m = PIN.match(line)
        if m:
            current = canonicalize_name(m.group(1))
            pins[current] = Version(m.group(2))
            hashes[current] = 0
        elif current and line.strip().startswith("--hash=sha256:"):
            hashes[current] += 1
    return pins, hashes


def requirements(extras: tuple[str, ...] = ("dev",)) -> list[Requirement]:
    """pyproject's base requirements and those of `extras`, following self-references like hrmtrain[nvfp4]."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = [Requirement(r) for r in project["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for r in map(Requirement, project["optional-dependencies"][extra]):
            if canonicalize_name(r.name) == canonicalize_name(project["name"]):
                todo.extend(r.extras)
            else:
                out.append(r)
    return out


def unmet(reqs: list[Requirement], pins: dict[str, Version]) -> list[str]:
    problems = []
    for r in reqs:
        if r.marker is not None and not r.marker.evaluate({"extra": "dev"}):
            continue
        have = pins.get(canonicalize_name(r.name))
        if have is None:
            problems.append(f"{r}: not in the lock")
        elif not r.specifier.contains(have, prereleases=True):
            problems.append(f"{r}: the lock pins {have}")
    return problems


@pytest.fixture(scope="module")
def lock():
    return parse_lock((ROOT / "requirements.lock").read_text())


def test_the_lock_covers_every_requirement_of_pyproject_within_its_range(lock):
    pins, _ = lock
    assert unmet(requirements(), pins) == []


def test_the_check_notices_a_missing_or_out_of_range_package(lock):
    pins, _ = lock
    assert unmet([Requirement("no-such-package-xyz>=1")], pins) == ["no-such-package-xyz>=1: not in the lock"]
    st = pins["sentence-transformers"]
    assert unmet([Requirement(f"sentence-transformers>{st}")], pins) == [
        f"sentence-transformers>{st}: the lock pins {st}"]


def test_every_pin_carries_a_hash(lock):
    pins, hashes = lock
    assert len(pins) > 100
    assert [n for n, k in hashes.items() if k == 0] == []


def test_torch_is_the_cpu_build_and_no_cuda_library_is_pulled(lock):
    pins, _ = lock
    assert pins["torch"].local == "cpu" and pins["torch"].base_version == "2.13.0"
    cuda = [n for n in pins if n.startswith("cuda-") or re.match(r"nvidia-.*(cu\d+|cublas|cudnn|nccl|cusparse|"
                                                                r"cufft|curand|cusolver|nvjitlink|nvtx)", n)]
    assert cuda == []

