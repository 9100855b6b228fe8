#!/usr/bin/env bash
# freshfs.sh CMD...: run CMD with TMPDIR on a freshly made ext4 filesystem
# (a loop-mounted image, removed afterwards), so that the homes a
# benchmark makes there do not pay for earlier mass deletions on the
# shared disk (ext4 then scans its bitmaps for every new file for
# minutes). Needs root (mount). Size: FRESHFS_SIZE (default 4G).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 CMD..." >&2; exit 2; }
IMG=$(mktemp /var/tmp/guild-bench-fs.XXXXXX)
MNT=$(mktemp -d /tmp/guild-bench-mnt.XXXXXX)
cleanup() {
  umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
  rmdir "$MNT" 2>/dev/null || true
  rm -f "$IMG"
}
trap cleanup EXIT
truncate -s "${FRESHFS_SIZE:-4G}" "$IMG"
mkfs.ext4 -q -F -i 4096 "$IMG"
mount -o loop "$IMG" "$MNT"
chmod 1777 "$MNT"
TMPDIR="$MNT" "$@"
