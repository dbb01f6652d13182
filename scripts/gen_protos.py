"""Generate the Python gRPC code of the API contract into client/deepseek/.

Runs grpc_tools.protoc over protos/deepseek/hpc/v1/*.proto with the pinned
generators (grpcio-tools for *_pb2.py / *_pb2_grpc.py, mypy-protobuf for the
*.pyi stubs), so that ``from deepseek.hpc.v1 import job_pb2, job_pb2_grpc``
works with ``client`` on the path. The proto directory is the Python package,
so the generated imports need no rewriting.

The whole tree client/deepseek/ is generated: every run rebuilds it in a
temporary directory and replaces the committed files, removing stale ones.

Usage:
    python scripts/gen_protos.py            regenerate client/deepseek/
    python scripts/gen_protos.py --check    exit 1 if client/deepseek/ differs
                                            from what would be generated (CI)
    python scripts/gen_protos.py --print-include-paths
                                            print protoc's -I roots, one a line
                                            (used by scripts/lint_protos)
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PROTO_PACKAGE_DIR = PROTO_ROOT / "deepseek" / "hpc" / "v1"
OUT_ROOT = ROOT / "client"
# The generated tree, relative to OUT_ROOT; nothing else lives under it.
GENERATED_PACKAGE = "deepseek"

# Generated code must not move when a generator release lands; pyproject.toml's
# dev extra pins the same versions.
PINNED_GENERATORS = {
    "grpcio-tools": "1.85.1",
    "mypy-protobuf": "5.1.0",
}

INIT_DOCSTRINGS = {
    Path("deepseek/__init__.py"): "DeepSeek HPC Gateway generated protobuf packages.",
    Path("deepseek/hpc/__init__.py"): "DeepSeek HPC Gateway API (package deepseek.hpc).",
    Path("deepseek/hpc/v1/__init__.py"): (
        "Generated code of the deepseek.hpc.v1 API: messages (*_pb2), gRPC stubs and\n"
        "servicers (*_pb2_grpc). Produced by scripts/gen_protos.py; do not edit."
    ),
}


class GenerationError(Exception):
    """The generators are missing, of the wrong version, or failed."""


def check_generator_versions() -> None:
    """Fail unless the installed generators are exactly the pinned versions."""
    problems: list[str] = []
    for dist, pinned in PINNED_GENERATORS.items():
        try:
            installed = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{dist} is not installed (need =={pinned})")
            continue
        if installed != pinned:
            problems.append(f"{dist} {installed} is installed, need =={pinned}")
    if problems:
        raise GenerationError(
            "wrong code generators: "
            + "; ".join(problems)
            + '. Install the pinned dev tools: pip install -e ".[dev]"'
        )


def googleapis_include_root() -> Path:
    """Directory holding google/api/*.proto and google/rpc/*.proto."""
    try:
        dist = importlib.metadata.distribution("googleapis-common-protos")
    except importlib.metadata.PackageNotFoundError as exc:
        raise GenerationError("googleapis-common-protos is not installed") from exc
    marker = Path(str(dist.locate_file("google/api/annotations.proto")))
    if not marker.is_file():
        raise GenerationError(f"googleapis-common-protos has no {marker}")
    return marker.parent.parent.parent


def well_known_include_root() -> Path:
    """Directory holding google/protobuf/*.proto, shipped inside grpc_tools."""
    try:
        dist = importlib.metadata.distribution("grpcio-tools")
    except importlib.metadata.PackageNotFoundError as exc:
        raise GenerationError("grpcio-tools is not installed") from exc
    marker = Path(str(dist.locate_file("grpc_tools/_proto/google/protobuf/timestamp.proto")))
    if not marker.is_file():
        raise GenerationError(f"grpcio-tools has no {marker}")
    return marker.parent.parent.parent


def include_paths() -> list[Path]:
    """protoc -I roots: our protos first, then the two dependency roots."""
    return [PROTO_ROOT, googleapis_include_root(), well_known_include_root()]


def proto_files() -> list[Path]:
    """The contract's .proto files, relative to PROTO_ROOT, in a stable order."""
    files = sorted(p.relative_to(PROTO_ROOT) for p in PROTO_PACKAGE_DIR.glob("*.proto"))
    if not files:
        raise GenerationError(f"no .proto files in {PROTO_PACKAGE_DIR}")
    return files


def plugin_path(name: str) -> Path:
    """Absolute path of a protoc plugin installed next to this interpreter."""
    scripts_dir = Path(sysconfig.get_path("scripts"))
    for candidate in (scripts_dir / name, Path(sys.executable).parent / name):
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found is None:
        raise GenerationError(f"protoc plugin {name} not found (is mypy-protobuf installed?)")
    return Path(found)


def run_protoc(out_dir: Path) -> None:
    """Run protoc with all four generators, writing under out_dir."""
    out = str(out_dir)
    args = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        *(f"-I{path}" for path in include_paths()),
        f"--plugin=protoc-gen-mypy={plugin_path('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={plugin_path('protoc-gen-mypy_grpc')}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        # quiet: no "Writing mypy to ..." chatter on stderr.
        f"--mypy_out=quiet:{out}",
        # generate_concrete_servicer_stubs: the runtime XxxServicer classes are
        # concrete (an unimplemented method answers UNIMPLEMENTED), so the stubs
        # are too and a servicer may implement a subset of its methods.
        f"--mypy_grpc_out=quiet,generate_concrete_servicer_stubs:{out}",
        *(str(path) for path in proto_files()),
    ]
    # protoc resolves the files relative to the -I roots; run from PROTO_ROOT so
    # that the relative file names are found the same way on every machine.
    result = subprocess.run(args, cwd=PROTO_ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GenerationError(f"protoc failed ({result.returncode}):\n{result.stderr}")


def generate(out_dir: Path) -> None:
    """Write the complete generated tree (deepseek/...) into an empty out_dir."""
    run_protoc(out_dir)
    for relative, docstring in INIT_DOCSTRINGS.items():
        (out_dir / relative).write_text(f'"""{docstring}"""\n', encoding="utf-8")
    (out_dir / GENERATED_PACKAGE / "py.typed").write_text("", encoding="utf-8")


def tree_files(root: Path) -> set[Path]:
    """Files under root/GENERATED_PACKAGE, relative to root, ignoring caches."""
    base = root / GENERATED_PACKAGE
    if not base.is_dir():
        return set()
    return {
        path.relative_to(root)
        for path in base.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def differences(expected_root: Path, actual_root: Path) -> list[str]:
    """Describe how actual_root's generated tree differs from expected_root's."""
    expected = tree_files(expected_root)
    actual = tree_files(actual_root)
    prefix = OUT_ROOT.relative_to(ROOT).as_posix()
    lines = [f"missing: {prefix}/{p.as_posix()}" for p in sorted(expected - actual)]
    lines += [f"stale: {prefix}/{p.as_posix()}" for p in sorted(actual - expected)]
    lines += [
        f"differs: {prefix}/{p.as_posix()}"
        for p in sorted(expected & actual)
        if not filecmp.cmp(expected_root / p, actual_root / p, shallow=False)
    ]
    return lines


def install(generated_root: Path) -> None:
    """Make OUT_ROOT/deepseek exactly the tree in generated_root/deepseek."""
    for stale in sorted(tree_files(OUT_ROOT) - tree_files(generated_root)):
        (OUT_ROOT / stale).unlink()
    for relative in sorted(tree_files(generated_root)):
        target = OUT_ROOT / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        source = generated_root / relative
        if not target.is_file() or not filecmp.cmp(source, target, shallow=False):
            shutil.copyfile(source, target)
    # Remove directories left empty by stale files (deepest first).
    base = OUT_ROOT / GENERATED_PACKAGE
    for directory in sorted((p for p in base.rglob("*") if p.is_dir()), reverse=True):
        if directory.name != "__pycache__" and not any(directory.iterdir()):
            directory.rmdir()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if client/deepseek/ is not what would be generated",
    )
    mode.add_argument(
        "--print-include-paths",
        action="store_true",
        help="print the protoc include roots, one a line, and exit",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.print_include_paths:
            for path in include_paths():
                print(path)
            return 0
        check_generator_versions()
        with tempfile.TemporaryDirectory(prefix="gen_protos.") as tmp:
            generated_root = Path(tmp)
            generate(generated_root)
            if args.check:
                problems = differences(generated_root, OUT_ROOT)
                if problems:
                    print(
                        "generated code is out of date; run: python scripts/gen_protos.py",
                        file=sys.stderr,
                    )
                    for line in problems:
                        print(f"  {line}", file=sys.stderr)
                    return 1
                print(f"generated code is up to date ({OUT_ROOT.name}/{GENERATED_PACKAGE})")
                return 0
            install(generated_root)
            count = len(tree_files(OUT_ROOT))
            print(f"generated {count} files in {os.path.relpath(OUT_ROOT / GENERATED_PACKAGE)}")
            return 0
    except GenerationError as exc:
        print(f"gen_protos: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
