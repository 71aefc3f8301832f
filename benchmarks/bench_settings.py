"""The production settings plus one bare view, for the benchmarks that compare the API against it."""

from opbox.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bench_urls"
