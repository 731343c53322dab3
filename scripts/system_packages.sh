#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: git (workspace sync tests), headless Chromium with its
# driver (browser tests), node (the JSON Logic test runs the browser's evaluator), redis-server (tests that kill
# and restart a throwaway Redis), and caddy and kubectl for `make deploy-check` (caddy validate, kubectl kustomize).
# Installs only what is missing; needs root and apt. A package that apt does not know (kubectl comes from the
# Kubernetes or Google Cloud apt repository, not from Debian itself) is reported and skipped; deploy-check then
# says what is missing.
set -euo pipefail
missing=()
command -v git >/dev/null 2>&1 || missing+=(git)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v caddy >/dev/null 2>&1 || missing+=(caddy)
command -v kubectl >/dev/null 2>&1 || missing+=(kubectl)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing system packages: ${missing[*]} (install them with apt-get as root)." >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
available=()
for package in "${missing[@]}"; do
  if apt-cache show "$package" >/dev/null 2>&1; then
    available+=("$package")
  else
    echo "System package $package is not in any configured apt repository; install it another way." >&2
  fi
done
if [ ${#available[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing system packages: ${available[*]}"
apt-get install -y -qq --no-install-recommends "${available[@]}" >/dev/null
