"""`python run.py data ...`: the registered datasets by name.

    python run.py data list [--json]          # every dataset: files, addresses, checksums, sizes, licence
    python run.py data fetch mnist go-kgs     # into the cache (or found in --data-dir / $BEYOND_PIXELS_DATA)
    python run.py data verify [NAME ...]      # the local copies that exist, against their checksums
    python run.py data where mnist            # where each file of a dataset is found, or would go
    python run.py data folder text-sst        # the dataset's folder, laid out as published (fetched if needed)
"""
import json
import sys

from shared.errors import UserError


def register(subparsers):
    parser = subparsers.add_parser("data", help="list, fetch, verify and locate the registered datasets",
                                   description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    listing = commands.add_parser("list", help="every registered dataset with its files and licence")
    listing.add_argument("--json", action="store_true", help="one JSON array on stdout")
    listing.set_defaults(func=list_datasets)
    for name, func, summary in (("fetch", fetch_datasets, "fetch datasets (verified) into the cache"),
                                ("verify", verify_datasets, "check the local copies against their checksums"),
                                ("where", where_datasets, "where each file is found, or where it would go"),
                                ("folder", dataset_folders, "print each dataset's folder, laid out as published "
                                 "(archives unpacked; fetched and verified if needed)")):
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument("names", nargs="*" if name == "verify" else "+", metavar="NAME",
                             help="dataset names (see `data list`)" + (" (default: all)" if name == "verify" else ""))
        command.add_argument("--data-dir", help="local dataset folder (else $BEYOND_PIXELS_DATA), searched first")
        command.set_defaults(func=func)


def _datasets(names):
    from datasets import registry
    unknown = [name for name in names if name not in registry.DATASETS]
    if unknown:
        raise UserError(f"unknown dataset {', '.join(unknown)}; known: {', '.join(sorted(registry.DATASETS))}")
    return [registry.DATASETS[name] for name in names or registry.DATASETS]


def _digest(remote):
    """{"sha256": hex or None, and the published digest where it is another, "size": bytes}."""
    algorithm, digest = remote.checksum.split(":", 1)
    return {"sha256": None, algorithm: digest, "size": remote.size}


def describe(dataset):
    """A JSON-ready description of a registered dataset: its published files (address,
    checksum, size) and the local copies it also reads."""
    files = [{"name": remote.name, "url": remote.url, **_digest(remote)} for remote in dataset.files]
    copies = [{"name": copy.name, **_digest(copy), "note": copy.note} for copy in dataset.local_copies]
    return {"name": dataset.name, "description": dataset.description, "licence": dataset.licence,
            "citation": dataset.citation, "folder": dataset.subdir, "files": files, "local_copies": copies}


def list_datasets(args):
    """Every registered dataset."""
    described = [describe(dataset) for dataset in _datasets([])]
    if args.json:
        print(json.dumps(described))
        return 0
    for entry in described:
        size = sum(f["size"] for f in entry["files"])
        print(f"{entry['name']:28} {len(entry['files']):4} file(s) {size / 1e6:9.1f} MB  {entry['licence']}")
        print(f"{'':28} {entry['description']}")
        for copy in entry["local_copies"]:
            print(f"{'':28} local copy: {copy['name']}" + (f" ({copy['note']})" if copy["note"] else ""))
    return 0


def fetch_datasets(args):
    """Each file of each named dataset: found locally or downloaded, and verified. A file that
    cannot be had is reported and the others are still fetched (exit status 1)."""
    from datasets import registry
    failed = 0
    for dataset in _datasets(args.names):
        # file by file, so that one failure spares the others; a dataset with no published
        # file is fetched whole (its local copies)
        for files in [[remote.name] for remote in dataset.files] or [None]:
            try:
                for path in registry.fetch(dataset.name, args.data_dir, files):
                    print(f"{dataset.name}: {path}")
            except UserError as error:
                failed += 1
                print(f"failed: {error}", file=sys.stderr)
    if failed:
        print(f"{failed} file(s) could not be fetched", file=sys.stderr)
        return 1
    return 0


def verify_datasets(args):
    """The local copies (data folders and cache) of the named datasets against their
    checksums: each file is reported ok, bad (why) or missing; exit status 1 if any is bad."""
    from datasets import registry
    bad = 0
    for dataset in _datasets(args.names):
        for remote in dataset.files + dataset.local_copies:
            path = registry.locate(dataset, remote, args.data_dir)
            if path is None:
                if remote in dataset.files:
                    print(f"missing  {dataset.name}/{remote.name}")
                continue
            try:
                registry.verify(path, remote)
                print(f"ok       {dataset.name}/{remote.name}  {path}")
            except UserError as error:
                bad += 1
                print(f"bad      {dataset.name}/{remote.name}  {error}")
    if bad:
        print(f"{bad} file(s) failed verification", file=sys.stderr)
        return 1
    return 0


def where_datasets(args):
    """Where each file of the named datasets is found (local folder or cache), or where a
    fetch would put it."""
    from datasets import registry
    for dataset in _datasets(args.names):
        for copy in dataset.local_copies:
            path = registry.locate(dataset, copy, args.data_dir)
            if path:
                print(f"{dataset.name}/{copy.name} (local copy, read first): {path}")
        for remote in dataset.files:
            path = registry.locate(dataset, remote, args.data_dir)
            print(f"{dataset.name}/{remote.name}: "
                  + (str(path) if path else f"not here; `data fetch` puts it in {registry.cache_path(dataset, remote)}"))
    return 0


def dataset_folders(args):
    """The folder of each named dataset, one per line (for shell use: `$(python run.py data folder text-sst)`)."""
    from datasets import registry
    for dataset in _datasets(args.names):
        print(registry.dataset_dir(dataset.name, args.data_dir))
    return 0
