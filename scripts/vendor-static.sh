#!/usr/bin/env bash
# Vendor front-end libraries from their npm packages into static/vendor/.
#
# Re-runnable: each package's directory under static/vendor/ is recreated from
# scratch, so stale files from an older version never linger.
#
# Usage (from the repository root):  bash scripts/vendor-static.sh
#
# To upgrade, change the pinned versions below and re-run. Only the npm
# registry is used (`npm pack`); nothing is installed into the repository.
set -euo pipefail

CHARTJS_VERSION="4.6.1"
TOMSELECT_VERSION="2.6.2"
BOOTSTRAP_VERSION="5.3.9"
CHARTJS_GEO_VERSION="4.3.6"
WORLD_ATLAS_VERSION="2.0.2"
AXE_CORE_VERSION="4.14.1"
# Used only to build the world map's shapes from world-atlas (scripts/build-world-atlas.js).
TOPOJSON_CLIENT_VERSION="3.1.0"
TOPOJSON_SERVER_VERSION="3.0.1"
# The fonts of the server-drawn PNG charts (forecasts/charts.py; Pillow's own font has no accents).
DEJAVU_VERSION="2.37.3"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR_DIR="$REPO_ROOT/static/vendor"
# axe-core is for the browser tests only: it is never served, so it lives beside the tests.
TEST_VENDOR_DIR="$REPO_ROOT/tests/vendor"

TMP_DIR="$(mktemp -d)"
cleanup() { rm -rf "$TMP_DIR"; }
trap cleanup EXIT

die() { echo "vendor-static: $*" >&2; exit 1; }

# fetch NAME VERSION -> extracts the tarball into $TMP_DIR/NAME/package
fetch() {
    local name="$1" version="$2" tarball actual
    tarball="$(cd "$TMP_DIR" && npm pack --silent "${name}@${version}" | tail -n 1)"
    [[ -f "$TMP_DIR/$tarball" ]] || die "npm pack did not produce a tarball for ${name}@${version}"
    mkdir -p "$TMP_DIR/$name"
    tar -xzf "$TMP_DIR/$tarball" -C "$TMP_DIR/$name"
    actual="$(node -p 'require(process.argv[1]).version' "$TMP_DIR/$name/package/package.json")"
    [[ "$actual" == "$version" ]] || die "${name}: expected version ${version}, got ${actual}"
}

# copy_asset SRC DEST -> copies a built file, stripping sourceMappingURL comments
# (we do not ship .map files; ManifestStaticFilesStorage would fail on them).
copy_asset() {
    local src="$1" dest="$2"
    [[ -s "$src" ]] || die "missing or empty source file: $src"
    sed -E \
        -e '/^[[:space:]]*\/\/[#@] sourceMappingURL=/d' \
        -e '/^[[:space:]]*\/\*[#@] sourceMappingURL=.*\*\/[[:space:]]*$/d' \
        -e 's#/\*[#@] sourceMappingURL=[^*]*\*/##g' \
        "$src" > "$dest"
    if grep -q 'sourceMappingURL' "$dest"; then
        die "could not strip sourceMappingURL from $dest"
    fi
    [[ -s "$dest" ]] || die "empty output file: $dest"
}

# copy_license PKGDIR DESTDIR -> copies the package licence as DESTDIR/LICENSE
copy_license() {
    local pkgdir="$1" destdir="$2" f
    for f in LICENSE LICENSE.md LICENSE.txt license license.md; do
        if [[ -s "$pkgdir/$f" ]]; then
            cp "$pkgdir/$f" "$destdir/LICENSE"
            return 0
        fi
    done
    die "no licence file found in $pkgdir"
}

# fresh_dir DIR -> (re)creates an empty vendor directory
fresh_dir() {
    rm -rf "$1"
    mkdir -p "$1"
}

echo "Fetching packages from the npm registry..."
fetch chart.js "$CHARTJS_VERSION"
fetch tom-select "$TOMSELECT_VERSION"
fetch bootstrap "$BOOTSTRAP_VERSION"
fetch chartjs-chart-geo "$CHARTJS_GEO_VERSION"
fetch world-atlas "$WORLD_ATLAS_VERSION"
fetch axe-core "$AXE_CORE_VERSION"
fetch topojson-client "$TOPOJSON_CLIENT_VERSION"
fetch topojson-server "$TOPOJSON_SERVER_VERSION"
fetch dejavu-fonts-ttf "$DEJAVU_VERSION"

mkdir -p "$VENDOR_DIR"

