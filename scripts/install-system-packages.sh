#!/usr/bin/env bash
# Install the system packages chainsleuth's tests and demo need, only when missing.
# Idempotent and non-interactive; run as root (or with sudo). Extend PACKAGES as other components need more.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# package name -> a file that proves it is installed
declare -A PROVIDES=(
  [postgresql]="/usr/lib/postgresql/*/bin/initdb"
  [chromium]="/usr/bin/chromium"
  [fonts-dejavu-core]="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
  [openjdk-17-jre-headless]="/usr/lib/jvm/java-*/bin/java"
)
# chromium: the browser the page tests drive through Playwright (never Playwright's own download).
# openjdk-17-jre-headless: the Java runtime of PySpark (the distributed clustering engine); any Java 17+ will do.
PACKAGES=(postgresql chromium fonts-dejavu-core openjdk-17-jre-headless)

missing=()
for package in "${PACKAGES[@]}"; do
  # shellcheck disable=SC2086  # the glob must expand
  if ! compgen -G ${PROVIDES[$package]} >/dev/null; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages already installed: ${PACKAGES[*]}"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

echo "installing: ${missing[*]}"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
