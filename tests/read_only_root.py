"""Runs a command on a read-only root filesystem with one writable folder, like a container with readOnlyRootFilesystem.

    unshare --mount --propagation private python tests/read_only_root.py WRITABLE -- COMMAND [ARGUMENT...]

Needs root (CAP_SYS_ADMIN). Inside the new mount namespace it bind-mounts
WRITABLE onto itself, remounts every other writable mount read-only but
the kernel's (/proc, /sys, /dev), and then executes COMMAND in place, so
the command keeps this process's id. Mounts outside the namespace do not
change. Exits with status 125 when a mount fails.
"""

import os
import subprocess
import sys

KERNEL_MOUNTS = ("/proc", "/sys", "/dev")


def writable_mounts() -> list[str]:
    """Returns the mount points of this namespace that are mounted read-write, from /proc/self/mountinfo."""
    mounts = []
    with open("/proc/self/mountinfo") as table:
        for line in table:
            fields = line.split()
            # Field 5 is the mount point, with spaces and such as octal escapes; field 6 its options.
            point = fields[4].encode().decode("unicode_escape")
            if "rw" in fields[5].split(",") and not point.startswith(KERNEL_MOUNTS):
                mounts.append(point)
    return mounts


def mount(*arguments: str) -> None:
    result = subprocess.run(["mount", *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(f"read_only_root: mount {' '.join(arguments)} failed: {result.stderr.strip()}\n")
        sys.exit(125)


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.stderr.write("usage: read_only_root.py WRITABLE -- COMMAND [ARGUMENT...]\n")
        sys.exit(125)
    writable, command = os.path.realpath(sys.argv[1]), sys.argv[3:]

    mounts = writable_mounts()
    # First, so that the folder is a mount of its own, which the remounts below leave writable.
    mount("--bind", writable, writable)
    for point in mounts:
        mount("-o", "remount,bind,ro", point)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
