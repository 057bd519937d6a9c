"""Build defrag/data/tzdata-backzone.zip from a Debian tzdata package.

The PyPI `tzdata` package is compiled without the tz database's `backzone`
file, so zones such as Europe/Amsterdam are links there and lose their
pre-1970 history. Debian compiles tzdata with backzone: the package's
tzdata.zi starts with "# ddeps backzone ...". This script copies Debian's
compiled TZif files into a zip that defrag.localtime reads at run time, so
neither tests nor services depend on the host's /usr/share/zoneinfo.

Usage, on a Debian machine (dpkg-deb comes with dpkg):

    apt-get download tzdata=2026f-0+deb12u1
    python tools/build_tzdata_bundle.py tzdata_2026f-0+deb12u1_all.deb

Zip layout:
    zoneinfo/<Zone>   one TZif file per Zone line of tzdata.zi
    links             "<link> <zone>" per line, each link resolved to a Zone
    VERSION           the tz release, for example "2026f"
    SOURCE            the Debian package, its version and its SHA-256

The zip takes only names from tzdata.zi's Zone and Link lines, so the
package's right/ and posix/ copies and files such as posixrules stay out.
Entries are sorted and carry a fixed timestamp, so the same package always
gives the same bytes.
"""

import argparse
import hashlib
import pathlib
import subprocess
import sys
import tempfile
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "defrag" / "data" / "tzdata-backzone.zip"

# The earliest timestamp a zip entry can carry (the MS-DOS epoch).
ENTRY_TIME = (1980, 1, 1, 0, 0, 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("deb", type=pathlib.Path, help="path of a Debian tzdata .deb file")
    parser.add_argument("--output", type=pathlib.Path, default=BUNDLE, help=f"zip to write (default: {BUNDLE})")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder)
        subprocess.run(["dpkg-deb", "-x", str(arguments.deb), str(root)], check=True)
        zoneinfo = root / "usr" / "share" / "zoneinfo"
        source_text = (zoneinfo / "tzdata.zi").read_text(encoding="utf-8")

        version = read_version(source_text)
        if not includes_backzone(source_text):
            print(f"error: {arguments.deb} was compiled without backzone: pick a Debian tzdata build whose tzdata.zi names backzone", file=sys.stderr)
            return 1

        zones, links = read_names(source_text)
        entries = {f"zoneinfo/{zone}": read_tzif(zoneinfo / zone) for zone in zones}
        entries["links"] = "".join(f"{link} {zone}\n" for link, zone in sorted(links.items())).encode()
        entries["VERSION"] = f"{version}\n".encode()
        entries["SOURCE"] = describe_source(arguments.deb, version).encode()

    write_zip(arguments.output, entries)
    size = arguments.output.stat().st_size
    print(f"wrote {arguments.output}: tz {version}, {len(zones)} zones, {len(links)} links, {size} bytes")
    return 0


def read_version(source_text: str) -> str:
    """Return the tz release from tzdata.zi's first line, "# version 2026f"."""
    first_line = source_text.splitlines()[0]
    if not first_line.startswith("# version "):
        raise SystemExit(f"error: tzdata.zi starts with {first_line!r}, not '# version <release>'")
    return first_line.removeprefix("# version ").strip()


def includes_backzone(source_text: str) -> bool:
    """Tell whether tzdata.zi was built from backzone, which its "# ddeps" line then lists."""
    for line in source_text.splitlines():
        if line.startswith("# ddeps "):
            return "backzone" in line.split()
    return False


def read_names(source_text: str) -> tuple[list[str], dict[str, str]]:
    """Return the Zone names and each Link name with the Zone it finally points to."""
    zones: list[str] = []
    targets: dict[str, str] = {}
    for line in source_text.splitlines():
        fields = line.split()
        if not fields:
            continue
        # tzdata.zi abbreviates the Zone and Link keywords to Z and L.
        if fields[0] == "Z":
            zones.append(fields[1])
        elif fields[0] == "L":
            targets[fields[2]] = fields[1]

    zone_set = set(zones)
    links = {}
    for link in targets:
        target = targets[link]
        # A link may name another link, so follow the chain to a Zone.
        while target not in zone_set:
            target = targets[target]
        links[link] = target
    return sorted(zones), links


def read_tzif(path: pathlib.Path) -> bytes:
    data = path.read_bytes()
    if not data.startswith(b"TZif"):
        raise SystemExit(f"error: {path} is not a TZif file")
    return data


def describe_source(deb: pathlib.Path, version: str) -> str:
    package = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version"], check=True, capture_output=True, text=True)
    digest = hashlib.sha256(deb.read_bytes()).hexdigest()
    return (
        f"tz release {version}, compiled with backzone by Debian.\n"
        f"{package.stdout.strip()}\n"
        f"File: {deb.name}\n"
        f"SHA256: {digest}\n"
        "Built by tools/build_tzdata_bundle.py. The tz database is in the public domain.\n"
    )


def write_zip(path: pathlib.Path, entries: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ENTRY_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            bundle.writestr(info, entries[name], compresslevel=9)


if __name__ == "__main__":
    sys.exit(main())
