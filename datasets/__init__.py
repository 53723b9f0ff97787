"""Named datasets: where they come from, how to verify them, where they are cached."""

from datasets.registry import DATASETS, data_dirs, dataset_dir, fetch, fetch_file  # noqa: F401
