#!/usr/bin/env bash
# Remake constraints/plone-6.2.txt: install zodbtasks[test,app] and the
# list in constraints/plone-6.2.in, without the old pins, into a throwaway
# venv and write its `pip freeze` (less zodbtasks itself and pip) under a
# header.  Run it from the repository root (`make constraints` does), then
# `make test` and commit the new file if the suite passes.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-$(command -v python3.11 || command -v python3)}
out=constraints/plone-6.2.txt
venv=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e '.[test,app]' -r constraints/plone-6.2.in
{
  cat <<HEADER
# Exact versions for the one venv that \`make venv\` / \`make test\` build:
# zodbtasks[test,app] (the Zope Toolkit server and its tests) together
# with Zope 6.3 and Plone 6.2.2 (constraints/plone-6.2.in: Products.CMFPlone,
# Plone, plone.restapi, plone.app.testing, plone.testing) for tests/zope and
# tests/plone.  Plone's own constraints file is not used (it is not on
# PyPI); these pins stand in for it.
#
# Produced by constraints/regenerate.sh (\`make constraints\`): a fresh
# venv, \`pip install -e '.[test,app]' -r constraints/plone-6.2.in\` with no
# pins, then \`pip freeze --all --exclude-editable\` less pip.  To move to a
# new Plone or Zope release, change the versions in plone-6.2.in, run
# \`make constraints\`, then \`make test\`, and commit both files.
# Generated with $("$venv/bin/python" --version) on $(date -u +%Y-%m-%d).
HEADER
  "$venv/bin/python" -m pip freeze --all --exclude-editable 2>/dev/null \
    | grep -v -i -E '^(pip|zodbtasks)=='
} > "$out.new"
mv "$out.new" "$out"
echo "wrote $out ($(grep -c '==' "$out") pins)"
