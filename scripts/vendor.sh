#!/usr/bin/env bash
# Refresh the vendored front-end assets from the exact versions pinned in
# package.json / package-lock.json. No CDN is used at runtime: the files
# copied here are served from server/static/vendor and tests/e2e/vendor.
#
# Usage: scripts/vendor.sh            # runs `npm ci`, then copies
#        scripts/vendor.sh --no-ci    # copy from the existing node_modules
set -euo pipefail

cd "$(dirname "$0")/.."

if [ "${1:-}" != "--no-ci" ]; then
  npm ci --no-audit --no-fund
fi

NM=node_modules
STATIC=server/static/vendor
E2E=tests/e2e/vendor
mkdir -p "$STATIC" "$E2E"

# Fail loudly if the installed versions differ from the pins in package.json.
node -e '
  const pkg = require("./package.json").devDependencies;
  let bad = 0;
  for (const [name, want] of Object.entries(pkg)) {
    const got = require("./node_modules/" + name + "/package.json").version;
    if (got !== want) { console.error(`${name}: pinned ${want}, installed ${got}`); bad = 1; }
  }
  process.exit(bad);
'

# htmx (0BSD)
cp "$NM/htmx.org/dist/htmx.min.js"                   "$STATIC/htmx.min.js"
cp "$NM/htmx.org/LICENSE"                            "$STATIC/LICENSE-htmx.txt"

# Designsystemet component CSS (MIT): the single bundled file (package "." export)
cp "$NM/@digdir/designsystemet-css/dist/src/index.css" "$STATIC/designsystemet.css"
cp "$NM/@digdir/designsystemet-css/LICENSE"          "$STATIC/LICENSE-designsystemet-css.txt"

# Designsystemet theme (MIT): the "digdir" brand theme only
cp "$NM/@digdir/designsystemet-theme/brand/digdir.css" "$STATIC/theme.css"
cp "$NM/@digdir/designsystemet-theme/LICENSE"        "$STATIC/LICENSE-designsystemet-theme.txt"

# axe-core (MPL-2.0) for the accessibility end-to-end tests only
cp "$NM/axe-core/axe.min.js"                         "$E2E/axe.min.js"
cp "$NM/axe-core/LICENSE"                            "$E2E/LICENSE-axe.txt"
cp "$NM/axe-core/LICENSE-3RD-PARTY.txt"              "$E2E/LICENSE-axe-3RD-PARTY.txt"

echo "Vendored:"
sha256sum "$STATIC"/htmx.min.js "$STATIC"/designsystemet.css "$STATIC"/theme.css "$E2E"/axe.min.js
