#!/bin/sh
# Vendors the console's browser libraries: installs exactly what
# console/package-lock.json pins and copies the files the console loads,
# with their licences, into console/vendor/ (committed: the build and the
# binary never need npm or the network).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/console"
npm ci --no-audit --no-fund --loglevel=error
mkdir -p vendor
cp node_modules/echarts/dist/echarts.min.js vendor/echarts.min.js
cp node_modules/echarts/LICENSE vendor/echarts.LICENSE
cp node_modules/echarts/NOTICE vendor/echarts.NOTICE
version=$(node -p "require('./node_modules/echarts/package.json').version")
echo "echarts $version" > vendor/VERSIONS
echo "vendored echarts $version into console/vendor/"
