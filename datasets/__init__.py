"""Named datasets: where they come from, how to verify them, where they are cached."""

from datasets.registry import DATASETS, fetch, fetch_file, data_dirs  # noqa: F401
