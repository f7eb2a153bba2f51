#!/usr/bin/env bash
# Debian packages the book and the tests use: espeak-ng (speech synthesised offline for the Whisper
# page and tests), headless Chromium (browser test) and PostgreSQL (gradebook test).
# `system_deps.sh book` checks only what the book needs (espeak-ng); no argument: everything.
# Installs what is missing when it can (root + apt); otherwise says in one sentence what to install.
set -uo pipefail
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
if [ "${1:-all}" != book ]; then
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${need[*]} (Debian packages the book and the tests use)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || echo "WARNING: could not install ${need[*]}: install them with your package manager (Debian: sudo apt-get install ${need[*]})."
else
  echo "WARNING: ${need[*]} missing and this is not root: install them (Debian: sudo apt-get install ${need[*]}); until then the Whisper page hears a synthetic vowel instead of speech and the tests that need them skip."
fi
exit 0
