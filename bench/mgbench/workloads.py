# SPDX-License-Identifier: MIT
"""Finding the C workloads: built by meson (BUILD/bench/mgb-*,
BUILD/tests/helpers/mg-*), or compiled here with cc when they are not."""

import os
import shutil
import subprocess

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_ROOT = os.path.dirname(BENCH_DIR)

# name → (source relative to the source root, meson output relative to the build dir)
WORKLOADS = {
    "mgb-probe": ("bench/workloads/mgb-probe.c", "bench/mgb-probe"),
    "mgb-tabs": ("bench/workloads/mgb-tabs.c", "bench/mgb-tabs"),
    "mgb-build": ("bench/workloads/mgb-build.c", "bench/mgb-build"),
    "mgb-swarm": ("bench/workloads/mgb-swarm.c", "bench/mgb-swarm"),
    "mgb-leak": ("bench/workloads/mgb-leak.c", "bench/mgb-leak"),
    "mgb-ballast": ("bench/workloads/mgb-ballast.c", "bench/mgb-ballast"),
    "mg-hog": ("tests/helpers/mg-hog.c", "tests/helpers/mg-hog"),
    "mg-reader": ("tests/helpers/mg-reader.c", "tests/helpers/mg-reader"),
}

ENV_OVERRIDES = {"mg-hog": "MG_HOG", "mg-reader": "MG_READER"}


def _fresh(binary, source):
    try:
        return os.path.getmtime(binary) >= os.path.getmtime(source)
    except OSError:
        return False


def find(build_dir, cache_dir, log=print):
    """Paths of every workload. Built ones come from the build tree (or the
    MG_HOG/MG_READER variables the test suite sets); the rest are compiled
    into cache_dir."""
    paths = {}
    for name, (src, out) in WORKLOADS.items():
        source = os.path.join(SOURCE_ROOT, src)
        env = os.environ.get(ENV_OVERRIDES.get(name, ""), "")
        built = os.path.join(build_dir, out) if build_dir else ""
        if env and os.access(env, os.X_OK):
            paths[name] = os.path.abspath(env)
        elif built and os.access(built, os.X_OK) and _fresh(built, source):
            paths[name] = os.path.abspath(built)
        else:
            paths[name] = compile_one(name, source, cache_dir, log)
    return paths


def compile_one(name, source, cache_dir, log=print):
    target = os.path.join(cache_dir, name)
    if os.access(target, os.X_OK) and _fresh(target, source):
        return target
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise RuntimeError(f"{name} is not built and there is no C compiler (apt-get install gcc), "
                           "or build with meson first")
    os.makedirs(cache_dir, exist_ok=True)
    cmd = [cc, "-std=gnu11", "-O2", "-D_GNU_SOURCE", "-Wall", "-o", target, source]
    log(f"compiling {name}: {' '.join(cmd)}")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"compiling {name} failed:\n{r.stdout}")
    return target
