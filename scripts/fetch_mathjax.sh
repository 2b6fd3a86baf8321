#!/usr/bin/env bash
# Refresh the MathJax copy the book serves itself (book/_static/mathjax), so that pages
# typeset their equations with no internet: no CDN at read time.
#
# The copy is committed (about 1.7 MB), so building the book needs neither node nor npm;
# run this script only to change the MathJax version. It takes MathJax from the npm
# registry (`npm pack`, no install scripts run) and keeps only what the book loads:
#   tex-chtml-full.js        TeX input with every extension built in (no lazy loading),
#                            CommonHTML output, the accessibility menu
#   output/chtml/fonts/woff-v2/   the fonts CommonHTML asks for, relative to the script
#   LICENSE                  Apache-2.0, shipped with the copy
set -euo pipefail
VERSION="${MATHJAX_VERSION:-3.2.2}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/book/_static/mathjax"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm pack --silent "mathjax@$VERSION" >/dev/null
tar -xzf "mathjax-$VERSION.tgz"
rm -rf "$DEST"
mkdir -p "$DEST/output/chtml/fonts"
cp package/es5/tex-chtml-full.js "$DEST/"
cp -r package/es5/output/chtml/fonts/woff-v2 "$DEST/output/chtml/fonts/"
cp package/LICENSE "$DEST/"
echo "$VERSION" > "$DEST/VERSION"
echo "MathJax $VERSION in $DEST ($(du -sh "$DEST" | cut -f1))"
