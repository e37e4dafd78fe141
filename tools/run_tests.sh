#!/usr/bin/env bash
# Install (if needed) and run the test suite. Extra arguments go to pytest.
# Slow end-to-end tests are skipped unless MMLT_SLOW=1 (CI runs the short ones).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/tools/install.sh"
cd "$ROOT"
MARK=(-m "not slow")
[ "${MMLT_SLOW:-0}" = "1" ] && MARK=()
# pytest's own exit code is returned unchanged: 5 (no tests collected) fails.
exec "${MMLT_VENV:-$ROOT/.venv}/bin/python" -m pytest tests "${MARK[@]}" -p no:cacheprovider "$@"
