#!/usr/bin/env bash
# Debian packages the tests drive: headless Chromium (browser test), PostgreSQL (gradebook test) and
# espeak-ng (speech synthesised offline for the Whisper tests).
# Installs them when missing and when we can (root + apt); otherwise the tests that need them skip loudly.
set -uo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${need[*]} (Debian packages for the browser and PostgreSQL tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || echo "WARNING: could not install ${need[*]}; the tests that need them will be skipped."
else
  echo "WARNING: ${need[*]} missing and not root: the browser/PostgreSQL tests will be skipped."
fi
exit 0
