#!/bin/sh
# Stand-in for pkgsrc's bootstrap/bootstrap, shipped in the demo's pkgsrc source tarball.
#
# The real script builds bmake, pkg_install and pkgin from source (many minutes of compiling).
# This one takes the same options, refuses the same environment, and unpacks the same tools,
# prebuilt for one layout, from prebuilt-tools.tar.gz beside it. pkgsrc.deploy runs it exactly
# as it runs the real one: under env -i, with SH set and every path absolute.
set -e
if [ -n "$PKG_PATH" ]; then
  echo "ERROR: Please unset PKG_PATH before running bootstrap." 1>&2
  exit 1
fi
case "$SH" in
  /*) ;;
  *) echo "ERROR: The variable SH must contain an absolute path" 1>&2; exit 1 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
prefix="" pkgdbdir="" sysconfdir="" varbase="" workdir="" fragment=""
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift ;;
    --pkgdbdir) pkgdbdir=$2; shift ;;
    --sysconfdir) sysconfdir=$2; shift ;;
    --varbase) varbase=$2; shift ;;
    --workdir) workdir=$2; shift ;;
    --mk-fragment) fragment=$2; shift ;;
    --unprivileged) ;;
    --prefer-pkgsrc|--make-jobs|--abi|--compiler) shift ;;
    *) echo "ERROR: unknown option $1" 1>&2; exit 1 ;;
  esac
  shift
done
read -r want_prefix want_pkgdbdir want_sysconfdir want_varbase < "$here/prebuilt-tools.layout"
if [ "$prefix $pkgdbdir $sysconfdir $varbase" != "$want_prefix $want_pkgdbdir $want_sysconfdir $want_varbase" ]; then
  echo "ERROR: this tree's prebuilt tools are for --prefix $want_prefix --pkgdbdir $want_pkgdbdir" \
       "--sysconfdir $want_sysconfdir --varbase $want_varbase" 1>&2
  exit 1
fi
mkdir -p "$workdir"
echo "===> Unpacking the prebuilt bootstrap tools into $prefix"
tar -xzf "$here/prebuilt-tools.tar.gz" -C /
if [ -n "$fragment" ]; then
  cat "$fragment" >> "$sysconfdir/mk.conf"
fi
echo "===> bootstrap complete"
