#!/usr/bin/env bash
# Lane "host": the suite on this machine's libtorch (Debian 12's libtorch 1.13 on a fresh
# machine; scripts/setup.sh installs it and the rest).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
scripts/setup.sh
exec scripts/lanes/suite.sh host
