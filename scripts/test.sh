#!/usr/bin/env bash
# The test command (README, .ci/run): set-up, then every test suite, each of which must pass.
#   scripts/test.sh            everything: lint, pytest (all of tests/), the roles' Molecule
#                              scenarios, core on Python 3.8, ansible-test sanity, ansible-test units
#   scripts/test.sh STEP...    only the named steps (lint pytest molecule py38 sanity units)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/setup.sh

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(lint pytest molecule py38 sanity units)
export PATH="$top/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$top/build/collections"
coll="$top/build/ansible-test/ansible_collections/pkgsrc/deploy"

# ansible-test runs on a copy of the files git tracks (or would track), at the path it needs;
# the copy gets a git index of its own so ansible-test lists exactly those files.
sync_collection() {
  mkdir -p "$coll"
  git ls-files -z --cached --others --exclude-standard \
    | rsync -a --delete-missing-args --from0 --files-from=- ./ "$coll/"
  (
    cd "$coll"
    [ -d .git ] || git init -q
    rm -f .git/index
    git -C "$top" ls-files -z --cached --others --exclude-standard \
      | git add -f --pathspec-from-file=- --pathspec-file-nul
    git clean -fdq   # files the repository no longer has
  )
}

# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
run_pytest_with() {
  local py=$1 rc=0
  shift
  "$py" -m pytest "$@" || rc=$?
  if [ $rc -eq 5 ]; then echo "test: pytest collected no tests: failing" >&2; return 1; fi
  return $rc
}

for step in "${steps[@]}"; do
  echo "=== test: $step"
  case "$step" in
    lint)
      ruff check plugins tests benchmarks scripts salt_states
      mypy
      ;;
    pytest)
      run_pytest_with python -p no:cacheprovider
      ;;
    molecule)
      # Every role's Molecule scenario (roles/*/molecule/default: create, converge, idempotence,
      # verify, destroy) on testbed hosts, one after the other, each timed; needs root on Linux.
      # The folder the hosts are served (kits, repositories; tests/molecule_support.py) is built
      # once and reused while its sources are unchanged. Logs: build/molecule/<role>.log.
      if [ "$(id -u)" != 0 ] || [ "$(uname -s)" != Linux ]; then
        echo "test: molecule needs root on Linux (testbed hosts); run the other steps by name" >&2
        exit 1
      fi
      mkdir -p build/molecule
      python -m tests.molecule_support prepare-www build/molecule-www
      failed=()
      for scenario in roles/*/molecule/default/molecule.yml; do
        role=${scenario#roles/}; role=${role%%/*}
        start=$(date +%s.%N)
        rc=0
        (cd "roles/$role" && MOLECULE_EPHEMERAL_DIRECTORY="$top/build/molecule/$role" \
          PKGSRC_MOLECULE_WWW="$top/build/molecule-www" molecule test) >"build/molecule/$role.log" 2>&1 || rc=$?
        seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        if [ $rc -eq 0 ]; then
          echo "molecule: $role passed in $seconds s"
        else
          tail -n 60 "build/molecule/$role.log"
          echo "molecule: $role FAILED (rc $rc) in $seconds s; log: build/molecule/$role.log" >&2
          failed+=("$role")
        fi
      done
      [ ${#failed[@]} -eq 0 ] || { echo "test: molecule scenarios failed: ${failed[*]}" >&2; exit 1; }
      ;;
    py38)
      # The core must run on the oldest Python managed hosts have (3.8): its unit tests run there.
      py38=""
      for cand in /root/.pyenv/versions/3.8*/bin/python3.8 /usr/bin/python3.8 /usr/local/bin/python3.8; do
        if [ -x "$cand" ] && "$cand" -c 'import venv' 2>/dev/null; then py38=$cand; break; fi
      done
      if [ -z "$py38" ] && [ "${PKGSRC_STRICT_SKIPS:-}" = 1 ]; then
        echo "test: no Python 3.8 on this machine, and PKGSRC_STRICT_SKIPS=1 (CI) forbids skipping this step" >&2
        exit 1
      elif [ -z "$py38" ]; then
        echo "test: no Python 3.8 on this machine; test_core_rules.py still checks 3.8 syntax" >&2
      else
        if [ "$(cat .venv-py38/.stamp 2>/dev/null)" != "$(sha256sum requirements/py38.txt)" ]; then
          rm -rf .venv-py38 && "$py38" -m venv .venv-py38
          .venv-py38/bin/python -m pip install -q --disable-pip-version-check -r requirements/py38.txt 2>&1 \
            | grep -v "^WARNING: Location" || true
          sha256sum requirements/py38.txt > .venv-py38/.stamp
        fi
        run_pytest_with .venv-py38/bin/python -p no:cacheprovider tests/unit/plugins/module_utils/pkgsrc_core
      fi
      ;;
    sanity)
      sync_collection
      (cd "$coll" && ansible-test sanity --local --python 3.11 --requirements --color no)
      ;;
    units)
      sync_collection
      (cd "$coll" && ansible-test units --local --python 3.11 --requirements --color no)
      ;;
    *) echo "test: unknown step $step (lint pytest molecule py38 sanity units)" >&2; exit 2 ;;
  esac
done
echo "=== test: all steps passed: ${steps[*]}"
