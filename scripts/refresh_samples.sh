#!/usr/bin/env bash
# Copy the real-tool captures from the shared folder into tests/data (tests/data/README.md).
#   scripts/refresh_samples.sh [SHARED]    SHARED: the shared pkgsrc folder, default ../shared/pkgsrc
# Replaces tests/data/samples/, tests/data/smf/service_bundle.dtd.1 and tests/data/CONTRACT.md,
# then prints what changed. Commits nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$top/../shared/pkgsrc}
for need in samples/dewey-cases.tsv smf/service_bundle.dtd.1 CONTRACT.md; do
  [ -f "$src/$need" ] || { echo "refresh_samples: $src/$need not found" >&2; exit 1; }
done
src=$(cd "$src" && pwd)
dest=$top/tests/data

rm -rf "$dest/samples"
mkdir -p "$dest/smf"
cp -r "$src/samples" "$dest/samples"
cp "$src/smf/service_bundle.dtd.1" "$dest/smf/service_bundle.dtd.1"
cp "$src/CONTRACT.md" "$dest/CONTRACT.md"
chmod -R u+w "$dest"   # the shared folder is read-only

echo "refresh_samples: copied from $src; changes:"
git -C "$top" status --short tests/data
