#!/usr/bin/env bash
# Installs everything the tests, benchmarks and the demo need, from scratch on a fresh machine
# of this kind (Debian 12, root): Debian packages, the project's virtualenv at .venv/ with the
# pinned Python packages, the ansible_collections/pkgsrc/deploy path ansible-test wants, and the
# offline get-pip shim ansible-test sanity needs. Safe to run again: it skips what is in place.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# Debian packages: the testbed (nspawn, debootstrap, netns, nc), xmllint, gpg, xz/bzip2/zstd.
debs=(systemd-container debootstrap iproute2 netcat-openbsd libxml2-utils gnupg xz-utils bzip2
      zstd curl ca-certificates tar gzip rsync shellcheck systemd openssh-client chromium)
missing=()
for d in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "install ok installed" || missing+=("$d")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The virtualenv, rebuilt whenever the pinned requirements change.
py=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements/dev.txt | cut -d" " -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv with the pinned packages (about 90 s)"
  rm -rf .venv
  "$py" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade 'pip==25.3' 2>/dev/null
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements/dev.txt 2>&1 \
    | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip check >/dev/null
  echo "$want" > "$stamp"
fi

# Imports of the form ansible_collections.pkgsrc.deploy.* (tests, ansible-doc) resolve through
# build/collections; ansible-test needs a real copy there (it refuses a symlinked cwd), which
# scripts/test.sh refreshes before each ansible-test run.
mkdir -p build/collections/ansible_collections/pkgsrc
[ -e build/collections/ansible_collections/pkgsrc/deploy ] || \
  ln -sfn "$top" build/collections/ansible_collections/pkgsrc/deploy

# ansible-test sanity fetches get-pip from a host this machine cannot reach; it looks in its
# cache first (see scripts/get_pip_offline.py).
pipver=$(grep -ohE "pip='[0-9.]+'" .venv/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py \
  | head -1 | tr -dc '0-9.')
mkdir -p ~/.ansible/test/cache
cp scripts/get_pip_offline.py ~/.ansible/test/cache/"get_pip_${pipver//./_}.py"
echo "setup: ready"