# --- Chart.js (UMD build) ---------------------------------------------------
pkg="$TMP_DIR/chart.js/package"
dest="$VENDOR_DIR/chart.js"
fresh_dir "$dest"
if [[ -f "$pkg/dist/chart.umd.min.js" ]]; then
    copy_asset "$pkg/dist/chart.umd.min.js" "$dest/chart.umd.min.js"
elif [[ -f "$pkg/dist/chart.umd.js" ]]; then
    copy_asset "$pkg/dist/chart.umd.js" "$dest/chart.umd.js"
else
    die "chart.js: no UMD build found in dist/"
fi
copy_license "$pkg" "$dest"

# --- Tom Select -------------------------------------------------------------
pkg="$TMP_DIR/tom-select/package"
dest="$VENDOR_DIR/tom-select"
fresh_dir "$dest"
copy_asset "$pkg/dist/js/tom-select.complete.min.js" "$dest/tom-select.complete.min.js"
copy_asset "$pkg/dist/css/tom-select.bootstrap5.min.css" "$dest/tom-select.bootstrap5.min.css"
copy_license "$pkg" "$dest"

# --- Bootstrap --------------------------------------------------------------
pkg="$TMP_DIR/bootstrap/package"
dest="$VENDOR_DIR/bootstrap"
fresh_dir "$dest"
copy_asset "$pkg/dist/css/bootstrap.min.css" "$dest/bootstrap.min.css"
copy_asset "$pkg/dist/js/bootstrap.bundle.min.js" "$dest/bootstrap.bundle.min.js"
copy_license "$pkg" "$dest"

# --- chartjs-chart-geo (UMD build; it bundles topojson-client and the d3 parts it needs,
# and exposes them as window.ChartGeo, ChartGeo.topojson included) -----------
pkg="$TMP_DIR/chartjs-chart-geo/package"
dest="$VENDOR_DIR/chartjs-chart-geo"
fresh_dir "$dest"
copy_asset "$pkg/build/index.umd.min.js" "$dest/index.umd.min.js"
copy_license "$pkg" "$dest"

# --- world-atlas (Natural Earth country shapes as TopoJSON; ids are UN M49 codes): 1:110m, with
# the countries and areas it lacks taken from 1:50m or 1:10m (see scripts/build-world-atlas.js) --
pkg="$TMP_DIR/world-atlas/package"
dest="$VENDOR_DIR/world-atlas"
fresh_dir "$dest"
node "$REPO_ROOT/scripts/build-world-atlas.js" "$pkg" \
    "$TMP_DIR/topojson-client/package/dist/topojson-client.js" \
    "$TMP_DIR/topojson-server/package/dist/topojson-server.js" \
    "$dest/countries-m49.json"
[[ -s "$dest/countries-m49.json" ]] || die "world-atlas: countries-m49.json was not built"
copy_license "$pkg" "$dest"

# --- axe-core (accessibility rules, injected into pages by tests/test_accessibility_browser.py) --
pkg="$TMP_DIR/axe-core/package"
dest="$TEST_VENDOR_DIR/axe-core"
fresh_dir "$dest"
copy_asset "$pkg/axe.min.js" "$dest/axe.min.js"
copy_license "$pkg" "$dest"
echo "axe-core@${AXE_CORE_VERSION}" > "$dest/VERSION"

# --- DejaVu Sans (regular and bold) for charts.png: read by the server, never served -------------
pkg="$TMP_DIR/dejavu-fonts-ttf/package"
dest="$REPO_ROOT/forecasts/fonts"
fresh_dir "$dest"
cp "$pkg/ttf/DejaVuSans.ttf" "$pkg/ttf/DejaVuSans-Bold.ttf" "$dest/"
copy_license "$pkg" "$dest"
echo "dejavu-fonts-ttf@${DEJAVU_VERSION}" > "$dest/VERSION"

# --- Versions manifest ------------------------------------------------------
cat > "$VENDOR_DIR/VERSIONS.txt" <<VERSIONS
# Vendored by scripts/vendor-static.sh from the npm registry. Do not edit by hand.
chart.js@${CHARTJS_VERSION}
tom-select@${TOMSELECT_VERSION}
bootstrap@${BOOTSTRAP_VERSION}
chartjs-chart-geo@${CHARTJS_GEO_VERSION}
world-atlas@${WORLD_ATLAS_VERSION} (countries-m49.json built with topojson-client@${TOPOJSON_CLIENT_VERSION}, topojson-server@${TOPOJSON_SERVER_VERSION})
VERSIONS

echo "Vendored files:"
(cd "$REPO_ROOT" && find static/vendor -type f | sort | while read -r f; do
    printf '  %8d  %s\n' "$(wc -c < "$f")" "$f"
done)
