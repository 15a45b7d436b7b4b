#!/bin/sh
# Run inside a testbed host that has the real kit at /opt/pkg: lay out the samples' repository
# at $1 (/srv/pkgsrc-repo/All) with the REAL pkg_create and pkg_info.
#   - the six bootstrap packages, re-packed from the kit's pkgdb the pkg_tarup way
#     (packing list = +CONTENTS without @name, @ignore'd metadata and @comment MD5:, which
#     pkg_create writes again; the metadata files passed as options);
#   - a package for each folder of $2 (PKGNAME/{+BUILD_INFO,+COMMENT,+DESC}, one file
#     share/doc/BASE/README): packages the samples' repositories list but the kit lacks;
#   - the real demo packages already copied into $1;
#   - pkg_summary made with `pkg_info -X`, compressed with gzip and xz.
set -eu
out=$1
made=$2
PATH=/opt/pkg/sbin:/opt/pkg/bin:$PATH
work=$(mktemp -d)
mkdir -p "$out"
for dir in /opt/pkg/pkgdb/*/; do
    dir=${dir%/}
    pkg=${dir##*/}
    grep -v -e '^@ignore' -e '^+' -e '^@name' -e '^@comment MD5:' "$dir/+CONTENTS" > "$work/$pkg.plist"
    set -- -l -U -B "$dir/+BUILD_INFO" -c "$dir/+COMMENT" -d "$dir/+DESC" -s "$dir/+SIZE_PKG" -S "$dir/+SIZE_ALL"
    if [ -f "$dir/+BUILD_VERSION" ]; then set -- "$@" -b "$dir/+BUILD_VERSION"; fi
    if [ -f "$dir/+INSTALL" ]; then set -- "$@" -i "$dir/+INSTALL"; fi
    if [ -f "$dir/+DEINSTALL" ]; then set -- "$@" -k "$dir/+DEINSTALL"; fi
    if [ -f "$dir/+PRESERVE" ]; then set -- "$@" -n "$dir/+PRESERVE"; fi
    pkg_create "$@" -p /opt/pkg -I /opt/pkg -f "$work/$pkg.plist" -F gzip "$out/$pkg.tgz"
done
for dir in "$made"/*/; do
    [ -d "$dir" ] || continue
    dir=${dir%/}
    pkg=${dir##*/}
    base=${pkg%-*}
    mkdir -p "$work/stage-$pkg/share/doc/$base"
    echo "$pkg" > "$work/stage-$pkg/share/doc/$base/README"
    printf '@cwd /opt/pkg\nshare/doc/%s/README\n' "$base" > "$work/$pkg.plist"
    pkg_create -B "$dir/+BUILD_INFO" -c "$dir/+COMMENT" -d "$dir/+DESC" -p "$work/stage-$pkg" -I /opt/pkg \
        -f "$work/$pkg.plist" -F gzip "$out/$pkg.tgz"
done
for pkg in "$out"/*.tgz; do
    pkg_info -X "$pkg"
done > "$out/pkg_summary"
gzip -9 -c "$out/pkg_summary" > "$out/pkg_summary.gz"
xz -c "$out/pkg_summary" > "$out/pkg_summary.xz"
rm -f "$out/pkg_summary"
rm -rf "$work"
