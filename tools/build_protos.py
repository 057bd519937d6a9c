"""Builds the Python stubs and Envoy's descriptor set from protos/, then the Helm chart's generated Envoy files.

Both come from the same .proto files in one protoc run, so the REST routes
that Envoy transcodes can never drift from the Python code. The chart's
files/envoy/edge_schema.lua and edge_constants.json are written from the
new descriptor set by defrag/envoyconf.py; they are committed, because Helm
cannot read the descriptor set.
"""

import pathlib
import sys

import grpc_tools
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
DESCRIPTOR = ROOT / "build" / "defrag.pb"

# The error detail types must be in the descriptor set so that Envoy's
# transcoder can print grpc-status-details-bin as JSON.
EXTRA_INPUTS = ["google/rpc/error_details.proto", "google/rpc/status.proto"]


def googleapis_include() -> pathlib.Path:
    """Returns the folder that contains google/api/annotations.proto."""
    import google.api.annotations_pb2 as annotations

    return pathlib.Path(annotations.__file__).resolve().parent.parent.parent


def main() -> int:
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    DESCRIPTOR.parent.mkdir(exist_ok=True)

    includes = [
        f"-I{PROTOS}",
        f"-I{googleapis_include()}",
        f"-I{pathlib.Path(grpc_tools.__file__).parent / '_proto'}",
    ]
    stubs = ["protoc", *includes, f"--python_out={ROOT}", f"--pyi_out={ROOT}", f"--grpc_python_out={ROOT}", *sources]
    if protoc.main(stubs) != 0:
        return 1

    descriptor = [
        "protoc",
        *includes,
        f"--descriptor_set_out={DESCRIPTOR}",
        "--include_imports",
        "--include_source_info",
        *sources,
        *EXTRA_INPUTS,
    ]
    if protoc.main(descriptor) != 0:
        return 1

    for folder in {(ROOT / s).parent for s in sources}:
        for package in [folder, *folder.parents]:
            if package == ROOT:
                break
            (package / "__init__.py").touch()
    print(f"built {len(sources)} protos into defrag/ and {DESCRIPTOR.relative_to(ROOT)}")

    # From the checkout, because the image's build runs this script before
    # installing the project; defrag/envoyconf.py needs none of the stubs.
    sys.path.insert(0, str(ROOT))
    from defrag import envoyconf

    for path in envoyconf.write_chart_files(DESCRIPTOR):
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
