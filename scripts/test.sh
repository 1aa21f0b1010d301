#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine with a Rust toolchain, as root:
# installs the system packages the tests need, then runs fmt, clippy and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests start for real. Add to this list, never install by hand.
PACKAGES=(ca-certificates tzdata git victoria-metrics nats-server prometheus python3 python3-aiosmtpd postgresql prometheus-alertmanager chromium chromium-driver fonts-wqy-microhei)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "test.sh: missing packages ${missing[*]}: run as root so apt-get can install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
# The agent's inputs are declared by a macro (one line each in inputs/mod.rs), where
# cargo fmt does not follow them: check every tracked file directly as well.
git ls-files -z '*.rs' | xargs -0 rustfmt --edition 2024 --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== the agent-only build: compiles, and holds none of the server's crates"
cargo clippy -p argus --no-default-features --locked -- -D warnings
if cargo tree -p argus --no-default-features -e normal --locked \
    | grep -E "argus-(server|tsdb|promql|queue)|sqlx|async-nats"; then
    echo "the agent-only build depends on the crates above; see docs/architecture.md" >&2
    exit 1
fi
echo "== the agent-only build's own tests"
cargo test -p argus --no-default-features --bin argus --locked
echo "== cargo test"
cargo test --workspace --locked
