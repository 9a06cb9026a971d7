#!/usr/bin/env bash
# Installs Debian's headless browser for ResultsBrowserTest (chromium and its WebDriver, chromium-driver),
# once; a no-op when both are there. Never fails the build: where it cannot install (not root, no apt-get,
# no network), it says nothing and the browser test skips itself.
set -uo pipefail
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
if { have chromium && have chromium-driver; } || { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  exit 0
fi
echo "cli/setup-browser.sh: installing chromium chromium-driver (for the results browser test)" >&2
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver >/dev/null; }; then
  echo "cli/setup-browser.sh: could not install them; the browser test will skip" >&2
fi
exit 0
