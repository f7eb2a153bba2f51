#!/usr/bin/env bash
# Copies MathJax 3, RequireJS and the ipywidgets HTML manager from the npm registry into
# book/_static/vendor so that the built book renders math and widgets without any CDN.
set -euo pipefail
cd "$(dirname "$0")/vendor"
command -v npm >/dev/null || { echo "npm is needed to vendor MathJax and the widget manager: install Node.js (apt-get install nodejs npm)."; exit 1; }
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
dest=../../book/_static/vendor
rm -rf "$dest"
mkdir -p "$dest/mathjax" "$dest/html-manager"
cp -r node_modules/mathjax/es5/. "$dest/mathjax/"
cp node_modules/requirejs/require.js "$dest/require.js"
find node_modules/@jupyter-widgets/html-manager/dist -maxdepth 1 -type f ! -name '*.map' -exec cp {} "$dest/html-manager/" \;
touch "$dest/.stamp"
echo "vendored JS into book/_static/vendor"
