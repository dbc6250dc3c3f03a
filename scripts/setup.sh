#!/usr/bin/env bash
# Idempotent setup of a Debian bookworm machine for ohifpy's tests (run as root on a fresh one):
# Debian packages for the real test server and the test-data encoders, then .venv with the
# package installed editable with its test extras. Steps already done are skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# orthanc*: the DICOMweb server the tests start themselves; dcmtk, libgdcm-tools,
# openjph-tools, ffmpeg (the H.264 clip): encoders of scripts/make_test_data.py;
# dicom3tools: dciodvfy for checking files;
# chromium: the real browser of the browser tests (Playwright drives it; no browser download);
# nginx: the web server of the deployment recipes (deploy/), which tests run;
# a compiler and cairo/pango: npm builds canvas from source for OHIF's static-wado creator,
# which the tests run (its prebuilt binary would come from outside the registries).
PACKAGES=(orthanc orthanc-dicomweb orthanc-gdcm dcmtk libgdcm-tools openjph-tools ffmpeg
          dicom3tools chromium nginx build-essential pkg-config libcairo2-dev libpango1.0-dev
          libjpeg-dev libgif-dev librsvg2-dev)

missing=()
for package in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]})); then
    if ((EUID != 0)); then
        echo "setup.sh: Debian packages missing (${missing[*]}); run this script as root" >&2
        exit 1
    fi
    # Installing orthanc would start Orthanc as a system service: the tests start their own
    # on 127.0.0.1 only, so forbid service starts for the install (invoke-rc.d honours this).
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm packages, the test tooling's (devDependencies) with the runtime's, again whenever the
# lockfile changes. nodedir: node-gyp takes Node's headers from the machine's Node.js
# instead of downloading them.
npm_stamp=node_modules/.ohifpy-package-lock.sha256
npm_wanted=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $npm_stamp || $(<"$npm_stamp") != "$npm_wanted" ]]; then
    npm_config_nodedir=$(dirname "$(dirname "$(command -v node)")") \
        npm ci --omit=optional --no-audit --no-fund
    echo "$npm_wanted" >"$npm_stamp"
fi

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
# Reinstall only when pyproject.toml changed: the editable install follows src/ by itself.
stamp=.venv/.ohifpy-pyproject.sha256
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $stamp || $(<"$stamp") != "$wanted" ]]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
    echo "$wanted" >"$stamp"
fi
